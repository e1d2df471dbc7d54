"""The worker's two exits: `git orch handoff` and `git orch block`.

They run inside a worker worktree (or name the task with --task). The write
goes through loose objects and `git --git-dir=<common dir> update-ref`, where
the worker's per-worktree hooks are not in force.

`handoff_command` and `block_command` are the whole commands once their options
are read, without click: the click commands (commands/worker.py) and the thin
entry (fastpath.py, which agents' calls take) both run them, so both do and
print the same.
"""

from __future__ import annotations

import os
from pathlib import Path

from git_orch.echo import emit_json, say
from git_orch.errors import OrchError
from git_orch.gitcmd import run_git
from git_orch.notify import notify
from git_orch.record.ids import task_branch
from git_orch.record.ledger import Event
from git_orch.record.tasks import load_task, transition
from git_orch.repo import OrchRepo
from git_orch.sanitize import clean


def resolve_task(orepo: OrchRepo, task_id: str | None) -> str:
    if task_id:
        return task_id
    found = orepo.worker_task()
    if not found:
        raise OrchError("not in a worker worktree: run it there, or pass --task ID")
    return found


def _worktree(orepo: OrchRepo, task_id: str) -> Path | None:
    """The worktree that has the task's branch checked out. Run there (as a worker
    does), it is this one, known from its HEAD file without `git worktree list`."""
    branch = f"refs/heads/{task_branch(task_id)}"
    if orepo.checked_out_branch() == branch:
        return orepo.toplevel
    tree = orepo.worktree_for_branch(branch)
    return tree.path if tree is not None else None


def handoff(
    orepo: OrchRepo, task_id: str | None, summary: str | None, risks: list[str]
) -> Event:
    task_id = resolve_task(orepo, task_id)
    task = load_task(orepo, task_id)
    head = orepo.ref_oid(f"refs/heads/{task_branch(task_id)}")
    if head is None:
        raise OrchError(f"branch {task_branch(task_id)} is missing: nothing to hand off")
    if head == task.contract.base:
        raise OrchError(f"task {task_id} has no commits since its base: commit first")
    path = _worktree(orepo, task_id)
    if path is not None and not path.is_dir():
        raise OrchError(
            f"the worktree of task {task_id} ({path}) is gone, so its uncommitted state is "
            f"unknown: git orch heartbeat --repair restores it from {task_branch(task_id)}, "
            "then hand off again"
        )
    if path is not None:
        dirty = run_git(["status", "--porcelain", "-z", "--untracked-files=normal"], path).stdout
        if dirty.strip("\0"):
            first = clean(dirty.split("\0")[0][3:])  # -z: the path as it is, not C-quoted
            raise OrchError(
                f"uncommitted changes in {path} (e.g. {first}): commit or remove them first"
            )
    event: Event = {"type": "handoff", "head": head, "summary": summary, "risks": risks}
    return transition(orepo, task_id, event)


def write_handoff_file(path: Path, summary: str | None, risks: list[str]) -> bool:
    """Write the run's handoff file from the handoff's summary if the agent has not.

    A supervised run succeeds only with a handoff file; some agent CLIs cannot
    write it themselves (claude refuses files under `.git`), so calling
    `git orch handoff --summary` is enough. An agent's own file is kept.
    Raises OSError when the file cannot be written (e.g. outside the agent's
    sandbox): the caller says so, the handoff itself stands.
    """
    if not summary or (path.is_file() and path.stat().st_size > 0):
        return False
    text = summary.strip() + "\n" + "".join(f"\nRisk: {risk.strip()}" for risk in risks)
    path.write_text(text + ("\n" if risks else ""), encoding="utf-8")
    return True


def block(orepo: OrchRepo, task_id: str | None, reason: str) -> Event:
    if not reason.strip():
        raise OrchError("--reason must say why the task is blocked")
    task_id = resolve_task(orepo, task_id)
    return transition(orepo, task_id, {"type": "blocked", "reason": reason.strip()})


def handoff_command(orepo: OrchRepo, task_id: str | None, summary: str | None,
                    risks: list[str], as_json: bool) -> None:
    """`git orch handoff`: record it, write the run's handoff file, notify, print."""
    event = handoff(orepo, task_id, summary, risks)
    # Under `git orch run` the supervisor names this attempt's handoff file.
    handoff_file = os.environ.get("ORCH_HANDOFF_FILE")
    if handoff_file and os.environ.get("ORCH_TASK") == event["task"]:
        try:
            write_handoff_file(Path(handoff_file), summary, risks)
        except OSError as exc:  # e.g. outside the agent's sandbox: the handoff stands
            say(f"warning: handed off, but could not write the handoff file "
                f"{handoff_file}: {exc.strerror or exc}", err=True)
    if "ORCH_RUN" not in os.environ:  # under `git orch run` the supervisor tells a person
        notify(orepo, "handoff", str(event["task"]), head=event.get("head"),
               summary=event.get("summary"))
    if as_json:
        emit_json(event)
    else:
        say(f"handed off {event['task']} at {str(event['head'])[:12]}: awaiting review")


def block_command(orepo: OrchRepo, task_id: str | None, reason: str, as_json: bool) -> None:
    """`git orch block`: record it, notify, print."""
    event = block(orepo, task_id, reason)
    if "ORCH_RUN" not in os.environ:  # under `git orch run` the supervisor tells a person
        notify(orepo, "blocked", str(event["task"]), reason=event.get("reason"))
    if as_json:
        emit_json(event)
    else:
        say(f"blocked {event['task']}: {event['reason']}")
