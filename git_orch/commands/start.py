from __future__ import annotations

import click

from git_orch.commands.sync import with_sync
from git_orch.output import emit_json, json_option, open_repo
from git_orch.start import StartRequest
from git_orch.start import start as do_start


@click.command()
@with_sync
@click.argument("task_id", metavar="ID")
@click.option("--title", required=True, help="One line saying what the task delivers.")
@click.option("--body", default="", help="Longer description for the contract.")
@click.option("--package", help="Feature package (roadmap group) this task belongs to.")
@click.option("--base", help="Commit the task starts from (default: the main branch).")
@click.option("--allow", multiple=True, help="Pathspec the task may change (repeatable).")
@click.option("--forbid", multiple=True, help="Pathspec the task must not change (repeatable).")
@click.option("--gate", multiple=True, help="Check the worker must pass and claim (repeatable).")
@click.option("--no-worktree", is_flag=True, help="Record task and branch only (remote worker).")
@json_option
@click.pass_context
def start(
    ctx: click.Context,
    task_id: str,
    title: str,
    body: str,
    package: str | None,
    base: str | None,
    allow: tuple[str, ...],
    forbid: tuple[str, ...],
    gate: tuple[str, ...],
    no_worktree: bool,
    as_json: bool,
) -> None:
    """Open a bounded task: contract, branch orch/ID, worktree, ledger entry.

    The contract (title, allowed and forbidden pathspecs, gates) is an
    immutable commit at refs/orch/tasks/ID whose parent is the base.

    \b
    Example:
      git orch start fix-login --title "Fix login redirect" \\
          --allow 'src/auth/**' --allow 'tests/auth/**' --forbid 'migrations/**' \\
          --gate "pytest tests/auth"
    """
    orepo = open_repo(ctx)
    result = do_start(
        orepo,
        StartRequest(
            task_id=task_id,
            title=title,
            body=body,
            package=package,
            base=base,
            allow=list(allow),
            forbid=list(forbid),
            gates=list(gate),
            worktree=not no_worktree,
        ),
    )
    if as_json:
        emit_json(
            {
                "id": result.task_id,
                "state": result.state,
                "contract": result.contract,
                "base": result.base,
                "branch": result.branch,
                "worktree": str(result.worktree) if result.worktree else None,
            }
        )
        return
    click.echo(f"started {result.task_id}: branch {result.branch} at {result.base[:12]}")
    if result.worktree:
        click.echo(f"worktree {result.worktree}")
