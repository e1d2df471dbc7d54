"""A worker's `handoff` and `block`, run before click is imported.

Agents call these on every task, and a call is mostly interpreter start and
imports: click's alone is ~13 ms of a ~60 ms command. git_orch/entry.py asks
here first; only the plain forms are answered:

    [-C DIR] handoff [--task ID] [--summary TEXT] [--risk TEXT]... [--json]
    [-C DIR] block [--task ID] --reason TEXT [--json]

with `--opt VALUE` or `--opt=VALUE`. For anything else (help, an unknown or
repeated option, a missing value or one that looks like an option, a
positional argument, --sync/--no-sync, a missing --reason, shell completion)
`answer` returns None and the click CLI runs, which prints the usage errors.
So it does when the policy syncs by default, or when opening the repository
or reading its policy fails: nothing has been written or printed yet, and the
CLI then says it as it always does. The commands themselves are the click
commands' own bodies (workspace/worker.py) and errors end the process through
the same mapping (failure.py), so both paths print and record the same.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

# Each command's options that take a value, and whether they may be repeated.
_OPTIONS: dict[str, dict[str, bool]] = {
    "handoff": {"--task": False, "--summary": False, "--risk": True},
    "block": {"--task": False, "--reason": False},
}
_REQUIRED = {"block": ("--reason",)}


class CommandLine(NamedTuple):
    """A plain `handoff` or `block` command line, read."""

    directory: Path | None  # -C DIR
    command: str
    values: dict[str, list[str]]  # option -> its values, in order
    as_json: bool


def parse(args: Sequence[str]) -> CommandLine | None:
    """The command line if it is one of the plain forms, else None (click reads it)."""
    if "_GIT_ORCH_COMPLETE" in os.environ:  # shell completion: click answers it
        return None
    args = list(args)
    directory = None
    if args[:1] == ["-C"]:
        # click checks DIR first (a file, an unreadable folder are usage errors).
        if len(args) < 2 or not _plain_value(args[1]) or not _readable_dir(args[1]):
            return None
        directory, args = Path(args[1]), args[2:]
    if not args or args[0] not in _OPTIONS:
        return None
    command, takes = args[0], _OPTIONS[args[0]]
    values: dict[str, list[str]] = {}
    as_json = False
    rest = iter(args[1:])
    for arg in rest:
        if arg == "--json" and not as_json:
            as_json = True
            continue
        name, equals, value = arg.partition("=")
        if name not in takes or (name in values and not takes[name]):
            return None
        if not equals:
            value = next(rest, "")
        if not _plain_value(value):
            return None
        values.setdefault(name, []).append(value)
    if any(name not in values for name in _REQUIRED.get(command, ())):
        return None
    return CommandLine(directory, command, values, as_json)


def _plain_value(value: str) -> bool:
    """A value click reads as the same text for certain: not empty (like a missing one)
    and not looking like an option."""
    return value != "" and not value.startswith("-")


def _readable_dir(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.R_OK)


def answer(args: Sequence[str]) -> int | None:
    """Run a plain `handoff` or `block` and return its exit code; None: let the CLI run."""
    line = parse(args)
    if line is None:
        return None
    try:
        return _run(line)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - failure.py maps them
        from git_orch.failure import exit_code  # only a failing command pays for it

        return exit_code(exc, line.directory)


def _run(line: CommandLine) -> int | None:
    from git_orch.config import syncs_by_default
    from git_orch.record.ledger import REFLOG_COMMAND, warn_stale_lock
    from git_orch.repo import OrchRepo
    from git_orch.workspace.worker import block_command, handoff_command

    try:
        orepo = OrchRepo(line.directory)
        if syncs_by_default(orepo):  # the sync's messages and refusals are the CLI's
            return None
    except Exception:  # noqa: BLE001 - not yet a repository or a policy: the CLI says why
        return None
    REFLOG_COMMAND[0] = f"git orch {line.command}"
    warn_stale_lock(orepo)
    values = line.values
    task_id = values.get("--task", [None])[0]
    if line.command == "handoff":
        handoff_command(orepo, task_id, values.get("--summary", [None])[0],
                        values.get("--risk", []), line.as_json)
    else:
        block_command(orepo, task_id, values["--reason"][0], line.as_json)
    return 0
