"""`git orch show ID`: the contract and the whole event log of one task."""

from __future__ import annotations

import json
from typing import Any

from git_orch.repo import OrchRepo
from git_orch.tasks import Task, load_task


def show(orepo: OrchRepo, task_id: str) -> Task:
    return load_task(orepo, task_id)


def to_json(task: Task) -> dict[str, Any]:
    st = task.state
    return {
        "contract": task.contract.to_json(),
        "state": st.state,
        "head": st.head,
        "accepted_head": st.accepted_head,
        "conflicts": st.conflicts,
        "events": task.log.events,
        "problems": task.log.problems,
        "skipped_versions": task.log.skipped_versions,
    }


def render_text(task: Task) -> str:
    c = task.contract
    lines = [
        f"task     {c.task_id}",
        f"title    {c.title}",
        f"state    {task.state.state}",
        f"contract {c.commit}",
        f"base     {c.base}",
    ]
    if c.package:
        lines.append(f"package  {c.package}")
    lines += [f"allow    {spec}" for spec in c.allow]
    lines += [f"forbid   {spec}" for spec in c.forbid]
    lines += [f"gate     {gate}" for gate in c.gates]
    if c.body:
        lines += ["", *("    " + ln for ln in c.body.splitlines())]
    lines += ["", "events"]
    for event in task.log.events:
        extra = {
            k: v
            for k, v in event.items()
            if k not in ("v", "id", "lamport", "at", "actor", "type", "task")
        }
        detail = json.dumps(extra, sort_keys=True) if extra else ""
        lines.append(
            f"  {event['lamport']:>4} {event.get('at', '?')} {event['type']:<14} "
            f"{event.get('actor', '?')} {detail}".rstrip()
        )
    for conflict in task.state.conflicts:
        lines.append(f"conflict: {conflict}")
    for problem in task.log.problems:
        lines.append(f"problem: {problem}")
    return "\n".join(lines)
