from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from git_orch.commands.collect import pull_first
from git_orch.config import load_policy, worktree_root
from git_orch.errors import OrchUsageError
from git_orch.output import emit_json, json_option, open_repo, write_bytes
from git_orch.record import timefmt
from git_orch.repo import OrchRepo
from git_orch.report import repeat
from git_orch.report.board import build, remember_settled
from git_orch.report.status import collect
from git_orch.report.statuspage import write_pages
from git_orch.report.terminal import render_text


@click.command()
@click.argument("task_id", metavar="[ID]", required=False)
@click.option("--write", is_flag=True, help="Also write status.md and status.html.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for --write (default: <git common dir>/orch).")
@json_option
@click.pass_context
def status(
    ctx: click.Context, task_id: str | None, write: bool, out_dir: Path | None, as_json: bool
) -> None:
    """What needs you, what is running, what ended: read from git itself.

    The terminal, --json and the pages of --write show the same sections with
    the same counts: dispatch (mode, agent breakers, why next starts nothing),
    what needs you (each with why and the command that fixes it), running
    (a live agent run), open, recently ended, packages, heartbeat. Every task
    shows its branch, workspace, agent and last outcome, and its next command.
    Ledger lines that cannot be read are reported, never fatal. A repeated
    --json into a pipe prints the last output again while no ref, watched file
    or time-based flag changed (docs/performance.md).

    \b
    Example:
      git orch status
      git orch status fix-login --json | jq '.tasks[0].state'
      git orch status --write --out site/    # status.md + status.html
    """
    if write and task_id is not None:
        raise OrchUsageError("--write shows every task: leave out ID")
    orepo = open_repo(ctx)
    piped = as_json and not sys.stdout.isatty()
    probe = _probe(ctx, orepo) if piped and task_id is None and not write else None
    pull_first(orepo, task_id)
    board = build(collect(orepo, task_id, fast=task_id is None), whole=task_id is None)
    remember_settled(board)
    if write:
        for path in write_pages(board, out_dir or orepo.runtime_dir):
            click.echo(f"wrote {path}", err=as_json)
    if piped:  # a program reads it: compact, in pieces
        pieces: Iterator[bytes | memoryview] = itertools.chain(board.compact_json(), [b"\n"])
        if probe is not None and board.repeatable():
            pieces = probe.keep(pieces, lambda: board.generated_at, timefmt.horizon)
        write_bytes(pieces)
    elif as_json:
        emit_json(board.to_json())
    else:
        click.echo(render_text(board))


def _probe(ctx: click.Context, orepo: OrchRepo) -> repeat.Probe | None:
    """The fingerprint a repeated `status --json` checks (report/repeat.py), taken
    before anything is read; None where no output is kept (linked worktrees)."""
    folder = os.path.abspath(ctx.obj or ".")
    dirs = repeat.git_dirs(folder)
    if dirs is None or repeat.shares_git_dir(dirs):
        return None
    root = worktree_root(orepo, load_policy(orepo))
    return repeat.Probe(folder, dirs, [("names", str(root))])
