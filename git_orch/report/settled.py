"""Settled tasks: what status keeps of an ended task that cannot change on its own.

At 10k tasks nearly all have ended long ago. Such a task's whole part of the
status is a function of its contract commit and note blob, provided nothing
around it moved: no `orch/<id>` branch, no workspace at its recorded path, no
finding that names it. Status then needs only its finished JSON object and
the few facts the loop-wide sections add up (package, state, runs, reviews,
misalignments, landing tip, base): a `TaskDigest`. This per-machine index
holds both, keyed by (contract, note blob) and the code that printed them,
so a later status skips reading, folding, deriving and encoding the task.

A task enters only after a full read found it quiet (ended, no flags, no
problems, no open run, nothing that needs a person, no time in the future),
and is used only while its key and surroundings are what they were; any
change sends it through the full read again. An index that is missing,
unreadable or from other code is an empty one.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from git_orch.record.state import ENDED, TaskState
from git_orch.record.timefmt import parse_iso
from git_orch.report.trust import is_overclaim

INDEX_FILE = "status-settled.marshal"
RECENT_ENDED = 10  # how many ended tasks every output shows as cards: always read in full
_FORMAT = "status-settled-1"
_PACKAGE = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def code_stamp() -> str:
    """Every module's path, size and modification time: other code, other entries."""
    found = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        try:
            info = path.stat()
        except OSError:
            continue
        found.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode(
            "utf-8", "surrogateescape"))
    return found.hexdigest()


def encode(value: Any) -> str:
    """The compact encoding of `status --json` into a pipe (output.emit_json's)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class TaskDigest(NamedTuple):
    """The facts of one task the loop-wide sections read (same names as TaskState's)."""

    task_id: str
    state: str
    package: str | None
    base: str
    worktree: str | None
    merged_commit: str | None
    merged_target: str | None
    pushed: bool
    runs: list[dict[str, Any]]
    reviews: list[dict[str, Any]]  # only the overclaims: all that trust counts of reviews
    misalignments: list[dict[str, Any]]
    ended_at: str  # what "recently ended" sorts by


def digest(state: TaskState, package: str | None, base: str) -> TaskDigest:
    return TaskDigest(state.task_id, state.state, package, base, state.worktree,
                      state.merged_commit, state.merged_target, state.pushed, state.runs,
                      [r for r in state.reviews if is_overclaim(r)], state.misalignments,
                      state.activity_at or state.updated_at or "")


class Settled(NamedTuple):
    key: str  # "<contract commit>:<note blob>"
    digest: TaskDigest
    text: str  # the task's object in compact `status --json`


def key_of(contract: str, blob: str) -> str:
    return f"{contract}:{blob}"


def quiet(state: TaskState, flags: list[str], problems: list[str], has_item: bool,
          open_run: bool, now: float) -> bool:
    """Nothing about this ended task can change until its key or surroundings do.

    Its times must not lie ahead: a time in the future is ignored today and
    counted once it has passed, which would change the task's object."""
    if state.state not in ENDED or flags or problems or has_item or open_run:
        return False
    return all((parse_iso(t) or 0.0) <= now for t in (state.activity_at, state.created_at))


class SettledIndex:
    def __init__(self, runtime_dir: Path) -> None:
        self.path = runtime_dir / INDEX_FILE
        self.header = (_FORMAT, code_stamp(), TaskDigest._fields)
        self.entries: dict[str, Settled] = {}
        self.changed = False
        try:
            data = marshal.loads(self.path.read_bytes())
            if isinstance(data, tuple) and len(data) == 2 and data[0] == self.header:
                self.entries = {task_id: Settled(key, TaskDigest(*fields), text)
                                for task_id, (key, fields, text) in data[1].items()}
        except (OSError, ValueError, EOFError, TypeError):
            self.entries = {}

    def get(self, task_id: str, key: str) -> Settled | None:
        found = self.entries.get(task_id)
        return found if found is not None and found.key == key else None

    def put(self, task_id: str, entry: Settled) -> None:
        if self.entries.get(task_id) != entry:
            self.entries[task_id] = entry
            self.changed = True

    def keep_only(self, task_ids: set[str]) -> None:
        """Forget the tasks that are gone or no longer settled."""
        for task_id in [t for t in self.entries if t not in task_ids]:
            del self.entries[task_id]
            self.changed = True

    def save(self) -> None:
        """Write atomically when something changed; failing only costs the next run time."""
        if not self.changed:
            return
        data = {task_id: (e.key, tuple(e.digest), e.text) for task_id, e in self.entries.items()}
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".status-settled-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(marshal.dumps((self.header, data)))
            os.replace(tmp, self.path)
        except (OSError, ValueError):
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
