"""Agent runs: run, logs, stop."""

from __future__ import annotations

import sys

import click

from git_orch.agent import runner
from git_orch.commands.start import force_options, forced
from git_orch.errors import OrchError
from git_orch.output import emit_json, json_option, open_lead_repo, open_repo
from git_orch.record.tasks import load_task
from git_orch.repo import OrchRepo


def describe(result: runner.RunResult) -> str:
    pid = result.agent_pid if result.agent_pid is not None else "-"
    return (f"running {result.task_id} with agent {result.agent}: attempt {result.attempt}, "
            f"pid {pid}, log {result.log}")


def describe_end(ended: list[dict[str, object]]) -> list[str]:
    return [f"attempt {e.get('attempt')}: {e.get('outcome')}"
            + (f" ({e.get('reason')})" if e.get("reason") else "") for e in ended]


def require_isolation(orepo: OrchRepo, task_id: str, wanted: str) -> None:
    """The workspace kind is fixed at start: a run can only check it, never switch it."""
    have = load_task(orepo, task_id).state.isolation or "worktree"  # before clones: worktrees
    if have != wanted:
        raise OrchError(f"task {task_id} has a {have} workspace, not {wanted}: abandon it and "
                        f"start it again with --isolation {wanted}")


@click.command()
@click.argument("task_id", metavar="ID")
@click.option("--agent", help="Agent preset ([agents.NAME] in orch.toml).")
@click.option("--wait", is_flag=True, help="Wait until the run (with its retries) is over.")
@click.option("--isolation", type=click.Choice(["clone", "worktree"]),
              help="Refuse unless the task's workspace is of this kind (start chose it; "
                   "a run never changes it).")
@force_options("Run")
@json_option
@click.pass_context
def run(ctx: click.Context, task_id: str, agent: str | None, wait: bool,
        isolation: str | None, force: bool, force_reason: str | None, as_json: bool) -> int:
    """Launch an agent on a task, detached and supervised.

    The supervisor writes the task envelope, spawns the agent (argv from the
    preset, no shell) in its own process group, logs to
    <git-common-dir>/orch/runs/ID/attempt-N.log and records run-started and
    run-ended in the ledger. An attempt succeeds only if the agent exits 0,
    wrote the handoff file, committed, and called git orch handoff. Failed
    attempts are retried up to max_attempts with backoff; max_runtime kills
    the whole process group. With --wait, exits 1 unless the run succeeded.
    A command that cannot be launched (not found, not executable) exits 1
    at once with the reason, also in the ledger and in git orch logs. Runs
    and retries are refused once the task or its package spent its budget
    ([budget] in orch.toml; usage as the CLI reports it). Refused when
    max_active tasks have an agent running, or one of them may write where
    this task may (a task without --allow may write anywhere), unless
    --force --reason (recorded). --isolation clone
    makes sure an untrusted agent never runs in a linked worktree.

    \b
    Example:
      git orch run fix-login --agent codex --isolation clone
      git orch run fix-login --agent standin --wait --json
    """
    reason = forced(force, force_reason)
    orepo = open_lead_repo(ctx, "run")
    if isolation is not None:
        require_isolation(orepo, task_id, isolation)
    result = runner.run(orepo, task_id, agent, wait=wait, force_reason=reason)
    if as_json:
        emit_json(result.to_json())
    else:
        click.echo(describe(result))
        for line in describe_end(result.ended):
            click.echo(line)
    return 1 if wait and not result.ok else 0


@click.command()
@click.argument("task_id", metavar="ID")
@click.option("--attempt", type=int, help="Which attempt (default: the latest).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the run is over.")
@json_option
@click.pass_context
def logs(ctx: click.Context, task_id: str, attempt: int | None, follow: bool,
         as_json: bool) -> None:
    """Print an agent run's log (stdout and stderr of the agent).

    \b
    Example:
      git orch logs fix-login
      git orch logs fix-login -f
      git orch logs fix-login --attempt 1 --json | jq -r .text
    """
    if as_json:
        if follow:
            raise click.UsageError("--json and --follow do not go together")
        orepo = open_repo(ctx)
        chunks: list[bytes] = []
        runner.logs(orepo, task_id, chunks.append, attempt=attempt)
        number = attempt or runner.latest_attempt(orepo, task_id)
        emit_json({"task": task_id, "attempt": number,
                   "path": str(runner.log_path(orepo, task_id, number or 0)),
                   "text": b"".join(chunks).decode("utf-8", "replace")})
        return
    out = sys.stdout

    def write(chunk: bytes) -> None:
        out.write(chunk.decode("utf-8", "replace"))
        out.flush()

    runner.logs(open_repo(ctx), task_id, write, attempt=attempt, follow=follow)


@click.command()
@click.argument("task_id", metavar="ID")
@click.option("--force", is_flag=True,
              help="For a run on another (dead) machine: record its end without killing.")
@json_option
@click.pass_context
def stop(ctx: click.Context, task_id: str, force: bool, as_json: bool) -> None:
    """Stop a task's agent run: kill its process group, record run-ended (stopped).

    Also closes a dead run (its supervisor died) and kills what is left of it.
    Runs on another machine are stopped there; --force only records their end.

    \b
    Example:
      git orch stop fix-login
    """
    ended = runner.stop(open_repo(ctx), task_id, force=force)
    if as_json:
        emit_json({"task": task_id, "ended": ended})
        return
    click.echo(f"stopped {task_id}")
    for line in describe_end(ended):
        click.echo(line)
