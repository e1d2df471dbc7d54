"""The ledger: append-only JSON-lines event logs kept as git notes.

`refs/orch/ledger` is a notes ref. The note on a task's contract commit is
that task's event log, one JSON object per line. Notes are stored with git's
2/38 fanout so that one write rewrites two small trees, not the whole ledger,
and every write is a compare-and-swap of the ref through `git update-ref
--stdin` (all refs of one write move together or not at all).

Appends and single-note reads go through git_orch.objects (cat-file and
loose objects), not libgit2, whose import alone costs more than a write; the
readers of the whole ledger (status, sync) keep the pygit2 functions below,
which lay out the notes tree exactly as the plain ones do.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import operator
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from git_orch.echo import say
from git_orch.errors import OrchError
from git_orch.gitcmd import run_git
from git_orch.objects import BLOB_MODE, TREE_MODE, Entry, Objects, Tree, commit_parts
from git_orch.objects import HEX40 as HEX40
from git_orch.record import killpoint, timefmt
from git_orch.repo import OrchRepo, blob_bytes, peel

if TYPE_CHECKING:
    import pygit2

LEDGER_REF = "refs/orch/ledger"
TASKS_PREFIX = "refs/orch/tasks/"
EVENT_VERSION = 1
ZERO_OID = "0" * 40
MAX_NOTE_BYTES = 8 * 1024 * 1024
MAX_LINE_BYTES = 64 * 1024
# A Lamport value above either cap is a broken or hostile clock: the event is
# reported and skipped, so one bad line cannot push every later event's clock
# past what JSON readers represent exactly (2**53).
MAX_LAMPORT = 2**53
MAX_LAMPORT_JUMP = 1_000_000
WRITE_ATTEMPTS = 200
LOCAL_TURN_WAIT = 10.0
HEX2 = re.compile(r"[0-9a-f]{2}")

Event = dict[str, Any]


class LedgerBusy(OrchError):
    """Every compare-and-swap attempt lost the race."""


def new_event_id() -> str:
    """A random (version 4) UUID in hex, the form uuid.uuid4().hex has, made without the
    uuid module: importing it (and platform with it) is ~2.5 ms of every ledger write's
    process, a worker's handoff among them."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    return raw.hex()


def encode_event(event: Event) -> bytes:
    """One canonical line: sorted keys, ASCII only, so control bytes never leak."""
    return json.dumps(event, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n"


class EventLog:
    """One note's events, plus what could not be read (never fatal).

    A plain class, as is Snapshot: a dataclass here would load the dataclasses
    module into every write (`dispatch` needs no other).
    """

    def __init__(self, events: list[Event] | None = None, problems: list[str] | None = None,
                 skipped_versions: int = 0) -> None:
        self.events: list[Event] = events if events is not None else []
        self.problems: list[str] = problems if problems is not None else []
        self.skipped_versions = skipped_versions

    @property
    def max_lamport(self) -> int:
        return max((int(e["lamport"]) for e in self.events), default=0)


def _valid_event(obj: object) -> bool:
    if not isinstance(obj, dict):
        return False
    return (
        isinstance(obj.get("id"), str)
        and isinstance(obj.get("type"), str)
        and isinstance(obj.get("lamport"), int)
        and not isinstance(obj.get("lamport"), bool)
        and obj["lamport"] >= 0
    )


def _is_version(value: object) -> bool:
    return type(value) is int and value == EVENT_VERSION  # not True, not 1.0


def parse_log(data: bytes, where: str = "note") -> EventLog:
    """Parse a note. Unknown `v` lines are skipped; broken lines are reported."""
    log = EventLog()
    if len(data) > MAX_NOTE_BYTES:
        log.problems.append(f"{where}: note is {len(data)} bytes, over the cap; ignored")
        return log
    for number, obj in _line_values(data, where, log.problems):
        if isinstance(obj, dict) and not _is_version(obj.get("v")):
            log.skipped_versions += 1
            continue
        if not _valid_event(obj):
            log.problems.append(f"{where} line {number}: not a ledger event; skipped")
            continue
        log.events.append(obj)
    log.events = _dedupe_and_cap(log.events, log.problems, where)
    return log


def _line_values(data: bytes, where: str, problems: list[str]) -> Iterator[tuple[int, Any]]:
    """(line number, json.loads of the line) for every line that is not blank; the
    lines that do not load are reported in problems and left out."""
    # Every note git-orch writes is ASCII without NUL: decoded once, its lines are
    # scanned as json.loads would scan them (a cold status reads 100k lines).
    plain = data.isascii() and b"\0" not in data
    lines: Sequence[str | bytes] = data.decode("ascii").split("\n") if plain \
        else data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        try:
            if isinstance(line, str) and line[:1] == "{" and len(line) <= MAX_LINE_BYTES:
                obj = _load_object(line)
            else:
                raw = line.encode("ascii") if isinstance(line, str) else line
                if not raw.strip():
                    continue
                if len(raw) > MAX_LINE_BYTES:
                    problems.append(f"{where} line {number}: line too long; skipped")
                    continue
                obj = json.loads(raw)
        except (ValueError, RecursionError, StopIteration):
            problems.append(f"{where} line {number}: not valid JSON; skipped")
            continue
        yield number, obj


_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_JSON_SPACE = " \t\r"  # what json.loads skips after a value (a line holds no \n)
# The order events fold in (a C key function: a cold status sorts 10k logs).
BY_CLOCK = operator.itemgetter("lamport", "id")


def _load_object(line: str) -> Any:
    """json.loads of an ASCII line without NUL that starts with `{` (its bytes are
    read as UTF-8 then), without json.loads' per-call work (guessing the encoding,
    two regex matches). The same scanner, so the same objects and refusals."""
    obj, end = _SCAN(line, 0)
    if end != len(line) and line[end:].strip(_JSON_SPACE):
        raise ValueError("extra data after the JSON value")
    return obj


def _dedupe_and_cap(events: list[Event], problems: list[str], where: str) -> list[Event]:
    """Sort by (lamport, id); keep one event per id; skip Lamport jumps.

    Depends only on the set of lines, so every machine folds the same events.
    """
    if len({e["id"] for e in events}) == len(events):
        events.sort(key=BY_CLOCK)
    else:  # only a broken or hostile log repeats ids: break ties on content too
        events.sort(key=lambda e: (e["lamport"], e["id"], encode_event(e)))
    kept: list[Event] = []
    seen: set[str] = set()
    top = 0
    for event in events:
        if event["id"] in seen:
            problems.append(
                f"{where}: event {_short(event['id'])} appears more than once; kept the first"
            )
            continue
        lamport = event["lamport"]
        if lamport > MAX_LAMPORT or lamport > top + MAX_LAMPORT_JUMP:
            problems.append(
                f"{where}: event {_short(event['id'])} has lamport {str(lamport)[:24]}, more than "
                f"{MAX_LAMPORT_JUMP} past the events before it; skipped"
            )
            continue
        seen.add(event["id"])
        kept.append(event)
        top = lamport
    return kept


def _short(text: str) -> str:
    """An id for a message: at most 16 characters, control characters escaped."""
    cut = text[:16] + ("..." if len(text) > 16 else "")
    return ascii(cut)[1:-1]


# --- the notes tree -------------------------------------------------------


def find_note(repo: pygit2.Repository, tree: pygit2.Tree, hexid: str) -> pygit2.Oid | None:
    """Find a note blob under any fanout depth (git may write 2/38 or 2/2/36)."""
    import pygit2

    rest = hexid
    while tree is not None:
        if rest in tree:
            entry = tree[rest]
            return entry.id if entry.type_str == "blob" else None
        head = rest[:2]
        if len(rest) <= 2 or head not in tree:
            return None
        entry = tree[head]
        if entry.type_str != "tree":
            return None
        tree = peel(repo, entry.id, pygit2.Tree)
        rest = rest[2:]
    return None


def iter_notes(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = "") -> Iterator[
    tuple[str, pygit2.Oid]
]:
    """Yield (annotated object hex, note blob id) for every note, any fanout."""
    import pygit2

    for entry in tree:
        if entry.name is None:
            continue
        name = prefix + entry.name
        if entry.type_str == "tree" and HEX2.fullmatch(entry.name) and len(name) < 40:
            # Bounded: a note path has 40 hex digits, so at most 19 levels of
            # fanout (a hostile, deeper tree cannot exhaust the stack).
            yield from iter_notes(repo, peel(repo, entry.id, pygit2.Tree), name)
        elif entry.type_str == "blob" and HEX40.fullmatch(name):
            yield name, entry.id


def _put_note(
    repo: pygit2.Repository, tree: pygit2.Tree | None, rest: str, blob: pygit2.Oid, depth: int
) -> pygit2.Oid:
    """Write `rest` -> blob into tree, keeping the fanout already there (2/38 when new)."""
    import pygit2

    builder = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
    if tree is not None and rest in tree:
        builder.insert(rest, blob, pygit2.GIT_FILEMODE_BLOB)
        return builder.write()
    head = rest[:2]
    sub = None
    if tree is not None and head in tree and tree[head].type_str == "tree":
        sub = peel(repo, tree[head].id, pygit2.Tree)
    if sub is not None or depth == 0:
        sub_id = _put_note(repo, sub, rest[2:], blob, depth + 1)
        builder.insert(head, sub_id, pygit2.GIT_FILEMODE_TREE)
    else:
        builder.insert(rest, blob, pygit2.GIT_FILEMODE_BLOB)
    return builder.write()


def put_note(
    repo: pygit2.Repository, tree: pygit2.Tree | None, hexid: str, blob: pygit2.Oid
) -> pygit2.Oid:
    import pygit2

    if tree is not None and hexid in tree:
        # A flat note someone else wrote: move it into the fanout.
        builder = repo.TreeBuilder(tree)
        builder.remove(hexid)
        tree = peel(repo, builder.write(), pygit2.Tree)
    return _put_note(repo, tree, hexid, blob, 0)


# --- the same through git_orch.objects (no libgit2) ---------------------------


def note_blob_in(objs: Objects, tree: Tree | None, hexid: str) -> str | None:
    """The blob id of the note on `hexid` in a notes tree (any fanout, as find_note)."""
    rest = hexid
    while tree is not None:
        if rest in tree:
            entry = tree[rest]
            return entry.oid if entry.kind == "blob" else None
        head = rest[:2]
        if len(rest) <= 2 or head not in tree or tree[head].kind != "tree":
            return None
        tree = objs.tree(tree[head].oid)
        rest = rest[2:]
    return None


def _note_in(objs: Objects, tree: Tree | None, hexid: str) -> bytes:
    """The note on `hexid` in a notes tree (any fanout, as find_note), b"" when none."""
    blob = note_blob_in(objs, tree, hexid)
    return objs.read_kind(blob, "blob") if blob is not None else b""


def iter_notes_in(objs: Objects, entries: Iterable[Entry], prefix: str = "") -> Iterator[
    tuple[str, str]
]:
    """iter_notes without libgit2: (annotated object hex, note blob id) under `entries`."""
    for entry in entries:
        name = prefix + entry.name
        if entry.kind == "tree" and HEX2.fullmatch(entry.name) and len(name) < 40:
            yield from iter_notes_in(objs, objs.tree(entry.oid).values(), name)
        elif entry.kind == "blob" and HEX40.fullmatch(name):
            yield name, entry.oid


def _put_in(objs: Objects, tree: Tree | None, rest: str, blob: str, depth: int) -> str:
    """_put_note without libgit2: the same entries, so the same tree ids."""
    entries = dict(tree) if tree is not None else {}
    if rest in entries:
        entries[rest] = Entry(BLOB_MODE, rest, blob)
        return objs.write_tree(entries)
    head = rest[:2]
    sub = objs.tree(entries[head].oid) if head in entries and entries[head].kind == "tree" \
        else None
    if sub is not None or depth == 0:
        entries[head] = Entry(TREE_MODE, head, _put_in(objs, sub, rest[2:], blob, depth + 1))
    else:
        entries[rest] = Entry(BLOB_MODE, rest, blob)
    return objs.write_tree(entries)


def put_note_in(objs: Objects, tree: Tree | None, hexid: str, blob: str) -> str:
    """put_note without libgit2 (a flat note moves into the fanout); the new root tree id."""
    if tree is not None and hexid in tree:
        tree = {name: entry for name, entry in tree.items() if name != hexid}
    return _put_in(objs, tree, hexid, blob, 0)


def notes_only(tree: Tree) -> bool:
    """A notes tree: 2-digit fanout folders and 40-digit blobs, nothing else."""
    return all((e.kind == "tree" and HEX2.fullmatch(e.name))
               or (e.kind == "blob" and HEX40.fullmatch(e.name)) for e in tree.values())


def root_tree(objs: Objects, commit: str) -> Tree | None:
    """The tree of a commit; None when `commit` is missing or not a commit."""
    found = objs.read(commit)
    if found is None or found[0] != "commit":
        return None
    return objs.tree(commit_parts(found[1])[0].get("tree", [""])[0])


def read_note(orepo: OrchRepo, hexid: str) -> bytes:
    """The note on `hexid` at the ledger's tip (Snapshot.note_bytes without libgit2)."""
    tip = orepo.ref_oid(LEDGER_REF)
    if tip is None:
        return b""
    objs = orepo.objects
    headers, _ = commit_parts(objs.read_kind(tip, "commit"))
    return _note_in(objs, objs.tree(headers.get("tree", [""])[0]), hexid)


def read_log(orepo: OrchRepo, hexid: str) -> EventLog:
    """The event log on `hexid` at the ledger's tip (snapshot(orepo).log without libgit2)."""
    return parse_log(read_note(orepo, hexid), f"{LEDGER_REF} note on {hexid[:12]}")


_CRUD = "".join(chr(c) for c in range(33)) + ".,:;<>\"\\'"


def commit_bytes(tree: str, parents: list[str], ident: tuple[str, str], message: str) -> bytes:
    """A commit object as libgit2 writes one: signed now, in local time, message as given."""
    name, email = (part.strip(_CRUD) for part in ident)
    if not name or not email or any(ch in "".join(ident) for ch in "<>\n\0"):
        raise OrchError(f"cannot sign a ledger commit as {ident[0]!r} <{ident[1]!r}>: set "
                        "user.name and user.email to plain text (git config)")
    now = time.time()
    offset = time.localtime(now).tm_gmtoff // 60
    sign = "+" if offset >= 0 else "-"
    stamp = f"{int(now)} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    lines = [f"tree {tree}", *(f"parent {p}" for p in parents),
             f"author {name} <{email}> {stamp}", f"committer {name} <{email}> {stamp}"]
    return ("\n".join(lines) + "\n\n" + message).encode("utf-8", "surrogateescape")


# --- reading --------------------------------------------------------------


class Snapshot:
    """The ledger as of one commit of refs/orch/ledger."""

    def __init__(self, repo: pygit2.Repository, tip: pygit2.Oid | None) -> None:
        self.repo = repo
        self.tip = tip

    @property
    def tree(self) -> pygit2.Tree | None:
        import pygit2

        if self.tip is None:
            return None
        return peel(self.repo, self.tip, pygit2.Commit).tree

    def note_bytes(self, hexid: str) -> bytes:
        tree = self.tree
        if tree is None:
            return b""
        blob = find_note(self.repo, tree, hexid)
        return blob_bytes(self.repo, blob) if blob is not None else b""

    def log(self, hexid: str) -> EventLog:
        return parse_log(self.note_bytes(hexid), f"{LEDGER_REF} note on {hexid[:12]}")

    def notes(self) -> dict[str, pygit2.Oid]:
        tree = self.tree
        return dict(iter_notes(self.repo, tree)) if tree is not None else {}


def snapshot(orepo: OrchRepo) -> Snapshot:
    return Snapshot(orepo.pygit, orepo.ref_target(LEDGER_REF))


def task_refs(orepo: OrchRepo) -> dict[str, pygit2.Oid]:
    """Task id -> contract commit id, for every refs/orch/tasks/* ref."""
    import pygit2

    return {name: pygit2.Oid(hex=oid) for name, oid in orepo.refs_under(TASKS_PREFIX).items()}


# --- the tip this machine saw, the ledger's shape, a stale lock -------------

TIP_FILE = "ledger-tip"
STALE_LOCK_SECONDS = 60


def remembered_tip(orepo: OrchRepo) -> str | None:
    """The last ledger tip this machine saw (runtime folder), if any."""
    try:
        text = (orepo.runtime_dir / TIP_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if HEX40.fullmatch(text) else None


def remember_tip(orepo: OrchRepo, tip: str) -> None:
    """Note the tip this machine saw last (written through a per-process file)."""
    # Written in place: a reader that catches it half-written sees no valid tip,
    # which only skips one check.
    try:
        (orepo.runtime_dir / TIP_FILE).write_text(tip + "\n", encoding="ascii")
    except OSError:
        pass  # the runtime folder is a cache: the next command notes it


def is_ledger_commit(repo: pygit2.Repository, oid: pygit2.Oid | str) -> bool:
    """A commit whose tree holds only notes (2-digit fanout folders, 40-digit blobs)."""
    import pygit2

    try:
        commit = repo[oid]
    except (KeyError, ValueError):
        return False
    if not isinstance(commit, pygit2.Commit):
        return False
    for entry in commit.tree:
        name = entry.name or ""
        if not ((entry.type_str == "tree" and HEX2.fullmatch(name))
                or (entry.type_str == "blob" and HEX40.fullmatch(name))):
            return False
    return True


def stale_lock(orepo: OrchRepo) -> str | None:
    """A ledger ref lock older than a minute, named with its path and the fix."""
    path = orepo.common_dir / f"{LEDGER_REF}.lock"
    try:
        made = path.stat().st_mtime
    except OSError:
        return None
    now = time.time()
    if not timefmt.passed(made + STALE_LOCK_SECONDS, now, inclusive=True):
        return None
    age = now - made
    return (f"{path} is {int(age)}s old: a killed git left it and every ledger write fails "
            f"while it is there; if no git runs on this repository, rm {path}")


def warn_stale_lock(orepo: OrchRepo) -> None:
    """Every command names a stale lock on stderr: every ledger write fails meanwhile."""
    lock = stale_lock(orepo)
    if lock is not None:
        say(f"warning: {lock}", err=True)


# --- writing --------------------------------------------------------------


class RefUpdate(NamedTuple):
    """One ref move inside a ledger write; old=None means 'must not exist yet'."""

    name: str
    new: str
    old: str | None


# The command running, set by the CLI: every reflog entry git-orch writes names it.
REFLOG_COMMAND = ["git orch"]


def reflog_message(detail: str) -> str:
    """`git orch <command>: <detail>`, for `update-ref -m` (detail names the task)."""
    return f"{REFLOG_COMMAND[0]}: {detail.removeprefix('git-orch: ')}"


def update_refs(orepo: OrchRepo, updates: Sequence[RefUpdate],
                message: str = "git-orch") -> tuple[bool, str]:
    """Move all refs or none, each only if it still has its old value; the reflog
    message names the command and (in `message`) the task."""
    lines = []
    for upd in updates:
        lines.append(f"update {upd.name} {upd.new} {upd.old or ZERO_OID}\n")
    # In a clone workspace the worker hooks git-orch installed would refuse this
    # write to refs/orch/* (collect filters what a worker writes there instead).
    # Elsewhere the repository's own hooks keep their say (a reference-transaction
    # hook may refuse land's move of the target). --create-reflog: git keeps every
    # old ledger tip, for `git orch ledger recover`.
    pins = ["-c", f"core.hooksPath={orepo.no_hooks_dir}"] if orepo.is_clone_workspace else []
    proc = run_git(
        ["--git-dir", str(orepo.common_dir), *pins, "update-ref", "--create-reflog", "-m",
         reflog_message(message), "--stdin"],
        orepo.common_dir,
        input="".join(lines),
        check=False,
    )
    return proc.returncode == 0, proc.stderr.strip()


def create_empty_ledger(orepo: OrchRepo) -> bool:
    """Make refs/orch/ledger an empty notes commit unless it exists (True: made it)."""
    if orepo.ref_oid(LEDGER_REF) is not None:
        return False
    tree = orepo.objects.write_tree({})
    commit = orepo.objects.write(
        "commit", commit_bytes(tree, [], orepo.ident, "git-orch: start the ledger"))
    ok, _ = update_refs(orepo, [RefUpdate(LEDGER_REF, commit, None)], "start the ledger")
    return ok  # a lost race means another init created it: fine


EventMaker = Callable[[EventLog], Sequence[Event]]


def append(
    orepo: OrchRepo,
    target: str,
    make: EventMaker,
    *,
    extra_refs: Callable[[], Sequence[RefUpdate]] = lambda: (),
    message: str = "git-orch: record events",
) -> list[Event]:
    """Append the events `make(log)` returns to the note on `target`.

    `make` sees the current log each attempt and may raise OrchError to refuse
    (so checks are redone after a lost race). Stamps v, id, lamport, at and
    actor. Retries with jittered backoff when another writer moved the ref.
    """
    with _one_local_writer(orepo):
        return _append(orepo, target, make, extra_refs, message)


@contextlib.contextmanager
def _one_local_writer(orepo: OrchRepo) -> Iterator[None]:
    """Take turns with this machine's other writers (an flock in the runtime folder).

    Only for throughput: racing compare-and-swaps waste whole attempts, taking
    turns wastes none. Correctness never depends on it (the swap still checks
    the old tip), so a writer that cannot get the lock within LOCAL_TURN_WAIT
    seconds (a stopped process holds it) writes anyway. The kernel drops the
    lock when its holder dies, so a kill never leaves it behind.
    """
    try:
        handle = open(orepo.runtime_dir / "ledger-write.flock", "a")  # noqa: SIM115
    except OSError:
        yield
        return
    with handle:
        deadline = time.monotonic() + LOCAL_TURN_WAIT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.001)
        yield


def _append(
    orepo: OrchRepo,
    target: str,
    make: EventMaker,
    extra_refs: Callable[[], Sequence[RefUpdate]],
    message: str,
) -> list[Event]:
    objs = orepo.objects
    last_error = ""
    for attempt in range(WRITE_ATTEMPTS):
        tip = orepo.ref_oid(LEDGER_REF)
        tree = root_tree(objs, tip) if tip is not None else None
        if tip is not None and (tree is None or not notes_only(tree)):
            raise OrchError(
                f"{LEDGER_REF} points at {tip[:12]}, which is not a ledger commit (its "
                "tree holds files, not notes): nothing written; git orch ledger recover "
                "restores the ledger"
            )
        old_bytes = _note_in(objs, tree, target)
        log = parse_log(old_bytes)
        drafts = list(make(log))
        if not drafts:
            return []
        clock = log.max_lamport
        stamped: list[Event] = []
        for draft in drafts:
            clock += 1
            event: Event = {
                "v": EVENT_VERSION,
                "id": new_event_id(),
                "lamport": clock,
                "at": timefmt.iso(),
                "actor": orepo.actor,
            }
            event.update(draft)
            stamped.append(event)
        if old_bytes and not old_bytes.endswith(b"\n"):
            old_bytes += b"\n"
        data = old_bytes + b"".join(encode_event(e) for e in stamped)
        with killpoint.step("ledger objects"):
            blob = objs.write("blob", data)
            new_tree = put_note_in(objs, tree, target, blob)
            parents = [tip] if tip is not None else []
            commit = objs.write("commit", commit_bytes(new_tree, parents, orepo.ident, message))
        updates = [RefUpdate(LEDGER_REF, commit, tip), *extra_refs()]
        ok, last_error = update_refs(orepo, updates, message)
        if ok:
            remember_tip(orepo, commit)
            return stamped
        stale = stale_lock(orepo)
        if stale is not None:
            raise LedgerBusy(f"could not write {LEDGER_REF}: {stale}")
        # Jittered backoff (os.urandom: the random module costs an import).
        time.sleep(min(0.002 * (attempt + 1), 0.05) * os.urandom(1)[0] / 255)
    raise LedgerBusy(
        f"could not write {LEDGER_REF}: it kept moving ({WRITE_ATTEMPTS} attempts); "
        f"last error: {last_error or 'unknown'}"
    )


# --- merging (used by sync) ------------------------------------------------


def _merge_key(raw: bytes) -> tuple[int, int, str, bytes]:
    """Sort key of a line: events by (lamport, id), then unreadable lines by bytes."""
    obj = _load_line(raw)
    if obj is not None:
        return (0, obj["lamport"], obj["id"], encode_event(obj))
    return (1, 0, "", raw)


def _load_line(raw: bytes) -> Event | None:
    if len(raw) > MAX_LINE_BYTES:
        return None
    try:
        obj = json.loads(raw)
        if _valid_event(obj) and isinstance(obj, dict):
            encode_event(obj)  # must re-encode (rejects e.g. too deep nesting)
            return obj
    except (ValueError, RecursionError, TypeError):
        pass
    return None


def merge_logs(ours: bytes, theirs: bytes) -> bytes:
    """Union of two logs' lines, events deduplicated by (id, content).

    Events come first in (lamport, id) order, then lines that do not parse,
    kept (deduplicated by bytes) so a merge never drops data it does not
    understand. The result depends only on the two sets of lines, so
    merge(a, b) == merge(b, a) and merge(a, a) == merge(a, empty).
    Two different events sharing an id are both kept; readers pick one.
    """
    best: dict[tuple[int, int, str, bytes], bytes] = {}
    for data in (ours, theirs):
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            key = _merge_key(raw)
            if key not in best or raw < best[key]:
                best[key] = raw
    return b"".join(best[key] + b"\n" for key in sorted(best))
