"""Notifications: tell a person when a task needs one, instead of making them poll.

`[notify] argv = [...]` in orch.toml is run (argv list, never a shell) with one
JSON object on stdin when a hand-off is ready, a task is blocked, a run
failed, a misalignment was recorded, or a roadmap package closed:

    {"kind": "handoff", "task": "fix-login", "repo": "/path", "at": "...", ...}

The notifier is the person's own program (notify-send, curl to a webhook,
a chat bot): it gets `[notify] timeout` (default 10 s, at most 60 s), then
its process group is killed. Whatever goes wrong with it (not found, exit
status, timeout, bad config) is logged to `<common>/orch/notify.log` and
never fails the command that noticed the event.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from typing import Any

from git_orch.config import load_policy, parse_duration
from git_orch.errors import OrchError
from git_orch.gitcmd import clean_env
from git_orch.record.timefmt import iso
from git_orch.repo import OrchRepo

KINDS = ("handoff", "blocked", "run-failed", "misalignment", "package-closed")
DEFAULT_TIMEOUT = 10
MAX_TIMEOUT = 60
LOG_NAME = "notify.log"


def settings(orepo: OrchRepo) -> tuple[list[str], int, frozenset[str]] | None:
    """(argv, timeout, kinds) from `[notify]`, or None when no notifier is set."""
    section = load_policy(orepo).raw.get("notify")
    if section is None:
        return None
    if not isinstance(section, dict):
        raise OrchError("orch.toml: [notify] must be a table")
    argv = section.get("argv")
    if argv is None:
        return None
    if (not isinstance(argv, list) or not argv
            or not all(isinstance(a, str) and "\0" not in a for a in argv)):
        raise OrchError("orch.toml: [notify] argv must be a non-empty list of strings")
    timeout = parse_duration(section.get("timeout", DEFAULT_TIMEOUT))
    if not 0 < timeout <= MAX_TIMEOUT:
        raise OrchError(f"orch.toml: [notify] timeout must be from 1s to {MAX_TIMEOUT}s")
    kinds = section.get("events", list(KINDS))
    if not isinstance(kinds, list) or not all(k in KINDS for k in kinds):
        raise OrchError(f"orch.toml: [notify] events must list some of {', '.join(KINDS)}")
    return [str(a) for a in argv], timeout, frozenset(kinds)


def _log(orepo: OrchRepo, line: str) -> None:
    try:
        orepo.runtime_dir.mkdir(parents=True, exist_ok=True)
        with open(orepo.runtime_dir / LOG_NAME, "a", encoding="utf-8") as handle:
            handle.write(f"{iso()} {' '.join(line.split())}\n")
    except OSError:
        pass  # nowhere left to say it; a notification is never worth a failure


def notify(orepo: OrchRepo, kind: str, task: str | None, **fields: Any) -> bool:
    """Run the notifier for one event; True when it ran and exited 0."""
    try:
        found = settings(orepo)
    except OrchError as exc:
        _log(orepo, f"{kind} {task}: not sent: {exc}")
        return False
    if found is None:
        return False
    argv, timeout, kinds = found
    if kind not in kinds:
        return False
    payload = json.dumps({"kind": kind, "task": task, "repo": str(orepo.main_worktree),
                          "at": iso(), **fields}, sort_keys=True, default=str)
    try:
        proc = subprocess.Popen(  # noqa: S603 - argv from orch.toml, no shell
            argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            cwd=orepo.main_worktree, env=clean_env(), start_new_session=True,
        )
    except OSError as exc:
        _log(orepo, f"{kind} {task}: cannot run {argv[0]}: {exc.strerror or exc}")
        return False
    try:
        _, err = proc.communicate(payload.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.communicate()
        _log(orepo, f"{kind} {task}: {argv[0]} still running after {timeout}s; killed")
        return False
    if proc.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
        _log(orepo, f"{kind} {task}: {argv[0]} exited {proc.returncode}"
             + (f": {tail[0][:200]}" if tail else ""))
        return False
    return True
