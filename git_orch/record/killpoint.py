"""A kill point for the crash tests, inert unless the test harness arms it.

Crash-only code must survive SIGKILL between any two writes. The tests prove
it by killing git-orch right before or right after its k-th write: a `git`
shim on PATH counts git calls, and `step()` marks git-orch's own in-process
writes (ledger objects; contract commits, through libgit2) in the same count,
logged as "libgit2" steps.

Armed only when GIT_ORCH_KILLPOINT_PID is this very process's pid (the
harness sets it to the pid it is about to exec), so an inherited variable
does nothing in children or later processes. All it can do is kill the
process: it never changes what any check or write does.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

PID_VAR = "GIT_ORCH_KILLPOINT_PID"
COUNTER_VAR = "GIT_ORCH_KILLPOINT_COUNTER"
AT_VAR = "GIT_ORCH_KILLPOINT_AT"
WHEN_VAR = "GIT_ORCH_KILLPOINT_WHEN"


def _count(what: str) -> int | None:
    """This step's number, or None when the harness is not aimed at this process."""
    if os.environ.get(PID_VAR) != str(os.getpid()):
        return None
    counter = os.environ.get(COUNTER_VAR)
    if not counter:
        return None
    try:
        with open(counter, encoding="ascii") as handle:
            number = int(handle.read().strip() or "0") + 1
    except (OSError, ValueError):
        number = 1
    with open(counter, "w", encoding="ascii") as handle:
        handle.write(f"{number}\n")
    with open(counter + ".log", "a", encoding="utf-8") as log:
        log.write(f"{number} libgit2 {what}\n")
    return number


def _kill_if(number: int | None, when: str) -> None:
    if number is not None and os.environ.get(AT_VAR) == str(number) \
            and os.environ.get(WHEN_VAR) == when:
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def step(what: str) -> Iterator[None]:
    """Wrap one in-process write: the harness may kill the process before or after it."""
    number = _count(what)
    _kill_if(number, "before")
    yield
    _kill_if(number, "after")
