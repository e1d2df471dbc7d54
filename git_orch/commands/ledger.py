"""`git orch ledger check|recover`: find and repair damage to refs/orch/ledger."""

from __future__ import annotations

import click

from git_orch.output import emit_json, json_option, open_repo
from git_orch.record import damage
from git_orch.record.ledger import stale_lock
from git_orch.sanitize import clean


@click.group()
def ledger() -> None:
    """Check the ledger ref for damage, or restore lost events.

    \b
    Example:
      git orch ledger check
      git orch ledger recover
    """


@ledger.command()
@json_option
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> int:
    """Report a rewound, replaced or deleted ledger and a stale ledger lock (exit 1 if any).

    \b
    Example:
      git orch ledger check --json
    """
    orepo = open_repo(ctx)
    found = damage.findings(orepo)
    lock = stale_lock(orepo)
    if lock is not None:
        found.append(lock)
    if as_json:
        emit_json({"damage": found, "lost_tips": damage.lost_tips(orepo)})
    else:
        for line in found:
            click.echo(clean(line))
        if not found:
            click.echo("ledger: no damage found")
    return 1 if found else 0


@ledger.command()
@json_option
@click.pass_context
def recover(ctx: click.Context, as_json: bool) -> None:
    """Merge every ledger tip this machine knew (reflog, last seen) back into the ledger.

    Union of event lines, as sync merges: nothing already in the ledger is
    dropped, and running it again changes nothing.

    \b
    Example:
      git orch ledger recover
    """
    result = damage.recover(open_repo(ctx))
    if as_json:
        emit_json(result.to_json())
        return
    for warning in result.warnings:
        click.echo(f"warning: {clean(warning)}", err=True)
    if result.restored_from:
        tips = ", ".join(t[:12] for t in result.restored_from)
        click.echo(f"ledger recovered: merged {tips} into {str(result.tip)[:12]}")
    else:
        click.echo("ledger: nothing lost")
