"""Commit-message trailers, read exactly as git 2.39 reads them.

pygit2's `message_trailers` is a dict (repeated keys are lost) and Python's
`splitlines` breaks lines where git does not (`\\r`, `\\f`, U+2028...), which
lets a worker forge or hide a trailer. This module is a port of git's
trailer.c (with commit.c's ignore_non_trailer and wt-status.c's scissors
search): lines end at `\\n` only, whitespace is git's set (space, tab, `\\n`,
`\\r`), only the exact `# ------------------------ >8 ------------------------`
line cuts the message, a `---` line ends it only when whitespace follows the
dashes, and the text stops at the first NUL as git's C strings do. Commit
messages are read from the raw object bytes (`commit_message`): the
`encoding` header is ignored and bytes are decoded as UTF-8 with
surrogateescape, so no message can raise. `git interpret-trailers --parse`
is the oracle the tests compare against; trailer keys configured in git
config are not consulted (the worker hooks run git with config pinned).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import pygit2

SEPARATORS = ":"
GIT_GENERATED_PREFIXES = ("Signed-off-by: ", "(cherry picked from commit ")
SCISSORS = "------------------------ >8 ------------------------"
GIT_SPACE = " \t\n\r"  # git's isspace(): not \v, \f or anything beyond ASCII
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class Trailer(NamedTuple):
    """One `key: value` trailer (a NamedTuple: cheaper to define than a dataclass)."""

    key: str
    value: str

    def is_key(self, name: str) -> bool:
        """Keys compare case-insensitively, as git compares trailer tokens."""
        return self.key.lower() == name.lower()


def commit_message(commit: pygit2.Commit) -> str:
    """The message of a commit from its raw bytes, whatever its `encoding` header says."""
    return commit.raw_message.decode("utf-8", "surrogateescape")


def _next_line(text: str, pos: int) -> int:
    """Start of the line after the one at pos (len(text) at the end), as git's next_line."""
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


def _last_line(text: str, length: int) -> int:
    """Start of the last line of text[:length], a final newline belonging to it; -1 if empty."""
    if length == 0:
        return -1
    if length == 1:
        return 0
    return text.rfind("\n", 0, length - 1) + 1


def _is_blank_line(text: str, pos: int) -> bool:
    end = text.find("\n", pos)
    line = text[pos:] if end < 0 else text[pos:end]
    return not line.strip(GIT_SPACE)


def _char(text: str, pos: int) -> str:
    """text[pos], or "" at the end (git's NUL terminator)."""
    return text[pos] if pos < len(text) else ""


# git's find_separator for ":" as one regex (status reads every contract's trailers):
# a token of ASCII [alnum-], spaces or tabs only after a token, then the separator.
_SEPARATOR_AT = re.compile(r"(?:[A-Za-z0-9-]+[ \t]*)?:")


def find_separator(line: str, separators: str = SEPARATORS) -> int:
    """Index of the separator after a token of [alnum-] and optional spaces, or -1."""
    if separators == ":":
        found = _SEPARATOR_AT.match(line)
        return found.end() - 1 if found is not None else -1
    whitespace_found = False
    for index, char in enumerate(line):
        if char in separators:
            return index
        if not whitespace_found and (char in _ALNUM or char == "-"):
            continue
        if index != 0 and char in " \t":
            whitespace_found = True
            continue
        break
    return -1


def _patch_start(text: str) -> int:
    """Offset of the first line made of `---` and a whitespace character, else the end."""
    pos = 0
    while pos < len(text):
        if text.startswith("---", pos) and _char(text, pos + 3) in tuple(GIT_SPACE):
            return pos
        pos = _next_line(text, pos)
    return len(text)


def _scissors_cutoff(text: str, length: int, comment: str) -> int:
    """wt_status_locate_end: the exact scissors line (searched in the whole text) cuts."""
    line = f"{comment} {SCISSORS}\n"
    if text.startswith(line):
        return 0
    found = text.find("\n" + line)
    # git's loop never ends when the line lies past the patch start; stop there instead.
    return length if found < 0 else min(found + 1, length)


def _non_trailer_tail(text: str, length: int, comment: str) -> int:
    """commit.c's ignore_non_trailer: length of the trailing comments, blanks and
    old `Conflicts:` block (git's `boc` is 0 for "none", a quirk kept here)."""
    boc = 0
    bol = 0
    in_conflicts = False
    cutoff = _scissors_cutoff(text, length, comment)
    while bol < cutoff:
        nl = text.find("\n", bol, length)
        next_bol = length if nl < 0 else nl + 1
        if text.startswith(comment, bol) or _char(text, bol) == "\n":
            if not boc:
                boc = bol
        elif text.startswith("Conflicts:\n", bol):
            in_conflicts = True
            if not boc:
                boc = bol
        elif in_conflicts and _char(text, bol) == "\t":
            pass
        elif boc:
            boc = 0
            in_conflicts = False
        bol = next_bol
    return length - boc if boc else length - cutoff


def _block_start(text: str, length: int, comment: str) -> int:
    """Offset of the trailer block in text[:length], or length if there is none."""
    pos = 0
    while pos < length:
        if not text.startswith(comment, pos) and _is_blank_line(text, pos):
            break
        pos = _next_line(text, pos)
    end_of_title = pos
    only_spaces = True
    recognized = False
    trailer_lines = non_trailer_lines = possible_continuation = 0
    bol = _last_line(text, length)
    while bol >= end_of_title:
        first_char = _char(text, bol)
        if text.startswith(comment, bol):
            non_trailer_lines += possible_continuation
            possible_continuation = 0
        elif _is_blank_line(text, bol):
            if not only_spaces:
                non_trailer_lines += possible_continuation
                if recognized and trailer_lines * 3 >= non_trailer_lines:
                    return _next_line(text, bol)
                if trailer_lines and not non_trailer_lines:
                    return _next_line(text, bol)
                return length
        else:
            only_spaces = False
            nl = text.find("\n", bol)
            line = text[bol:] if nl < 0 else text[bol:nl + 1]
            if line.startswith(GIT_GENERATED_PREFIXES):
                trailer_lines += 1
                possible_continuation = 0
                recognized = True
            elif find_separator(line) >= 1 and first_char not in GIT_SPACE:
                trailer_lines += 1
                possible_continuation = 0
            elif first_char and first_char in GIT_SPACE:
                possible_continuation += 1
            else:
                non_trailer_lines += 1 + possible_continuation
                possible_continuation = 0
        bol = _last_line(text, bol)
    return length


def _unfold(value: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        index += 1
        if char == "\n":
            while index < len(value) and value[index] in GIT_SPACE:
                index += 1
            out.append(" ")
        else:
            out.append(char)
    return "".join(out).strip(GIT_SPACE)


def parse_trailers(message: str | bytes, *, divider: bool = True,
                   comment: str = "#") -> list[Trailer]:
    """The trailers of a commit message, in order, repeated keys kept.

    With divider=True (`git interpret-trailers`' default, and what the worker
    hooks check) a line of `---` and whitespace ends the message, as a patch
    would; `git log --format=%(trailers)` reads with divider=False.
    """
    text = message.decode("utf-8", "surrogateescape") if isinstance(message, bytes) else message
    plain = _plain_trailers(text) if comment == "#" else None
    if plain is not None:
        return plain
    text = text.split("\0", 1)[0]
    length = _patch_start(text) if divider else len(text)
    length -= _non_trailer_tail(text, length, comment)
    start = _block_start(text, length, comment)
    entries: list[str] = []
    last_is_trailer = False
    for line in _split(text[start:length]):
        if last_is_trailer and line[0] in GIT_SPACE:
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
            key = entry[:sep].strip(GIT_SPACE)
            result.append(Trailer(key, _unfold(entry[sep + 1:].strip(GIT_SPACE))))
    return result


def _plain_trailers(text: str) -> list[Trailer] | None:
    """The trailers of a message the port above would read trivially, else None.

    Status reads 10k contracts cold, and the port costs ~20 µs each. When no line
    starts with `#` or `---`, no line is `Conflicts:` and there is no NUL,
    nothing is cut (no comment, no scissors, no patch, no old `Conflicts:` tail),
    and when every line after the last empty line is `token: value` starting with
    a token character, that paragraph is exactly the trailer block the port finds:
    each line a trailer, no continuation, values stripped of git's whitespace."""
    if ("\0" in text or text.startswith(("#", "---", "Conflicts:\n")) or "\n#" in text
            or "\n---" in text or "\nConflicts:\n" in text):
        return None
    cut = text.rfind("\n\n")
    block = text[cut + 2:].removesuffix("\n")
    if cut < 0 or not block:
        return None
    found = []
    for line in block.split("\n"):
        sep = find_separator(line)
        if sep < 1:
            return None
        found.append(Trailer(line[:sep].strip(GIT_SPACE), line[sep + 1:].strip(GIT_SPACE)))
    return found


def _split(block: str) -> list[str]:
    """Lines ending at `\\n` only, each keeping its newline (strbuf_split_buf)."""
    lines = block.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def values(trailers: list[Trailer], key: str) -> list[str]:
    return [t.value for t in trailers if t.is_key(key)]


def by_key(trailers: list[Trailer]) -> dict[str, list[str]]:
    """The values of each key, under the key in lower case (keys compare as is_key
    compares them): one pass for a reader that looks up many keys."""
    found: dict[str, list[str]] = {}
    for trailer in trailers:
        found.setdefault(trailer.key.lower(), []).append(trailer.value)
    return found


def first(trailers: list[Trailer], key: str) -> str | None:
    found = values(trailers, key)
    return found[0] if found else None


def format_trailers(pairs: list[tuple[str, str]]) -> str:
    """Trailer lines for values we write ourselves (single-line values only)."""
    for key, value in pairs:
        if "\n" in value or "\r" in value:
            raise ValueError(f"trailer {key} must be a single line")
    return "".join(f"{key}: {value}\n" for key, value in pairs)
