"""Make text from the ledger or a remote safe to print on a terminal.

Titles, reasons, actors and ids come from other machines. A control character
(ESC starts terminal escape sequences, CR rewrites the line, NL forges extra
lines) or a bidi override (reorders what is shown) is printed as an escape
such as `\\x1b` or `\\u202e` instead.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, line/paragraph separators, bidi marks and overrides.
_UNSAFE = "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]"
# Compiled when first used (~0.4 ms): a worker's handoff or block prints no
# ledger text unless it refuses.
_compiled: list[re.Pattern[str]] = []


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: object) -> str:
    """`value` as one line of printable text (None and numbers as str())."""
    if not _compiled:
        _compiled.append(re.compile(_UNSAFE))
    return _compiled[0].sub(_escape, str(value))
