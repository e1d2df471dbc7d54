from __future__ import annotations

import click

from git_orch.init import init as do_init
from git_orch.output import emit_json, json_option, open_repo


@click.command()
@click.option("--main-branch", help="Branch accepted work lands on (default: the current one).")
@json_option
@click.pass_context
def init(ctx: click.Context, main_branch: str | None, as_json: bool) -> None:
    """Prepare this repository for git-orch. Safe to run again.

    Writes a commented orch.toml (policy) if there is none, enables per-worktree
    config (extensions.worktreeConfig), and creates the ledger ref
    refs/orch/ledger.

    \b
    Example:
      git orch init && git add orch.toml && git commit -m "Add git-orch policy"
    """
    result = do_init(open_repo(ctx), main_branch)
    if as_json:
        emit_json(
            {
                "config": str(result.config),
                "wrote_config": result.wrote_config,
                "created_ledger": result.created_ledger,
            }
        )
        return
    click.echo(f"{'wrote' if result.wrote_config else 'kept'} {result.config}")
    click.echo("ledger refs/orch/ledger " + ("created" if result.created_ledger else "present"))
    if result.wrote_config:
        click.echo("next: review orch.toml, commit it, then `git orch start ID --title TEXT`")
