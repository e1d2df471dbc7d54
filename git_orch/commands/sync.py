"""`git orch sync`, and `--sync` for commands that write the ledger."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from git_orch.config import syncs_by_default
from git_orch.errors import OrchError
from git_orch.output import emit_json, json_option, open_repo
from git_orch.repo import OrchRepo
from git_orch.sanitize import clean

if TYPE_CHECKING:  # git_orch.sync (and pygit2) is loaded only when a sync runs
    from git_orch.sync import SyncResult

F = TypeVar("F", bound=Callable[..., Any])


def _summary(result: SyncResult) -> list[str]:
    lines = [f"warning: {clean(w)}" for w in result.warnings]
    what = {
        "up-to-date": "ledger already up to date",
        "fast-forward": "ledger fast-forwarded",
        "merged": "ledgers merged",
        "ahead": "local ledger ahead",
    }.get(result.outcome, result.outcome)
    parts = [f"sync with {clean(result.remote)}: {what}"]
    if result.imported_tasks:
        parts.append(f"{len(result.imported_tasks)} new task(s) here")
    if result.pushed_tasks:
        parts.append(f"{len(result.pushed_tasks)} task(s) sent")
    parts.append("pushed" if result.pushed else "nothing to push")
    if result.conflicts:
        lines.append(
            f"conflict in {', '.join(result.conflicts)}: decisions disagree "
            "(git orch status, git orch show ID)"
        )
    if result.attempts > 1:
        parts.append(f"{result.attempts} attempts")
    lines.insert(len(result.warnings), ", ".join(parts))
    return lines


@click.command()
@click.argument("remote", required=False)
@json_option
@click.pass_context
def sync(ctx: click.Context, remote: str | None, as_json: bool) -> None:
    """Merge the ledger and task refs with a remote's, then push them back.

    Fetches the remote's refs/orch/* into refs/orch-remote/REMOTE/*, merges
    the ledgers (union of event lines), creates task refs that are new here,
    and pushes refs/orch/ledger and new task refs fast-forward only, atomically.
    Retries when the remote moved meanwhile. Refuses (changing nothing) when
    one task id names two different contracts. REMOTE defaults to [sync]
    remote in orch.toml, else the main branch's upstream remote, else origin.

    \b
    Example:
      git orch sync
      git orch sync backup --json | jq .outcome
    """
    from git_orch.sync import sync as do_sync

    result = do_sync(open_repo(ctx), remote)
    if as_json:
        emit_json(result.to_json())
        return
    for line in _summary(result):
        click.echo(line, err=line.startswith("warning:"))


def _run_sync(orepo: OrchRepo, when: str) -> None:
    from git_orch.sync import sync as do_sync

    try:
        result = do_sync(orepo)
    except OrchError as exc:
        if when == "after":
            raise OrchError(f"recorded here, but sync failed: {exc} (run git orch sync)") from None
        raise OrchError(f"sync before writing failed, nothing written: {exc}") from None
    for line in _summary(result):
        click.echo(line, err=True)


def with_sync(command: F) -> F:
    """Add --sync/--no-sync: sync before the command (fresh state) and after it (share it).

    The default comes from orch.toml `[sync] auto` (never in a clone workspace,
    whose work the lead collects). Sync messages go to stderr so
    --json output stays clean.
    """

    @click.option(
        "--sync/--no-sync",
        "sync_mode",
        default=None,
        help="Sync with the remote before and after (default: orch.toml [sync] auto).",
    )
    @functools.wraps(command)
    def wrapper(*args: Any, sync_mode: bool | None, **kwargs: Any) -> Any:
        orepo = open_repo(click.get_current_context())
        enabled = syncs_by_default(orepo) if sync_mode is None else sync_mode
        if enabled:
            _run_sync(orepo, "before")
        value = command(*args, **kwargs)
        if enabled:
            _run_sync(orepo, "after")
        return value

    return wrapper  # type: ignore[return-value]
