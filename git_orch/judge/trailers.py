"""Commit-message trailers, parsed by git's own rules.

pygit2's `message_trailers` is a dict (repeated keys are lost) and does not
unfold continuation lines, so this module follows git's trailer.c instead: the
trailer block is the last paragraph after the title, made only of trailers, or
at least a quarter trailers with a git-generated one among them; continuation
lines start with whitespace; `git interpret-trailers --parse` is the oracle the
tests compare against. Trailer keys configured in git config are not consulted.
"""

from __future__ import annotations

from dataclasses import dataclass

SEPARATORS = ":"
GIT_GENERATED_PREFIXES = ("Signed-off-by: ", "(cherry picked from commit ")
SCISSORS = "------------------------ >8 ------------------------"
_SPACE = " \t\n\v\f\r"


@dataclass(frozen=True)
class Trailer:
    key: str
    value: str

    def is_key(self, name: str) -> bool:
        """Keys compare case-insensitively, as git compares trailer tokens."""
        return self.key.lower() == name.lower()


def _lines(text: str) -> list[str]:
    """Lines with their newline kept, so offsets stay exact."""
    return text.splitlines(keepends=True) if text else []


def _is_blank(line: str) -> bool:
    return line.strip(_SPACE) == ""


def find_separator(line: str, separators: str = SEPARATORS) -> int:
    """Index of the separator after a token of [alnum-] and optional spaces, or -1."""
    whitespace_found = False
    for index, char in enumerate(line):
        if char in separators:
            return index
        if not whitespace_found and (char.isascii() and char.isalnum() or char == "-"):
            continue
        if index != 0 and char in " \t":
            whitespace_found = True
            continue
        break
    return -1


def _strip_patch(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if line.startswith("---") and len(line) > 3 and line[3] in _SPACE:
            return lines[:index]
    return lines


def _strip_trailing_comments(lines: list[str], comment: str) -> list[str]:
    """Drop the scissors part and a trailing run of comments and blank lines."""
    for index, line in enumerate(lines):
        if line.startswith(comment) and SCISSORS in line:
            lines = lines[:index]
            break
    start_of_run: int | None = None
    in_conflicts = False
    for index, line in enumerate(lines):
        if line.startswith(comment) or line == "\n":
            if start_of_run is None:
                start_of_run = index
        elif line == "Conflicts:\n":
            in_conflicts = True
            if start_of_run is None:
                start_of_run = index
        elif in_conflicts and line.startswith("\t"):
            pass
        elif start_of_run is not None:
            start_of_run = None
            in_conflicts = False
    return lines if start_of_run is None else lines[:start_of_run]


def _block_start(lines: list[str], comment: str) -> int:
    """Index of the first line of the trailer block, or len(lines) if none."""
    end_of_title = len(lines)
    for index, line in enumerate(lines):
        if line.startswith(comment):
            continue
        if _is_blank(line):
            end_of_title = index
            break
    only_spaces = True
    recognized = False
    trailer_lines = non_trailer_lines = possible_continuation = 0
    for index in range(len(lines) - 1, end_of_title - 1, -1):
        line = lines[index]
        if line.startswith(comment):
            non_trailer_lines += possible_continuation
            possible_continuation = 0
            continue
        if _is_blank(line):
            if only_spaces:
                continue
            non_trailer_lines += possible_continuation
            if recognized and trailer_lines * 3 >= non_trailer_lines:
                return index + 1
            if trailer_lines and not non_trailer_lines:
                return index + 1
            return len(lines)
        only_spaces = False
        if line.startswith(GIT_GENERATED_PREFIXES):
            trailer_lines += 1
            possible_continuation = 0
            recognized = True
            continue
        if find_separator(line) >= 1 and line[0] not in _SPACE:
            trailer_lines += 1
            possible_continuation = 0
        elif line[0] in _SPACE:
            possible_continuation += 1
        else:
            non_trailer_lines += 1 + possible_continuation
            possible_continuation = 0
    return len(lines)


def _unfold(value: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        index += 1
        if char == "\n":
            while index < len(value) and value[index] in _SPACE:
                index += 1
            out.append(" ")
        else:
            out.append(char)
    return "".join(out).strip(_SPACE)


def parse_trailers(message: str, *, divider: bool = True, comment: str = "#") -> list[Trailer]:
    """The trailers of a commit message, in order, repeated keys kept.

    With divider=True (git interpret-trailers' default) a line starting with
    '---' and whitespace ends the message, as a patch would.
    """
    lines = _lines(message)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if divider:
        lines = _strip_patch(lines)
    lines = _strip_trailing_comments(lines, comment)
    block = lines[_block_start(lines, comment) :]
    entries: list[str] = []
    last_is_trailer = False
    for line in block:
        if last_is_trailer and line[0] in _SPACE:
            entries[-1] += line
            continue
        entries.append(line)
        last_is_trailer = find_separator(line) >= 1
    result: list[Trailer] = []
    for entry in entries:
        if entry.startswith(comment):
            continue
        sep = find_separator(entry)
        if sep >= 1:
            key = entry[:sep].strip(_SPACE)
            result.append(Trailer(key, _unfold(entry[sep + 1 :].strip(_SPACE))))
    return result


def values(trailers: list[Trailer], key: str) -> list[str]:
    return [t.value for t in trailers if t.is_key(key)]


def first(trailers: list[Trailer], key: str) -> str | None:
    found = values(trailers, key)
    return found[0] if found else None


def format_trailers(pairs: list[tuple[str, str]]) -> str:
    """Trailer lines for values we write ourselves (single-line values only)."""
    for key, value in pairs:
        if "\n" in value or "\r" in value:
            raise ValueError(f"trailer {key} must be a single line")
    return "".join(f"{key}: {value}\n" for key, value in pairs)
