"""What needs a person, as a list of items: task (or none), kind, one-line why, fix.

This is the one place that decides what lands under "Needs you" in every
status output (terminal, JSON, status.md, status.html). To add a kind, write
a check and put it in TASK_KINDS (about one task) or LOOP_KINDS (about the
repository or the loop) at the place of its urgency: the lists are in order,
most urgent first, and the outputs keep that order. A check reads only the
overview it is given (never git, never the clock), so status stays a pure
function of what collect() read.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from git_orch.agent import runlog
from git_orch.judge.verdicts import tally
from git_orch.record.state import (
    ACCEPTED,
    ACTIVE,
    BLOCKED,
    ENDED,
    MERGED,
    PENDING,
    PUSHED,
    REJECTED,
    UNREVIEWED,
)
from git_orch.report.status import Overview, TaskView
from git_orch.sanitize import clean
from git_orch.workspace import reconcile, tamper


@dataclass(frozen=True)
class NeedsItem:
    kind: str
    why: str  # one line, in the words of whoever gave a reason
    fix: str  # a command a person can paste
    task: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "kind": self.kind, "why": self.why, "fix": self.fix}


def cmd(*argv: str) -> str:
    """A pasteable command line (each word quoted only if it must be)."""
    return shlex.join(argv)


def live_run(view: TaskView) -> bool:
    """An agent run that has started and not ended, and is not known dead."""
    return runlog.open_attempt(view.state) is not None and runlog.RUN_DEAD not in view.flags


def _conflict(v: TaskView) -> tuple[str, str] | None:
    if reconcile.CONFLICT in v.flags:
        return (f"decisions disagree: {v.state.conflicts[0]}" if v.state.conflicts
                else "decisions disagree", cmd("git", "orch", "show", v.task_id))
    return None


def _ledger_problem(v: TaskView) -> tuple[str, str] | None:
    if reconcile.LEDGER_PROBLEM in v.flags and v.problems:
        return v.problems[0], cmd("git", "orch", "show", v.task_id)
    return None


def _misalignment(v: TaskView) -> tuple[str, str] | None:
    found = v.state.misalignments
    if not found or v.state.state in ENDED:
        return None
    last = found[-1]
    why = f"{last.get('source', '?')}: {last.get('what', '?')}"
    if len(found) > 1:
        why = f"{len(found)} misalignments; latest {why}"
    return why, cmd("git", "orch", "show", v.task_id)


def _latest_run(v: TaskView) -> dict[str, Any] | None:
    return runlog.latest_run_json(v.state)


def _launch_failed(v: TaskView) -> tuple[str, str] | None:
    run = _latest_run(v)
    if run is None or run["running"] or run["outcome"] != runlog.LAUNCH_FAILED:
        return None
    if v.state.state != ACTIVE:
        return None
    return (f"agent {run['agent']} did not start: {run['reason'] or 'launch failed'}",
            cmd("git", "orch", "logs", v.task_id))


def _run_dead(v: TaskView) -> tuple[str, str] | None:
    if runlog.RUN_DEAD in v.flags:
        return ("its agent's supervisor died without recording an end",
                cmd("git", "orch", "stop", v.task_id))
    return None


def _run_failed(v: TaskView) -> tuple[str, str] | None:
    """The last agent run ended badly and nothing followed: nobody works on the task now."""
    run = _latest_run(v)
    failed = runlog.failed_last_run(v.state)
    if run is None or failed is None or run["outcome"] == runlog.LAUNCH_FAILED:
        return None
    reason = f": {run['reason']}" if run["reason"] else ""
    return (f"agent {run['agent']} attempt {run['attempt']} ended {run['outcome']}{reason}",
            cmd("git", "orch", "run", v.task_id, "--agent", str(run["agent"])))


def _run_unverified(v: TaskView) -> tuple[str, str] | None:
    if runlog.RUN_UNVERIFIED in v.flags:
        return ("its open run names this machine, which has no record of starting it",
                cmd("git", "orch", "stop", v.task_id, "--force"))
    return None


def _review_verdict(v: TaskView) -> tuple[str, str] | None:
    """A review on the current head said reject or concerns, and no person decided yet."""
    st = v.state
    if st.state in ENDED or st.state == REJECTED:
        return None
    head = v.head or (st.review.get("head") if st.review else None)
    on_head = tally(st, str(head)) if head else None
    if on_head is not None and on_head.verdict in ("reject", "concerns"):
        said = "; ".join(f"{r['verdict']} by {r['reviewer']}"
                         for r in on_head.to_json()["verdicts"] if r["verdict"] != "pass")
        return f"review verdict: {said}", cmd("git", "orch", "show", v.task_id)
    return None


def _setup_failed(v: TaskView) -> tuple[str, str] | None:
    if v.state.state == PENDING and v.state.error:
        return f"setup failed: {v.state.error}", cmd("git", "orch", "show", v.task_id)
    return None


def _review(v: TaskView) -> tuple[str, str] | None:
    """Handed off: the summary, and beside it the start of what the agent said, if it ran."""
    if v.state.state != UNREVIEWED:
        return None
    why = v.state.summary or "handed off, no summary"
    said = runlog.agent_said(v.state)
    if said is not None:
        words = " ".join(said["text"].split())
        why += f" | agent said: {words[:300]}" + ("..." if len(words) > 300 else "")
    return why, cmd("git", "orch", "review", v.task_id, "--rerun-gates")


def _land(v: TaskView) -> tuple[str, str] | None:
    if v.state.state == ACCEPTED:
        head = (v.state.accepted_head or "")[:12]
        return f"accepted at {head}", cmd("git", "orch", "land", v.task_id)
    return None


def _blocked(v: TaskView) -> tuple[str, str] | None:
    if v.state.state == BLOCKED:
        return (v.state.reason or "blocked, no reason given",
                cmd("git", "orch", "unblock", v.task_id))
    return None


def _rejected(v: TaskView) -> tuple[str, str] | None:
    """Rejected and an agent worked on it: only a person can start the rework."""
    run = _latest_run(v)
    if v.state.state != REJECTED or run is None or live_run(v):
        return None
    if runlog.failed_last_run(v.state) is not None:
        return None  # the failed run is the item
    return (v.state.reason or "rejected, no reason given",
            cmd("git", "orch", "run", v.task_id, "--agent", str(run["agent"])))


def _dirty(v: TaskView) -> tuple[str, str] | None:
    if reconcile.DIRTY in v.flags and v.state.state in (UNREVIEWED, ACCEPTED, BLOCKED):
        return (f"{v.state.worktree} has changes no review saw",
                cmd("git", "-C", str(v.state.worktree), "status", "--short"))
    return None


def _stale(v: TaskView) -> tuple[str, str] | None:
    if reconcile.STALE in v.flags and not live_run(v):
        return (f"no activity since {reconcile.iso(v.last_activity)}",
                cmd("git", "orch", "show", v.task_id))
    return None


def _orphan(v: TaskView) -> tuple[str, str] | None:
    if reconcile.ORPHAN in v.flags:
        return (f"its worktree {v.state.worktree} is gone",
                cmd("git", "orch", "heartbeat", "--once", "--repair"))
    return None


def _cleanup(v: TaskView) -> tuple[str, str] | None:
    if reconcile.CLEANUP not in v.flags:
        return None
    if v.state.state in (MERGED, PUSHED):
        return "landed; worktree or branch still there", cmd("git", "orch", "land", v.task_id)
    return ("ended; worktree or branch still there",
            cmd("git", "orch", "heartbeat", "--once", "--repair"))


TaskCheck = Callable[[TaskView], "tuple[str, str] | None"]
LoopCheck = Callable[[Overview], "list[NeedsItem]"]

# Most urgent first. Each check returns (why, fix) or None.
TASK_KINDS: list[tuple[str, TaskCheck]] = [
    (reconcile.CONFLICT, _conflict),
    (reconcile.LEDGER_PROBLEM, _ledger_problem),
    ("misalignment", _misalignment),
    ("launch-failed", _launch_failed),
    (runlog.RUN_DEAD, _run_dead),
    ("run-failed", _run_failed),
    (runlog.RUN_UNVERIFIED, _run_unverified),
    ("setup-failed", _setup_failed),
    ("blocked", _blocked),
    ("review", _review),
    ("review-verdict", _review_verdict),
    ("land", _land),
    ("rejected", _rejected),
    (reconcile.DIRTY, _dirty),
    (reconcile.STALE, _stale),
    (reconcile.ORPHAN, _orphan),
    (reconcile.CLEANUP, _cleanup),
]


def _target(overview: Overview) -> list[NeedsItem]:
    """The target branch was rewritten or bypassed (landing/watch.py), on the task concerned."""
    return [NeedsItem(f.rule, f.render(), cmd("git", "log", "--oneline", "-5", f.ref),
                      f.task or f.landed_by)
            for f in overview.target]


def _orphans(overview: Overview) -> list[NeedsItem]:
    return [NeedsItem(reconcile.ORPHAN, f"{o.kind} {o.name}: {o.detail}",
                      cmd("git", "orch", "heartbeat", "--once", "--repair"))
            for o in overview.orphans]


def _heartbeat(overview: Overview) -> list[NeedsItem]:
    beat = overview.heartbeat
    if beat is None or not beat.missed(overview.now):
        return []
    return [NeedsItem("heartbeat-missed",
                      f"last heartbeat {reconcile.iso(beat.at)}, interval {beat.interval}s",
                      cmd("git", "orch", "heartbeat", "--once"))]


def _ledger_damage(overview: Overview) -> list[NeedsItem]:
    """A rewound, replaced or deleted ledger, or a stale lock (record/damage.py)."""
    return [NeedsItem("ledger-damage", d, cmd("git", "orch", "ledger", "recover"))
            for d in overview.damage]


def _tampering(overview: Overview) -> list[NeedsItem]:
    """Tampering with the shared git dir (workspace/tamper.py): on the worker blamed for it
    (kind `bypass`, naming what it did), else on the repository."""
    return [NeedsItem(tamper.BYPASS, f"{f.kind}: {f.what}", f.fix, f.task) if f.task
            else NeedsItem(f.kind, f.what, f.fix) for f in overview.tampering]


def _packages_due(overview: Overview) -> list[NeedsItem]:
    """A roadmap package whose last task landed: its review pack is due (judge/packagereview)."""
    return [NeedsItem("package-review", f"package {d['package']} closed: review pack due",
                      cmd("git", "orch", "review", "--package", str(d["package"]),
                          "--pack", "DIR"))
            for d in overview.packages_due]


def _loop_problems(overview: Overview) -> list[NeedsItem]:
    """Ledger problems not about one readable task (those are ledger-problem items)."""
    per_task = {f"task {v.task_id}: {p}" for v in overview.tasks for p in v.problems}
    return [NeedsItem(reconcile.LEDGER_PROBLEM, p, cmd("git", "orch", "heartbeat", "--once"))
            for p in overview.problems if p not in per_task]


LOOP_KINDS: list[LoopCheck] = [
    _ledger_damage, _tampering, _target, _packages_due, _loop_problems, _orphans,
    _heartbeat,
]


def needs_you(overview: Overview) -> list[NeedsItem]:
    """Every item that needs a person, most urgent kind first, then by task."""
    items: list[NeedsItem] = []
    for kind, check in TASK_KINDS:
        for view in overview.tasks:
            found = check(view)
            if found is not None:
                why, fix = found
                items.append(NeedsItem(kind, clean(why), clean(fix), view.task_id))
    for loop_check in LOOP_KINDS:
        items += [NeedsItem(i.kind, clean(i.why), clean(i.fix), i.task)
                  for i in loop_check(overview)]
    return items
