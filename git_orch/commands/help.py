"""`git orch help [COMMAND...]`: the help of a command, where `--help` would open a man page.

git turns `git orch --help` into `git help orch`, which needs the man pages
the wheel installs; this command works without them, from any install.
"""

from __future__ import annotations

import click

from git_orch.errors import OrchUsageError


@click.command(name="help")
@click.argument("names", metavar="[COMMAND]...", nargs=-1)
@click.pass_context
def help(ctx: click.Context, names: tuple[str, ...]) -> None:  # noqa: A001 - the command's name
    """Show the help of git orch, or of COMMAND (and its subcommands).

    \b
    Example:
      git orch help
      git orch help land
      git orch help plan add
    """
    current = ctx.find_root()
    for name in names:
        command = current.command
        sub = command.get_command(current, name) if isinstance(command, click.Group) else None
        if sub is None:
            raise OrchUsageError(f"no command {' '.join(names)!r} (git orch help lists them)")
        current = click.Context(sub, info_name=name, parent=current)
    click.echo(current.get_help())
