"""Man pages written from the click commands themselves, so they cannot drift.

`git orch --help` is turned by git into `git help orch`, which opens the man
page git-orch(1); man finds it under <prefix>/share/man when <prefix>/bin is
on PATH. The wheel ships the pages from man/man1 (setuptools data-files);
`python -m git_orch.manpage man/man1` regenerates them and a test checks that
the shipped ones are current. Output is deterministic: no dates, no terminal
width, only the help strings and the version.
"""

from __future__ import annotations

import inspect

import click

from git_orch import __version__
from git_orch.cli import COMMANDS, cli

MANUAL = "git-orch manual"


def roff(text: str) -> str:
    """Escape text for roff: backslashes, and a leading dot or quote on a line."""
    lines = []
    for line in text.replace("\\", "\\e").replace("-", "\\-").split("\n"):
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def _paragraphs(help_text: str) -> list[str]:
    """Help text as roff paragraphs; a click `\\b` paragraph keeps its line breaks."""
    out = []
    for block in inspect.cleandoc(help_text).split("\n\n"):
        if block.startswith("\b\n"):
            body = roff(block[2:])
            out.append(f".PP\n.nf\n.RS 4\n{body}\n.RE\n.fi")
        else:
            out.append(".PP\n" + roff(" ".join(block.split())))
    return out


def _options(command: click.Command, ctx: click.Context) -> list[str]:
    out = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        out.append(f".TP\n\\fB{roff(names)}\\fR\n{roff(help_text) if help_text else ''}".rstrip())
    return out


def _body(command: click.Command, ctx: click.Context) -> list[str]:
    usage = " ".join(command.collect_usage_pieces(ctx))
    out = [".SH SYNOPSIS", f".B {roff(ctx.command_path)}", roff(usage), ".SH DESCRIPTION"]
    out += _paragraphs(command.help or "")
    options = _options(command, ctx)
    if options:
        out += [".SH OPTIONS", *options]
    if isinstance(command, click.Group) and ctx.parent is not None:  # plan add, hooks ...
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None:
                continue
            sub_ctx = click.Context(sub, info_name=name, parent=ctx)
            out += [f".SH {roff(ctx.command_path.upper())} {roff(name.upper())}",
                    f".B {roff(sub_ctx.command_path)}", roff(" ".join(sub.collect_usage_pieces(
                        sub_ctx)))]
            out += _paragraphs(sub.help or "")
            out += _options(sub, sub_ctx)
    return out


def _header(title: str, name: str, summary: str) -> list[str]:
    return [f'.TH "{title.upper()}" "1" "" "git-orch {__version__}" "{MANUAL}"',
            ".SH NAME", f"{roff(name)} \\- {roff(summary)}"]


def _summary(command: click.Command) -> str:
    return command.get_short_help_str(limit=200).removeprefix("git-orch: ").rstrip(".")


def pages() -> dict[str, str]:
    """File name -> roff text: git-orch.1, then git-orch-<command>.1 for each command."""
    root = click.Context(cli, info_name="git orch", **cli.context_settings)
    main = _header("git-orch", "git-orch", _summary(cli)) + _body(cli, root)
    main += [".SH COMMANDS"]
    result = {}
    for name in COMMANDS:
        command = cli.get_command(root, name)
        assert command is not None
        main += [f".TP\n\\fBgit\\-orch\\-{roff(name)}\\fR(1)", roff(_summary(command))]
        ctx = click.Context(command, info_name=name, parent=root)
        text = _header(f"git-orch-{name}", f"git-orch-{name}", _summary(command))
        text += _body(command, ctx)
        text += [".SH SEE ALSO", "\\fBgit\\-orch\\fR(1)"]
        result[f"git-orch-{name}.1"] = "\n".join(text) + "\n"
    main += [".SH SEE ALSO",
             "\\fBgit\\fR(1); refs\\-schema.md and docs/ in the git\\-orch sources."]
    return {"git-orch.1": "\n".join(main) + "\n", **result}
