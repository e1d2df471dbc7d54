"""Limits that `start` and `run` respect, not only `next`: `max_active` and write-set overlap.

`start` counts tasks being worked (active, rejected or pending setup) against
`max_active` and refuses a task whose write set may overlap a live task's;
`run` counts tasks with an agent running and refuses a second agent on a write
set another running agent may touch. The overlap rule is strict: a task
without `allow` may write anywhere, so it may overlap every other task. Two
tasks clash when either has no `allow`, or both have and their pathspecs may
meet (`roadmap.write_sets_overlap`). A person may go past a limit with
`--force --reason TEXT`: the reason and the limits passed are recorded
(`limits-overridden`), so the decision is visible later.
"""

from __future__ import annotations

import marshal
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from git_orch.agent.runlog import open_attempt
from git_orch.config import Policy
from git_orch.errors import OrchError
from git_orch.record import ledger
from git_orch.record.contract import Contract, check_single_line, load_contract
from git_orch.record.ledger import Event
from git_orch.record.state import ENDED, WORKING, TaskState, fold
from git_orch.record.summary_cache import Summary, SummaryCache
from git_orch.repo import OrchRepo
from git_orch.roadmap import literal_prefix, write_sets_overlap

OVERRIDDEN = "limits-overridden"


@dataclass
class Other:
    contract: Contract
    state: TaskState

    @property
    def task_id(self) -> str:
        return self.contract.task_id

    @property
    def allow(self) -> list[str]:
        return self.contract.allow


def _listed(orepo: OrchRepo) -> list[tuple[str, str, str | None]]:
    """(task id, contract commit, note blob or None) for every task ref, sorted."""
    objs = orepo.objects
    tip = orepo.ref_oid(ledger.LEDGER_REF)
    root = ledger.root_tree(objs, tip) if tip is not None else None
    notes = dict(ledger.iter_notes_in(objs, root.values())) if root is not None else {}
    return [(task_id, oid, notes.get(oid))
            for task_id, oid in sorted(orepo.refs_under(ledger.TASKS_PREFIX).items())]


def _read(orepo: OrchRepo, task_id: str, oid: str, blob: str | None,
          cache: SummaryCache | None) -> Other | None:
    """One task's contract and folded state, from status's summary cache when it has
    them; None when the contract is unreadable (status reports it)."""
    cached = cache.get(f"{oid}:{blob}") if cache is not None else None
    if cached is not None and cached.contract.task_id == task_id:
        return Other(cached.contract, cached.state)
    try:
        contract = load_contract(orepo.objects, oid)
    except OrchError:
        return None
    data = orepo.objects.read_kind(blob, "blob") if blob is not None else b""
    log = ledger.parse_log(data, f"{ledger.LEDGER_REF} note for task {task_id}")  # as status
    other = Other(contract, fold(task_id, log.events))
    if cache is not None and contract.task_id == task_id:  # the entry status would write
        cache.put(f"{oid}:{blob}", Summary(contract, other.state, log.problems,
                                           log.skipped_versions))
    return other


def recorded(orepo: OrchRepo) -> dict[str, Other]:
    """Every recorded task with its contract and folded state (unreadable contracts
    are skipped: status reports them)."""
    cache = SummaryCache(orepo.runtime_dir)
    found = {}
    for task_id, oid, blob in _listed(orepo):
        other = _read(orepo, task_id, oid, blob, cache)
        if other is not None:
            found[task_id] = other
    cache.save()
    return found


SETTLED_FILE = "settled-tasks.marshal"
SETTLED_FORMAT = "settled-tasks-2"
# Past this many ledger fanout folders changed since the index was written, it is
# written again (else only when the settled tasks change).
RESAVE_AFTER = 8


def _settled(other: Other, task_id: str) -> bool:
    """Ended, with no agent run left open: no limit ever counts it again."""
    return (other.contract.task_id == task_id and other.state.state in ENDED
            and open_attempt(other.state) is None)


class SettledIndex(NamedTuple):
    """The settled tasks (task id -> contract commit, note blob) and the ledger's
    top-level entries (name -> object id) when the index was written."""

    roots: dict[str, str]
    tasks: dict[str, tuple[str, str | None]]


def live_tasks(orepo: OrchRepo) -> dict[str, Other]:
    """Every task a limit may count: all but the settled ones, which are skipped
    unread (start must not fold 10,000 ended tasks to find the 20 live ones).

    The per-machine index of settled tasks holds each one's contract commit and
    note blob. A task's state is a function of the two, both content-addressed, so
    a task whose pair is in the index is still settled: the index can be missing or
    old, never wrong. It also keeps the ledger tree's top-level entries (the 2-digit
    fanout folders): a note under a folder whose tree id is the same as then is the
    same note, so only the folders that changed since are read, not 10,000 notes.
    Status's summary cache is read only when there is no index yet."""
    path = orepo.runtime_dir / SETTLED_FILE
    objs = orepo.objects
    tip = orepo.ref_oid(ledger.LEDGER_REF)
    root = (ledger.root_tree(objs, tip) if tip is not None else None) or {}
    index = _load_index(path)
    roots = {name: entry.oid for name, entry in root.items()}
    if index is None:
        changed = {name[:2] for name in roots}
    else:
        changed = {name[:2] for name in {*roots, *index.roots}
                   if roots.get(name) != index.roots.get(name)}
    # The notes under changed folders, read in tree order as iter_notes does.
    notes = dict(ledger.iter_notes_in(objs, (e for e in root.values() if e.name[:2] in changed)))
    known = index.tasks if index is not None else {}
    cache = SummaryCache(orepo.runtime_dir) if index is None else None
    settled: dict[str, tuple[str, str | None]] = {}
    found = {}
    for task_id, oid in sorted(orepo.refs_under(ledger.TASKS_PREFIX).items()):
        was = known.get(task_id)
        if was is not None and was[0] == oid and oid[:2] not in changed:
            settled[task_id] = was  # same contract, same note: still settled
            continue
        blob = notes.get(oid) if oid[:2] in changed else ledger.note_blob_in(objs, root, oid)
        if was == (oid, blob):
            settled[task_id] = was
            continue
        other = _read(orepo, task_id, oid, blob, cache)
        if other is None:
            continue
        if _settled(other, task_id):
            settled[task_id] = (oid, blob)
        else:
            found[task_id] = other
    if cache is not None:
        cache.save()
    if index is None or settled != index.tasks or len(changed) > RESAVE_AFTER:
        _save_index(path, SettledIndex(roots, settled))
    return found


def _load_index(path: Path) -> SettledIndex | None:
    try:
        data = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if (isinstance(data, tuple) and len(data) == 3 and data[0] == SETTLED_FORMAT
            and isinstance(data[1], dict) and isinstance(data[2], dict)):
        return SettledIndex(data[1], data[2])
    return None


def _save_index(path: Path, index: SettledIndex) -> None:
    """Written whole and renamed into place; a failure only costs the next reader time."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(marshal.dumps((SETTLED_FORMAT, index.roots, index.tasks)))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except (OSError, ValueError):
        pass


def others(orepo: OrchRepo, task_id: str) -> list[Other]:
    """The tasks other than `task_id` that a limit may count (see live_tasks)."""
    return [o for i, o in live_tasks(orepo).items() if i != task_id]


def _overlaps(command: str, task_id: str, allow: list[str], live: list[Other]) -> list[str]:
    """Why `task_id` may write where a live task may; empty when every write set is apart.

    A task without `allow` is unbounded (its worker hooks let it write anywhere),
    so it overlaps every other task, on whichever side it is: the reason names
    the unbounded side and the way out besides --force."""
    if not live:
        return []
    if not allow:
        fix = ("bound it with --allow PATHSPEC" if command == "start" else
               "run it once no other agent runs")
        return [f"{task_id} declares no --allow, so it may write anywhere and may overlap "
                f"{_names(live)} (live); {fix}"]
    found = []
    unbounded = [o for o in live if not o.allow]
    if unbounded:
        one = len(unbounded) == 1
        has, it = ("has", "it") if one else ("have", "each")
        until = ("ended" if command == "start" else
                 "stopped its agent" if one else "stopped their agents")
        found.append(f"{_names(unbounded)} (live) {has} no --allow, so {it} may write anywhere, "
                     f"the files of {task_id} included; {command} {task_id} once "
                     f"{_names(unbounded)} {until}")
    clash = [o for o in live if o.allow and write_sets_overlap(allow, o.allow)]
    if clash:
        anywhere = [p for p in [*allow, *(p for o in clash for p in o.allow)]
                    if not literal_prefix(p)]
        hint = (f" ({anywhere[0]} has no slash, so it matches at any depth, like a "
                f".gitignore line; /{anywhere[0].lstrip('/')} names the top-level path)"
                if anywhere and "/" not in anywhere[0].rstrip("/") else "")
        found.append(f"its write set may overlap that of {_names(clash)} (live){hint}")
    return found


def _names(tasks: list[Other]) -> str:
    return ", ".join(o.task_id for o in tasks)


def _breaches(policy: Policy, command: str, task_id: str, allow: list[str],
              counted: list[Other], live: list[Other], what: str) -> list[str]:
    found = []
    if len(counted) >= policy.max_active:
        found.append(f"max_active = {policy.max_active} and {len(counted)} task(s) {what}: "
                     f"{_names(counted)}")
    # Strict: a write set is compared with every live one, and a missing --allow
    # (unbounded) overlaps everything; only declared, disjoint write sets pass.
    return found + _overlaps(command, task_id, allow, live)


def start_breaches(orepo: OrchRepo, policy: Policy, task_id: str, allow: list[str]) -> list[str]:
    """Tasks being worked (active, rejected, pending setup) fill the slots; every live
    task's write set counts (accepted work still has to land)."""
    live = [o for o in others(orepo, task_id) if o.state.state not in ENDED]
    working = [o for o in live if o.state.state in WORKING]
    return _breaches(policy, "start", task_id, allow, working, live, "being worked")


def run_breaches(orepo: OrchRepo, policy: Policy, task_id: str, allow: list[str]) -> list[str]:
    running = [o for o in others(orepo, task_id) if open_attempt(o.state) is not None]
    return _breaches(policy, "run", task_id, allow, running, running,
                     "with an agent running")


def check(command: str, task_id: str, breaches: list[str],
          force_reason: str | None) -> Event | None:
    """Refuse past a limit; with --force --reason, the `limits-overridden` event to record."""
    if not breaches:
        return None
    if force_reason is None:
        raise OrchError(f"{command} {task_id} refused: {'; '.join(breaches)} "
                        "(--force --reason TEXT to go past the limit; the reason is recorded)")
    return {"type": OVERRIDDEN, "command": command,
            "reason": check_single_line("--reason", force_reason), "limits": breaches}

