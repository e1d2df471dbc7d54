"""`git orch heartbeat`: reconcile the ledger with repo truth, on a timer.

Each beat derives every task's flags from the repository (reconcile.py) and
records a `flagged` event only when a task's set of repo flags changed since
the last recorded one, so a quiet beat writes nothing to the ledger. The time
of the beat goes to the runtime folder (`heartbeat.json`), where status looks
for a missed heartbeat. `--repair` fixes what it safely can and lists it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from git_orch.agent import runlog
from git_orch.agent.runner import close_dead
from git_orch.config import committed_policy, load_policy
from git_orch.errors import OrchError
from git_orch.gitcmd import run_git
from git_orch.landing import watch
from git_orch.landing.land import (
    cleanup,
    fresh_worktrees,
    is_ancestor,
    land_policy,
    push_due,
    resume_checkout,
)
from git_orch.record.ids import task_branch
from git_orch.record.ledger import RefUpdate, update_refs
from git_orch.record.misalignment import record_misalignment
from git_orch.record.state import ABANDONED, ENDED, PENDING, TaskState
from git_orch.record.tasks import load_task, record
from git_orch.repo import OrchRepo, hostname
from git_orch.report.status import Overview, TaskView, collect
from git_orch.workspace import reconcile, refusals, tamper, workspaces
from git_orch.workspace.start import finish_setup, make_workspace

DEFAULT_INTERVAL = 300


@dataclass
class BeatReport:
    at: str
    interval: int
    tasks: int
    changes: list[dict[str, Any]] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    flags: dict[str, list[str]] = field(default_factory=dict)
    orphans: list[dict[str, str]] = field(default_factory=list)
    tampering: list[dict[str, Any]] = field(default_factory=list)
    misalignments: list[dict[str, Any]] = field(default_factory=list)
    target: list[dict[str, Any]] = field(default_factory=list)  # needs-you: see landing/watch
    damage: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at, "interval": self.interval, "host": hostname(), "pid": os.getpid(),
            "tasks": self.tasks, "changes": self.changes, "repairs": self.repairs,
            "flags": self.flags, "orphans": self.orphans, "tampering": self.tampering,
            "misalignments": self.misalignments, "target": self.target,
            "ledger_damage": self.damage,
        }


def repo_flags(view: TaskView) -> list[str]:
    """The flags a beat records. A running worker's tree is dirty between commits all
    the time: that is not news, so `dirty` is recorded only for tasks past handoff."""
    running = view.state.state in reconcile.RUNNING_STATES
    recorded = (*reconcile.REPO_FLAGS, runlog.RUN_DEAD, runlog.RUN_UNVERIFIED)
    return sorted(f for f in view.flags
                  if f in recorded and not (f == reconcile.DIRTY and running))


def record_flags(orepo: OrchRepo, overview: Overview) -> list[dict[str, Any]]:
    """A `flagged` event for each task whose repo flags differ from the recorded ones."""
    changes: list[dict[str, Any]] = []
    for view in overview.tasks:
        flags = repo_flags(view)
        if flags == view.state.recorded_flags:
            continue

        def make(st: TaskState, flags: list[str] = flags) -> list[dict[str, Any]]:
            if st.recorded_flags == flags:
                return []  # another heartbeat recorded it meanwhile
            return [{"type": "flagged", "flags": flags, "was": st.recorded_flags}]

        if record(orepo, view.task_id, make):
            changes.append({"task": view.task_id, "flags": flags,
                            "was": view.state.recorded_flags})
    return changes


def record_tampering(orepo: OrchRepo, overview: Overview) -> list[dict[str, Any]]:
    """A `misalignment` (source "bypass") for each finding blamed on a task that
    is not recorded yet; repository-level findings stay a needs-you in status."""
    known = {v.task_id for v in overview.tasks}
    done = []
    for finding in tamper.new_for_ledger(orepo, overview.tampering):
        if finding.task not in known:
            continue  # a worktree naming a task the ledger does not have: status shows it
        record_misalignment(orepo, finding.task, finding.what, "bypass",
                            f"{finding.kind}; then: {finding.fix}")
        done.append(finding.to_json())
    return done


# --- repair ------------------------------------------------------------------


def _safe(action: Callable[[], list[str]], what: str) -> list[str]:
    try:
        return action()
    except OrchError as exc:
        return [f"left {what}: {exc}"]


def _clean_ended(orepo: OrchRepo, view: TaskView, target: str) -> list[str]:
    """Finish what land or abandon left: the target's checkout first, never a due push."""
    st = view.state
    task = load_task(orepo, view.task_id)
    resume_checkout(orepo, task)
    remote = push_due(task, land_policy(committed_policy(orepo, f"refs/heads/{target}")
                                        or load_policy(orepo)))
    if remote is not None:
        return [f"left {view.task_id}: merged, its push to {remote} is still due "
                f"(git orch land {view.task_id} pushes and cleans up)"]
    done = cleanup(orepo, view.task_id, None if st.state == ABANDONED else target,
                   record_event=not st.cleaned)
    if not st.cleaned:
        done.append(f"recorded {view.task_id} cleaned")
    return [f"{view.task_id}: {d}" for d in done]


def _restore_worktree(orepo: OrchRepo, view: TaskView) -> list[str]:
    path = Path(view.state.worktree or "")
    branch = task_branch(view.task_id)
    if view.head is None:
        return [f"left {view.task_id}: its workspace and branch {branch} are both gone"]
    # Only ever re-create the place start would have chosen: a path read from the
    # ledger (which may come from another machine) is never trusted on its own.
    policy = load_policy(orepo)
    expected = workspaces.path_for(orepo, policy, view.task_id)
    if path != expected:
        return [f"left {view.task_id}: its recorded worktree {path} is not {expected}"]
    if path.exists():
        return [f"left {view.task_id}: {path} exists but is not its workspace"]
    mode = view.state.isolation or workspaces.WORKTREE
    if mode == workspaces.WORKTREE:
        orepo.git(["worktree", "prune"], cwd=orepo.main_worktree)
    ws = make_workspace(orepo, view.contract, mode, path)
    workspaces.share_ledger(orepo, ws)
    kind = "worktree" if mode == workspaces.WORKTREE else "workspace (clone)"
    return [f"{view.task_id}: restored {kind} {path} from {branch}, hooks on"]


def _finish_pending(orepo: OrchRepo, view: TaskView) -> list[str]:
    """start was killed (or its setup failed) after recording the task: finish it."""
    if view.state.host not in (None, hostname()):
        return []  # another machine's start: its workspace is not ours to make
    result = finish_setup(orepo, load_task(orepo, view.task_id))
    where = f"{result.isolation} {result.worktree}" if result.worktree else "branch only"
    return [f"{view.task_id}: finished its setup ({where}; recorded activated)"]


def _remove_orphan_worktree(orepo: OrchRepo, orphan: reconcile.Orphan) -> list[str]:
    path = Path(orphan.name)
    if orphan.kind == "workspace":
        task = workspaces.clone_task(path) or ""
        ws = workspaces.Workspace(task, path, workspaces.CLONE)
    else:
        ws = workspaces.Workspace("", path, workspaces.WORKTREE)
    if workspaces.is_dirty(ws):
        return [f"left orphan {orphan.kind} {path}: uncommitted changes"]
    workspaces.remove(orepo, ws)
    return [f"removed orphan {orphan.kind} {path} ({orphan.detail})"]


def _archive_orphan_branch(orepo: OrchRepo, orphan: reconcile.Orphan, target: str) -> list[str]:
    branch = orphan.name
    name = branch[len("orch/") :]
    head = orepo.ref_target(f"refs/heads/{branch}")
    if head is None:
        return []
    if any(t.branch == f"refs/heads/{branch}" for t in fresh_worktrees(orepo)):
        return [f"left orphan branch {branch}: checked out in a worktree"]
    done = []
    if not is_ancestor(orepo, str(head), f"refs/heads/{target}"):
        archive = f"{reconcile.ARCHIVE_PREFIX}{name}"
        current = orepo.ref_target(archive)
        if current is not None and str(current) != str(head):
            return [f"left orphan branch {branch}: {archive} already points elsewhere"]
        if current is None:
            ok, err = update_refs(orepo, [RefUpdate(archive, str(head), None)],
                                  f"archive orphan branch {branch}")
            if not ok:
                return [f"left orphan branch {branch}: {err}"]
        done.append(f"kept {str(head)[:12]} as {archive}")
    orepo.git_common(["update-ref", "-d", f"refs/heads/{branch}", str(head)])
    done.append(f"deleted orphan branch {branch}")
    return done


def _close_dead_run(orepo: OrchRepo, view: TaskView) -> list[str]:
    attempt = runlog.dead_attempt(orepo, view.state)
    if attempt is None:
        return []
    close_dead(orepo, attempt)
    return [f"{view.task_id}: closed dead run (attempt {attempt.number}, supervisor pid "
            f"{attempt.supervisor_pid} gone) and killed what was left of its agent"]


def repair(orepo: OrchRepo, overview: Overview) -> list[str]:
    """Fix what is safe to fix; say what was done and what was left, and why."""
    done: list[str] = []
    target = overview.policy.main_branch
    if any(o.kind == "missing-worktree" for o in overview.orphans):
        missing = [o.name for o in overview.orphans if o.kind == "missing-worktree"]
        run_git(["worktree", "prune"], orepo.main_worktree)
        done.append(f"pruned worktree records whose folders are gone: {', '.join(missing)}")
    for view in overview.tasks:
        st = view.state
        if runlog.RUN_DEAD in view.flags:
            done.extend(_safe(partial(_close_dead_run, orepo, view), view.task_id))
        if runlog.RUN_UNVERIFIED in view.flags:
            done.append(f"left {view.task_id}: its open run names this machine, which has no "
                        "record of starting it; nothing killed (git orch stop "
                        f"{view.task_id} --force records its end)")
        if reconcile.CLEANUP in view.flags:
            done.extend(_safe(partial(_clean_ended, orepo, view, target), view.task_id))
        elif reconcile.ORPHAN in view.flags and st.state not in ENDED:
            done.extend(_safe(partial(_restore_worktree, orepo, view), view.task_id))
        elif st.state == PENDING and st.worktree is None:
            done.extend(_safe(partial(_finish_pending, orepo, view), view.task_id))
        elif st.state in ENDED and not st.cleaned and view.head is None \
                and not view.worktree_present:
            # killed after its cleanup, before the `cleaned` event
            done.extend(_safe(partial(_clean_ended, orepo, view, target), view.task_id))
    for orphan in overview.orphans:
        if orphan.kind in ("worktree", "workspace"):
            done.extend(_safe(partial(_remove_orphan_worktree, orepo, orphan), orphan.name))
    for orphan in overview.orphans:
        if orphan.kind == "branch":
            done.extend(_safe(partial(_archive_orphan_branch, orepo, orphan, target),
                              orphan.name))
    return done


# --- the beat ------------------------------------------------------------------


def _collect_refusals(orepo: OrchRepo, view: TaskView) -> list[str]:
    """Worker hook refusals into misalignment events (see workspace/refusals.py)."""
    return [str(e["id"]) for e in refusals.collect(orepo, view.task_id, view.state.worktree)]


def beat(orepo: OrchRepo, *, interval: int = DEFAULT_INTERVAL, do_repair: bool = False
         ) -> BeatReport:
    overview = collect(orepo)
    repairs: list[str] = []
    if do_repair:
        repairs = repair(orepo, overview)
        if repairs:
            overview = collect(orepo)
    changes = record_flags(orepo, overview)
    misalignments = record_tampering(orepo, overview)
    watch.record_bypasses(orepo, overview.target, {v.task_id: v.state for v in overview.tasks})
    for view in overview.tasks:
        if view.state.state not in ENDED and view.worktree_present:
            _safe(partial(_collect_refusals, orepo, view), f"hook refusals of {view.task_id}")
    report = BeatReport(
        at=reconcile.iso(time.time()) or "",
        interval=interval,
        tasks=len(overview.tasks),
        changes=changes,
        repairs=repairs,
        flags={v.task_id: v.flags for v in overview.tasks if v.flags},
        orphans=[o.to_json() for o in overview.orphans],
        tampering=[f.to_json() for f in overview.tampering],
        misalignments=misalignments,
        target=[f.to_json() | {"message": f.render()} for f in overview.target],
        damage=overview.damage,
    )
    reconcile.write_heartbeat(orepo.runtime_dir, report.to_json())
    return report
