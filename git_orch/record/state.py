"""A task's state is the fold of its events in (lamport, id) order.

Nothing here reads git: the same events give the same state on every machine.
An event that is not allowed in the state reached so far is kept as a conflict
(shown to a person) and does not move the state.
"""

from __future__ import annotations

from typing import Any, Protocol

from git_orch.record.ledger import BY_CLOCK, Event
from git_orch.sanitize import clean

PENDING = "pending-setup"
ACTIVE = "active"
UNREVIEWED = "completed-unreviewed"
ACCEPTED = "accepted"
REJECTED = "rejected"
MERGED = "merged"
PUSHED = "pushed"
CLEANED = "cleaned"
BLOCKED = "blocked"
ABANDONED = "abandoned"

STATES = (PENDING, ACTIVE, UNREVIEWED, ACCEPTED, REJECTED, MERGED, PUSHED, CLEANED, BLOCKED,
          ABANDONED)
ENDED = frozenset({MERGED, PUSHED, CLEANED, ABANDONED})
LIVE = frozenset(STATES) - ENDED
# The states that hold a worker slot (`max_active`): start, run and next count these.
WORKING = frozenset({PENDING, ACTIVE, REJECTED})

# event type -> (states it may follow, state it leads to; None = unchanged)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "setup-failed": (frozenset({PENDING}), None),
    "activated": (frozenset({PENDING}), ACTIVE),
    "handoff": (frozenset({ACTIVE, UNREVIEWED, REJECTED, BLOCKED, ACCEPTED}), UNREVIEWED),
    "blocked": (frozenset({PENDING, ACTIVE, UNREVIEWED, REJECTED}), BLOCKED),
    "unblocked": (frozenset({BLOCKED}), ACTIVE),
    "accepted": (frozenset({UNREVIEWED}), ACCEPTED),
    "rejected": (frozenset({UNREVIEWED, ACCEPTED}), REJECTED),
    "merged": (frozenset({ACCEPTED}), MERGED),
    "pushed": (frozenset({MERGED}), PUSHED),
    "cleaned": (frozenset({MERGED, PUSHED, ABANDONED}), None),
    "abandoned": (frozenset(LIVE), ABANDONED),
}
# Events that record facts without moving the state.
INFORMATIONAL = frozenset(
    {"created", "reviewed", "run-started", "run-ended", "note", "land-step", "flagged",
     "misalignment", "limits-overridden"}
)


class StateFacts(Protocol):
    """What the loop-wide readers (trust, breakers, spend, target watch, orphans) use of
    a task: a TaskState has it, and so has status's digest of a settled task."""

    @property
    def task_id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def worktree(self) -> str | None: ...
    @property
    def merged_commit(self) -> str | None: ...
    @property
    def merged_target(self) -> str | None: ...
    @property
    def pushed(self) -> bool: ...
    @property
    def runs(self) -> list[dict[str, Any]]: ...
    @property
    def reviews(self) -> list[dict[str, Any]]: ...
    @property
    def misalignments(self) -> list[dict[str, Any]]: ...


class TaskState:
    """A task's folded state. A plain class (fields compared, as a dataclass's are):
    defining a dataclass of this size costs ~1 ms, on every command that folds."""

    def __init__(
        self,
        task_id: str,
        state: str = PENDING,
        head: str | None = None,
        branch: str | None = None,
        worktree: str | None = None,
        isolation: str | None = None,
        host: str | None = None,
        created_at: str | None = None,
        updated_at: str | None = None,
        summary: str | None = None,
        risks: list[str] | None = None,
        reason: str | None = None,
        error: str | None = None,
        accepted_head: str | None = None,
        override: str | None = None,
        review: dict[str, Any] | None = None,
        reviews: list[dict[str, Any]] | None = None,
        merged_commit: str | None = None,
        merged_target: str | None = None,
        pushed: bool = False,
        cleaned: bool = False,
        runs: list[dict[str, Any]] | None = None,
        conflicts: list[str] | None = None,
        event_count: int = 0,
        recorded_flags: list[str] | None = None,
        activity_at: str | None = None,
        misalignments: list[dict[str, Any]] | None = None,
    ) -> None:
        self.task_id = task_id
        self.state = state
        self.head = head  # head handed off (or accepted)
        self.branch = branch
        self.worktree = worktree
        self.isolation = isolation  # "clone" or "worktree" (None: recorded before clones)
        self.host = host
        self.created_at = created_at
        self.updated_at = updated_at
        self.summary = summary
        self.risks = [] if risks is None else risks
        self.reason = reason  # block, reject or abandon reason
        self.error = error  # last setup failure
        self.accepted_head = accepted_head
        self.override = override
        self.review = review  # latest review event
        self.reviews = [] if reviews is None else reviews  # every review, oldest first
        self.merged_commit = merged_commit
        self.merged_target = merged_target  # the branch that land moved to merged_commit
        self.pushed = pushed  # a `pushed` event: the remote had merged_commit
        self.cleaned = cleaned
        self.runs = [] if runs is None else runs
        self.conflicts = [] if conflicts is None else conflicts
        self.event_count = event_count
        # the latest `flagged` event's flags
        self.recorded_flags = [] if recorded_flags is None else recorded_flags
        self.activity_at = activity_at  # latest event that is not a heartbeat's `flagged`
        self.misalignments = [] if misalignments is None else misalignments

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __repr__(self) -> str:
        return f"TaskState({vars(self)})"

    def can(self, event_type: str) -> bool:
        allowed = TRANSITIONS.get(event_type)
        return allowed is None or self.state in allowed[0]


def _str(event: Event, key: str) -> str | None:
    value = event.get(key)
    return value if isinstance(value, str) else None


def apply(task: TaskState, event: Event) -> None:
    kind = event.get("type")
    task.event_count += 1
    named = event.get("task", task.task_id)
    if named != task.task_id:
        # A line copied (or forged) into another task's log: keep it, never apply it.
        task.conflicts.append(
            f"event {clean(event.get('id'))[:16]} names task "
            f"'{clean(named)[:40]}', not this one; ignored"
        )
        return
    at = _str(event, "at")  # read once: every event sets updated_at, most activity_at
    task.updated_at = at or task.updated_at
    if kind == "created":
        if task.created_at is not None:
            task.conflicts.append(f"created twice (event {str(event.get('id'))[:12]})")
            return
        task.created_at = at
        task.host = _str(event, "host")
        return
    if not isinstance(kind, str):
        return
    if kind in TRANSITIONS:
        allowed, target = TRANSITIONS[kind]
        if task.state not in allowed:
            head = _str(event, "head") or _str(event, "commit")
            task.conflicts.append(
                f"{kind}{f' of {head[:12]}' if head else ''} by {event.get('actor', '?')} "
                f"at {event.get('at', '?')} is not allowed in state {task.state}; ignored"
            )
            return
        if target is not None:
            task.state = target
    _record(task, kind, event, at)


def _record(task: TaskState, kind: str, event: Event, at: str | None) -> None:
    if kind not in ("flagged", "misalignment"):  # observations about a task are not activity
        task.activity_at = at or task.activity_at
    if kind == "activated":
        task.branch = _str(event, "branch")
        task.worktree = _str(event, "worktree")
        task.isolation = _str(event, "isolation")
        task.host = _str(event, "host") or task.host
        task.head = _str(event, "head")
        task.error = None
    elif kind == "setup-failed":
        task.error = _str(event, "error")
    elif kind == "handoff":
        task.head = _str(event, "head")
        task.summary = _str(event, "summary")
        risks = event.get("risks")
        task.risks = [r for r in risks if isinstance(r, str)] if isinstance(risks, list) else []
        task.accepted_head = None
    elif kind in ("blocked", "rejected", "abandoned"):
        task.reason = _str(event, "reason")
    elif kind == "unblocked":
        task.reason = None
    elif kind == "accepted":
        task.accepted_head = _str(event, "head")
        task.override = _str(event, "override")
    elif kind == "reviewed":
        task.review = dict(event)
        task.reviews.append(task.review)
    elif kind == "merged":
        task.merged_commit = _str(event, "commit")
        task.merged_target = _str(event, "target")
    elif kind == "pushed":
        task.pushed = True
    elif kind == "cleaned":
        task.cleaned = True
        if task.state in (MERGED, PUSHED):
            task.state = CLEANED
    elif kind == "run-started":
        task.runs.append(dict(event))
    elif kind == "run-ended":
        task.runs.append(dict(event))
    elif kind == "misalignment":
        task.misalignments.append(dict(event))
    elif kind == "flagged":
        flags = event.get("flags")
        task.recorded_flags = (
            sorted(f for f in flags if isinstance(f, str)) if isinstance(flags, list) else []
        )


def fold(task_id: str, events: list[Event]) -> TaskState:
    task = TaskState(task_id)
    for event in sorted(events, key=BY_CLOCK):
        apply(task, event)
    return task
