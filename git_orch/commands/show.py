from __future__ import annotations

import click

from git_orch.errors import OrchUsageError
from git_orch.output import emit_json, json_option, open_repo
from git_orch.report.show import render_text, to_json
from git_orch.report.show import show as load


@click.command()
@click.argument("task_id", metavar="[ID]", required=False)
@json_option
@click.pass_context
def show(ctx: click.Context, task_id: str | None, as_json: bool) -> None:
    """Show a task's contract and its whole event log (in a worker: its own task).

    \b
    Example:
      git orch show fix-login
      git log refs/orch/tasks/fix-login        # the contract, with plain git
    """
    orepo = open_repo(ctx)
    task_id = task_id or orepo.worker_task()
    if not task_id:
        raise OrchUsageError("name the task: git orch show ID (inside a worker, ID is optional)")
    task = load(orepo, task_id)
    if as_json:
        emit_json(to_json(task))
    else:
        click.echo(render_text(task))
