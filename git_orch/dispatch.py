"""Dispatch mode of the whole loop (active, drain, paused), kept in the ledger.

Loop-wide events have no task to hang on, so they go in the note on a fixed
object every repository can hold: the empty tree
(4b825dc642cb6eb9a060e54bf8d69288fbee4904), written into the object database
when needed. The note is a JSON-lines event log like a task's.
"""

from __future__ import annotations

from typing import Any

from git_orch.errors import OrchError
from git_orch.record import ledger
from git_orch.record.ledger import Event, EventLog
from git_orch.repo import OrchRepo

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
ACTIVE = "active"  # next may recommend and start work
DRAIN = "drain"  # running work finishes; nothing new starts
PAUSED = "paused"  # nothing new starts; a person is looking at the loop
MODES = (ACTIVE, DRAIN, PAUSED)


def loop_target(orepo: OrchRepo) -> str:
    """The empty tree's id, after making sure the object exists."""
    oid = orepo.objects.write_tree({})
    assert oid == EMPTY_TREE  # a SHA-1 repository; SHA-256 would need its own id
    return oid


def loop_log(orepo: OrchRepo) -> EventLog:
    return ledger.read_log(orepo, EMPTY_TREE)


def current(orepo: OrchRepo) -> dict[str, Any]:
    """The latest dispatch event as {mode, note, at, actor}; active when none."""
    events = [e for e in loop_log(orepo).events if e.get("type") == "dispatch"
              and e.get("mode") in MODES]
    if not events:
        return {"mode": ACTIVE, "note": None, "at": None, "actor": None}
    last = events[-1]
    return {"mode": last["mode"], "note": last.get("note"), "at": last.get("at"),
            "actor": last.get("actor")}


def set_mode(orepo: OrchRepo, mode: str, note: str | None) -> Event:
    if mode not in MODES:
        raise OrchError(f"dispatch mode {mode!r}: use one of {', '.join(MODES)}")
    if note is not None and any(ch in note for ch in "\n\r\0"):
        raise OrchError("--note must be a single line")
    ledger.create_empty_ledger(orepo)
    target = loop_target(orepo)

    def make(_log: EventLog) -> list[Event]:
        return [{"type": "dispatch", "mode": mode, "note": note}]

    return ledger.append(orepo, target, make, message=f"git-orch: dispatch {mode}")[0]
