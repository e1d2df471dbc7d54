"""The worker's exits: handoff and block."""

from __future__ import annotations

import os
from pathlib import Path

import click

from git_orch.commands.sync import with_sync
from git_orch.notify import notify
from git_orch.output import emit_json, json_option, open_repo
from git_orch.workspace.worker import block as do_block
from git_orch.workspace.worker import handoff as do_handoff
from git_orch.workspace.worker import write_handoff_file

task_option = click.option("--task", "task_id", help="Task id (default: this worker worktree's).")


@click.command()
@with_sync
@task_option
@click.option("--summary", help="What was done, in a sentence or two.")
@click.option("--risk", "risks", multiple=True, help="A residual risk the reviewer should know.")
@json_option
@click.pass_context
def handoff(
    ctx: click.Context,
    task_id: str | None,
    summary: str | None,
    risks: tuple[str, ...],
    as_json: bool,
) -> None:
    """Hand the task's committed work over for review.

    Refuses with uncommitted changes or with no commits since the base.
    Records completed-unreviewed with the head commit. Under `git orch run`,
    --summary also becomes the run's handoff file if the agent wrote none.

    \b
    Example (inside the worker worktree):
      git orch handoff --summary "Redirect fixed" --risk "no test on Safari"
    """
    event = do_handoff(open_repo(ctx), task_id, summary, list(risks))
    # Under `git orch run` the supervisor names this attempt's handoff file.
    handoff_file = os.environ.get("ORCH_HANDOFF_FILE")
    if handoff_file and os.environ.get("ORCH_TASK") == event["task"]:
        try:
            write_handoff_file(Path(handoff_file), summary, list(risks))
        except OSError as exc:  # e.g. outside the agent's sandbox: the handoff stands
            click.echo(f"warning: handed off, but could not write the handoff file "
                       f"{handoff_file}: {exc.strerror or exc}", err=True)
    if "ORCH_RUN" not in os.environ:  # under `git orch run` the supervisor tells a person
        notify(open_repo(ctx), "handoff", str(event["task"]), head=event.get("head"),
               summary=event.get("summary"))
    if as_json:
        emit_json(event)
    else:
        click.echo(f"handed off {event['task']} at {str(event['head'])[:12]}: awaiting review")


@click.command()
@with_sync
@task_option
@click.option("--reason", required=True, help="Why the task cannot go on without a person.")
@json_option
@click.pass_context
def block(ctx: click.Context, task_id: str | None, reason: str, as_json: bool) -> None:
    """Stop and ask a person: records the task as blocked, with the reason.

    \b
    Example (inside the worker worktree):
      git orch block --reason "needs the staging database password"
    """
    event = do_block(open_repo(ctx), task_id, reason)
    if "ORCH_RUN" not in os.environ:  # under `git orch run` the supervisor tells a person
        notify(open_repo(ctx), "blocked", str(event["task"]), reason=event.get("reason"))
    if as_json:
        emit_json(event)
    else:
        click.echo(f"blocked {event['task']}: {event['reason']}")
