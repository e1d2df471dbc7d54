"""Processes on this machine: is a pid alive, is it our supervisor, kill a group.

Agents run in a session of their own, so their process group id is their pid
and one killpg reaches everything they started (unless it left the group).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path


def pid_alive(pid: int | None) -> bool:
    """True if the process exists and is not a zombie (a killed child nobody reaped)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def supervisor_alive(pid: int | None, task_id: str | None = None) -> bool:
    """The pid is alive and (where /proc tells) still a git-orch supervisor (of task_id)."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    if task_id is not None and b"\0--task\0" + task_id.encode() + b"\0" not in cmdline:
        return False
    return b"git_orch.agent.supervise" in cmdline


def group_alive(pgid: int | None) -> bool:
    if not isinstance(pgid, int) or isinstance(pgid, bool) or pgid <= 1:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int | None, grace: float, exited: Callable[[], bool] | None = None) -> None:
    """SIGTERM the whole process group, then SIGKILL what is left after `grace` seconds."""
    if not isinstance(pgid, int) or pgid <= 1:
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if (exited() if exited else True) and not _group_has_live(pgid):
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _group_has_live(pgid: int) -> bool:
    """True if a non-zombie process is in the group (zombies count as gone)."""
    if not group_alive(pgid):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False
