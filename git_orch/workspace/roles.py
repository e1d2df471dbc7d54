"""Roles: the lead starts, judges and lands work; a worker only does its own task.

A worker context is a process with ORCH_TASK set (the supervisor sets it for
every agent it launches) or one working in a workspace (start writes
`orch.role = worker` and `orch.task = <id>` into a clone's own config, and
`orch.task` into a linked worktree's per-worktree config). Lead-only commands
refuse there. In clone mode under a sandbox the lead's repository is
read-only to the worker, so `cd` cannot get around this; in worktree mode it
is a courtesy to honest agents.
"""

from __future__ import annotations

import os

from git_orch.errors import OrchError
from git_orch.repo import OrchRepo

ROLE_KEY = "orch.role"
TASK_KEY = "orch.task"


def in_worker_context(orepo: OrchRepo) -> str | None:
    """Why this process is a worker's, or None."""
    env_task = os.environ.get("ORCH_TASK")
    if env_task:
        return f"ORCH_TASK is set ({env_task[:40]!r})"
    values = orepo.own_config
    if values.get(ROLE_KEY) == "worker" or values.get(TASK_KEY):
        return f"this is the workspace of task {values.get(TASK_KEY, '?')[:40]!r}"
    return None


def refuse_in_worker(orepo: OrchRepo, command: str) -> None:
    """One line saying why a lead-only command does not run here (exit 1)."""
    why = in_worker_context(orepo)
    if why is not None:
        raise OrchError(f"{command} is for the lead, not a worker: {why} (a worker hands "
                        "off or blocks; it never starts, judges or lands work)")
