"""Per-machine cache of folded task logs, keyed by immutable object ids.

A task's contract and state are a pure function of (contract commit, note
blob): both are content-addressed, so a cached fold can never be stale, only
unused. This keeps `status` fast on ledgers with thousands of ended tasks. The
cache lives in the runtime folder, holds only plain values (marshal, field
tuples) and is rebuilt from git whenever it is missing, unreadable or of
another format; it is never fetched or pushed.
"""

from __future__ import annotations

import marshal
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from git_orch.record import blobfile
from git_orch.record.blobfile import BlobFile
from git_orch.record.contract import Contract
from git_orch.record.state import TaskState

CACHE_FILE = "status-cache.marshal"
_T = TypeVar("_T")


def _names(blank: object) -> tuple[str, ...]:
    """The fields of a class, in the order its __init__ sets them on `blank`."""
    return tuple(vars(blank))


# The format changes whenever a field is added, so an old cache is never misread.
CACHE_FORMAT = ("status-cache-4", _names(Contract("", "", "")), _names(TaskState("")))


@dataclass
class Summary:
    contract: Contract
    state: TaskState
    problems: list[str]
    skipped_versions: int


# The field values in CACHE_FORMAT's order (attrgetter: one C call per object).
_pack_contract = operator.attrgetter(*CACHE_FORMAT[1])
_pack_state = operator.attrgetter(*CACHE_FORMAT[2])


def _unpack(cls: type[_T], names: tuple[str, ...], values: tuple[Any, ...]) -> _T:
    obj = object.__new__(cls)
    obj.__dict__.update(zip(names, values, strict=True))
    return obj


class SummaryCache:
    """Entries are marshalled one by one in a BlobFile and read only when asked for:
    status at 10k tasks asks for a few dozen of them."""

    def __init__(self, runtime_dir: Path) -> None:
        self.file = BlobFile(runtime_dir / CACHE_FILE, CACHE_FORMAT)
        self.added: dict[str, bytes] = {}
        self.used: set[str] = set()

    @staticmethod
    def key_of(contract: str, blob: object) -> str:
        """The key of a task: its contract commit and note blob (None when it has none)."""
        return f"{contract}:{blob}"

    def _raw(self, key: str) -> bytes | None:
        return self.added[key] if key in self.added else self.file.read(key)

    def get(self, key: str) -> Summary | None:
        raw = self._raw(key)
        if raw is None:
            return None
        try:
            contract_values, state_values, problems, skipped = marshal.loads(raw)
            summary = Summary(
                _unpack(Contract, CACHE_FORMAT[1], contract_values),
                _unpack(TaskState, CACHE_FORMAT[2], state_values),
                list(problems),
                int(skipped),
            )
        except (TypeError, ValueError, EOFError):
            return None
        self.used.add(key)
        return summary

    def put(self, key: str, summary: Summary) -> None:
        self.added[key] = marshal.dumps((
            _pack_contract(summary.contract),
            _pack_state(summary.state),
            summary.problems,
            summary.skipped_versions,
        ))
        self.used.add(key)

    def save(self, current: set[str] | None = None) -> None:
        """Write atomically; keep the entries this read used, and those of `current`
        (the keys every task has now: still right, only not read this time).
        Failure is harmless."""
        keep = self.used | (current or set())
        stored = self.file.table
        if not self.added and all(k in keep for k in stored):
            return
        items = [(k, None, len(v)) for k, v in self.added.items() if k in keep]
        items += [(k, None, loc[2]) for k, loc in stored.items()
                  if k in keep and k not in self.added]
        blobfile.write(self.file.path, CACHE_FORMAT, items, self._raw)
