"""Output helpers shared by the commands: JSON on stdout, text for people."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import click

from git_orch.echo import emit_json as emit_json  # the commands' JSON printer
from git_orch.record.ledger import warn_stale_lock
from git_orch.repo import OrchRepo

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (see refs-schema.md)."
)


def write_bytes(pieces: Iterable[bytes | memoryview]) -> None:
    """Pieces of ASCII to stdout as they are, without joining or decoding them (a text
    stream without a buffer, as in tests, gets them decoded)."""
    out = getattr(sys.stdout, "buffer", None)
    if out is None:
        sys.stdout.write(b"".join(pieces).decode("ascii"))
        return
    sys.stdout.flush()
    out.writelines(pieces)
    out.flush()


def open_repo(ctx: click.Context) -> OrchRepo:
    """The repository named by `git orch -C DIR`, or the one around the cwd.

    Opened once per command line: --sync's wrapper and the command share it, so
    its git calls are not paid twice."""
    directory: Path | None = ctx.find_root().obj
    opened = ctx.meta.get(_OPENED)
    if isinstance(opened, OrchRepo):
        return opened
    orepo = OrchRepo(directory)
    warn_stale_lock(orepo)
    ctx.meta[_OPENED] = orepo
    return orepo


_OPENED = "git_orch.repo"


def open_lead_repo(ctx: click.Context, command: str) -> OrchRepo:
    """open_repo for a lead-only command: refused in a worker context (roles.py)."""
    from git_orch.workspace.roles import refuse_in_worker  # only lead commands pay for it

    orepo = open_repo(ctx)
    refuse_in_worker(orepo, command)
    return orepo


def override_reason(override: str | None, reason: str | None) -> str | None:
    """The reason of `--override REASON` or of `--override --reason REASON` (accept, land)."""
    if reason is not None and override is None:
        raise click.UsageError("--reason goes with --override")
    if override is not None and reason is not None:
        if override.strip():
            raise click.UsageError("give the reason once: --override --reason REASON")
        return reason
    return override
