from __future__ import annotations

import click

from git_orch import roadmap
from git_orch.agent import runner
from git_orch.config import load_policy
from git_orch.errors import OrchError
from git_orch.output import emit_json, json_option, open_lead_repo, open_repo
from git_orch.workspace.start import StartRequest


@click.command(name="next")
@click.option("--start", "do_start", is_flag=True,
              help="Start the recommended task (and its agent, if the roadmap names one).")
@json_option
@click.pass_context
def next_task(ctx: click.Context, do_start: bool, as_json: bool) -> int:
    """Recommend the next roadmap task, or say why there is none.

    Stays in the current package until all its tasks ended, respects
    max_active, never picks a task whose write set may overlap a live task's
    (a task without allow may write anywhere, so it overlaps every live one),
    waits for dependencies to land, starts nothing while dispatch is drain
    or paused, nor in a package that has spent its budget ([budget]). When
    nothing is recommended it says why (exit status 0 either way; with
    --json, "task" is null and "reasons" explains).

    \b
    Example:
      git orch next
      git orch next --start --json
    """
    orepo = open_lead_repo(ctx, "next --start") if do_start else open_repo(ctx)
    rec = roadmap.recommend(orepo)
    task = rec.task
    if task is not None:
        try:  # a package that spent its budget gets no new task
            runner.check_budget(orepo, load_policy(orepo), None, task.id, None, task.package)
        except OrchError as exc:
            rec.task, rec.reasons = None, [*rec.reasons, str(exc)]
            task = None
    if task is not None and do_start:
        req = StartRequest(task_id=task.id, title=task.title, body=task.body,
                           package=task.package, allow=task.allow, forbid=task.forbid,
                           gates=task.gates)
        _, result = runner.start_and_run(orepo, req, task.agent)
        rec.started = True
        rec.run = result.to_json() if result else None
    if as_json:
        emit_json(rec.to_json())
    elif task is None:
        click.echo("nothing to start:")
        for reason in rec.reasons:
            click.echo(f"  {reason}")
    else:
        verb = "started" if rec.started else "next"
        agent = f" (agent {task.agent})" if task.agent else ""
        click.echo(f"{verb}: {task.id} in package {task.package}{agent} - {task.title}")
        if rec.run:
            click.echo(f"  agent pid {rec.run['pid']}, log {rec.run['log']}")
        elif not rec.started:
            click.echo("  start it with: git orch next --start")
    return 0


next = next_task  # noqa: A001 - the CLI looks commands up by name
