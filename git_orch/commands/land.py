"""Finishing a task: land (merge, push, clean up) or abandon."""

from __future__ import annotations

import click

from git_orch.commands.collect import pull_first
from git_orch.commands.sync import with_sync
from git_orch.errors import OrchError
from git_orch.judge import packagereview
from git_orch.landing.land import STRATEGIES
from git_orch.landing.land import abandon as do_abandon
from git_orch.landing.land import land as do_land
from git_orch.output import emit_json, json_option, open_lead_repo, override_reason
from git_orch.repo import OrchRepo
from git_orch.sanitize import clean
from git_orch.workspace import tamper, workerhooks


@click.command()
@with_sync
@click.argument("task_id", metavar="ID")
@click.option("--merge", "strategy", flag_value="merge", help="A merge commit (default).")
@click.option("--squash", "strategy", flag_value="squash", help="One commit with the task's tree.")
@click.option("--ff", "strategy", flag_value="ff", help="Fast-forward only.")
@click.option("--push/--no-push", default=None,
              help="Push the target and refs/orch atomically ([land].push).")
@click.option("--keep-worktree", is_flag=True,
              help="Leave the worktree and branch; land ID again later cleans up.")
@click.option("--override", "override", is_flag=False, flag_value="", default=None,
              metavar="[REASON]",
              help="Land even though the target was rewritten (a landed tip is gone from "
                   "it); give the reason with --reason (recorded).")
@click.option("--reason", help="Why you land on a rewritten target (with --override).")
@json_option
@click.pass_context
def land(
    ctx: click.Context,
    task_id: str,
    strategy: str | None,
    push: bool | None,
    keep_worktree: bool,
    override: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Merge an accepted task into the main branch, push, and clean up.

    Works whether or not the main branch is checked out (a clean checkout is
    moved along). Refuses, changing nothing, when the task is not accepted for
    its current head, the merge conflicts, or the checkout is dirty or mid-merge.
    Each step is recorded; after a failure, run the same command again to
    finish. Defaults come from the [land] table of orch.toml. Refuses a main
    that no longer contains an earlier landing (target-rewritten) unless
    --override --reason, and while `git orch hooks status` reports the
    guardrails disarmed or a planted program (for the repository, or blamed
    on this task): land runs the repository's hooks. The last line says
    whether the work was pushed.

    \b
    Example:
      git orch land fix-login
      git orch land fix-login --squash --push --json
      git orch land fix-login --override --reason "t1 reverted on purpose"
    """
    assert strategy is None or strategy in STRATEGIES
    override = override_reason(override, reason)
    orepo = open_lead_repo(ctx, "land")
    pull_first(orepo, task_id)
    _refuse_tampered(orepo, task_id)
    result = do_land(orepo, task_id, strategy=strategy, push=push,
                     keep_worktree=keep_worktree, override=override,
                     worktrees=orepo.worktrees)  # listed as this command opened the repository
    if result.commit and result.steps:  # landed now: did that close its package?
        packagereview.notify_if_closed(orepo, task_id)
    if as_json:
        emit_json(result.to_json())
        return
    if not result.steps:
        click.echo(f"{task_id} is {result.state}: nothing left to do")
    for step in result.steps:
        click.echo(f"{task_id}: {step}")
    if result.commit:
        click.echo(f"{result.target} at {result.commit[:12]} ({result.strategy}); "
                   f"task {result.state}")
    if result.push_line not in result.steps:  # said once, even when nothing was left to do
        click.echo(result.push_line)


@click.command()
@with_sync
@click.argument("task_id", metavar="ID")
@click.option("--reason", required=True, help="Why the task stops without landing.")
@click.option("--discard-changes", is_flag=True,
              help="Remove the worktree even with uncommitted changes (they are lost).")
@json_option
@click.pass_context
def abandon(
    ctx: click.Context, task_id: str, reason: str, discard_changes: bool, as_json: bool
) -> None:
    """Stop a task without merging: remove its worktree and branch, keep its commits.

    The branch head is kept at refs/orch/archive/ID (and in the abandoned
    event), so `git log refs/orch/archive/ID` still shows the work.

    \b
    Example:
      git orch abandon fix-login --reason "superseded by fix-auth"
    """
    orepo = open_lead_repo(ctx, "abandon")
    pull_first(orepo, task_id)
    result = do_abandon(orepo, task_id, reason, discard=discard_changes)
    if as_json:
        emit_json(result.to_json())
        return
    for step in result.steps:
        click.echo(f"{task_id}: {step}")


def _refuse_tampered(orepo: OrchRepo, task_id: str) -> None:
    """Land runs the lead's git (hooks, fsmonitor, config) in a git dir workers
    can write: not while something there changed behind git-orch's back. A
    commit on the target without Orch-Task is only reported (status): it may
    well be the person's own, and land neither runs nor hides it."""
    found = [f for f in workerhooks.findings(orepo)
             if f.task in (None, task_id) and f.kind != tamper.TARGET_MOVED]
    if found:
        first = found[0]
        more = f"; {len(found) - 1} more: git orch hooks status" if len(found) > 1 else ""
        raise OrchError(clean(f"refusing to land {task_id}: [{first.kind}] {first.what} "
                              f"(then: {first.fix}){more}"))
