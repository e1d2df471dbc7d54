"""Task ids: short names that are safe as a ref component, a branch and a folder."""

from __future__ import annotations

import re

from git_orch.errors import OrchUsageError
from git_orch.sanitize import clean

MAX_ID_LENGTH = 64
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_task_id(task_id: str) -> str:
    """Return the id, or refuse it with the rule it breaks.

    A usage error (exit 2): ids come from the command line. Where one comes
    from data (a contract's Orch-Task), the reader turns it into a refusal.
    """
    shown = clean(task_id if len(task_id) <= 40 else task_id[:40] + "...")
    if not task_id:
        raise OrchUsageError("task id is empty")
    if len(task_id) > MAX_ID_LENGTH:
        raise OrchUsageError(f"task id '{shown}' is too long ({len(task_id)} > {MAX_ID_LENGTH})")
    if not _ID.fullmatch(task_id):
        raise OrchUsageError(
            f"task id '{shown}' is not allowed: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    if ".." in task_id or task_id.endswith((".", ".lock")):
        raise OrchUsageError(
            f"task id '{shown}' is not allowed: no '..', no trailing '.' or '.lock'")
    return task_id


def task_ref(task_id: str) -> str:
    return f"refs/orch/tasks/{task_id}"


def task_branch(task_id: str) -> str:
    return f"orch/{task_id}"
