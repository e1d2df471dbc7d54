"""Per-agent circuit breakers, derived from run-ended events of all tasks.

N counted failures (failed, timeout, launch-failed) since the agent's last
success, within the window, open the breaker for the cooldown; then it is
half-open: one trial run, and a failure opens it again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from git_orch.agent import agents
from git_orch.agent.runlog import BREAKER_OUTCOMES, SUCCEEDED, all_states, iso, parse_iso
from git_orch.config import Policy
from git_orch.errors import OrchError
from git_orch.record.ledger import Event
from git_orch.record.state import StateFacts
from git_orch.record.timefmt import passed
from git_orch.repo import OrchRepo


@dataclass
class BreakerState:
    agent: str
    state: str = "closed"  # closed, open or half-open (one trial run allowed)
    failures: int = 0  # counted failures within the window since the last success
    threshold: int = 3
    until: float | None = None  # when an open breaker lets a trial run through

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "failures": self.failures, "threshold": self.threshold,
                "until": iso(self.until) if self.until else None}


def breaker_state(preset: agents.AgentPreset, ended: Iterable[Event],
                  now: float | None = None) -> BreakerState:
    """Derived from run-ended events: N counted failures inside the window open it."""
    now = time.time() if now is None else now
    mine = sorted(
        ((parse_iso(e.get("ended")) or 0.0, e) for e in ended if e.get("agent") == preset.name),
        key=lambda pair: pair[0],
    )
    failures: list[float] = []
    for stamp, event in mine:
        if event.get("outcome") == SUCCEEDED:
            failures = []
        elif event.get("outcome") in BREAKER_OUTCOMES:
            failures.append(stamp)
    # A failure counts while the window since it has not passed.
    recent = [f for f in failures if not passed(f + preset.breaker.window, now)]
    state = BreakerState(preset.name, failures=len(recent), threshold=preset.breaker.failures)
    if len(recent) >= preset.breaker.failures:
        until = recent[-1] + preset.breaker.cooldown
        state.state = "half-open" if passed(until, now, inclusive=True) else "open"
        state.until = until
    return state


def breakers(policy: Policy, states: Iterable[StateFacts],
             now: float | None = None) -> dict[str, BreakerState]:
    ended = [e for st in states for e in st.runs if e.get("type") == "run-ended"]
    return {name: breaker_state(p, ended, now) for name, p in agents.presets(policy).items()}


def save_breakers(orepo: OrchRepo, found: dict[str, BreakerState]) -> None:
    """Cache for other tools (heartbeat, dashboards); the ledger stays the truth."""
    path = orepo.runtime_dir / "breakers.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # one per writer: runs race here
    tmp.write_text(json.dumps({k: v.to_json() for k, v in found.items()}, indent=2))
    tmp.replace(path)


def check_breaker(orepo: OrchRepo, policy: Policy, preset: agents.AgentPreset) -> BreakerState:
    found = breakers(policy, all_states(orepo))
    save_breakers(orepo, found)
    state = found[preset.name]
    if state.state == "open":
        raise OrchError(
            f"agent {preset.name}: circuit breaker open after {state.failures} failed runs; "
            f"no new runs until {iso(state.until)} (git orch status shows breakers)"
        )
    return state
