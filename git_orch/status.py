"""`git orch status`: what needs a person, what runs, what landed, from git itself.

The ledger says what was decided; the repository says what is true now
(branch heads, commits since base, worktrees). Status reads both and derives
flags, and never writes the ledger.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pygit2

from git_orch import ledger
from git_orch.config import Policy, load_policy
from git_orch.contract import Contract, read_contract
from git_orch.errors import OrchError
from git_orch.ids import task_branch
from git_orch.repo import OrchRepo, blob_bytes, peel
from git_orch.sanitize import clean
from git_orch.state import (
    ACCEPTED,
    ACTIVE,
    BLOCKED,
    ENDED,
    PENDING,
    REJECTED,
    UNREVIEWED,
    TaskState,
    fold,
)

STATUS_SCHEMA = 1
STALE = "stale-needs-inspection"
CLEANUP = "cleanup-needed"
CONFLICT = "conflict"
LEDGER_PROBLEM = "ledger-problem"
RUNNING_STATES = frozenset({ACTIVE, PENDING, REJECTED})


@dataclass
class TaskView:
    contract: Contract
    state: TaskState
    problems: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    head: str | None = None
    commits: int | None = None
    last_activity: float | None = None
    worktree_present: bool = False

    @property
    def task_id(self) -> str:
        return self.contract.task_id

    def to_json(self) -> dict[str, Any]:
        st = self.state
        return {
            "id": self.task_id,
            "title": self.contract.title,
            "state": st.state,
            "flags": self.flags,
            "package": self.contract.package,
            "branch": task_branch(self.task_id),
            "worktree": st.worktree,
            "worktree_present": self.worktree_present,
            "host": st.host,
            "base": self.contract.base,
            "contract": self.contract.commit,
            "head": self.head,
            "handed_off_head": st.head if st.state != ACTIVE else None,
            "accepted_head": st.accepted_head,
            "commits": self.commits,
            "last_activity": _iso(self.last_activity),
            "created": st.created_at,
            "updated": st.updated_at,
            "summary": st.summary,
            "risks": st.risks,
            "reason": st.reason,
            "error": st.error,
            "review": _review_json(st.review),
            "runs": len([r for r in st.runs if r.get("type") == "run-started"]),
            "conflicts": st.conflicts,
            "problems": self.problems,
        }


def _review_json(review: dict[str, Any] | None) -> dict[str, Any] | None:
    if review is None:
        return None
    return {k: review.get(k) for k in ("head", "verdict", "at", "actor")}


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


@dataclass
class Overview:
    tasks: list[TaskView]
    problems: list[str]
    ledger_tip: str | None
    policy: Policy

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": STATUS_SCHEMA,
            "ledger": self.ledger_tip,
            "main_branch": self.policy.main_branch,
            "tasks": [t.to_json() for t in self.tasks],
            "problems": self.problems,
        }


def _branch_heads(orepo: OrchRepo) -> dict[str, str]:
    out = orepo.git_common(
        ["for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/orch/"]
    )
    heads: dict[str, str] = {}
    for line in out.splitlines():
        oid, _, name = line.partition(" ")
        heads[name[len("refs/heads/orch/") :]] = oid
    return heads


def _count_commits(repo: pygit2.Repository, head: str, base: str, limit: int = 10000) -> int:
    walker = repo.walk(head)
    walker.hide(base)
    count = 0
    for _ in walker:
        count += 1
        if count >= limit:
            break
    return count


def collect(orepo: OrchRepo, only: str | None = None) -> Overview:
    """Read refs, contracts and the ledger into task views with derived flags."""
    policy = load_policy(orepo)
    repo = orepo.pygit
    refs = ledger.task_refs(orepo)
    if only is not None:
        if only not in refs:
            raise OrchError(f"no task {only!r} (git orch status lists the tasks)")
        refs = {only: refs[only]}
    snap = ledger.snapshot(orepo)
    notes = snap.notes()
    heads = _branch_heads(orepo)
    worktrees = {str(w.path) for w in orepo.worktrees}
    problems: list[str] = []
    views: list[TaskView] = []
    now = time.time()
    for task_id, oid in sorted(refs.items()):
        try:
            contract = read_contract(repo, oid)
        except OrchError as exc:
            problems.append(f"refs/orch/tasks/{task_id}: {exc}; skipped")
            continue
        blob = notes.get(str(oid))
        data = blob_bytes(repo, blob) if blob is not None else b""
        log = ledger.parse_log(data, f"{ledger.LEDGER_REF} note for task {task_id}")
        view = TaskView(contract, fold(task_id, log.events), problems=list(log.problems))
        if log.skipped_versions:
            view.problems.append(
                f"{log.skipped_versions} event(s) of an unknown version skipped (newer git-orch?)"
            )
        _derive(orepo, view, heads.get(task_id), worktrees, policy, now)
        views.append(view)
        problems.extend(f"task {task_id}: {p}" for p in view.problems)
    tip = str(snap.tip) if snap.tip is not None else None
    return Overview(views, problems, tip, policy)


def _derive(
    orepo: OrchRepo,
    view: TaskView,
    head: str | None,
    worktrees: set[str],
    policy: Policy,
    now: float,
) -> None:
    st = view.state
    view.head = head
    view.worktree_present = st.worktree is not None and st.worktree in worktrees
    activity = [_parse_iso(st.updated_at)]
    if head is not None and st.state not in ENDED:
        repo = orepo.pygit
        view.commits = _count_commits(repo, head, view.contract.base)
        activity.append(float(peel(repo, head, pygit2.Commit).commit_time))
    known = [a for a in activity if a is not None]
    view.last_activity = max(known) if known else None
    if st.state in RUNNING_STATES and view.last_activity is not None:
        if now - view.last_activity > policy.stale_after_seconds:
            view.flags.append(STALE)
    if st.state in ENDED and (head is not None or view.worktree_present):
        view.flags.append(CLEANUP)
    if st.conflicts:
        view.flags.append(CONFLICT)
    if view.problems:
        view.flags.append(LEDGER_PROBLEM)


# --- the person's view -------------------------------------------------------

NEEDS_YOU_STATES = {
    UNREVIEWED: "review",
    BLOCKED: "blocked",
    ACCEPTED: "land",
}


def needs_you(view: TaskView) -> str | None:
    """Why a person should look at this task now, or None."""
    st = view.state
    if CONFLICT in view.flags:  # decisions disagree: settle that before anything else
        return CONFLICT
    if st.state in NEEDS_YOU_STATES:
        return NEEDS_YOU_STATES[st.state]
    if st.state == PENDING and st.error:
        return "setup failed"
    for flag in (CONFLICT, STALE, CLEANUP, LEDGER_PROBLEM):
        if flag in view.flags:
            return flag
    return None


def _age(stamp: float | None, now: float) -> str:
    if stamp is None:
        return "-"
    seconds = max(0, int(now - stamp))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _line(view: TaskView, now: float, why: str | None = None) -> str:
    st = view.state
    parts = [f"  {clean(view.task_id):<16} {clean(st.state):<21}"]
    if why and why != st.state:
        parts.append(f"[{why}]")
    if view.commits is not None:
        parts.append(f"{view.commits} commit{'s' if view.commits != 1 else ''}")
    parts.append(f"last {_age(view.last_activity, now)}")
    parts.append(f"- {clean(view.contract.title)}")
    detail = st.reason or st.error
    text = " ".join(parts)
    if detail:
        text += f"\n  {'':<16} reason: {clean(detail)}"
    for conflict in st.conflicts[:3]:
        text += f"\n  {'':<16} conflict: {clean(conflict)}"
    for problem in view.problems[:3]:
        text += f"\n  {'':<16} problem: {clean(problem)}"
    return text


def render_text(overview: Overview, recent: int = 5) -> str:
    now = time.time()
    needs: list[tuple[TaskView, str]] = []
    running: list[TaskView] = []
    landed: list[TaskView] = []
    for view in overview.tasks:
        why = needs_you(view)
        if why is not None:
            needs.append((view, why))
        elif view.state.state in RUNNING_STATES:
            running.append(view)
        elif view.state.state in ENDED:
            landed.append(view)
    landed.sort(key=lambda v: v.state.updated_at or "", reverse=True)
    out: list[str] = []
    out.append(f"Needs you ({len(needs)})")
    out.extend(_line(v, now, why) for v, why in needs)
    if not needs:
        out.append("  nothing")
    out.append(f"Running ({len(running)})")
    out.extend(_line(v, now) for v in running)
    if not running:
        out.append("  nothing")
    out.append(f"Recently ended ({len(landed)})")
    out.extend(_line(v, now) for v in landed[:recent])
    if not landed:
        out.append("  nothing")
    elif len(landed) > recent:
        out.append(f"  ... and {len(landed) - recent} more (git orch status --json)")
    if overview.problems:
        out.append(f"Ledger problems ({len(overview.problems)})")
        out.extend(f"  {clean(p)}" for p in overview.problems[:10])
    return "\n".join(out)


def worktree_path(view: TaskView) -> Path | None:
    return Path(view.state.worktree) if view.state.worktree else None
