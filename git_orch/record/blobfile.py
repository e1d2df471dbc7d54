"""A per-machine cache file of named byte strings, read on demand.

Layout: an 8-byte big-endian length, then the marshalled header
`(format, {name: (meta, offset, length)})`, then the byte strings back to
back. Opening reads only the header; `read` fetches one string with a pread,
`read_span` several neighbours at once. At 10k tasks status needs a few dozen
of the summary cache's entries, and the settled index's texts only to copy them
to stdout: reading, decoding or even holding all of them cost more time and
memory than the rest of the run. Anything unreadable is an empty file: these
are caches, rebuilt from git.
"""

from __future__ import annotations

import marshal
import os
import tempfile
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_LENGTH = 8


class BlobFile:
    def __init__(self, path: Path, fmt: tuple[Any, ...]) -> None:
        self.path = path
        self.format = fmt
        self.table: dict[str, tuple[Any, int, int]] = {}
        self._fd = -1
        self._base = self._size = 0
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return
        weakref.finalize(self, os.close, fd)
        try:
            size = int.from_bytes(os.pread(fd, _LENGTH, 0), "big")
            if size > os.fstat(fd).st_size - _LENGTH:
                return  # damaged: a length past the end of the file
            head = os.pread(fd, size, _LENGTH)
            fmt_read, table = marshal.loads(head)
            if len(head) == size and fmt_read == fmt and isinstance(table, dict):
                self.table, self._fd, self._base = table, fd, _LENGTH + size
                self._size = os.fstat(fd).st_size
        except (OSError, ValueError, EOFError, TypeError):
            pass

    def fits(self, offset: object, length: object) -> bool:
        """Whether a span lies inside the body (the table may be damaged: check first)."""
        return isinstance(offset, int) and isinstance(length, int) and \
            0 <= offset <= offset + length <= self._size - self._base

    def read(self, name: str) -> bytes | None:
        """The string stored under name, or None (not there, or the file is damaged)."""
        found = self.table.get(name)
        if not isinstance(found, tuple) or len(found) != 3:
            return None
        return self.read_span(found[1], found[2])

    def read_span(self, offset: int, length: int) -> bytes | None:
        if self._fd < 0 or not self.fits(offset, length):
            return None
        try:
            data = os.pread(self._fd, length, self._base + offset)
        except OSError:
            return None
        return data if len(data) == length else None


def write(path: Path, fmt: tuple[Any, ...], items: Iterable[tuple[str, Any, int]],
          content: Callable[[str], bytes | None]) -> bool:
    """Atomically write (name, meta, length) items, each string fetched by content(name)
    as it is written (never all in memory). False when it could not be written."""
    table, at = {}, 0
    names = []
    for name, meta, length in items:
        table[name] = (meta, at, length)
        names.append(name)
        at += length
    head = marshal.dumps((fmt, table))
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(len(head).to_bytes(_LENGTH, "big"))
            handle.write(head)
            for name in names:
                data = content(name)
                if data is None or len(data) != table[name][2]:
                    raise ValueError(f"{path.name}: {name} changed while writing")
                handle.write(data)
        os.replace(tmp, path)
        return True
    except (OSError, ValueError):
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return False
