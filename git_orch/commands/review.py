"""`git orch review ID` and `git orch review-import ID --file VERDICT.json`."""

from __future__ import annotations

from pathlib import Path

import click

from git_orch.commands.collect import pull_first
from git_orch.errors import OrchError
from git_orch.judge import packagereview
from git_orch.judge.review import DEFAULT_GATE_TIMEOUT, record_review
from git_orch.judge.review import review as do_review
from git_orch.judge.reviewpack import import_verdict, write_pack
from git_orch.output import emit_json, json_option, open_lead_repo, open_repo


def package_or_task(task_id: str | None, package: str | None) -> None:
    """Exactly one of ID and --package."""
    if (task_id is None) == (package is None):
        raise click.UsageError("name a task ID or --package NAME (one of them)")


@click.command()
@click.argument("task_id", metavar="ID", required=False)
@click.option("--package", help="Review a closed roadmap package as a whole (with --pack).")
@click.option("--rerun-gates", is_flag=True,
              help="Re-run claimed gates (only those in the committed orch.toml) in a clean "
                   "temporary worktree of the head.")
@click.option("--gate-timeout", type=float, default=DEFAULT_GATE_TIMEOUT, show_default=True,
              help="Seconds each re-run gate may take.")
@click.option("--pack", "pack_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write a review pack for an outside reviewer into DIR.")
@json_option
@click.pass_context
def review(ctx: click.Context, task_id: str | None, package: str | None, rerun_gates: bool,
           gate_timeout: float, pack_dir: Path | None, as_json: bool) -> int:
    """Review the head of orch/ID against its base; record the verdict.

    Checks scope (every changed path, both sides of renames), modes, symlinks,
    submodules, binaries, whitespace, each commit's Orch-Task and evidence
    trailers, and that every contract gate is claimed. Verdict: pass,
    concerns or reject. Exit 0 on pass, 1 otherwise.

    With --package NAME --pack DIR (no ID): one pack for a closed package's
    combined change, from its first task's base to its last landing, with
    every task's hand-off, findings and evidence; record the outside verdict
    with review-import --package.

    \b
    Example:
      git orch review fix-login
      git orch review fix-login --rerun-gates --pack /tmp/fix-login-pack
      git orch review --package auth --pack /tmp/auth-pack
    """
    package_or_task(task_id, package)
    if package is not None:
        return _package_pack(ctx, package, rerun_gates, pack_dir, as_json)
    assert task_id is not None
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


def _package_pack(ctx: click.Context, package: str, rerun_gates: bool, pack_dir: Path | None,
                  as_json: bool) -> int:
    if pack_dir is None or rerun_gates:
        raise click.UsageError("--package goes with --pack DIR (and without --rerun-gates)")
    orepo = open_repo(ctx)
    change = packagereview.require_closed(orepo, package)
    packagereview.write_pack(orepo, change, pack_dir)
    if as_json:
        emit_json({"package": package, "base": change.base, "head": change.head,
                   "tasks": [t.contract.task_id for t in change.tasks], "pack": str(pack_dir)})
    else:
        click.echo(f"package {package}: {change.base[:12]}..{change.head[:12]}, "
                   f"{len(change.tasks)} task(s); pack written to {pack_dir}")
    return 0


@click.command("review-import")
@click.argument("task_id", metavar="ID", required=False)
@click.option("--package", help="The verdict is on this closed package (from review --package).")
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The outside reviewer's verdict JSON (schema in refs-schema.md).")
@json_option
@click.pass_context
def review_import(ctx: click.Context, task_id: str | None, package: str | None, file: Path,
                  as_json: bool) -> int:
    """Record an outside reviewer's verdict (from a --pack) on the task.

    The JSON is validated strictly and must name the branch's current head.
    The verdict counts like any review for accept.

    \b
    Example:
      git orch review fix-login --pack /tmp/pack    # give /tmp/pack to the reviewer
      git orch review-import fix-login --file /tmp/pack/verdict.json
      git orch review-import --package auth --file /tmp/auth-pack/verdict.json
    """
    package_or_task(task_id, package)
    if package is not None:
        event = packagereview.import_verdict(open_lead_repo(ctx, "review-import"), package,
                                             file)
    else:
        assert task_id is not None
        event = import_verdict(open_lead_repo(ctx, "review-import"), task_id, file)
    if as_json:
        emit_json(event)
    else:
        click.echo(f"recorded {event['verdict']} from {event['reviewer']} on "
                   f"{str(event['head'])[:12]}")
    return 0 if event["verdict"] == "pass" else 1
