"""`git orch accept` and `git orch reject`: a person's decision on a review.

Accept looks at every verdict recorded on the branch's CURRENT head
(judge/verdicts.py adds them up): git-orch's own review must be among them,
a reject refuses, concerns are accepted only with `--override --reason`,
recorded with the rules overridden and every verdict counted, so the ledger
says who reviewed, who accepted what and why. The checks run inside the
compare-and-swap, so they are redone if the ledger moved.
"""

from __future__ import annotations

from git_orch.config import load_policy
from git_orch.errors import OrchError
from git_orch.judge.review import branch_head
from git_orch.judge.verdicts import refusal, required_external, summary_of, tally
from git_orch.record.ledger import Event
from git_orch.record.state import UNREVIEWED, TaskState
from git_orch.record.tasks import record, transition
from git_orch.repo import OrchRepo


def accept(orepo: OrchRepo, task_id: str, override: str | None) -> Event:
    """Accept the head of orch/<id>; override is the person's reason, or None."""
    if override is not None and not override.strip():
        raise OrchError("--override needs a reason: --override --reason REASON")
    head = branch_head(orepo, task_id)
    required = required_external(load_policy(orepo))

    def make(state: TaskState) -> list[Event]:
        if state.state != UNREVIEWED:
            raise OrchError(f"task {task_id} is {state.state}: only a completed-unreviewed "
                            "task can be accepted")
        found = tally(state, head, required)
        why = refusal(task_id, state, found, override)
        if why is not None:
            raise OrchError(why)
        own = found.own[-1]
        event: Event = {"type": "accepted", "head": head, "verdict": found.verdict,
                        "review": own.get("id"),
                        "verdicts": [summary_of(v) for v in found.verdicts]}
        if override is not None:
            event["override"] = override.strip()
            event["overridden"] = found.rules
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
