"""Tasks as the ledger sees them: contract + event log + folded state.

Every state change goes through `record`, which re-checks the transition on
each compare-and-swap attempt, so two racing commands cannot both move a task
out of the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from git_orch.errors import OrchError
from git_orch.record import ledger
from git_orch.record.contract import Contract, load_contract
from git_orch.record.ids import check_task_id, task_ref
from git_orch.record.ledger import Event, EventLog
from git_orch.record.state import TaskState, fold
from git_orch.repo import OrchRepo


class Task:
    """A plain class, as EventLog is: a dataclass costs ~0.4 ms a process to define."""

    def __init__(self, contract: Contract, log: EventLog, state: TaskState) -> None:
        self.contract = contract
        self.log = log
        self.state = state

    @property
    def task_id(self) -> str:
        return self.contract.task_id


def contract_oid(orepo: OrchRepo, task_id: str) -> str:
    check_task_id(task_id)
    oid = orepo.ref_oid(task_ref(task_id))
    if oid is None:
        raise OrchError(f"no task {task_id!r} (git orch status lists the tasks)")
    return oid


def load_task(orepo: OrchRepo, task_id: str) -> Task:
    oid = contract_oid(orepo, task_id)
    contract = load_contract(orepo.objects, oid)
    if contract.task_id != task_id:
        raise OrchError(
            f"{task_ref(task_id)} points at the contract of {contract.task_id!r}; refusing"
        )
    log = ledger.read_log(orepo, oid)
    return Task(contract, log, fold(task_id, log.events))


def record(
    orepo: OrchRepo,
    task_id: str,
    make: Callable[[TaskState], Sequence[Event]],
    extra_refs: Callable[[], Sequence[ledger.RefUpdate]] = lambda: (),
) -> list[Event]:
    """Append events to a task's log; `make` sees the fresh state on every attempt.
    `extra_refs`: refs that move in the same transaction (see ledger.append)."""
    oid = contract_oid(orepo, task_id)

    def build(log: EventLog) -> Sequence[Event]:
        events = list(make(fold(task_id, log.events)))
        for event in events:
            event.setdefault("task", task_id)
        return events

    return ledger.append(orepo, oid, build, extra_refs=extra_refs, message=f"git-orch: {task_id}")


def transition(orepo: OrchRepo, task_id: str, event: Event,
               extra_refs: Callable[[], Sequence[ledger.RefUpdate]] = lambda: ()) -> Event:
    """Record one state-changing event, refusing it if the state does not allow it
    (`extra_refs`: refs that move with it, all or none)."""

    def make(state: TaskState) -> list[Event]:
        if not state.can(event["type"]):
            raise OrchError(
                f"task {task_id} is {state.state}: cannot record {event['type']} now"
            )
        return [dict(event)]

    return record(orepo, task_id, make, extra_refs)[0]
