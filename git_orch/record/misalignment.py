"""Misalignment: a worker did (or claimed) something its contract does not allow.

One event type for every source, so status can count them per task and per
agent, worst first. Recording one never moves a task's state: a person judges.
"""

from __future__ import annotations

from git_orch.record.ledger import Event
from git_orch.record.tasks import record
from git_orch.repo import OrchRepo

# Where a misalignment was seen; refs-schema.md ("misalignment") lists them.
SOURCES = frozenset({
    "hook-refusal",          # a worker hook refused a commit, push or ref update
    "dropped-worker-event",  # collect dropped a ledger event the worker may not write
    "overclaim",             # evidence stronger than what backs it
    "scope-violation",       # a change outside the task's pathspecs
    "bypass",                # land, verify or status saw hooks or the target bypassed
    "handoff-contradicted",  # a handoff claims what review contradicts
    "rewritten-handoff",     # collect refused a rewrite of orch/<id> that drops a handed-off head
})


def misalignment_event(what: str, source: str, evidence: str, **extra: object) -> Event:
    """The event, for callers that append it together with others in one write."""
    if source not in SOURCES:
        raise ValueError(f"unknown misalignment source {source!r}")
    return {"type": "misalignment", "what": what, "source": source, "evidence": evidence,
            **extra}


def record_misalignment(orepo: OrchRepo, task_id: str, what: str, source: str,
                        evidence: str, **extra: object) -> Event:
    """Append one misalignment event to the task's log (the lead's ledger)."""
    event = misalignment_event(what, source, evidence, **extra)
    return record(orepo, task_id, lambda _state: [event])[0]
