"""The one time format git-orch writes: UTC, seconds, `YYYY-MM-DDTHH:MM:SSZ`.

Both directions are hand-rolled for that exact format because `status` converts
every task's times: datetime's general parser costs several times more.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

# An event time further ahead than this is a wrong clock or a forgery: sync warns,
# and staleness ignores it (it would otherwise keep a task "active" forever).
FUTURE_LIMIT_SECONDS = 3600

# The earliest moment ahead at which a time comparison made by this process would
# come out the other way (see `passed`): what this process printed holds until then.
_horizon = [float("inf")]

_EXACT = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z")


def iso(stamp: float | None = None) -> str:
    """A Unix time (default: now) as the ledger's UTC text."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if stamp is None else stamp))


def parse_iso(text: object) -> float | None:
    """The Unix time of a ledger time, or None for anything that is not one."""
    if not isinstance(text, str) or not text:
        return None
    match = _EXACT.fullmatch(text)
    if match is not None:
        try:  # datetime's C parser: the fast path for every time status reads
            return datetime.fromisoformat(text).timestamp()
        except ValueError:
            pass
        import calendar  # rare: not loaded by every command

        try:  # what it refuses (a day 31 of a 30-day month) keeps its old reading
            return float(calendar.timegm(tuple(int(g) for g in match.groups())))
        except (ValueError, OverflowError):
            return None
    try:  # other ISO forms (a hand-written or foreign event)
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError):
        return None


def plausible(stamp: float | None, now: float) -> float | None:
    """The stamp, or None when it lies more than FUTURE_LIMIT_SECONDS after now."""
    if stamp is None or not passed(stamp - FUTURE_LIMIT_SECONDS, now, inclusive=True):
        return None
    return stamp


def passed(moment: float, now: float, *, inclusive: bool = False) -> bool:
    """Whether `now` is after `moment` (or at it, when inclusive). A moment still
    ahead is noted: every answer that depends on the clock goes through here, so
    `horizon()` tells until when a status computed at `now` stays true, and a
    repeated status may print it again until then (report/repeat.py)."""
    if now > moment or (inclusive and now == moment):
        return True
    _horizon[0] = min(_horizon[0], moment)
    return False


def horizon() -> float:
    """The earliest moment noted by `passed` in this process (inf: none)."""
    return _horizon[0]
