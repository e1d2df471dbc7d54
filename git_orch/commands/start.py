from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from git_orch.commands.sync import with_sync
from git_orch.output import emit_json, json_option, open_lead_repo
from git_orch.repo import OrchRepo
from git_orch.workspace.start import StartRequest
from git_orch.workspace.start import start as start_task


def force_options(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--force and --reason: go past max_active and write-set overlap, recorded."""
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option("--reason", "force_reason", metavar="TEXT",
                            help="Why --force is right here (recorded in the ledger).")(func)
        return click.option("--force", is_flag=True,
                            help=f"{what} past max_active or onto a write set that may "
                                 "overlap another task's (needs --reason).")(func)
    return decorate


def forced(force: bool, reason: str | None) -> str | None:
    """The --reason to record, after checking the pair is used together."""
    if force and not (reason and reason.strip()):
        raise click.UsageError("--force needs --reason TEXT (it is recorded in the ledger)")
    if reason is not None and not force:
        raise click.UsageError("--reason goes with --force")
    return reason if force else None


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
@click.option("--isolation", type=click.Choice(["clone", "worktree"]),
              help="Workspace kind (default: [orch].isolation of orch.toml). clone: an own "
                   "repository the lead pulls from; worktree: shares the lead's git dir "
                   "(advisory isolation).")
@click.option("--agent", help="Launch this agent preset on the task (see git orch run).")
@click.option("--wait", is_flag=True, help="With --agent: wait until the run is over.")
@force_options("Start")
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
    isolation: str | None,
    agent: str | None,
    wait: bool,
    force: bool,
    force_reason: str | None,
    as_json: bool,
) -> int:
    """Open a bounded task: contract, branch orch/ID, workspace, ledger entry.

    The contract (title, allowed and forbidden pathspecs, gates) is an
    immutable commit at refs/orch/tasks/ID whose parent is the base.
    Refused when max_active tasks are being worked or the write set may
    overlap a live task's, unless --force --reason (recorded). A task
    without --allow may write anywhere, so it overlaps every live task.

    \b
    Example:
      git orch start fix-login --title "Fix login redirect" \\
          --allow 'src/auth/**' --allow 'tests/auth/**' --forbid 'migrations/**' \\
          --gate "pytest tests/auth"
      git orch start fix-login --title "Fix login redirect" \\
          --allow 'src/auth/**' --agent codex
      git orch start hotfix --title "Hotfix" --force --reason "prod is down"
    """
    reason = forced(force, force_reason)
    orepo = open_lead_repo(ctx, "start")
    request = StartRequest(
        task_id=task_id,
        title=title,
        body=body,
        package=package,
        base=base,
        allow=list(allow),
        forbid=list(forbid),
        gates=list(gate),
        worktree=not no_worktree,
        isolation=isolation,
        force_reason=reason,
    )
    if agent:
        from git_orch.agent.runner import start_and_run  # the agent machinery only when needed

        result, run = start_and_run(orepo, request, agent, wait=wait)
    else:
        result, run = start_task(orepo, request), None
    warn_unlisted_gates(orepo, list(gate))
    if as_json:
        emit_json(
            {
                "id": result.task_id,
                "state": result.state,
                "contract": result.contract,
                "base": result.base,
                "branch": result.branch,
                "worktree": str(result.worktree) if result.worktree else None,
                "isolation": result.isolation,
                "run": run.to_json() if run else None,
            }
        )
        return 1 if run and wait and not run.ok else 0
    click.echo(f"started {result.task_id}: branch {result.branch} at {result.base[:12]}")
    if result.worktree and result.isolation == "clone":
        click.echo(f"workspace {result.worktree} (clone; git orch collect pulls its work)")
    elif result.worktree:
        click.echo(f"worktree {result.worktree} (advisory isolation: shares this git dir)")
    if run:
        click.echo(f"agent {run.agent} running: attempt {run.attempt}, pid {run.agent_pid}, "
                   f"log {run.log}")
        for ended in run.ended:
            reason = f" ({ended.get('reason')})" if ended.get("reason") else ""
            click.echo(f"attempt {ended.get('attempt')}: {ended.get('outcome')}{reason}")
    return 1 if run and wait and not run.ok else 0


def warn_unlisted_gates(orepo: OrchRepo, gates: list[str]) -> None:
    """Say, on stderr, which gates review --rerun-gates will not run, and the line to add."""
    if not gates:
        return
    from git_orch.judge.review import gates_not_in_policy

    missing, allowed = gates_not_in_policy(orepo, gates)
    if not missing:
        return
    listed = ", ".join(repr(g) for g in missing)
    line = "gates = " + json.dumps([*allowed, *missing])
    click.echo(f"warning: gate {listed} is not in [orch] gates of orch.toml on the main branch: "
               "review --rerun-gates will not run it. Add this line under [orch] and commit it:"
               f"\n  {line}", err=True)
