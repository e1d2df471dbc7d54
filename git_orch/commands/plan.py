from __future__ import annotations

import click

from git_orch import roadmap
from git_orch.config import load_policy
from git_orch.output import emit_json, json_option, open_lead_repo, open_repo


@click.group()
def plan() -> None:
    """The roadmap in orch.toml: packages of tasks, in the order of work.

    \b
    Example:
      git orch plan add --package auth --task login-form --title "Login form" \\
          --allow 'src/auth/**' --gate "pytest tests/auth"
      git orch plan show --json
    """


@plan.command()
@click.option("--package", required=True, help="Package (created at the end if new).")
@click.option("--task", "task_id", required=True, help="Task id.")
@click.option("--title", required=True, help="One line saying what the task delivers.")
@click.option("--body", default="", help="Longer description for the contract.")
@click.option("--allow", multiple=True, help="Pathspec the task may change (repeatable).")
@click.option("--forbid", multiple=True, help="Pathspec the task must not change (repeatable).")
@click.option("--gate", multiple=True, help="Check the worker must pass (repeatable).")
@click.option("--depends-on", multiple=True, help="Task that must land first (repeatable).")
@click.option("--agent", help="Agent preset that runs it when next --start starts it.")
@click.option("--non-goal", multiple=True, help="What the task must not do (repeatable).")
@click.option("--pointer", multiple=True, help="A path or URL worth reading first (repeatable).")
@click.option("--decision", multiple=True, help="A decision already made (repeatable).")
@click.pass_context
def add(ctx: click.Context, package: str, task_id: str, title: str, body: str,
        allow: tuple[str, ...], forbid: tuple[str, ...], gate: tuple[str, ...],
        depends_on: tuple[str, ...], agent: str | None, non_goal: tuple[str, ...],
        pointer: tuple[str, ...], decision: tuple[str, ...]) -> None:
    """Add a task to the roadmap (orch.toml keeps its comments and layout).

    \b
    Example:
      git orch plan add --package auth --task logout --title "Logout button" \\
          --allow 'src/auth/**' --depends-on login-form --agent codex \\
          --non-goal "no new session store" --pointer docs/auth.md \\
          --decision "sessions stay server-side"

    Non-goals, pointers and decisions are the task's context pack: the
    envelope of every run shows them to the agent.
    """
    orepo = open_lead_repo(ctx, "plan add")
    roadmap.plan_add(orepo, roadmap.PlannedTask(
        id=task_id, title=title, package=package, body=body, allow=list(allow),
        forbid=list(forbid), gates=list(gate), depends_on=list(depends_on), agent=agent,
        non_goals=list(non_goal), pointers=list(pointer), decisions=list(decision)))
    click.echo(f"planned {task_id} in package {package} (commit orch.toml to share it)")


@plan.command()
@json_option
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """List the roadmap's packages and tasks.

    \b
    Example:
      git orch plan show --json
    """
    packages = roadmap.load(load_policy(open_repo(ctx)))
    if as_json:
        emit_json({"packages": [{"name": p.name, "tasks": [t.to_json() for t in p.tasks]}
                                for p in packages]})
        return
    if not packages:
        click.echo("the roadmap is empty (git orch plan add)")
    for package in packages:
        click.echo(f"{package.name}")
        for task in package.tasks:
            deps = f" after {', '.join(task.depends_on)}" if task.depends_on else ""
            click.echo(f"  {task.id:<16} {task.title}{deps}")
