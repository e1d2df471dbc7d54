"""`git orch verify RANGE`: the CI check."""

from __future__ import annotations

import click

from git_orch.judge.verify import default_range, render_github, render_text
from git_orch.judge.verify import verify as do_verify
from git_orch.output import emit_json, open_repo


@click.command()
@click.argument("rev_range", metavar="[RANGE]", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="Report format (github: workflow ::error annotations).")
@click.option("--require-landed", is_flag=True,
              help="Also require every commit naming a task to have entered through that "
                   "task's landing (accepted head, landing commit in RANGE); "
                   "[verify] require_landed = true in orch.toml turns it on for good.")
@click.pass_context
def verify(ctx: click.Context, rev_range: str | None, fmt: str, require_landed: bool) -> int:
    """Check every non-merge commit in RANGE against its task's contract.

    A commit naming a task (Orch-Task; fetch refs/orch/* first) must name a
    known one, change only paths its contract allows, and carry well-formed
    evidence trailers; with --require-landed it must also have been accepted
    and landed by git orch. Commits without Orch-Task follow [verify]
    other_commits in orch.toml: allow (default), signed or deny. Exit 1 on
    any finding. Without RANGE (as the pre-commit hook runs it):
    $PRE_COMMIT_FROM_REF..$PRE_COMMIT_TO_REF when pre-commit sets them,
    else @{upstream}..HEAD.

    \b
    Example:
      git fetch origin '+refs/orch/*:refs/orch/*'
      git orch verify origin/main..HEAD --format github
      git orch verify "$BEFORE..$AFTER" --require-landed
    """
    result = do_verify(open_repo(ctx), rev_range or default_range(),
                       require_landed=require_landed)
    if fmt == "json":
        emit_json(result.to_json())
    elif fmt == "github":
        click.echo(render_github(result))
    else:
        click.echo(render_text(result))
    return 0 if result.ok else 1
