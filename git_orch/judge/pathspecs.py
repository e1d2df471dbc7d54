"""Contract pathspecs: gitignore-style wildmatch patterns (the pathspec library).

A pattern matches a path the way a line in .gitignore would, except that a
pattern with no slash matches at any depth and a leading '/' anchors it at the
repository root. git's pathspec magic (`:(exclude)`, `:(icase)`, ...) is not
supported: use Orch-Forbid for exclusion.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from git_orch.errors import OrchError

if TYPE_CHECKING:
    import pathspec


def _compile(lines: list[str]) -> pathspec.PathSpec[Any]:
    """pathspec costs 13 ms to import: only what matches paths pays for it (not status)."""
    import pathspec

    return pathspec.PathSpec.from_lines("gitignore", lines)


def check_pathspec(spec: str) -> str:
    """Refuse a pattern that could not mean what its author thinks."""
    if not spec or not spec.strip():
        raise OrchError("empty pathspec")
    if any(ch in spec for ch in "\n\r\0"):
        raise OrchError(f"pathspec {spec!r} contains a newline or NUL")
    if spec.startswith(":"):
        raise OrchError(
            f"pathspec {spec!r}: git pathspec magic is not supported; use --forbid to exclude"
        )
    if spec.startswith("!"):
        raise OrchError(f"pathspec {spec!r}: negation is not supported; use --forbid to exclude")
    if ".." in spec.split("/"):
        raise OrchError(f"pathspec {spec!r}: '..' cannot name a path inside the repository")
    try:
        _compile([spec])
    except (ValueError, TypeError) as exc:
        raise OrchError(f"bad pathspec {spec!r}: {exc}") from None
    return spec


class Matcher:
    """Match repository paths (slash-separated, relative) against patterns."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = list(patterns)
        self._specs = [(p, _compile([p])) for p in self.patterns]
        self._all = _compile(self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: str) -> bool:
        return bool(self.patterns) and self._all.match_file(path)

    def first_match(self, path: str) -> str | None:
        for pattern, spec in self._specs:
            if spec.match_file(path):
                return pattern
        return None
