"""Per-machine cache of folded task logs, keyed by immutable object ids.

A task's contract and state are a pure function of (contract commit, note
blob): both are content-addressed, so a cached fold can never be stale, only
unused. This keeps `status` fast on ledgers with thousands of ended tasks. The
cache lives in the runtime folder, holds only plain values (marshal, field
tuples) and is rebuilt from git whenever it is missing, unreadable or of
another format; it is never fetched or pushed.
"""

from __future__ import annotations

import dataclasses
import marshal
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from git_orch.record.contract import Contract
from git_orch.record.state import TaskState

CACHE_FILE = "status-cache.marshal"
_T = TypeVar("_T")


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


# The format changes whenever a field is added, so an old cache is never misread.
CACHE_FORMAT = ("status-cache-1", _names(Contract), _names(TaskState))


@dataclass
class Summary:
    contract: Contract
    state: TaskState
    problems: list[str]
    skipped_versions: int


def _pack(obj: object, names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(getattr(obj, name) for name in names)


def _unpack(cls: type[_T], names: tuple[str, ...], values: tuple[Any, ...]) -> _T:
    obj = object.__new__(cls)
    obj.__dict__.update(zip(names, values, strict=True))
    return obj


class SummaryCache:
    def __init__(self, runtime_dir: Path) -> None:
        self.path = runtime_dir / CACHE_FILE
        self.entries: dict[str, tuple[Any, ...]] = {}
        self.used: set[str] = set()
        self.dirty = False
        try:
            data = marshal.loads(self.path.read_bytes())
            if isinstance(data, tuple) and len(data) == 2 and data[0] == CACHE_FORMAT:
                self.entries = data[1]
        except (OSError, ValueError, EOFError, TypeError):
            self.entries = {}

    def get(self, key: str) -> Summary | None:
        packed = self.entries.get(key)
        if packed is None:
            return None
        try:
            contract_values, state_values, problems, skipped = packed
            summary = Summary(
                _unpack(Contract, CACHE_FORMAT[1], contract_values),
                _unpack(TaskState, CACHE_FORMAT[2], state_values),
                list(problems),
                int(skipped),
            )
        except (TypeError, ValueError):
            return None
        self.used.add(key)
        return summary

    def put(self, key: str, summary: Summary) -> None:
        self.entries[key] = (
            _pack(summary.contract, CACHE_FORMAT[1]),
            _pack(summary.state, CACHE_FORMAT[2]),
            summary.problems,
            summary.skipped_versions,
        )
        self.used.add(key)
        self.dirty = True

    def save(self) -> None:
        """Write atomically; keep only entries this read used. Failure is harmless."""
        if not self.dirty and len(self.used) == len(self.entries):
            return
        kept = {k: v for k, v in self.entries.items() if k in self.used}
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".status-cache-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(marshal.dumps((CACHE_FORMAT, kept)))
            os.replace(tmp, self.path)
        except (OSError, ValueError):
            pass
