"""`git orch sync`: one ledger across machines, through any git remote.

The protocol is plain git: fetch the remote's refs/orch/* into tracking refs
under refs/orch-remote/<remote>/ (outside refs/orch/, so pushing refs/orch/*
never sends them), merge the ledgers by union of event lines, move the local
refs with one compare-and-swap transaction, then push the ledger and new task
refs fast-forward only and atomically. A push that loses a race is retried
from the fetch (bounded). Every step can be interrupted: the next sync starts
again from whatever refs exist.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

import pygit2

from git_orch.config import load_policy
from git_orch.errors import OrchError
from git_orch.gitcmd import run_git
from git_orch.landing.merge import check_commit, merge_trees
from git_orch.record import killpoint, ledger
from git_orch.record.contract import read_contract
from git_orch.record.ids import check_task_id, task_ref
from git_orch.record.state import fold
from git_orch.repo import OrchRepo
from git_orch.sanitize import clean

TRACKING_PREFIX = "refs/orch-remote/"
SYNC_ATTEMPTS = 10


@dataclass
class SyncResult:
    remote: str
    before: str | None = None  # local ledger tip before
    after: str | None = None  # local ledger tip after
    outcome: str = "up-to-date"  # up-to-date | fast-forward | merged | ahead
    pushed: bool = False
    imported_tasks: list[str] = field(default_factory=list)
    pushed_tasks: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # tasks merged into a conflict
    notes_taken: int = 0
    notes_merged: int = 0
    notes_skipped: int = 0
    attempts: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Plan:
    """What one attempt will write locally and push."""

    local_tip: pygit2.Oid | None
    remote_tip: pygit2.Oid | None
    new_tip: pygit2.Oid | None
    outcome: str
    new_tasks: dict[str, str]  # id -> contract, to create here
    push_tasks: dict[str, str]  # id -> contract, to create there
    taken: int = 0
    merged: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    touched: dict[str, str] = field(default_factory=dict)  # contract -> task, notes changed


def tracking_ref(remote: str, rest: str) -> str:
    return f"{TRACKING_PREFIX}{remote}/{rest}"


def resolve_remote(orepo: OrchRepo, remote: str | None) -> str:
    """The named remote; else [sync] remote; else main's upstream; else origin."""
    if remote is None:
        policy = load_policy(orepo)
        section = policy.raw.get("sync", {})
        configured = section.get("remote") if isinstance(section, dict) else None
        remote = configured if isinstance(configured, str) and configured else None
        if remote is None:
            remote = orepo.config_get(f"branch.{policy.main_branch}.remote") or "origin"
    names = orepo.git_common(["remote"]).split()
    if remote.startswith("-") or remote not in names:
        raise OrchError(
            f"no remote {clean(remote)!r} (git remote -v lists them; "
            "add one with git remote add NAME URL)"
        )
    return remote


def fetch(orepo: OrchRepo, remote: str) -> None:
    """Copy the remote's refs/orch/* to refs/orch-remote/<remote>/* (nothing else moves)."""
    spec = f"+refs/orch/*:{tracking_ref(remote, '*')}"
    proc = run_git(
        ["--git-dir", str(orepo.common_dir), "fetch", "--quiet", "--no-tags", "--prune",
         "--no-write-fetch-head", "--end-of-options", remote, spec],
        orepo.main_worktree,  # a relative remote URL means what plain git there means
        check=False,
    )
    if proc.returncode != 0:
        raise OrchError(f"cannot fetch from {clean(remote)}: {_last_line(proc.stderr)}")


def _last_line(text: str) -> str:
    """git's own reason: its first fatal/error line (the rest is advice), else its last."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    reasons = [ln for ln in lines if ln.startswith(("fatal: ", "error: "))]
    detail = reasons[0] if reasons else lines[-1] if lines else "unknown error"
    for prefix in ("fatal: ", "error: "):
        detail = detail.removeprefix(prefix)
    return clean(detail)


def _remote_tasks(
    orepo: OrchRepo,
    remote: str,
    refs: dict[str, str],
    local: dict[str, str],
    warnings: list[str],
) -> dict[str, str]:
    """Valid remote task refs: id -> contract commit. Bad ones are skipped, said why.

    A ref equal to ours was checked when it arrived; only the others are read.
    """
    repo = orepo.pygit
    found: dict[str, str] = {}
    for task_id, oid in sorted(refs.items()):
        if local.get(task_id) == str(oid):
            found[task_id] = str(oid)
            continue
        label = f"{remote}: refs/orch/tasks/{clean(task_id)} ({str(oid)[:12]})"
        try:
            check_task_id(task_id)
            contract = read_contract(repo, oid)
        except OrchError as exc:
            warnings.append(f"{label}: {clean(exc)}; skipped")
            continue
        if contract.task_id != task_id:
            warnings.append(
                f"{label}: its contract says Orch-Task {clean(contract.task_id)!r}; skipped"
            )
            continue
        found[task_id] = str(oid)
    return found


def plan(orepo: OrchRepo, remote: str) -> Plan:
    """Compare tracking refs with ours; refuse a task id used for two contracts."""
    repo = orepo.pygit
    warnings: list[str] = []
    local_tasks = {k: str(v) for k, v in ledger.task_refs(orepo).items()}
    raw_remote = orepo.refs_under(tracking_ref(remote, "tasks/"))
    theirs = _remote_tasks(orepo, remote, raw_remote, local_tasks, warnings)
    clashes = [
        f"task {tid}: here {local_tasks[tid]}, on {clean(remote)} {oid}"
        for tid, oid in theirs.items()
        if tid in local_tasks and local_tasks[tid] != oid
    ]
    if clashes:
        raise OrchError(
            "same task id, different contracts; nothing changed, nothing pushed: "
            + "; ".join(clashes)
            + " (keep one; start the other's work again under a new id: docs/sync.md)"
        )
    new_tasks = {t: o for t, o in theirs.items() if t not in local_tasks}
    push_tasks = {t: o for t, o in local_tasks.items() if t not in raw_remote}
    contracts = {**{o: t for t, o in local_tasks.items()}, **{o: t for t, o in new_tasks.items()}}

    local_tip = orepo.ref_target(ledger.LEDGER_REF)
    remote_tip = orepo.ref_target(tracking_ref(remote, "ledger"))
    result = Plan(local_tip, remote_tip, local_tip, "up-to-date", new_tasks, push_tasks,
                  warnings=warnings)
    if remote_tip is None or remote_tip == local_tip:
        result.outcome = "ahead" if remote_tip is None and local_tip else "up-to-date"
        return result
    where = f"{remote}:{ledger.LEDGER_REF}"
    theirs_commit = check_commit(repo, remote_tip, where)
    ours_commit = check_commit(repo, local_tip, ledger.LEDGER_REF) if local_tip else None
    if local_tip is not None and repo.descendant_of(local_tip, remote_tip):
        result.outcome = "ahead"
        return result
    ours_tree = ours_commit.tree if ours_commit else None
    # A ledger with no notes yet (a fresh `init`) has nothing to keep: take theirs.
    ours_empty = ours_tree is None or len(ours_tree) == 0
    fast_forward = ours_empty or (
        local_tip is not None and repo.descendant_of(remote_tip, local_tip)
    )
    merged = merge_trees(repo, ours_tree, theirs_commit.tree, where, contracts,
                         check_only=fast_forward)
    result.taken, result.merged, result.skipped = merged.taken, merged.merged, merged.skipped
    result.warnings.extend(merged.warnings)
    result.touched = {h: contracts[h] for h in merged.touched if h in contracts}
    if fast_forward and merged.skipped == 0:
        result.new_tip, result.outcome = remote_tip, "fast-forward"
        return result
    if merged.tree is None:  # something was refused: merge without it instead
        merged = merge_trees(repo, ours_tree, theirs_commit.tree, where, contracts)
    assert merged.tree is not None
    parents = [local_tip, remote_tip] if local_tip is not None else [remote_tip]
    sig = orepo.signature
    with killpoint.step("sync merge commit"):
        result.new_tip = repo.create_commit(
            None, sig, sig, f"git-orch: sync with {remote}", merged.tree, parents
        )
    result.outcome = "merged"
    return result


def write_local(orepo: OrchRepo, p: Plan) -> tuple[bool, str]:
    """Move refs/orch/ledger and create new task refs in one CAS transaction.

    Returns (done, git's reason when not done)."""
    updates: list[ledger.RefUpdate] = []
    if p.new_tip is not None:
        old = str(p.local_tip) if p.local_tip is not None else None
        updates.append(ledger.RefUpdate(ledger.LEDGER_REF, str(p.new_tip), old))
    updates += [ledger.RefUpdate(task_ref(t), o, None) for t, o in sorted(p.new_tasks.items())]
    if not updates or (p.new_tip == p.local_tip and not p.new_tasks):
        return True, ""
    return ledger.update_refs(orepo, updates, "sync " + ", ".join(sorted(p.new_tasks)))


class _PushRace(Exception):
    """The remote moved after our fetch: fetch and merge again."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def push(orepo: OrchRepo, remote: str, p: Plan) -> bool:
    """Push the ledger (fast-forward only) and new task refs, all or nothing."""
    specs = []
    if p.new_tip is not None and p.new_tip != p.remote_tip:
        specs.append(f"{p.new_tip}:{ledger.LEDGER_REF}")
    specs += [f"{oid}:{task_ref(t)}" for t, oid in sorted(p.push_tasks.items())]
    if not specs:
        return False
    proc = run_git(
        ["--git-dir", str(orepo.common_dir), "push", "--quiet", "--atomic", "--porcelain",
         "--no-verify", "--end-of-options", remote, *specs],
        orepo.main_worktree,
        check=False,
    )
    if proc.returncode == 0:
        return True
    details = [ln.split("\t")[-1] for ln in proc.stdout.splitlines() if ln.startswith("!")]
    refusals = [d for d in details if not _is_race(d)]
    if details and not refusals:
        raise _PushRace(f"push: {details[0]}")
    detail = refusals[0] if refusals else _last_line(proc.stderr)
    raise OrchError(f"push to {clean(remote)} refused: {clean(detail)}; the local merge is kept")


_RACE_REASONS = ("atomic transaction failed", "lock", "failed to update ref", "stale info")


def _is_race(detail: str) -> bool:
    """A rejection because the remote moved (or was being moved) since our fetch."""
    if detail.startswith("[rejected]"):
        return True
    return detail.startswith("[remote rejected]") and any(r in detail for r in _RACE_REASONS)


def _track_pushed(orepo: OrchRepo, remote: str, p: Plan) -> None:
    """Record what the remote now has, as git does for remote-tracking branches."""
    lines = []
    if p.new_tip is not None:
        lines.append(f"update {tracking_ref(remote, 'ledger')} {p.new_tip}\n")
    lines += [f"update {tracking_ref(remote, 'tasks/' + t)} {o}\n" for t, o in p.push_tasks.items()]
    if lines:
        run_git(["--git-dir", str(orepo.common_dir), "update-ref", "-m",
                 ledger.reflog_message(f"pushed to {remote}"), "--stdin"], orepo.common_dir,
                input="".join(lines), check=False)


def _conflicted(orepo: OrchRepo, touched: dict[str, str]) -> list[str]:
    """Tasks whose log, as merged, holds events the state machine did not allow."""
    snap = ledger.snapshot(orepo)
    return sorted(
        task_id
        for contract, task_id in touched.items()
        if fold(task_id, snap.log(contract).events).conflicts
    )


def sync(orepo: OrchRepo, remote: str | None = None, attempts: int = SYNC_ATTEMPTS) -> SyncResult:
    name = resolve_remote(orepo, remote)
    result = SyncResult(remote=name)
    before = orepo.ref_target(ledger.LEDGER_REF)
    result.before = str(before) if before is not None else None
    last_error = ""
    for attempt in range(1, attempts + 1):
        result.attempts = attempt
        fetch(orepo, name)
        p = plan(orepo, name)
        done, last_error = write_local(orepo, p)
        if not done:
            time.sleep(random.uniform(0.005, 0.02 * attempt))
            continue  # a local command wrote meanwhile: merge again
        result.warnings = list(dict.fromkeys([*result.warnings, *p.warnings]))
        result.imported_tasks = sorted({*result.imported_tasks, *p.new_tasks})
        result.notes_taken += p.taken
        result.notes_merged += p.merged
        result.notes_skipped += p.skipped
        if result.outcome in ("up-to-date", "ahead") or p.outcome == "merged":
            result.outcome = p.outcome
        try:
            if push(orepo, name, p):
                result.pushed = True
                _track_pushed(orepo, name, p)
        except _PushRace as race:
            last_error = race.detail
            time.sleep(random.uniform(0.01, 0.05 * attempt))
            continue
        result.pushed_tasks = sorted({*result.pushed_tasks, *p.push_tasks})
        result.conflicts = _conflicted(orepo, p.touched)
        after = orepo.ref_target(ledger.LEDGER_REF)
        result.after = str(after) if after is not None else None
        return result
    raise OrchError(_give_up(name, attempts, last_error))


def _give_up(remote: str, attempts: int, last_error: str) -> str:
    reason = _last_line(last_error) if last_error else "unknown"
    text = f"sync with {clean(remote)}: gave up after {attempts} attempts; last error: {reason}"
    if ".lock" in last_error or "lock" in reason:
        return text + (
            " (a lock file left by a killed git? if no git is running, remove the .lock "
            "file it names, then run git orch sync again)"
        )
    return text + " (the remote kept moving: run git orch sync again)"
