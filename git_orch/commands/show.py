from __future__ import annotations

import click

from git_orch.output import emit_json, json_option, open_repo
from git_orch.report.show import render_text, to_json
from git_orch.report.show import show as load


@click.command()
@click.argument("task_id", metavar="ID")
@json_option
@click.pass_context
def show(ctx: click.Context, task_id: str, as_json: bool) -> None:
    """Show a task's contract and its whole event log.

    \b
    Example:
      git orch show fix-login
      git log refs/orch/tasks/fix-login        # the contract, with plain git
    """
    task = load(open_repo(ctx), task_id)
    if as_json:
        emit_json(to_json(task))
    else:
        click.echo(render_text(task))
