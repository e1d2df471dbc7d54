"""`git orch hooks install|uninstall|status`: the worker guardrails."""

from __future__ import annotations

import click

from git_orch.config import load_policy
from git_orch.init import enable_worktree_config
from git_orch.output import emit_json, json_option, open_lead_repo, open_repo
from git_orch.record.tasks import load_task
from git_orch.repo import OrchRepo
from git_orch.sanitize import clean
from git_orch.workspace import tamper, workerhooks

task_option = click.option(
    "--task", "task_id",
    help="Task id (default: this worker worktree's; from the main worktree: every worker).",
)


@click.group()
def hooks() -> None:
    """Worker guardrails: git hooks that refuse what a worker must not do.

    In a worker worktree they refuse pushes, merges, moving any ref but the
    task's own branch, tags, staged paths outside the contract, and add the
    Orch-Task trailer. The main worktree is never affected. `git orch start`
    installs them; see docs/hooks.md for what they cannot stop.

    \b
    Example:
      git orch hooks status --json
      git orch hooks install --task fix-login
    """


@hooks.command()
@task_option
@json_option
@click.pass_context
def install(ctx: click.Context, task_id: str | None, as_json: bool) -> None:
    """Install (or refresh) the hooks in worker worktrees.

    Copies the hooks to <common dir>/orch/hooks, caches the task's
    Orch-Allow/Orch-Forbid patterns in the worktree's config and sets its
    per-worktree core.hooksPath.

    It also repairs what a worker may have disarmed: switches
    extensions.worktreeConfig back on, removes files git-orch did not put in
    its hooks folder, and records the repository's hook files and
    program-running config as seen (run it after checking what `hooks
    status` reported; a program in a worker's config stays reported).

    \b
    Example:
      git orch hooks install               # every worker worktree
      git orch hooks install --task fix-login
    """
    orepo = open_repo(ctx)
    before = workerhooks.findings(orepo)
    enable_worktree_config(orepo)
    done = []
    for task, path in workerhooks.worker_worktrees(orepo, task_id):
        contract = load_task(orepo, task).contract
        owner = workerhooks.hooks_owner(orepo, path)
        workerhooks.install(owner.common_dir, path, task, contract.allow, contract.forbid)
        done.append(workerhooks.inspect(owner, path, task))
    tamper.mark_hooks_off(orepo, [w.task for w in done], off=False)
    removed = workerhooks.remove_foreign(orepo)
    tamper.accept(orepo, load_policy(orepo).main_branch)
    after = workerhooks.findings(orepo)
    repaired = [f for f in before if f.key not in {a.key for a in after}]
    _report(orepo, done, as_json, "installed", repaired, after, removed)


def _report(
    orepo: OrchRepo, done: list[workerhooks.WorkerHooks], as_json: bool, verb: str,
    repaired: list[tamper.Finding] | None = None, left: list[tamper.Finding] | None = None,
    removed: list[str] | None = None,
) -> None:
    if as_json:
        emit_json({"hooks_dir": str(workerhooks.hooks_dir(orepo)),
                   "workers": [w.to_json() for w in done],
                   "repaired": [f.to_json() for f in repaired or []],
                   "removed": removed or [],
                   "findings": [f.to_json() for f in left or []]})
        return
    if not done:
        click.echo("no worker worktrees")
    for worker in done:
        click.echo(f"{verb} hooks for {worker.task} in {worker.worktree}")
    for name in removed or []:
        click.echo(f"removed {clean(name)} from {workerhooks.hooks_dir(orepo)} "
                   "(not git-orch's)")
    for finding in repaired or []:
        click.echo(f"repaired: {_describe(finding)}")
    _needs_you(left or [])


def _describe(finding: tamper.Finding) -> str:
    who = f"{finding.task}: " if finding.task else ""
    return clean(f"{who}{finding.what}")


def _needs_you(found: list[tamper.Finding]) -> None:
    if found:
        click.echo(f"Needs you ({len(found)})")
    for finding in found:
        click.echo(f"  [{finding.kind}] {_describe(finding)}")
        click.echo(f"    then: {clean(finding.fix)}")


@hooks.command()
@task_option
@json_option
@click.pass_context
def uninstall(ctx: click.Context, task_id: str | None, as_json: bool) -> None:
    """Switch the hooks off in worker worktrees (the worker marker stays).

    \b
    Example:
      git orch hooks uninstall --task fix-login
    """
    orepo = open_lead_repo(ctx, "hooks uninstall")
    done = []
    for task, path in workerhooks.worker_worktrees(orepo, task_id):
        workerhooks.uninstall(path)
        done.append(workerhooks.inspect(workerhooks.hooks_owner(orepo, path), path, task))
    tamper.mark_hooks_off(orepo, [w.task for w in done], off=True)
    _report(orepo, done, as_json, "removed")


@hooks.command()
@task_option
@json_option
@click.pass_context
def status(ctx: click.Context, task_id: str | None, as_json: bool) -> None:
    """Show whether each worker's hooks are on, its cached rules, and chained hooks.

    Lists under "Needs you" what a worker may have done to the shared git
    dir: hooks disarmed (extensions.worktreeConfig off, a changed
    core.hooksPath), a program in core.fsmonitor, hook files or
    program-running config changed since git-orch last looked.

    \b
    Example:
      git orch hooks status
      git orch hooks status --task fix-login --json
    """
    orepo = open_repo(ctx)
    workers = [
        workerhooks.inspect(workerhooks.hooks_owner(orepo, path), path, task)
        for task, path in workerhooks.worker_worktrees(orepo, task_id)
    ]
    current = workerhooks.deployed_current(orepo)
    found = workerhooks.findings(orepo)
    if as_json:
        emit_json({
            "hooks_dir": str(workerhooks.hooks_dir(orepo)),
            "hooks_current": current,
            "workers": [w.to_json() for w in workers],
            "findings": [f.to_json() for f in found],
        })
        return
    click.echo(f"hooks folder: {workerhooks.hooks_dir(orepo)}"
               + ("" if current else " (missing or outdated: run git orch hooks install)"))
    if not workers:
        click.echo("no worker worktrees")
    for w in workers:
        state = "on" if w.installed else "OFF"
        click.echo(f"{w.task}: hooks {state} in {w.worktree}")
        if w.allow:
            click.echo(f"  allow: {', '.join(w.allow)}")
        if w.forbid:
            click.echo(f"  forbid: {', '.join(w.forbid)}")
        if w.chained:
            click.echo(f"  runs the repository's own: {', '.join(w.chained)} "
                       f"(from {w.repo_hooks_dir})")
        if w.unchained:
            click.echo(f"  NOT run (added after install): {', '.join(w.unchained)}: "
                       "run git orch hooks install")
    _needs_you(found)
