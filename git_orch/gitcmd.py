"""Run the git binary with an argv list (never a shell) and a clean environment."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from git_orch.errors import OrchError

# Variables a hook or an outer git sets that would point our git calls at the
# wrong repository, worktree or index.
_REPO_SCOPED_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
)


class GitError(OrchError):
    """git itself refused or failed; the message is git's own last line."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
        detail = lines[-1] if lines else f"exit status {returncode}"
        if detail.startswith(("fatal: ", "error: ")):
            detail = detail.split(": ", 1)[1]
        super().__init__(f"git {args[0] if args else ''}: {detail}")
        self.returncode = returncode
        self.stderr = stderr


# Options that take a value before git's subcommand (`git --git-dir D status`).
_VALUED_OPTIONS = frozenset({"--git-dir", "--work-tree", "-C", "-c", "--namespace"})
# Pinned on every git the lead runs (but `git config`, which must report the
# repository's real values): the common config of a repository with
# worktree-mode workers is theirs to write, and core.fsmonitor names a program.
ALWAYS_PINNED = ("-c", "core.fsmonitor=false")


def subcommand(args: Sequence[str]) -> str | None:
    """The git subcommand in ARGS (skipping global options and their values)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _VALUED_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def pinned_options(no_hooks: Path) -> list[str]:
    """`-c` options that switch off every key that makes git run a program of the
    repository's choosing, for git run against a worker's repository.

    `no_hooks` is an empty folder the lead owns. Command-line config outranks the
    repository's, and git passes it on (GIT_CONFIG_PARAMETERS) to the
    upload-pack it starts for a local fetch.
    """
    return [
        "-c", "core.fsmonitor=false",
        "-c", f"core.hooksPath={no_hooks}",
        "-c", "diff.external=",
        "-c", "core.pager=cat",
        "-c", "credential.helper=",
        "-c", "core.alternateRefsCommand=",
        "-c", "transfer.fsckObjects=true",
    ]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REPO_SCOPED_VARS}
    if extra:
        env.update(extra)
    return env


def run_git(
    args: Sequence[str],
    cwd: str | Path | None = None,
    *,
    input: str | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `git ARGS`; raise GitError on failure unless check is False."""
    if any("\0" in arg for arg in args):  # subprocess would raise ValueError
        raise OrchError("an argument contains a NUL byte; git cannot take it")
    pins = ALWAYS_PINNED if subcommand(args) != "config" else ()
    proc = subprocess.run(
        ["git", *pins, *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        # Git prints file names as they are on disk, and a worker chooses them: bytes
        # that are not UTF-8 must come through (as surrogates), not crash the reader.
        encoding="utf-8",
        errors="surrogateescape",
        env=clean_env(env),
        check=False,
    )
    if check and proc.returncode != 0:
        raise GitError(list(args), proc.returncode, proc.stderr)
    return proc


def git(
    args: Sequence[str],
    cwd: str | Path | None = None,
    *,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run git and return its stdout with the trailing newline removed."""
    return run_git(args, cwd, input=input, env=env).stdout.rstrip("\n")
