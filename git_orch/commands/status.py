from __future__ import annotations

import click

from git_orch.output import emit_json, json_option, open_repo
from git_orch.status import collect, render_text


@click.command()
@click.argument("task_id", metavar="[ID]", required=False)
@json_option
@click.pass_context
def status(ctx: click.Context, task_id: str | None, as_json: bool) -> None:
    """What needs you, what is running, what ended: read from git itself.

    Tasks that need a person come first (review queue, blocked, ready to land,
    stale, conflicts), then running tasks, then recently ended ones. Ledger
    lines that cannot be read are reported, never fatal.

    \b
    Example:
      git orch status
      git orch status fix-login --json | jq '.tasks[0].state'
    """
    overview = collect(open_repo(ctx), task_id)
    if as_json:
        emit_json(overview.to_json())
    else:
        click.echo(render_text(overview))
