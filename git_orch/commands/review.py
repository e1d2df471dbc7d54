"""`git orch review ID` and `git orch review-import ID --file VERDICT.json`."""

from __future__ import annotations

from pathlib import Path

import click

from git_orch.commands.collect import pull_first
from git_orch.errors import OrchError
from git_orch.judge.review import DEFAULT_GATE_TIMEOUT, record_review
from git_orch.judge.review import review as do_review
from git_orch.judge.reviewpack import import_verdict, write_pack
from git_orch.output import emit_json, json_option, open_lead_repo, open_repo


@click.command()
@click.argument("task_id", metavar="ID")
@click.option("--rerun-gates", is_flag=True,
              help="Re-run claimed gates (only those in the committed orch.toml) in a clean "
                   "temporary worktree of the head.")
@click.option("--gate-timeout", type=float, default=DEFAULT_GATE_TIMEOUT, show_default=True,
              help="Seconds each re-run gate may take.")
@click.option("--pack", "pack_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write a review pack for an outside reviewer into DIR.")
@json_option
@click.pass_context
def review(ctx: click.Context, task_id: str, rerun_gates: bool, gate_timeout: float,
           pack_dir: Path | None, as_json: bool) -> int:
    """Review the head of orch/ID against its base; record the verdict.

    Checks scope (every changed path, both sides of renames), modes, symlinks,
    submodules, binaries, whitespace, each commit's Orch-Task and evidence
    trailers, and that every contract gate is claimed. Verdict: pass,
    concerns or reject. Exit 0 on pass, 1 otherwise.

    \b
    Example:
      git orch review fix-login
      git orch review fix-login --rerun-gates --pack /tmp/fix-login-pack
    """
    if not 0 < gate_timeout <= 86400:  # also refuses nan and inf
        raise OrchError("--gate-timeout must be a number of seconds from 0 to 86400")
    orepo = open_repo(ctx)
    pull_first(orepo, task_id)
    result = do_review(orepo, task_id, rerun_gates=rerun_gates, gate_timeout=gate_timeout)
    if pack_dir is not None:
        write_pack(orepo, result, pack_dir)  # before recording: a failed pack records nothing
    event = record_review(orepo, result)
    if as_json:
        emit_json({**result.to_json(), "event": event["id"],
                   "pack": str(pack_dir) if pack_dir else None})
    else:
        click.echo(f"review {task_id} {result.head[:12]} (base {result.base[:12]}, "
                   f"{len(result.commits)} commits, {len(result.changes)} files)")
        for finding in result.findings:
            click.echo(f"  {finding.render()}")
        for run in result.gates:
            click.echo(f"  gate {'passed' if run.passed else 'FAILED'}: {run.command} "
                       f"({run.seconds:.1f}s)")
        if pack_dir is not None:
            click.echo(f"pack written to {pack_dir}")
        click.echo(f"verdict: {result.verdict}")
    return 0 if result.verdict == "pass" else 1


@click.command("review-import")
@click.argument("task_id", metavar="ID")
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The outside reviewer's verdict JSON (schema in refs-schema.md).")
@json_option
@click.pass_context
def review_import(ctx: click.Context, task_id: str, file: Path, as_json: bool) -> int:
    """Record an outside reviewer's verdict (from a --pack) on the task.

    The JSON is validated strictly and must name the branch's current head.
    The verdict counts like any review for accept.

    \b
    Example:
      git orch review fix-login --pack /tmp/pack    # give /tmp/pack to the reviewer
      git orch review-import fix-login --file /tmp/pack/verdict.json
    """
    event = import_verdict(open_lead_repo(ctx, "review-import"), task_id, file)
    if as_json:
        emit_json(event)
    else:
        click.echo(f"recorded {event['verdict']} from {event['reviewer']} on "
                   f"{str(event['head'])[:12]}")
    return 0 if event["verdict"] == "pass" else 1
