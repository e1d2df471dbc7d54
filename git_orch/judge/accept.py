"""`git orch accept` and `git orch reject`: a person's decision on a review.

Accept needs a review of the branch's CURRENT head: a head that moved since
the review needs a new one. A verdict other than pass (concerns, reject,
blocked evidence) is accepted only with `--override REASON`, recorded with the
verdict it overrode, so the ledger says who accepted what and why. The checks
run inside the compare-and-swap, so they are redone if the ledger moved.
"""

from __future__ import annotations

from git_orch.errors import OrchError
from git_orch.judge.review import branch_head
from git_orch.record.ledger import Event
from git_orch.record.state import UNREVIEWED, TaskState
from git_orch.record.tasks import record, transition
from git_orch.repo import OrchRepo


def accept(orepo: OrchRepo, task_id: str, override: str | None) -> Event:
    if override is not None and not override.strip():
        raise OrchError("--override needs a reason")
    head = branch_head(orepo, task_id)

    def make(state: TaskState) -> list[Event]:
        if state.state != UNREVIEWED:
            raise OrchError(f"task {task_id} is {state.state}: only a completed-unreviewed "
                            "task can be accepted")
        review = state.review
        if review is None:
            raise OrchError(f"task {task_id} has no review: run git orch review {task_id}")
        if review.get("head") != head:
            raise OrchError(
                f"the review of {task_id} is stale: it reviewed "
                f"{str(review.get('head'))[:12]}, the branch is now at {head[:12]}; "
                f"run git orch review {task_id} again")
        verdict = str(review.get("verdict"))
        rules = review.get("findings", {}).get("rules", []) if isinstance(
            review.get("findings"), dict) else []
        if verdict != "pass" and override is None:
            raise OrchError(
                f"the review of {task_id} says {verdict} ({', '.join(map(str, rules)) or '-'}):"
                " accept only with --override REASON")
        event: Event = {"type": "accepted", "head": head, "verdict": verdict,
                        "review": review.get("id")}
        if override is not None:
            event["override"] = override.strip()
            event["overridden"] = [str(r) for r in rules]
        return [event]

    return record(orepo, task_id, make)[0]


def reject(orepo: OrchRepo, task_id: str, reason: str) -> Event:
    if not reason.strip():
        raise OrchError("--reason must say what the worker should fix")
    head = branch_head(orepo, task_id)
    return transition(orepo, task_id, {"type": "rejected", "reason": reason.strip(),
                                       "head": head})


def unblock(orepo: OrchRepo, task_id: str, note: str) -> Event:
    """A person answered a blocked task: it goes back to active, with the answer recorded."""
    if not note.strip():
        raise OrchError("--note must say what was decided or provided")
    return transition(orepo, task_id, {"type": "unblocked", "note": note.strip()})
