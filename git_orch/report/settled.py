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

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from git_orch.errors import OrchError
from git_orch.record import blobfile
from git_orch.record.blobfile import BlobFile
from git_orch.record.state import ENDED, TaskState
from git_orch.record.timefmt import parse_iso
from git_orch.report.repeat import code_stamp
from git_orch.report.trust import is_overclaim

INDEX_FILE = "status-settled.marshal"
RECENT_ENDED = 10  # how many ended tasks every output shows as cards: always read in full
SPAN = 1 << 20  # bytes of neighbouring texts read at once
_FORMAT = "status-settled-3"


# One encoder for every call: json.dumps builds a new one per call when given options.
_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def encode(value: Any) -> bytes:
    """The compact encoding of `status --json` into a pipe (output.emit_json's): ASCII,
    as json.dumps escapes everything else."""
    return _COMPACT.encode(value).encode("ascii")


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
    created_at: str | None  # the order of a package's tasks (judge/packagereview.py)


def digest(state: TaskState, package: str | None, base: str) -> TaskDigest:
    return TaskDigest(state.task_id, state.state, package, base, state.worktree,
                      state.merged_commit, state.merged_target, state.pushed, state.runs,
                      [r for r in state.reviews if is_overclaim(r)], state.misalignments,
                      state.activity_at or state.updated_at or "", state.created_at)


class Settled(NamedTuple):
    key: str  # SummaryCache.key_of: "<contract commit>:<note blob>"
    digest: TaskDigest


def quiet(state: TaskState, flags: list[str], problems: list[str], has_item: bool,
          open_run: bool, now: float) -> bool:
    """Nothing about this ended task can change until its key or surroundings do.

    Its times must not lie ahead: a time in the future is ignored today and
    counted once it has passed, which would change the task's object."""
    if state.state not in ENDED or flags or problems or has_item or open_run:
        return False
    return all((parse_iso(t) or 0.0) <= now for t in (state.activity_at, state.created_at))


class SettledIndex:
    """Keys and digests in a BlobFile's header, each task's text in its body as
    `,{...}` (the separator included): status copies the texts of neighbouring
    settled tasks to stdout with one read, never holding or decoding them all."""

    def __init__(self, runtime_dir: Path) -> None:
        self.file = BlobFile(runtime_dir / INDEX_FILE, (_FORMAT, code_stamp(), TaskDigest._fields))
        self.entries: dict[str, Settled] = {}
        self.added: dict[str, bytes] = {}
        self.changed = False
        try:
            for task_id, ((key, fields), start, length) in self.file.table.items():
                if not self.file.fits(start, length):
                    raise ValueError("a text lies outside the index file")
                self.entries[task_id] = Settled(key, TaskDigest(*fields))
        except (TypeError, ValueError):  # a damaged index is an empty one
            self.entries = {}

    def get(self, task_id: str, key: str) -> Settled | None:
        found = self.entries.get(task_id)
        return found if found is not None and found.key == key else None

    def text(self, task_id: str) -> bytes | None:
        """`,` and the task's compact JSON."""
        if task_id in self.added:
            return self.added[task_id]
        return self.file.read(task_id)

    def texts(self, task_ids: list[str]) -> Iterator[bytes]:
        """The texts of task_ids in order; neighbours in the file come in one read
        (at most SPAN bytes, so memory stays bounded)."""
        start = end = 0
        for task_id in task_ids:
            found = self.file.table.get(task_id) if task_id not in self.added else None
            if found is not None and start < end and found[1] == end \
                    and end + found[2] - start <= SPAN:
                end += found[2]
                continue
            if start < end:
                yield self._span(start, end)
            start = end = 0
            if found is not None:
                start, end = found[1], found[1] + found[2]
            else:
                yield self.must_text(task_id)
        if start < end:
            yield self._span(start, end)

    def _span(self, start: int, end: int) -> bytes:
        data = self.file.read_span(start, end - start)
        if data is None:
            raise self._changed()
        return data

    def must_text(self, task_id: str) -> bytes:
        """text(), for a task this run found settled: its text must be there."""
        found = self.text(task_id)
        if found is None:
            raise self._changed()
        return found

    def _changed(self) -> OrchError:
        return OrchError(f"{self.file.path}: changed while status read it; run status again")

    def put(self, task_id: str, entry: Settled, text: bytes) -> None:
        """text: the task's compact JSON (the index stores it after a comma)."""
        stored = b"," + text
        if self.entries.get(task_id) == entry and self.text(task_id) == stored:
            return
        self.entries[task_id] = entry
        self.added[task_id] = stored
        self.changed = True

    def keep_only(self, task_ids: set[str]) -> None:
        """Forget the tasks that are gone or no longer settled."""
        for task_id in [t for t in self.entries if t not in task_ids]:
            del self.entries[task_id]
            self.added.pop(task_id, None)
            self.changed = True

    def save(self) -> None:
        """Write atomically when something changed, in task id order (what status reads
        together); failing only costs the next run time."""
        if not self.changed:
            return
        items = []
        for task_id in sorted(self.entries):
            entry, text = self.entries[task_id], self.text(task_id)
            if text is None:
                continue  # the old file went bad under us: that task is read again next time
            items.append((task_id, (entry.key, tuple(entry.digest)), len(text)))
        blobfile.write(self.file.path, self.file.format, items, self.text)
