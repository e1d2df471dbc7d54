"""Repo truth beside the ledger: derived flags and orphans, shared by status and heartbeat.

The ledger says what was decided; the repository says what is true now. This
module reads the repository (branches, worktrees, files, run logs) once and
derives, per task, the flags that are never stored as state:
`stale-needs-inspection`, `cleanup-needed`, `dirty`, `orphan`, plus `conflict`
and `ledger-problem` from the log itself. It also finds what belongs to no
task (orch/* branches and task worktrees without a contract).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from git_orch.config import Policy, worktree_root
from git_orch.record import timefmt
from git_orch.record.contract import Contract
from git_orch.record.ids import task_branch
from git_orch.record.state import ACTIVE, ENDED, PENDING, REJECTED, StateFacts, TaskState
from git_orch.record.timefmt import parse_iso as parse_iso
from git_orch.repo import OrchRepo, Worktree, hostname, peel
from git_orch.workspace import workspaces
from git_orch.workspace.workspaces import Workspace

if TYPE_CHECKING:
    import pygit2

STALE = "stale-needs-inspection"
CLEANUP = "cleanup-needed"
DIRTY = "dirty"
ORPHAN = "orphan"
CONFLICT = "conflict"
LEDGER_PROBLEM = "ledger-problem"
# Flags that come from the repository (what a heartbeat records when they change).
REPO_FLAGS = (STALE, CLEANUP, DIRTY, ORPHAN)
RUNNING_STATES = frozenset({ACTIVE, PENDING, REJECTED})
ARCHIVE_PREFIX = "refs/orch/archive/"
HEARTBEAT_FILE = "heartbeat.json"
MISSED_AFTER_INTERVALS = 3
_MTIME_SCAN_LIMIT = 20000


@dataclass
class RepoFacts:
    """One read of the repository's refs and worktrees, reused for every task."""

    heads: dict[str, str]  # task id -> orch/<id> branch tip
    worktrees: dict[str, Worktree]  # path -> worktree whose folder exists
    missing_worktrees: dict[str, Worktree]  # path -> registered worktree whose folder is gone
    archives: dict[str, str]  # name -> refs/orch/archive/<name> target
    clones: dict[str, Workspace]  # path -> clone workspace under the workspace root
    runtime_dir: Path
    host: str  # this machine: worktrees recorded by another host are not ours to miss


def gather(orepo: OrchRepo, policy: Policy) -> RepoFacts:
    present: dict[str, Worktree] = {}
    missing: dict[str, Worktree] = {}
    for tree in orepo.worktrees:
        (present if tree.path.is_dir() else missing)[str(tree.path)] = tree
    return RepoFacts(
        heads=orepo.refs_under("refs/heads/orch/"),
        worktrees=present,
        missing_worktrees=missing,
        archives=orepo.refs_under(ARCHIVE_PREFIX),
        clones=workspaces.find_clones(orepo, policy),
        runtime_dir=orepo.runtime_dir,
        host=hostname(),
    )


@dataclass
class Derived:
    head: str | None = None
    commits: int | None = None
    last_activity: float | None = None
    worktree_present: bool = False
    dirty: bool = False
    flags: list[str] = field(default_factory=list)


def count_commits(repo: pygit2.Repository, head: str, base: str, limit: int = 10000) -> int:
    walker = repo.walk(head)
    walker.hide(base)
    count = 0
    for _ in walker:
        count += 1
        if count >= limit:
            break
    return count


def iso(stamp: float | None) -> str | None:
    return None if stamp is None else timefmt.iso(stamp)


def newest_mtime(root: Path, limit: int = _MTIME_SCAN_LIMIT) -> float | None:
    """Newest modification time of the files under root (skipping .git), bounded."""
    newest: float | None = None
    stack = [root]
    seen = 0
    while stack and seen < limit:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name == ".git":
                continue
            seen += 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                    continue
                stamp = entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            newest = stamp if newest is None else max(newest, stamp)
    return newest


def run_log_mtime(runtime_dir: Path, task_id: str) -> float | None:
    folder = runtime_dir / "runs" / task_id
    return newest_mtime(folder) if folder.is_dir() else None


def derive(
    orepo: OrchRepo,
    contract: Contract,
    st: TaskState,
    problems: list[str],
    facts: RepoFacts,
    policy: Policy,
    now: float,
) -> Derived:
    """Flags and repo facts for one task (nothing is written)."""
    task_id = contract.task_id
    out = Derived(head=facts.heads.get(task_id))
    path = st.worktree
    ws = present_workspace(task_id, path, facts)
    out.worktree_present = ws is not None
    recorded = timefmt.plausible(parse_iso(st.activity_at), now)
    activity = [recorded if recorded is not None
                else timefmt.plausible(parse_iso(st.created_at), now)]
    if out.head is not None and st.state not in ENDED:
        import pygit2  # only this path needs libgit2 (~50 ms to import)

        repo = orepo.pygit
        out.commits = count_commits(repo, out.head, contract.base)
        activity.append(float(peel(repo, out.head, pygit2.Commit).commit_time))
    if ws is not None:
        out.dirty = workspaces.is_dirty(ws)
        if st.state in RUNNING_STATES:
            activity.append(newest_mtime(ws.path))
    if st.state not in ENDED:
        activity.append(run_log_mtime(facts.runtime_dir, task_id))
    known = [a for a in (timefmt.plausible(x, now) for x in activity) if a is not None]
    if not known and st.state in RUNNING_STATES:
        known = [0.0]  # every time it has is in the future: that hides nothing
    out.last_activity = max(known) if known else None
    if st.state in RUNNING_STATES and out.last_activity is not None:
        if timefmt.passed(out.last_activity + policy.stale_after_seconds, now):
            out.flags.append(STALE)
    if st.state in ENDED and (out.head is not None or out.worktree_present):
        out.flags.append(CLEANUP)
    if out.dirty:
        out.flags.append(DIRTY)
    local = st.host is None or st.host == facts.host
    # Checked last: a stat per task, and only a live task can be an orphan.
    if st.state not in ENDED and local and path is not None and not out.worktree_present \
            and not Path(path).exists():
        out.flags.append(ORPHAN)  # its worktree vanished (on this machine)
    if st.conflicts:
        out.flags.append(CONFLICT)
    if problems:
        out.flags.append(LEDGER_PROBLEM)
    return out


def present_workspace(task_id: str, path: str | None, facts: RepoFacts) -> Workspace | None:
    """The task's workspace at its recorded path, if it is there (either mode)."""
    if path is None:
        return None
    if path in facts.worktrees:
        return Workspace(task_id, Path(path), workspaces.WORKTREE)
    clone = facts.clones.get(path)
    return clone if clone is not None and clone.task_id == task_id else None


@dataclass(frozen=True)
class Orphan:
    """Something that looks like git-orch's but belongs to no task."""

    kind: str  # "branch", "worktree", "workspace" (a clone), "missing-worktree"
    name: str  # branch name or worktree path
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "detail": self.detail}


def find_orphans(
    orepo: OrchRepo, facts: RepoFacts, tasks: Mapping[str, StateFacts], policy: Policy
) -> list[Orphan]:
    """orch/* branches and task-looking worktrees with no task; stale worktree records."""
    found: list[Orphan] = []
    for task_id, oid in sorted(facts.heads.items()):
        if task_id not in tasks:
            detail = f"no task {task_id}; at {oid[:12]}"
            found.append(Orphan("branch", task_branch(task_id), detail))
    root = worktree_root(orepo, policy)
    known_paths = {st.worktree for st in tasks.values() if st.worktree}
    for path, tree in sorted(facts.worktrees.items()):
        branch = tree.branch or ""
        owner = branch[len("refs/heads/orch/") :] if branch.startswith("refs/heads/orch/") else None
        under_root = Path(path).parent == root
        if path in known_paths or _is_runtime(path, facts.runtime_dir):
            continue
        if (owner is not None and owner not in tasks) or (under_root and owner is None):
            found.append(Orphan("worktree", path, f"on {branch or 'a detached HEAD'}; no task"))
    for path, clone in sorted(facts.clones.items()):
        if path not in known_paths and clone.task_id not in tasks:
            found.append(Orphan("workspace", path, f"clone of task {clone.task_id}; no task"))
    for path in sorted(facts.missing_worktrees):
        if path in known_paths:
            continue  # reported on the task itself (orphan or cleanup-needed)
        found.append(Orphan("missing-worktree", path, "registered but its folder is gone"))
    return found


def _is_runtime(path: str, runtime_dir: Path) -> bool:
    return Path(path).is_relative_to(runtime_dir)


# --- the heartbeat's runtime file -------------------------------------------


@dataclass
class HeartbeatInfo:
    at: float
    interval: int
    data: dict[str, Any]

    def missed(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return timefmt.passed(self.at + MISSED_AFTER_INTERVALS * max(self.interval, 1), now)

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        return {"at": iso(self.at), "interval": self.interval, "missed": self.missed(now),
                "host": self.data.get("host"), "changes": self.data.get("changes", []),
                "repairs": self.data.get("repairs", [])}


def read_heartbeat(runtime_dir: Path) -> HeartbeatInfo | None:
    """The last heartbeat run on this machine, or None (a broken file counts as none)."""
    try:
        data = json.loads((runtime_dir / HEARTBEAT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    at = parse_iso(data.get("at") if isinstance(data.get("at"), str) else None)
    interval = data.get("interval")
    if at is None or not isinstance(interval, int) or isinstance(interval, bool):
        return None
    return HeartbeatInfo(at, interval, data)


def write_heartbeat(runtime_dir: Path, data: dict[str, Any]) -> Path:
    path = runtime_dir / HEARTBEAT_FILE
    tmp = path.with_name(f".{HEARTBEAT_FILE}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
