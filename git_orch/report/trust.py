"""The trust section of status: who misbehaved lately, per task and per agent preset.

Counts, over each one's last N agent runs (`[trust] last_runs`, default 20):
`misalignment` events (hook refusals, dropped worker events, bypasses, ...)
and overclaims (reviews whose findings include `overclaim` or `gate-failed`:
a claim stronger than what backs it). An event belongs to the agent of the
latest run started before it in the task's log; a task with no runs counts
all of its events. Worst first, so the first line is where to look.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from git_orch.config import Policy
from git_orch.errors import OrchError
from git_orch.record.state import StateFacts

DEFAULT_LAST_RUNS = 20
OVERCLAIM_RULES = frozenset({"overclaim", "gate-failed"})


@dataclass
class TrustRow:
    kind: str  # "task" or "agent"
    name: str
    runs: int = 0
    misalignments: int = 0
    overclaims: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    latest: str | None = None  # `what` of the newest misalignment

    @property
    def score(self) -> int:
        return self.misalignments + self.overclaims

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "runs": self.runs,
                "misalignments": self.misalignments, "overclaims": self.overclaims,
                "sources": dict(sorted(self.sources.items())), "latest": self.latest}


def last_runs(policy: Policy) -> int:
    section = policy.raw.get("trust", {})
    value = section.get("last_runs", DEFAULT_LAST_RUNS) if isinstance(section, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10000:
        raise OrchError("orch.toml: [trust] last_runs must be an integer from 1 to 10000")
    return value


def is_overclaim(review: dict[str, Any]) -> bool:
    findings = review.get("findings")
    rules = findings.get("rules") if isinstance(findings, dict) else None
    return isinstance(rules, list) and any(r in OVERCLAIM_RULES for r in rules)


def _lamport(event: dict[str, Any]) -> int:
    value = event.get("lamport")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass
class _Run:
    agent: str
    lamport: int
    started: str


def _observations(state: StateFacts) -> list[tuple[int, str, dict[str, Any]]]:
    """(lamport, "misalignment"|"overclaim", event) for one task, in log order."""
    found = [(_lamport(e), "misalignment", e) for e in state.misalignments]
    found += [(_lamport(e), "overclaim", e) for e in state.reviews if is_overclaim(e)]
    return sorted(found, key=lambda item: item[0])


def _add(row: TrustRow, kind: str, event: dict[str, Any]) -> None:
    if kind == "overclaim":
        row.overclaims += 1
        return
    row.misalignments += 1
    source = str(event.get("source", "?"))
    row.sources[source] = row.sources.get(source, 0) + 1
    what = event.get("what")
    row.latest = what if isinstance(what, str) else row.latest


def trust_rows(states: Iterable[StateFacts], window: int) -> list[TrustRow]:
    """Task rows with something to report and every agent with runs, worst first."""
    tasks: list[TrustRow] = []
    agents: dict[str, TrustRow] = {}
    agent_runs: dict[str, list[tuple[str, str, int]]] = {}  # agent -> (started, task, index)
    attributed: dict[tuple[str, int], list[tuple[str, dict[str, Any]]]] = {}
    for state in states:
        if not (state.runs or state.misalignments or state.reviews):
            continue  # no run, nothing to count: no row (most ended tasks at scale)
        runs = [_Run(str(e.get("agent")), _lamport(e), str(e.get("started") or ""))
                for e in state.runs if e.get("type") == "run-started"]
        row = TrustRow("task", state.task_id, runs=min(len(runs), window))
        since = runs[-window].lamport if len(runs) >= window else -1
        for lamport, kind, event in _observations(state):
            if lamport >= since:
                _add(row, kind, event)
            owner = [i for i, run in enumerate(runs) if run.lamport <= lamport]
            if owner:
                attributed.setdefault((state.task_id, owner[-1]), []).append((kind, event))
        if row.score:
            tasks.append(row)
        for index, run in enumerate(runs):
            agent_runs.setdefault(run.agent, []).append((run.started, state.task_id, index))
    for agent, started in agent_runs.items():
        recent = sorted(started)[-window:]
        row = agents.setdefault(agent, TrustRow("agent", agent, runs=len(recent)))
        for _started, task_id, index in recent:
            for kind, event in attributed.get((task_id, index), []):
                _add(row, kind, event)
    ranked = sorted(tasks, key=lambda r: (-r.score, r.name))
    return ranked + sorted(agents.values(), key=lambda r: (-r.score, r.name))


def render_lines(rows: list[TrustRow]) -> list[str]:
    """One line per row with something to report (text and Markdown use these)."""
    lines = []
    for row in rows:
        if not row.score:
            continue
        sources = ", ".join(f"{n} {s}" for s, n in sorted(row.sources.items()))
        detail = f" ({sources})" if sources else ""
        lines.append(f"{row.kind} {row.name}: {row.misalignments} misalignment(s){detail}, "
                     f"{row.overclaims} overclaim(s) in the last {row.runs} run(s)")
    return lines
