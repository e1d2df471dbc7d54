"""`git orch collect`: pull clone workspaces' work into the lead's repository."""

from __future__ import annotations

import click

from git_orch.output import emit_json, json_option, open_repo
from git_orch.repo import OrchRepo
from git_orch.workspace.collect import Collected, collect_all, collect_quietly, collect_task


def pull_first(orepo: OrchRepo, task_id: str | None = None) -> None:
    """The implicit collect of status, review, heartbeat, land and abandon: what went
    wrong goes to stderr, one line each, and never stops the command."""
    for line in collect_quietly(orepo, task_id):
        click.echo(f"git-orch: {line}", err=True)


def _describe(item: Collected) -> list[str]:
    if not item.changed:
        return [f"{item.task}: unchanged"]
    head = f"{(item.head_after or '-')[:12]}"
    lines = [f"{item.task}: branch {item.branch} ({head}), {len(item.taken)} event(s) taken, "
             f"{len(item.dropped)} dropped"]
    lines += [f"  warning: {w}" for w in item.warnings]
    return lines


@click.command()
@click.argument("task_id", metavar="[ID]", required=False)
@click.option("--from", "source", metavar="URL",
              help="Collect ID from this git URL (a workspace on another machine).")
@json_option
@click.pass_context
def collect(ctx: click.Context, task_id: str | None, source: str | None, as_json: bool) -> int:
    """Pull the work of clone workspaces: branch orch/ID and the worker's events.

    Fetches (git's executable config pinned off) the workspace's orch/ID into
    the lead's orch/ID and takes from its ledger copy only that task's
    handoff, blocked and note events (a handoff only at the fetched tip);
    anything else is dropped and recorded as a misalignment. Cheap when
    nothing changed. status, review, heartbeat and land run it first.

    \b
    Example:
      git orch collect
      git orch collect fix-login --json
      git orch collect fix-login --from ssh://build-2/srv/ws/fix-login
    """
    if source is not None and task_id is None:
        raise click.UsageError("--from needs a task ID")
    orepo = open_repo(ctx)
    errors: list[str] = []
    if task_id is not None:
        results = [collect_task(orepo, task_id, source)]
    else:
        results, errors = collect_all(orepo)
    if as_json:
        emit_json({"collected": [r.to_json() for r in results], "errors": errors})
    else:
        if not results and not errors:
            click.echo("no clone workspaces to collect")
        for item in results:
            for line in _describe(item):
                click.echo(line)
        for line in errors:
            click.echo(f"git-orch: {line}", err=True)
    return 1 if errors else 0
