"""The review -> fix loop: what a task sent back for rework carries into its next run.

A task needs rework when a person rejected it, or when its latest review of
the handed-off head found concerns or reasons to reject. Its next attempt's
envelope gets the reviewer's reason, the review's findings (full messages
from the note on the reviewed head; the `reviewed` event only keeps counts
and rule ids) and the earlier hand-off. `[review] max_rounds` bounds how
many reviews a task may go back to work after; each rework run records the
review it answers (`rework` in `run-started`), which is how rounds are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from git_orch.config import Policy
from git_orch.errors import OrchError
from git_orch.record import ledger
from git_orch.record.state import ACTIVE, REJECTED, UNREVIEWED, TaskState
from git_orch.record.tasks import Task
from git_orch.repo import OrchRepo
from git_orch.sanitize import clean

DEFAULT_MAX_ROUNDS = 3
REWORK_VERDICTS = frozenset({"concerns", "reject"})
FINDINGS_SHOWN = 40
LINE_CAP = 400


@dataclass
class Rework:
    """What the next attempt must fix, and why."""

    key: str  # the latest rejected or sending-back reviewed event: one round
    review_id: str | None
    verdict: str | None
    reason: str | None
    findings: list[str] = field(default_factory=list)
    summary: str | None = None
    risks: list[str] = field(default_factory=list)


def max_rounds(policy: Policy) -> int:
    section = policy.raw.get("review", {})
    value = section.get("max_rounds", DEFAULT_MAX_ROUNDS) if isinstance(section, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
        raise OrchError("orch.toml: [review] max_rounds must be an integer from 0 to 1000")
    return value


def _short(text: object) -> str:
    line = " ".join(clean(text).split())
    return line if len(line) <= LINE_CAP else line[:LINE_CAP] + "..."


def latest_review_sends_back(state: TaskState) -> bool:
    """A handed-off task whose latest review (of the handed-off head) is not a pass."""
    review = state.review or {}
    return (state.state == UNREVIEWED and review.get("verdict") in REWORK_VERDICTS
            and review.get("head") == state.head)


def needs_rework(state: TaskState) -> bool:
    return state.state == REJECTED or latest_review_sends_back(state)


def runnable(state: TaskState) -> bool:
    """Active tasks, and tasks sent back by a person or a review."""
    return state.state == ACTIVE or needs_rework(state)


def note_findings(orepo: OrchRepo, review: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The full findings of a `reviewed` event, from the note on its head (None: not there)."""
    head, event_id = review.get("head"), review.get("id")
    if not isinstance(head, str) or not isinstance(event_id, str):
        return None
    for line in ledger.snapshot(orepo).log(head).events:
        if line.get("type") == "reviewed" and line.get("event") == event_id:
            found = line.get("findings")
            return [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []
    return None


def render_finding(finding: dict[str, Any]) -> str:
    where = finding.get("path") or (str(finding.get("commit") or "")[:12])
    where_text = f" {where}:" if where else ""
    return _short(f"{finding.get('severity', '?')} {finding.get('rule', '?')}:{where_text} "
                  f"{finding.get('message', '')}")


def rework_for(orepo: OrchRepo, task: Task) -> Rework | None:
    """What the next attempt of a task sent back must address (None: not sent back)."""
    state = task.state
    if not needs_rework(state):
        return None
    review = state.review or {}
    # A review of another head than the one handed off is about an older attempt.
    current = review if review.get("head") in (state.head, None) or state.head is None else {}
    findings: list[str] = []
    full = note_findings(orepo, current) if current else None
    if full is not None:
        findings = [render_finding(f) for f in full[:FINDINGS_SHOWN]]
        if len(full) > FINDINGS_SHOWN:
            findings.append(f"... and {len(full) - FINDINGS_SHOWN} more (git orch review)")
    elif current:
        recorded = current.get("findings")
        rules = recorded.get("rules") if isinstance(recorded, dict) else None
        if isinstance(rules, list):
            findings = [_short(f"rule {rule}") for rule in rules if isinstance(rule, str)]
    review_id = current.get("id") if isinstance(current.get("id"), str) else None
    verdict = current.get("verdict") if isinstance(current.get("verdict"), str) else None
    reason = state.reason if state.state == REJECTED else None
    ordered = sorted(task.log.events, key=lambda e: (e["lamport"], e["id"]))
    decisions = [e for e in ordered if e.get("type") == "rejected"
                 or (e.get("type") == "reviewed" and e.get("verdict") in REWORK_VERDICTS)]
    key = str(decisions[-1]["id"]) if decisions else f"state:{state.state}"
    return Rework(key, review_id, verdict, _short(reason) if reason else None, findings,
                  _short(state.summary) if state.summary else None,
                  [_short(r) for r in state.risks[:10]])


def rounds_used(state: TaskState) -> set[str]:
    """The reviews earlier rework runs answered (a retry of the same round adds none)."""
    return {str(e["rework"]) for e in state.runs
            if e.get("type") == "run-started" and isinstance(e.get("rework"), str)}


def check_rounds(policy: Policy, state: TaskState, rework: Rework | None) -> None:
    """Refuse a rework run beyond `[review] max_rounds`: a person decides then."""
    if rework is None:
        return
    limit = max_rounds(policy)
    used = rounds_used(state)
    if rework.key in used or len(used) < limit:
        return
    raise OrchError(f"task {state.task_id} went back to work {len(used)} time(s) already "
                    f"([review] max_rounds = {limit}): a person decides now (accept with "
                    f"--override, take it over, or git orch abandon {state.task_id})")
