"""What a range of commits changes, as git itself sees it.

Review must see every kind of change a worker can make: renames and copies
(both paths), deletions, mode changes, symlinks (mode 120000), submodules
(gitlinks, mode 160000) and binary files. `git diff --raw -z -M -C` gives all
of them in a form that survives any file name; `--numstat -z` says which files
git (with the repository's attributes) treats as binary.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from git_orch.errors import OrchError
from git_orch.gitcmd import ALWAYS_PINNED, GitError, clean_env
from git_orch.repo import OrchRepo

MODE_SYMLINK = "120000"
MODE_GITLINK = "160000"
MODE_NONE = "000000"
EXECUTABLE = "100755"
REGULAR = "100644"


@dataclass(frozen=True)
class Change:
    status: str  # A, C, D, M, R, T (U/X never appear between two commits)
    path: str  # new path (old path for deletions)
    old_path: str | None  # source of a rename or copy
    old_mode: str
    new_mode: str
    binary: bool = False

    @property
    def paths(self) -> list[str]:
        """Every path the change touches: both sides of a rename or copy."""
        return [self.old_path, self.path] if self.old_path else [self.path]

    @property
    def mode_changed(self) -> bool:
        """A chmod (or type change) of a file present on both sides."""
        return MODE_NONE not in (self.old_mode, self.new_mode) and self.old_mode != self.new_mode

    def has_mode(self, mode: str) -> bool:
        return mode in (self.old_mode, self.new_mode)

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "path": self.path,
            "old_path": self.old_path,
            "old_mode": self.old_mode,
            "new_mode": self.new_mode,
            "binary": self.binary,
        }


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def parse_raw(data: bytes) -> list[tuple[str, str, str, str | None, str]]:
    """Parse `git diff --raw -z` into (status, old_mode, new_mode, old_path, path)."""
    fields = data.split(b"\0")
    result: list[tuple[str, str, str, str | None, str]] = []
    index = 0
    while index < len(fields) and fields[index]:
        meta = fields[index].decode("ascii")
        if not meta.startswith(":"):
            raise OrchError(f"unexpected git diff --raw output: {meta[:60]!r}")
        old_mode, new_mode, _old, _new, status = meta[1:].split(" ")
        letter = status[0]
        if letter in "RC":
            old, new = _decode(fields[index + 1]), _decode(fields[index + 2])
            result.append((letter, old_mode, new_mode, old, new))
            index += 3
        else:
            result.append((letter, old_mode, new_mode, None, _decode(fields[index + 1])))
            index += 2
    return result


def parse_numstat_binary(data: bytes) -> set[str]:
    """Paths (new side) that `git diff --numstat -z` reports as binary ('-\\t-')."""
    fields = data.split(b"\0")
    binary: set[str] = set()
    index = 0
    while index < len(fields) and fields[index]:
        added, deleted, rest = fields[index].split(b"\t", 2)
        if rest:
            path, index = rest, index + 1
        else:  # rename or copy: the two paths follow as their own fields
            path, index = fields[index + 2], index + 3
        if added == b"-" and deleted == b"-":
            binary.add(_decode(path))
    return binary


def git_bytes(orepo: OrchRepo, args: list[str]) -> bytes:
    """git's stdout as bytes, so any file name survives (argv list, never a shell)."""
    proc = subprocess.run(
        ["git", *ALWAYS_PINNED, *args], cwd=orepo.toplevel, capture_output=True,
        env=clean_env(), check=False,
    )
    if proc.returncode != 0:
        raise GitError(args, proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return proc.stdout


def diff_changes(orepo: OrchRepo, base: str, head: str) -> list[Change]:
    """Every change from base to head, renames and copies detected."""
    opts = ["-z", "-M", "-C", "--no-ext-diff", "--no-textconv"]
    raw = git_bytes(orepo, ["diff", "--raw", "--no-abbrev", *opts, base, head, "--"])
    numstat = git_bytes(orepo, ["diff", "--numstat", *opts, base, head, "--"])
    binary = parse_numstat_binary(numstat)
    return [
        Change(status, path, old_path, old_mode, new_mode, binary=path in binary)
        for status, old_mode, new_mode, old_path, path in parse_raw(raw)
    ]
