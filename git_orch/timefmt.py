"""The one time format git-orch writes: UTC, seconds, `YYYY-MM-DDTHH:MM:SSZ`."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def iso(stamp: float | None = None) -> str:
    """A Unix time (default: now) as the ledger's UTC text."""
    moment = datetime.fromtimestamp(time.time() if stamp is None else stamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: object) -> float | None:
    """The Unix time of a ledger time, or None for anything that is not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
