"""Eval fixtures: `git orch fixture add ID` and `git orch eval`."""

from __future__ import annotations

import click

from git_orch.judge import fixtures
from git_orch.output import emit_json, json_option, open_lead_repo, open_repo
from git_orch.sanitize import clean


@click.group()
def fixture() -> None:
    """Keep a caught failure as a regression case for the policy (see git orch eval).

    \b
    Example:
      git orch fixture add fix-login --note "claimed prod from a local test"
    """


@fixture.command()
@click.argument("task_id", metavar="ID")
@click.option("--name", help="Fixture name (default: the task id).")
@click.option("--note", help="Why this failure matters (one line).")
@json_option
@click.pass_context
def add(ctx: click.Context, task_id: str, name: str | None, note: str | None,
        as_json: bool) -> None:
    """Store the task's latest review that did not pass as refs/orch/fixtures/NAME.

    Keeps the contract, the reviewed commits and the rules that caught the
    failure (reject and concern findings), so git orch eval can check that
    today's rules still catch it.

    \b
    Example:
      git orch fixture add fix-login --note "claimed prod from a local test"
      git push origin 'refs/orch/fixtures/*'    # for CI
    """
    found = fixtures.add(open_lead_repo(ctx, "fixture add"), task_id, name, note)
    if as_json:
        emit_json(found.to_json())
    else:
        click.echo(f"fixture {found.name}: task {found.task}, {found.base[:12]}.."
                   f"{found.head[:12]}, expects {', '.join(found.expected)}")


@click.command("eval")
@json_option
@click.pass_context
def eval_(ctx: click.Context, as_json: bool) -> int:
    """Replay every fixture against the current rules and orch.toml.

    Exit 0 when every fixture is still caught by all the rules that caught
    it when stored; 1 when one is not (or a fixture cannot be read).

    \b
    Example:
      git fetch origin 'refs/orch/fixtures/*:refs/orch/fixtures/*'
      git orch eval --json
    """
    replays, problems = fixtures.run_eval(open_repo(ctx))
    ok = not problems and all(r.ok for r in replays)
    if as_json:
        emit_json({"ok": ok, "fixtures": [r.to_json() for r in replays], "problems": problems})
        return 0 if ok else 1
    for replay in replays:
        name = clean(replay.fixture.name)
        if replay.error:
            click.echo(f"ERROR {name}: {clean(replay.error)}")
        elif replay.missing:
            click.echo(f"MISSED {name}: no longer caught by {clean(', '.join(replay.missing))}")
        else:
            click.echo(f"ok {name}: caught by {clean(', '.join(replay.fixture.expected))}")
    for problem in problems:
        click.echo(f"ERROR {clean(problem)}")
    click.echo(f"{sum(r.ok for r in replays)}/{len(replays)} fixture(s) still caught")
    return 0 if ok else 1


eval = eval_  # noqa: A001 - the command is `git orch eval`; cli looks it up by that name
