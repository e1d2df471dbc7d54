"""What needs a person, as a list of items: task (or none), kind, one-line why, fix.

This is the one place that decides what lands under "Needs you" in every
status output (terminal, JSON, status.md, status.html). To add a kind, write
a check and put it in KINDS at the place of its urgency (most urgent first;
the outputs keep that order): a check about one task returns (why, fix) or
None and is wrapped in per_task(KIND, check); a check about the repository or
the loop takes the overview and returns items (task None, or the task it
concerns). A check reads only the overview it is given (never git, never the
clock), so status stays a pure function of what collect() read.
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
from git_orch.workspace import reconcile


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
Check = Callable[[Overview], "list[NeedsItem]"]


def per_task(kind: str, check: TaskCheck) -> Check:
    """A check about one task, run on every task: (why, fix) or None becomes items."""
    def run(overview: Overview) -> list[NeedsItem]:
        found = ((v.task_id, check(v)) for v in overview.tasks)
        return [NeedsItem(kind, why_fix[0], why_fix[1], task) for task, why_fix in found
                if why_fix is not None]
    return run


def _tampering(overview: Overview) -> list[NeedsItem]:
    """Disarmed worker hooks and other guardrail tampering (workspace/workerhooks.py)."""
    return [NeedsItem(f.kind, f.what, f.fix, f.task) for f in overview.tampering]


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


def _loop_problems(overview: Overview) -> list[NeedsItem]:
    """Ledger problems not about one readable task (those are ledger-problem items)."""
    per_task_lines = {f"task {v.task_id}: {p}" for v in overview.tasks for p in v.problems}
    return [NeedsItem(reconcile.LEDGER_PROBLEM, p, cmd("git", "orch", "heartbeat", "--once"))
            for p in overview.problems if p not in per_task_lines]


# Every kind, most urgent first: the outputs keep this order.
KINDS: list[Check] = [
    per_task(reconcile.CONFLICT, _conflict),
    _tampering,  # a worker disarmed its guardrails: look before landing anything
    _target,
    per_task(reconcile.LEDGER_PROBLEM, _ledger_problem),
    per_task("misalignment", _misalignment),
    per_task("launch-failed", _launch_failed),
    per_task(runlog.RUN_DEAD, _run_dead),
    per_task("run-failed", _run_failed),
    per_task(runlog.RUN_UNVERIFIED, _run_unverified),
    per_task("setup-failed", _setup_failed),
    per_task("blocked", _blocked),
    per_task("review", _review),
    per_task("review-verdict", _review_verdict),
    per_task("land", _land),
    per_task("rejected", _rejected),
    per_task(reconcile.DIRTY, _dirty),
    per_task(reconcile.STALE, _stale),
    per_task(reconcile.ORPHAN, _orphan),
    per_task(reconcile.CLEANUP, _cleanup),
    _loop_problems,
    _orphans,
    _heartbeat,
]


def needs_you(overview: Overview) -> list[NeedsItem]:
    """Every item that needs a person, most urgent kind first, then by task."""
    return [NeedsItem(i.kind, clean(i.why), clean(i.fix), i.task)
            for check in KINDS for i in check(overview)]
