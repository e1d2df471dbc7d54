"""The `git orch` command line: a thin click group over plain functions.

Every command lives in git_orch/commands/<name>.py as `command` and is loaded
only when used. Errors become exit codes in `main`: click's own here, the rest
in failure.py (0 ok, 1 refusal or user mistake, 2 usage, 3 a bug).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from git_orch import __version__
from git_orch.failure import exit_code

# Command name -> module under git_orch.commands (kept in help order).
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "init": "init",
    "start": "start",
    "status": "status",
    "show": "show",
    "handoff": "worker",
    "block": "worker",
    "review": "review",
    "review-import": "review",
    "fixture": "fixture",
    "eval": "fixture",
    "accept": "decide",
    "reject": "decide",
    "unblock": "decide",
    "verify": "verify",
    "land": "land",
    "abandon": "land",
    "heartbeat": "heartbeat",
    "hooks": "hooks",
    "run": "run",
    "logs": "run",
    "stop": "run",
    "plan": "plan",
    "next": "next",
    "dispatch": "dispatch",
    "sync": "sync",
    "ledger": "ledger",
    "collect": "collect",
    "help": "help",
    "completion": "completion",
}


class LazyGroup(click.Group):
    """Import a command's module only when that command runs (or help lists it)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"git_orch.commands.{module_name}")
        command = getattr(module, cmd_name.replace("-", "_"))
        assert isinstance(command, click.Command)
        for param in command.params:  # `git orch land <TAB>` offers the task ids
            if param.name == "task_id" and param._custom_shell_complete is None:
                param._custom_shell_complete = complete_task_ids
        return command


def complete_task_ids(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[str]:
    """Task ids under refs/orch/tasks/ of the repository around the cwd (none outside one)."""
    try:
        from git_orch.repo import OrchRepo

        ids = OrchRepo(ctx.find_root().params.get("directory")).refs_under("refs/orch/tasks/")
    except Exception:  # noqa: BLE001 - completion must never print a traceback
        return []
    return sorted(i for i in ids if i.startswith(incomplete))


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Run as if started in DIR (like git -C).",
)
@click.version_option(__version__, prog_name="git-orch")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None) -> None:
    """git-orch: supervise AI coding agents working in git worktrees.

    All state lives in git: task contracts under refs/orch/tasks/*, the event
    ledger as notes in refs/orch/ledger, policy in orch.toml.

    \b
    Typical loop:
      git orch init
      git orch start fix-login --title "Fix login redirect" --allow 'src/auth/**'
      git orch status
      git orch show fix-login
    """
    ctx.obj = directory
    from git_orch.record.ledger import REFLOG_COMMAND

    REFLOG_COMMAND[0] = f"git orch {ctx.invoked_subcommand or ''}".rstrip()
    global _start_dir
    _start_dir = directory


_start_dir: Path | None = None  # -C DIR, so a crash log lands in that repository


def _show_usage_error(exc: click.UsageError) -> None:
    """Usage, then a help command that works (`git orch --help` needs the man pages)."""
    words = exc.ctx.command_path.split()[2:] if exc.ctx is not None else []
    if exc.ctx is not None:
        click.echo(exc.ctx.get_usage(), err=True)
    click.echo(f"Try '{' '.join(['git orch help', *words])}' for help.\n", err=True)
    click.echo(f"Error: {exc.format_message()}", err=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by tests and the console script)."""
    global _start_dir
    _start_dir = None
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="git orch", standalone_mode=False,
                          complete_var="_GIT_ORCH_COMPLETE")
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("git-orch: aborted", err=True)
        return 1
    except click.UsageError as exc:
        _show_usage_error(exc)
        return 2
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - failure.py maps the rest
        return exit_code(exc, _start_dir)
    return result if isinstance(result, int) else 0

