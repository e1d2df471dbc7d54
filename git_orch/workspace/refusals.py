"""Worker hook refusals, collected by the lead into `misalignment` events.

A worker hook that refuses something (a commit outside the contract, a push,
a merge, a foreign ref) appends one line, `<hook><TAB><message>`, to
`orch-refusals` in the worker's own git dir (`<common>/worktrees/<name>/`,
or the `.git` folder of a clone workspace):
the hook runs with the worker's rights and never writes the lead's refs.
The lead reads that file (supervisor after each attempt, heartbeat, collect)
and records each new line as a `misalignment` event with source
`hook-refusal`; `refusal_end`, the byte offset after the line, says how far
the file was read, so collecting twice records nothing twice.

The file is the worker's to write: lines are capped, cleaned and only read
from a git dir under `<common>/worktrees/`.
"""

from __future__ import annotations

from pathlib import Path

from git_orch.notify import notify
from git_orch.record.ledger import Event
from git_orch.record.misalignment import misalignment_event
from git_orch.record.state import TaskState
from git_orch.record.tasks import record
from git_orch.repo import OrchRepo
from git_orch.sanitize import clean
from git_orch.workspace import workspaces

FILE_NAME = "orch-refusals"
HOOKS = frozenset({"pre-commit", "commit-msg", "pre-merge-commit", "pre-push",
                   "reference-transaction"})
READ_CAP = 64 * 1024  # bytes read per collection
EVENTS_CAP = 50  # events recorded per collection; the rest waits for the next one
LINE_CAP = 300


def refusal_file(orepo: OrchRepo, task_id: str, worktree: str | None) -> Path | None:
    """The workspace's refusal log: in the `.git` folder of the task's clone, or
    where a linked worktree's `.git` file points if that is directly under
    `<common>/worktrees/` (anything else is not ours to read)."""
    if not worktree:
        return None
    if workspaces.is_clone_of(Path(worktree), task_id):
        return Path(worktree) / ".git" / FILE_NAME
    try:
        text = (Path(worktree) / ".git").read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return None
    if not text.startswith("gitdir: "):
        return None
    admin = Path(text[len("gitdir: "):].strip())
    if not admin.is_absolute():
        admin = Path(worktree) / admin
    root = (orepo.common_dir / "worktrees").resolve()
    try:
        admin = admin.resolve()
    except OSError:
        return None
    if admin.parent != root:
        return None
    return admin / FILE_NAME


def collected_up_to(state: TaskState) -> int:
    ends = [e.get("refusal_end") for e in state.misalignments
            if e.get("source") == "hook-refusal"]
    return max((e for e in ends if isinstance(e, int) and not isinstance(e, bool)), default=0)


def parse_new(data: bytes, start: int) -> list[Event]:
    """Misalignment events for the complete lines of `data` (read from offset `start`)."""
    found: list[Event] = []
    offset = start
    for raw in data.split(b"\n")[:-1]:  # the last piece is not a complete line yet
        line_start, offset = offset, offset + len(raw) + 1
        text = raw.decode("utf-8", "replace")
        hook, _, message = text.partition("\t")
        if hook not in HOOKS:
            continue  # a continuation of a multi-line message, or noise
        message = clean(" ".join(message.split()))[:LINE_CAP]
        found.append(misalignment_event(
            f"{hook} hook refused: {message}", "hook-refusal",
            f"{FILE_NAME} bytes {line_start}-{offset}", hook=hook, refusal_end=offset))
        if len(found) >= EVENTS_CAP:
            break
    if found:
        found[-1]["refusal_end"] = offset  # noise after the last refusal is read too
    return found


def collect(orepo: OrchRepo, task_id: str, worktree: str | None) -> list[Event]:
    """Record the refusals not collected yet; returns the events written."""
    path = refusal_file(orepo, task_id, worktree)
    if path is None or not path.is_file():
        return []

    def make(state: TaskState) -> list[Event]:
        start = collected_up_to(state)
        try:
            with open(path, "rb") as handle:
                handle.seek(start)
                data = handle.read(READ_CAP)
        except OSError:
            return []
        return parse_new(data, start)

    events = record(orepo, task_id, make)
    if events:  # one notification per collection, however many lines it took in
        notify(orepo, "misalignment", task_id, source="hook-refusal", count=len(events),
               what=events[-1].get("what"))
    return events
