"""Git objects without libgit2, for the paths every command takes.

Importing pygit2 costs ~50 ms a process: more than a whole ledger write. So
ledger appends, `show`, `handoff` and `block` handle objects themselves.

A loose object is git's own format: zlib of `<type> <size>\\0<data>`, named
by its SHA-1. It is written to a `tmp_obj_*` file in its fan-out folder and
hard-linked into place, so no reader sees half an object and `git prune`
removes what a kill leaves; like libgit2 before, 0444 and without fsync. It
is read back the same way, with no process: the ledger's newest objects are
loose. Anything else (packed, borrowed from an alternate, damaged) is read
through one `git cat-file --batch` process, started when first needed and
asked by full object id only, so no ref name is ever guessed at.
"""

from __future__ import annotations

import os
import re
import subprocess
import weakref
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from git_orch.errors import OrchError
from git_orch.gitcmd import ALWAYS_PINNED, clean_env

if TYPE_CHECKING:
    from hashlib import sha1
else:
    try:  # CPython's own SHA-1: hashlib loads OpenSSL first (~3 ms a process)
        from _sha1 import sha1
    except ImportError:  # a Python built without it
        from hashlib import sha1

HEX40 = re.compile(r"[0-9a-f]{40}")
TREE_MODE = 0o040000
BLOB_MODE = 0o100644
_TYPE_BITS = 0o170000
KEPT_TREES = 16  # parsed trees an Objects keeps (a ledger write reads two, twice)
_GITLINK = 0o160000


class Entry(NamedTuple):
    """One tree entry. `name` is the raw bytes decoded with surrogateescape."""

    mode: int
    name: str
    oid: str

    @property
    def kind(self) -> str:
        """What the mode says it is, as libgit2 and git read it."""
        bits = self.mode & _TYPE_BITS
        return "tree" if bits == TREE_MODE else "commit" if bits == _GITLINK else "blob"


Tree = dict[str, Entry]  # name -> entry


def parse_tree(data: bytes, oid: str = "tree") -> Tree:
    """A tree object's entries, or a refusal when the bytes are not a tree."""
    entries: Tree = {}
    pos = 0
    try:
        while pos < len(data):
            space = data.index(b" ", pos)
            nul = data.index(b"\0", space)
            raw = data[nul + 1 : nul + 21]
            if len(raw) != 20:
                raise ValueError
            name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
            entries[name] = Entry(int(data[pos:space], 8), name, raw.hex())
            pos = nul + 21
    except ValueError:
        raise OrchError(f"object {oid[:12]} is not a well-formed tree") from None
    return entries


def _sort_key(entry: Entry) -> bytes:
    """git's tree order: names as bytes, a folder's name as if it ended in '/'."""
    name = entry.name.encode("utf-8", "surrogateescape")
    return name + b"/" if entry.kind == "tree" else name


def tree_bytes(entries: Tree) -> bytes:
    """The tree object for `entries` (modes written as git and libgit2 write them)."""
    return b"".join(
        f"{e.mode:o} ".encode() + e.name.encode("utf-8", "surrogateescape") + b"\0"
        + bytes.fromhex(e.oid)
        for e in sorted(entries.values(), key=_sort_key)
    )


def commit_parts(data: bytes) -> tuple[dict[str, list[str]], bytes]:
    """A commit's headers (name -> values, continuation lines dropped) and raw message."""
    head, _, message = data.partition(b"\n\n")
    headers: dict[str, list[str]] = {}
    for line in head.split(b"\n"):
        if line and not line.startswith(b" "):
            key, _, value = line.decode("utf-8", "surrogateescape").partition(" ")
            headers.setdefault(key, []).append(value)
    return headers, message


def object_id(kind: str, data: bytes) -> str:
    return sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()


class Objects:
    """Read and write the objects of one repository (its common git dir)."""

    def __init__(self, common_dir: Path) -> None:
        self.common_dir = common_dir
        self.folder = common_dir / "objects"
        self._proc: subprocess.Popen[bytes] | None = None
        self._borrowed: list[Path] | None = None
        self._trees: dict[str, Tree] = {}

    def _reader(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            try:
                self._proc = subprocess.Popen(
                    ["git", *ALWAYS_PINNED, "--git-dir", str(self.common_dir), "cat-file",
                     "--batch"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                    cwd=self.common_dir, env=clean_env(),
                )
            except OSError as exc:
                raise OrchError(f"cannot run git cat-file: {exc.strerror or exc}") from None
            # Closing its input ends it; done at exit too, so no process is left behind.
            weakref.finalize(self, _stop, self._proc)
        return self._proc

    def read(self, oid: str) -> tuple[str, bytes] | None:
        """(type, data) of object `oid` (40 hex digits), None when it is missing."""
        if not HEX40.fullmatch(oid):
            return None
        return self._read_loose(oid) or self._read_batch(oid)

    def have(self, oids: Iterable[str]) -> set[str]:
        """The ids among `oids` whose object this repository has (anything but 40 hex
        digits is not one): one `cat-file --batch-check` for all of them, as status
        asks about the landing tip of every ended task."""
        wanted = sorted({oid for oid in oids if HEX40.fullmatch(oid)})
        if not wanted:
            return set()
        try:
            proc = subprocess.run(
                ["git", *ALWAYS_PINNED, "--git-dir", str(self.common_dir), "cat-file",
                 "--batch-check=%(objectname)"], input="\n".join(wanted).encode() + b"\n",
                capture_output=True, cwd=self.common_dir, env=clean_env(), check=False)
        except OSError as exc:
            raise OrchError(f"cannot run git cat-file: {exc.strerror or exc}") from None
        if proc.returncode != 0:
            raise OrchError("git cat-file --batch-check failed")
        return set(wanted) & set(proc.stdout.decode("ascii", "replace").splitlines())

    def _read_loose(self, oid: str) -> tuple[str, bytes] | None:
        """The loose object `oid`, here or in an alternate (a clone workspace borrows
        the lead's objects); None when there is none (or it does not read whole)."""
        for folder in (self.folder, *self._alternates()):
            try:
                with open(folder / oid[:2] / oid[2:], "rb") as handle:
                    raw = zlib.decompress(handle.read())
                break
            except (OSError, zlib.error):
                continue
        else:
            return None
        header, nul, data = raw.partition(b"\0")
        kind, _, size = header.decode("ascii", "replace").partition(" ")
        if not nul or not size.isdigit() or int(size) != len(data):
            return None
        return kind, data

    def _alternates(self) -> list[Path]:
        """The object folders named in objects/info/alternates (one level; a
        quoted or nested one is left to cat-file)."""
        if self._borrowed is None:
            self._borrowed = []
            try:
                lines = (self.folder / "info" / "alternates").read_text("utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                lines = []
            for line in lines:
                if line.strip() and not line.startswith(("#", '"')):
                    self._borrowed.append(self.folder / line)  # relative: to objects/
        return self._borrowed

    def _read_batch(self, oid: str) -> tuple[str, bytes] | None:
        proc = self._reader()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(oid.encode() + b"\n")
            proc.stdin.flush()
            header = proc.stdout.readline().split()
            if len(header) == 2 and header[1] == b"missing":
                return None
            if len(header) != 3 or header[0] != oid.encode():
                raise OSError("unexpected answer")
            size = int(header[2])
            data = proc.stdout.read(size + 1)
        except (OSError, ValueError):
            self._proc = None
            raise OrchError(f"git cat-file stopped while reading {oid[:12]}") from None
        if len(data) != size + 1:
            self._proc = None
            raise OrchError(f"git cat-file stopped while reading {oid[:12]}")
        return header[1].decode(), data[:-1]

    def read_kind(self, oid: str, kind: str) -> bytes:
        """The data of object `oid`, which must be a `kind`; else a clear refusal."""
        found = self.read(oid)
        if found is None:
            raise OrchError(f"object {oid[:12]} is missing from the repository")
        if found[0] != kind:
            raise OrchError(f"object {oid[:12]} is not a {kind}")
        return found[1]

    def tree(self, oid: str) -> Tree:
        """A tree, read and parsed once per process: a ledger write reads the notes
        root it has just read for the task's log. Its id names its content, so a
        kept parse is never stale; callers copy a tree before they change it. A
        long-running process (a supervisor) keeps only the last few."""
        found = self._trees.get(oid)
        if found is None:
            if len(self._trees) >= KEPT_TREES:
                self._trees.clear()
            found = self._trees[oid] = parse_tree(self.read_kind(oid, "tree"), oid)
        return found

    def write(self, kind: str, data: bytes) -> str:
        """Store one loose object (kept as it is when already there); its id."""
        oid = object_id(kind, data)
        folder = self.folder / oid[:2]
        path = folder / oid[2:]
        if path.exists():
            return oid
        folder.mkdir(exist_ok=True)
        tmp = folder / f"tmp_obj_{os.getpid()}_{os.urandom(4).hex()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(zlib.compress(f"{kind} {len(data)}\0".encode() + data, 1))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another writer stored the same bytes first
            except OSError:
                os.replace(tmp, path)  # no hard links here: git falls back the same way
        finally:
            tmp.unlink(missing_ok=True)
        return oid

    def write_tree(self, entries: Tree) -> str:
        return self.write("tree", tree_bytes(entries))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
