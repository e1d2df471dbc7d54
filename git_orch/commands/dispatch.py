from __future__ import annotations

import click

from git_orch import dispatch as modes
from git_orch.output import emit_json, json_option, open_lead_repo, open_repo


@click.command()
@click.argument("mode", required=False, type=click.Choice(modes.MODES))
@click.option("--note", help="Why (shown by next and status).")
@json_option
@click.pass_context
def dispatch(ctx: click.Context, mode: str | None, note: str | None, as_json: bool) -> None:
    """Show or set the loop's dispatch mode: active, drain or paused.

    In drain and paused, git orch next recommends and starts nothing (running
    agents go on). Recorded in the ledger; without MODE, prints the current one.

    \b
    Example:
      git orch dispatch drain --note "release freeze until Friday"
      git orch dispatch --json
    """
    orepo = open_lead_repo(ctx, "dispatch") if mode is not None else open_repo(ctx)
    if mode is not None:
        modes.set_mode(orepo, mode, note)
    current = modes.current(orepo)
    if as_json:
        emit_json(current)
        return
    text = f"dispatch: {current['mode']}"
    if current["note"]:
        text += f" ({current['note']})"
    if current["at"]:
        text += f", set {current['at']} by {current['actor']}"
    click.echo(text)
