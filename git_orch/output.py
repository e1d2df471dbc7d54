"""Output helpers shared by the commands: JSON on stdout, text for people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from git_orch.repo import OrchRepo

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (see refs-schema.md)."
)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def open_repo(ctx: click.Context) -> OrchRepo:
    """The repository named by `git orch -C DIR`, or the one around the cwd."""
    directory: Path | None = ctx.find_root().obj
    return OrchRepo(directory)
