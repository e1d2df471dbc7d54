"""Spend and budgets: what agent runs cost per task and per package, and the limits.

Spend is the sum of the `usage` each `run-ended` recorded (tokens, and US
dollars where the CLI prices its usage). Budgets come from orch.toml:

    [budget]
    task = { tokens = 2000000, usd = 5.0 }      # every task
    package = { tokens = 20000000, usd = 50.0 } # every roadmap package
    [agents.codex]
    budget = { tokens = 1000000 }               # a task run by this preset
    [[packages]]
    name = "auth"
    budget = { usd = 20.0 }                     # this package (replaces [budget].package)

A run (first attempt or retry) is refused once the task or its package has
spent its budget: the attempt in progress is never cut short, so a budget can
be overrun by at most one attempt.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from git_orch.config import CONFIG_NAME, Policy
from git_orch.errors import OrchError
from git_orch.record.state import StateFacts, TaskState


@dataclass(frozen=True)
class Budget:
    tokens: int | None = None
    usd: float | None = None


@dataclass
class Spend:
    tokens: int = 0
    usd: float = 0.0
    priced: bool = False  # some attempt reported a price

    def add(self, other: Spend) -> None:
        self.tokens += other.tokens
        self.usd += other.usd
        self.priced = self.priced or other.priced

    def to_json(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "usd": round(self.usd, 6) if self.priced else None}

    def text(self) -> str:
        return f"{self.tokens:,} tokens" + (f", ${self.usd:.2f}" if self.priced else "")


def parse_budget(value: object, where: str) -> Budget | None:
    """`{ tokens = N, usd = X }` (either or both), or None when absent."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - {"tokens", "usd"}:
        raise OrchError(f"{where} must be a table with tokens and/or usd")
    tokens, usd = value.get("tokens"), value.get("usd")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int)
                               or tokens <= 0):
        raise OrchError(f"{where}.tokens must be a positive integer")
    if usd is not None and (isinstance(usd, bool) or not isinstance(usd, (int, float))
                            or not math.isfinite(usd) or usd <= 0):
        raise OrchError(f"{where}.usd must be a positive number")
    return Budget(tokens, float(usd) if usd is not None else None)


def task_spend(state: StateFacts) -> Spend:
    """What every recorded attempt of the task cost (run-ended `usage`)."""
    spend = Spend()
    for event in state.runs:
        usage = event.get("usage") if event.get("type") == "run-ended" else None
        if not isinstance(usage, dict):
            continue
        tokens, usd = usage.get("tokens"), usage.get("usd")
        if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens > 0:
            spend.tokens += tokens
        if isinstance(usd, (int, float)) and not isinstance(usd, bool) and math.isfinite(usd) \
                and usd >= 0:
            spend.usd += float(usd)
            spend.priced = True
    return spend


def package_spend(states: Iterable[tuple[str | None, StateFacts]]) -> dict[str, Spend]:
    """Spend per package, from (package, state) pairs; tasks outside packages left out."""
    found: dict[str, Spend] = {}
    for package, state in states:
        if package:
            found.setdefault(package, Spend()).add(task_spend(state))
    return found


def _section(policy: Policy) -> Mapping[str, Any]:
    section = policy.raw.get("budget", {})
    if not isinstance(section, Mapping):
        raise OrchError(f"{CONFIG_NAME}: [budget] must be a table")
    return section


def task_budget(policy: Policy, preset_budget: Budget | None) -> tuple[Budget | None, str]:
    """The task budget in force and where it comes from (the preset's wins)."""
    if preset_budget is not None:
        return preset_budget, "the agent preset's budget"
    return parse_budget(_section(policy).get("task"), "[budget].task"), "[budget].task"


def package_budget(policy: Policy, package: str) -> tuple[Budget | None, str]:
    packages = policy.raw.get("packages", [])
    for table in packages if isinstance(packages, list) else []:
        if isinstance(table, Mapping) and table.get("name") == package and "budget" in table:
            where = f"[[packages]] {package!r} budget"
            return parse_budget(table["budget"], where), where
    return parse_budget(_section(policy).get("package"), "[budget].package"), "[budget].package"


def _over(spend: Spend, budget: Budget | None) -> str | None:
    if budget is None:
        return None
    if budget.tokens is not None and spend.tokens >= budget.tokens:
        return f"{spend.tokens:,} of {budget.tokens:,} tokens"
    if budget.usd is not None and spend.priced and spend.usd >= budget.usd:
        return f"${spend.usd:.2f} of ${budget.usd:.2f}"
    return None


def check(policy: Policy, task_id: str, state: TaskState | None, package: str | None,
          package_states: Iterable[tuple[str | None, TaskState]],
          preset_budget: Budget | None) -> None:
    """Refuse another attempt once the task or its package spent its budget."""
    if state is not None:
        budget, where = task_budget(policy, preset_budget)
        over = _over(task_spend(state), budget)
        if over:
            raise OrchError(f"task {task_id} has spent its budget ({over}, {where} in "
                            f"{CONFIG_NAME}): no further agent run; raise it to go on")
    budget, where = package_budget(policy, package) if package else (None, "")
    if package and budget is not None:  # only then are the other tasks read
        over = _over(package_spend(package_states).get(package, Spend()), budget)
        if over:
            raise OrchError(f"package {package} has spent its budget ({over}, {where} in "
                            f"{CONFIG_NAME}): no further agent run on its tasks")
