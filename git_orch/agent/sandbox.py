"""The OS sandbox for agents that have none: the bubblewrap command line.

An agent CLI without a sandbox of its own runs with every right of the
person who started git-orch. Wrapped in bubblewrap it sees the whole
filesystem read-only and can write only what the run needs: its workspace
(for a clone that includes the workspace's own `.git`), the attempt's
handoff file and a private `/tmp`. The lead's repository stays read-only,
so in clone mode an agent can commit and can touch nothing of the lead's.

A linked worktree (isolation "worktree") writes its commits into the lead's
common git dir, so a sandboxed worktree agent must have that dir writable
too: the sandbox then protects the rest of the filesystem, not the
repository. That is why "bwrap" is only the default for clone workspaces.

Everything here is pure (paths in, argv out) except `bwrap_path`, which asks
PATH once; the supervisor decides and wraps, and records what it chose.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

BWRAP = "bwrap"
NONE = "none"
MODES = (BWRAP, NONE)
PRIVATE = Path("/tmp")  # a fresh tmpfs inside the sandbox


@dataclass(frozen=True)
class Choice:
    """The sandbox one attempt runs in, and why (shown in the log and in status)."""

    mode: str  # BWRAP or NONE
    why: str


def bwrap_path() -> str | None:
    """Where bubblewrap is installed, or None."""
    return shutil.which(BWRAP)


def choose(configured: str | None, installed: bool, clone: bool) -> Choice:
    """The preset's `sandbox` key applied to this machine and this workspace.

    Unset: bwrap when it is installed and the workspace is a clone, else none.
    An explicit "bwrap" where bubblewrap is missing is an error for the caller
    (never a silent unsandboxed run)."""
    if configured == NONE:
        return Choice(NONE, "sandbox = \"none\" in the agent preset")
    if configured == BWRAP:
        return Choice(BWRAP, "sandbox = \"bwrap\" in the agent preset")
    if not installed:
        return Choice(NONE, "bubblewrap is not installed (apt-get install bubblewrap)")
    if not clone:
        return Choice(NONE, "worktree isolation: the agent writes the lead's git dir anyway")
    return Choice(BWRAP, "clone workspace and bubblewrap installed")


def visible(argv: list[str], always: list[Path]) -> list[Path]:
    """What the private /tmp would hide and the agent must still read: the
    `always` paths (the lead's git dir, which a clone borrows objects from) and
    every existing absolute path the agent's argv names (its script, the
    envelope), each resolved and kept only when it lies below /tmp (everything
    else is visible through the read-only root already)."""
    named = [Path(part) for part in argv if part.startswith("/") and Path(part).exists()]
    found: list[Path] = []
    for path in [*always, *named]:
        real = Path(os.path.realpath(path))
        if real.is_relative_to(PRIVATE) and real != PRIVATE and real not in found:
            found.append(real)
    return found


def wrap(argv: list[str], *, bwrap: str, workspace: Path, readable: list[Path],
         writable: list[Path], network: bool) -> list[str]:
    """`argv` run inside bubblewrap.

    Order matters: the tmpfs on /tmp comes first, then the read-only binds
    that bring back what the agent must read from below /tmp, then the
    writable binds on top of everything. `writable` are the paths the agent
    must write besides the workspace (the handoff file; for a linked
    worktree, the common git dir); every path given must exist."""
    line = [bwrap, "--ro-bind", "/", "/", "--tmpfs", str(PRIVATE)]
    for path in readable:
        line += ["--ro-bind", str(path), str(path)]
    for path in [workspace, *writable]:
        line += ["--bind", str(path), str(path)]
    line += ["--dev", "/dev", "--proc", "/proc", "--unshare-pid", "--die-with-parent"]
    if not network:
        line.append("--unshare-net")
    line += ["--chdir", str(workspace), "--", *argv]
    return line
