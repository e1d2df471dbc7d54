"""`git orch accept ID` and `git orch reject ID`: a person's decision."""

from __future__ import annotations

import click

from git_orch.commands.collect import pull_first
from git_orch.commands.sync import with_sync
from git_orch.judge.accept import accept as do_accept
from git_orch.judge.accept import reject as do_reject
from git_orch.judge.accept import unblock as do_unblock
from git_orch.output import emit_json, json_option, open_lead_repo, open_repo, override_reason


@click.command()
@with_sync
@click.argument("task_id", metavar="ID")
@click.option("--override", "override", is_flag=False, flag_value="", default=None,
              metavar="[REASON]",
              help="Accept despite concerns (a reject is never overridden); give the reason "
                   "with --reason (recorded with your name).")
@click.option("--reason", help="Why you accept despite concerns (with --override).")
@json_option
@click.pass_context
def accept(ctx: click.Context, task_id: str, override: str | None, reason: str | None,
           as_json: bool) -> None:
    """Accept the reviewed head of orch/ID (ready to land).

    Every verdict on the branch's current head counts: git-orch's own review
    must be there, any reject refuses, concerns need --override --reason, and
    [review] required_external = N asks for N imported pass verdicts.

    \b
    Example:
      git orch review fix-login && git orch accept fix-login
      git orch accept fix-login --override --reason "blocked device test checked by hand"
    """
    override = override_reason(override, reason)
    orepo = open_lead_repo(ctx, "accept")
    pull_first(orepo, task_id)
    event = do_accept(orepo, task_id, override)
    if as_json:
        emit_json(event)
    else:
        extra = f" overriding {event['verdict']}" if event.get("override") else ""
        click.echo(f"accepted {task_id} at {str(event['head'])[:12]}{extra}")


@click.command()
@with_sync
@click.argument("task_id", metavar="ID")
@click.option("--reason", required=True, help="What the worker must fix.")
@json_option
@click.pass_context
def reject(ctx: click.Context, task_id: str, reason: str, as_json: bool) -> None:
    """Send the task back to its worker (state rejected; it may hand off again).

    \b
    Example:
      git orch reject fix-login --reason "touches migrations/; add a test for the redirect"
    """
    orepo = open_lead_repo(ctx, "reject")
    pull_first(orepo, task_id)
    event = do_reject(orepo, task_id, reason)
    if as_json:
        emit_json(event)
    else:
        click.echo(f"rejected {task_id}: {event['reason']}")


@click.command()
@with_sync
@click.argument("task_id", metavar="ID")
@click.option("--note", required=True, help="The answer the worker was waiting for.")
@json_option
@click.pass_context
def unblock(ctx: click.Context, task_id: str, note: str, as_json: bool) -> None:
    """Let a blocked task go on (state active), recording the person's answer.

    The worker (or a new agent run) continues on the same branch and hands off
    as usual.

    \b
    Example:
      git orch unblock fix-login --note "use the staging token in the vault"
    """
    event = do_unblock(open_repo(ctx), task_id, note)
    if as_json:
        emit_json(event)
    else:
        click.echo(f"unblocked {task_id}: {event['note']}")
