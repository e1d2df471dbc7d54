"""The worker's exits: handoff and block.

Only their options live here: what they do and print is in workspace/worker.py,
which the thin entry (fastpath.py) runs without click for the plain forms.
"""

from __future__ import annotations

import click

from git_orch.commands.sync import with_sync
from git_orch.output import json_option, open_repo
from git_orch.workspace.worker import block_command, handoff_command

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
    handoff_command(open_repo(ctx), task_id, summary, list(risks), as_json)


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
    block_command(open_repo(ctx), task_id, reason, as_json)
