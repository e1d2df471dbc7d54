"""Printing without click, for code both the click CLI and the thin entry run.

A worker's `handoff` and `block` are answered by git_orch/fastpath.py before
click is imported (its import is ~13 ms of a ~60 ms command); the commands'
bodies and the error-to-exit-code mapping (failure.py) print through `say`
in both paths, so both print the same bytes. `say` writes a line as
click.echo writes one, so the commands still using click.echo print alike.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from typing import Any

# What click.echo drops from a line that does not go to a terminal: ANSI escape sequences.
_ANSI = r"\x1b\[[0-?]*[ -/]*[@-~]"


def say(text: str, *, err: bool = False) -> None:
    """`text` and a newline to stdout (stderr with err), flushed, as click.echo writes a
    str: escape sequences are dropped when the stream is not a terminal, and a stream
    left at ASCII (PYTHONIOENCODING=ascii) gets UTF-8 rather than an encoding error."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:  # no standard stream attached
        return
    line = text + "\n"
    if "\x1b" in line and not _isatty(stream):
        line = re.sub(_ANSI, "", line)
    encoding = getattr(stream, "encoding", None)
    buffer = getattr(stream, "buffer", None)
    if encoding and buffer is not None and codecs.lookup(encoding).name == "ascii":
        stream.flush()
        buffer.write(line.encode("utf-8", "replace"))
        buffer.flush()
        return
    stream.write(line)
    stream.flush()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:  # noqa: BLE001 - a stream that cannot tell is no terminal
        return False


def emit_json(data: Any) -> None:
    """Indented for a terminal; compact (and much faster) for pipes and programs."""
    if sys.stdout.isatty():
        say(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        say(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str))
