"""`git orch show ID`: the contract and the whole event log of one task."""

from __future__ import annotations

import json
from typing import Any

from git_orch.agent.budget import task_spend
from git_orch.agent.runlog import agent_said
from git_orch.judge.verdicts import summary_of
from git_orch.record.state import TaskState
from git_orch.record.tasks import Task, load_task
from git_orch.repo import OrchRepo
from git_orch.sanitize import clean


def show(orepo: OrchRepo, task_id: str) -> Task:
    return load_task(orepo, task_id)


def current_verdicts(st: TaskState) -> list[dict[str, Any]]:
    """Every verdict on the head handed off (or accepted): those are the ones that count."""
    head = st.accepted_head or st.head
    return [summary_of(r) for r in st.reviews if head and r.get("head") == head]


def to_json(task: Task) -> dict[str, Any]:
    st = task.state
    return {
        "contract": task.contract.to_json(),
        "state": st.state,
        "head": st.head,
        "accepted_head": st.accepted_head,
        "verdicts": current_verdicts(st),
        "conflicts": st.conflicts,
        "agent_said": agent_said(st),
        "spend": task_spend(st).to_json(),
        "events": task.log.events,
        "problems": task.log.problems,
        "skipped_versions": task.log.skipped_versions,
    }


def render_text(task: Task) -> str:
    """Every value is passed through clean(): contracts and events may come from a remote."""
    c = task.contract
    lines = [
        f"task     {clean(c.task_id)}",
        f"title    {clean(c.title)}",
        f"state    {clean(task.state.state)}",
        f"contract {c.commit}",
        f"base     {c.base}",
    ]
    if c.package:
        lines.append(f"package  {clean(c.package)}")
    lines += [f"allow    {clean(spec)}" for spec in c.allow]
    lines += [f"forbid   {clean(spec)}" for spec in c.forbid]
    lines += [f"gate     {clean(gate)}" for gate in c.gates]
    if c.body:
        lines += ["", *("    " + clean(ln) for ln in c.body.splitlines())]
    spend = task_spend(task.state)
    if spend.tokens or spend.priced:
        lines.append(f"spent    {spend.text()} (agent runs)")
    said = agent_said(task.state)
    if said is not None:
        lines += ["", f"agent said (attempt {said['attempt']}, {clean(said['agent'])}):"]
        lines += ["    " + clean(ln) for ln in said["text"].splitlines()]
    verdicts = current_verdicts(task.state)
    if verdicts:
        lines += ["", f"verdicts on {str(task.state.accepted_head or task.state.head)[:12]}"]
    for v in verdicts:
        rules = f" ({', '.join(v['rules'])})" if v["rules"] else ""
        lines.append(f"  {clean(v['verdict']):<8} {clean(v['source']):<8} "
                     f"{clean(v['reviewer'])}{clean(rules)}")
    lines += ["", "events"]
    for event in task.log.events:
        extra = {
            k: v
            for k, v in event.items()
            if k not in ("v", "id", "lamport", "at", "actor", "type", "task")
        }
        detail = json.dumps(extra, sort_keys=True) if extra else ""
        lines.append(
            f"  {event['lamport']:>4} {clean(event.get('at', '?'))} {clean(event['type']):<14} "
            f"{clean(event.get('actor', '?'))} {clean(detail)}".rstrip()
        )
    for conflict in task.state.conflicts:
        lines.append(f"conflict: {clean(conflict)}")
    for problem in task.log.problems:
        lines.append(f"problem: {clean(problem)}")
    return "\n".join(lines)
