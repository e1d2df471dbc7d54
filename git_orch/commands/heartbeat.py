from __future__ import annotations

import time

import click

from git_orch.commands.collect import pull_first
from git_orch.config import parse_duration
from git_orch.errors import OrchUsageError
from git_orch.output import emit_json, json_option, open_repo
from git_orch.sanitize import clean
from git_orch.workspace.heartbeat import DEFAULT_INTERVAL, BeatReport, beat


def _print(report: BeatReport, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_json())
        return
    for change in report.changes:
        now = ", ".join(change["flags"]) or "no flags"
        was = ", ".join(change["was"]) or "no flags"
        click.echo(f"{change['task']}: {now} (was {was})")
    for line in report.repairs:
        click.echo(f"repair: {line}")
    for line in report.damage:
        click.echo(f"ledger damage: {clean(line)}")
    for orphan in report.orphans:
        click.echo(f"orphan {orphan['kind']} {orphan['name']}: {orphan['detail']}")
    for finding in report.tampering:
        who = finding["task"] or "repository"
        click.echo(f"needs you: {clean(who)} [{finding['kind']}] {clean(finding['what'])} "
                   f"(then: {clean(finding['fix'])})")
    for finding in report.target:
        click.echo(f"needs you: {clean(finding['message'])}")
    click.echo(f"heartbeat {report.at}: {report.tasks} task(s), "
               f"{len(report.changes)} change(s), {len(report.repairs)} repair(s)")


@click.command()
@click.option("--once", is_flag=True, help="One beat, then exit (for cron or CI).")
@click.option("--interval", default=str(DEFAULT_INTERVAL), show_default=True,
              help="Time between beats (s, m, h, d); status reports a beat missed after 3.")
@click.option("--repair", is_flag=True,
              help="Prune, clean up, restore and adopt what it safely can; list each action.")
@json_option
@click.pass_context
def heartbeat(ctx: click.Context, once: bool, interval: str, repair: bool, as_json: bool) -> int:
    """Reconcile the ledger with the repository, once or every INTERVAL.

    Flags each task from repo truth (stale-needs-inspection, cleanup-needed,
    dirty, orphan) and records a `flagged` event only when a task's flags
    change: a quiet beat writes nothing to the ledger. The time of the beat is
    kept in <git common dir>/orch/heartbeat.json.

    \b
    Example:
      git orch heartbeat --once --repair
      git orch heartbeat --interval 5m      # until Ctrl-C
    """
    seconds = int(parse_duration(interval))
    if seconds <= 0:
        raise OrchUsageError("--interval must be positive")
    orepo = open_repo(ctx)
    while True:
        pull_first(orepo)
        _print(beat(orepo, interval=seconds, do_repair=repair), as_json)
        if once:
            return 0
        try:
            time.sleep(seconds)
        except KeyboardInterrupt:
            return 0
