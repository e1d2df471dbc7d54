"""A repeated `git orch status --json` into a pipe, answered from its last output.

Dashboards, watch loops and CI poll status, mostly while nothing changed. At
10k tasks a full status still reads every ref and thousands of cache entries;
this answer reads one ref listing, stats a few dozen files and copies the last
output, before the CLI or libgit2 is even imported (git_orch/entry.py).

What status prints is a function of the refs, of files in the git dir (config,
hooks, HEAD, the runtime folder: heartbeat, runs, tamper and tip records), of
orch.toml and the global git config, of the workspaces, of live agent
processes and of the clock. The fingerprint holds the first ones exactly:
the `for-each-ref` listing of every ref, and each watched file's identity,
size and times, each watched folder's names. The others it cannot hold, so
an output is kept only while they cannot matter:
- no task workspace and no orphan exists (a worker's files are not watched), and
  no linked worktree at all (whoever works in one can write the git dir, and so
  could write a kept output);
- no agent run is open (whether it lives is a process, not a file);
- no tampering or ledger finding is shown (status keeps records of those);
- no config file includes another (that one would not be watched);
- and only until the clock reaches the first moment a time comparison made by
  the run would flip (timefmt.passed), when a task would turn stale, say.
The output's "generated" time is written anew on each answer. A file changed
so recently that a next change could keep its times (git's racy files) keeps
nothing; so does any change between the start and the end of the run.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

CACHE_FILE = "status-repeat.bin"
_FORMAT = "status-repeat-1"
ABANDONED_AFTER = 60  # seconds: a copy this old belongs to a status that was killed
# Files of the runtime folder status reads nothing from: caches of what git holds
# (each keyed by object ids) and outputs.
_NOT_INPUTS = frozenset({
    CACHE_FILE, "status-cache.marshal", "status-settled.marshal", "settled-tasks.marshal",
    "policy-cache.json", "status.md", "status.html", "logs"})
# Records status itself keeps of what it saw (the ledger tip, the tamper fingerprint):
# they may change during the run, and are watched from the end of it.
_OWN_RECORDS = frozenset({"ledger-tip", "tamper.json"})
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A file's times tell its changes apart only once the clock has moved on from them.
_RACY_NS = 50_000_000
_RACY_WHOLE_SECOND_NS = 2_000_000_000  # a file system that keeps whole seconds


def wanted(args: Sequence[str]) -> str | None:
    """The folder of a `[-C DIR] status --json` into a pipe or file, else None."""
    if os.isatty(1):
        return None  # a terminal gets the indented form
    if list(args) == ["status", "--json"]:
        return os.getcwd()
    if len(args) == 4 and args[0] == "-C" and list(args[2:]) == ["status", "--json"]:
        return os.path.abspath(args[1])
    return None


def answer(args: Sequence[str]) -> int | None:
    """Print the kept output if it is still what status would print and return the exit
    code; None: run status."""
    try:
        found = _still_true(args)
    except Exception:  # noqa: BLE001 - any doubt about the kept output: run status itself
        return None
    if found is None:
        return None
    output, at = found
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time())).encode("ascii")
    pieces: list[bytes | memoryview] = (
        [output] if at is None else [output[:at], stamp, output[at + len(stamp):]])
    try:
        sys.stdout.buffer.writelines(pieces)
        sys.stdout.buffer.flush()
    except BrokenPipeError:  # the reader went away, as the CLI treats it
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # no second error at exit
        return 1
    except OSError as exc:
        print(f"git-orch: cannot write the status: {exc}", file=sys.stderr)
        return 1
    return 0


def _still_true(args: Sequence[str]) -> tuple[memoryview, int | None] | None:
    """The kept output and where its time goes, when nothing it depends on changed."""
    folder = wanted(args)
    if folder is None:
        return None
    dirs = git_dirs(folder)
    if dirs is None or shares_git_dir(dirs):
        return None
    kept = _read(os.path.join(dirs[0], "orch", CACHE_FILE))
    if kept is None:
        return None
    header, output = kept
    if (header.get("format") != _FORMAT or header.get("key") != static_key(folder, dirs)
            or not time.time() < header.get("until", 0.0)  # type: ignore[operator]
            or header.get("files") != dict(watch_files(_items(header.get("watched"))))
            or header.get("refs") is None or header.get("refs") != ref_listing(folder)):
        return None
    at = header.get("generated_at")
    return output, at if isinstance(at, int) else None


def git_dirs(folder: str) -> tuple[str, str, str] | None:
    """(common dir, git dir, top of the worktree) of the repository at folder, or None."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-common-dir", "--git-dir",
             "--show-toplevel"], cwd=folder, capture_output=True, check=False)
    except OSError:
        return None
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    if proc.returncode != 0 or len(lines) != 3:
        return None
    return lines[0], lines[1], lines[2]


def shares_git_dir(dirs: tuple[str, str, str]) -> bool:
    """Whether this is a linked worktree, or linked worktrees exist: whoever works in
    one can write the git dir, a kept output included, so none is kept or used."""
    try:
        return dirs[0] != dirs[1] or bool(os.listdir(os.path.join(dirs[0], "worktrees")))
    except OSError:
        return False


def ref_listing(folder: str) -> bytes | None:
    """A digest of every ref and the object it names (None when git fails)."""
    proc = subprocess.run(["git", "for-each-ref", "--format=%(objectname) %(refname)"],
                          cwd=folder, capture_output=True, check=False)
    return hashlib.sha256(proc.stdout).digest() if proc.returncode == 0 else None


def static_key(folder: str, dirs: tuple[str, str, str]) -> bytes:
    """What is the same for a whole run: where, which code, which host, which environment."""
    found = hashlib.sha256()
    env = sorted((k, v) for k, v in os.environ.items()
                 if k.startswith(("GIT_", "ORCH")) or k in ("HOME", "XDG_CONFIG_HOME", "PATH"))
    found.update(repr((folder, dirs, os.uname().nodename, env)).encode(
        "utf-8", "surrogateescape"))
    found.update(code_stamp())
    return found.digest()


@functools.lru_cache(maxsize=1)
def code_stamp() -> bytes:
    """Every file of the package, its identity and times: other code, other caches."""
    return hashlib.sha256(repr(list(watch_files([("tree", _PACKAGE)]))).encode(
        "utf-8", "surrogateescape")).digest()


def watched(dirs: tuple[str, str, str], more: Iterable[tuple[str, str]] = ()
            ) -> list[tuple[str, str]]:
    """(kind, path) of everything the fingerprint holds besides the refs: "file" for
    one file ("config" for a git config file), "tree" for a folder and all under it,
    "names" for a folder's names and each entry's own times (workspace roots: what
    is inside a worker's is not read)."""
    common, _, top = dirs
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    found = [("file", os.path.join(common, name)) for name in (
        "HEAD", "shallow", "objects/info/alternates", "refs/orch/ledger.lock")]
    found += [("tree", os.path.join(common, name)) for name in ("info", "hooks", "worktrees",
                                                                "orch")]
    found += [("file", os.path.join(top, "orch.toml"))]
    found += [("config", path) for path in (
        os.path.join(common, "config"), os.path.join(common, "config.worktree"),
        os.environ.get("GIT_CONFIG_GLOBAL") or os.path.join(home, ".gitconfig"),
        os.path.join(xdg, "git", "config"),
        os.environ.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig")]
    return found + [item for item in more if item not in found]


def watch_files(items: Iterable[Sequence[str]]) -> Iterator[tuple[str, tuple[int, ...]]]:
    """(path, stamp) for each watched path: a file's (device, inode, size, mtime,
    ctime, mode), a folder's sorted names (hashed), () for a path that is not there."""
    for kind, path in items:
        if kind in ("tree", "names"):
            yield from _tree(path, kind == "tree")
        else:
            yield path, _stamp(path)


def _stamp(path: str) -> tuple[int, ...]:
    try:
        info = os.stat(path)
    except OSError:
        return ()
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns,
            info.st_mode)


def _tree(root: str, deep: bool) -> Iterator[tuple[str, tuple[int, ...]]]:
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        yield root, ()
        return
    names = [e.name for e in entries if _is_input(e.name)]
    yield root, (hash_names(names),)
    for entry in entries:
        if entry.name not in names:
            continue
        if deep and entry.is_dir(follow_symlinks=False):
            yield from _tree(entry.path, deep)
        else:
            yield entry.path, _stamp(entry.path)


def _is_input(name: str) -> bool:
    """Not a cache, an output, a temporary file of one (`.NAME.xxxx`) or bytecode."""
    return not (name in _NOT_INPUTS or name == "__pycache__" or (
        name.startswith(".") and name[1:].startswith(tuple(_NOT_INPUTS))))


def hash_names(names: list[str]) -> int:
    digest = hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big")


def _items(value: object) -> list[tuple[str, str]]:
    """The watched list of a kept file, as written (anything else: nothing matches)."""
    if not isinstance(value, list) or not all(
            isinstance(v, tuple) and len(v) == 2 and all(isinstance(p, str) for p in v)
            for v in value):
        raise ValueError("not a watched list")
    return value


def _read(path: str) -> tuple[dict[str, object], memoryview] | None:
    """(header, output) of the kept file: output, marshalled header, 8-byte header size."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        size = int.from_bytes(data[-8:], "big")
        header = marshal.loads(data[-8 - size:-8])
    except (OSError, ValueError, EOFError, TypeError, IndexError):
        return None
    if not isinstance(header, dict) or size + 8 > len(data):
        return None
    return header, memoryview(data)[:len(data) - 8 - size]


class Probe:
    """The fingerprint taken before a full status reads anything, and what it takes
    to keep that status's output for the next one (report/repeat.py)."""

    def __init__(self, folder: str, dirs: tuple[str, str, str],
                 more: Iterable[tuple[str, str]]) -> None:
        self.folder, self.dirs = folder, dirs
        self.began = time.time_ns()
        self.watched = watched(dirs, more)
        self.key = static_key(folder, dirs)
        self.refs = ref_listing(folder)
        self.files = dict(watch_files(self.watched))

    def keep(self, output: Iterable[bytes | memoryview], generated_at: Callable[[], int | None],
             until: Callable[[], float]) -> Iterator[bytes | memoryview]:
        """Pass the output through, and keep a copy when nothing changed under the run.
        `generated_at` (where the output's time starts) and `until` (timefmt.horizon)
        are asked once the output is written: writing it compares times too."""
        path = os.path.join(self.dirs[0], "orch", CACHE_FILE)
        tmp = os.path.join(self.dirs[0], "orch", f".{CACHE_FILE}.{os.getpid()}")
        _forget_abandoned(os.path.dirname(path))
        try:
            handle = open(tmp, "wb")  # noqa: SIM115 - closed below, on every path
        except OSError:
            yield from output
            return
        try:
            with handle:
                for piece in output:
                    handle.write(piece)
                    yield piece
                ended = time.time_ns()
                files = dict(watch_files(self.watched))
                if (self.refs is None or not self._unchanged(files, ended)
                        or not _plain_configs(self.watched)
                        or ref_listing(self.folder) != self.refs):
                    os.unlink(tmp)
                    return
                header = marshal.dumps({
                    "format": _FORMAT, "key": self.key, "refs": self.refs, "until": until(),
                    "watched": self.watched, "files": files, "generated_at": generated_at()})
                handle.write(header + len(header).to_bytes(8, "big"))
            os.replace(tmp, path)
        except OSError:
            pass  # only a cache: the output is printed; the copy goes below
        finally:
            if os.path.exists(tmp):
                _forget(tmp)

    def _unchanged(self, files: dict[str, tuple[int, ...]], ended: int) -> bool:
        """Every watched file as it was when the run began, but status's own records,
        and none of them so recent that its times could hide a change."""
        for path, stamp in files.items():
            own = os.path.basename(path) in _OWN_RECORDS
            if not own and self.files.get(path) != stamp:
                return False
            if len(stamp) == 6 and _racy(stamp, ended if own else self.began):
                return False
        return files.keys() == self.files.keys()


def _plain_configs(items: list[tuple[str, str]]) -> bool:
    """No watched git config includes another file or moves the hooks folder: both
    would make status read a file the fingerprint does not hold."""
    for kind, path in items:
        if kind != "config":
            continue
        try:
            with open(path, "rb") as handle:
                text = handle.read().lower()
        except OSError:
            continue
        if b"include" in text or b"hookspath" in text:
            return False
    return True


def _racy(stamp: tuple[int, ...], since: int) -> bool:
    newest = max(stamp[3], stamp[4])
    window = _RACY_WHOLE_SECOND_NS if newest % 1_000_000_000 == 0 else _RACY_NS
    return newest > since - window


def _forget_abandoned(folder: str) -> None:
    """Remove the half-written copies of a status that was killed (a minute old)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if (entry.name.startswith(f".{CACHE_FILE}.")
                    and entry.stat().st_mtime < time.time() - ABANDONED_AFTER):
                _forget(entry.path)
        except OSError:
            continue


def _forget(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
