"""Re-run claimed gates in a clean, temporary worktree of the reviewed commit.

The worker's own worktree may hold files that are not committed, so a gate
that passed there proves nothing about the commit. Review checks the commit
out with `git worktree add --detach` into a temporary folder (hooks off: this
is git-orch's own operation), runs the gate as an argv list (shlex rules,
never a shell) with a timeout, and removes the worktree afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from git_orch.errors import OrchError
from git_orch.gitcmd import clean_env, run_git
from git_orch.judge.evidence import gate_argv
from git_orch.repo import OrchRepo

OUTPUT_TAIL = 2000


@dataclass
class GateRun:
    command: str
    returncode: int | None  # None: it could not start, or timed out
    seconds: float
    output_tail: str
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.returncode == 0

    def to_json(self) -> dict[str, object]:
        return {
            "command": self.command,
            "returncode": self.returncode,
            "seconds": round(self.seconds, 3),
            "passed": self.passed,
            "error": self.error,
            "output_tail": self.output_tail,
        }


def _no_hooks(orepo: OrchRepo) -> list[str]:
    return ["-c", "core.hooksPath=/dev/null", "--git-dir", str(orepo.common_dir)]


def run_gates(orepo: OrchRepo, head: str, commands: list[str], timeout: float) -> list[GateRun]:
    """Run each command in one fresh detached worktree of head; always clean up."""
    if not commands:
        return []
    folder = Path(tempfile.mkdtemp(prefix="git-orch-review-"))
    tree = folder / "tree"
    proc = run_git([*_no_hooks(orepo), "worktree", "add", "--detach", "--quiet", str(tree),
                    head], orepo.common_dir, check=False)
    if proc.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise OrchError(f"cannot check out {head[:12]} for gates: {proc.stderr.strip()}")
    try:
        return [_run_one(command, tree, timeout) for command in commands]
    finally:
        run_git([*_no_hooks(orepo), "worktree", "remove", "--force", str(tree)],
                orepo.common_dir, check=False)
        shutil.rmtree(folder, ignore_errors=True)
        run_git([*_no_hooks(orepo), "worktree", "prune"], orepo.common_dir, check=False)


def _run_one(command: str, cwd: Path, timeout: float) -> GateRun:
    argv = gate_argv(command)
    started = time.monotonic()
    if argv is None:
        return GateRun(command, None, 0.0, "", "cannot split the command into arguments")
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, errors="replace",
                              env=clean_env(), timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return GateRun(command, None, time.monotonic() - started, "",
                       f"timed out after {timeout:g}s")
    except OSError as exc:
        return GateRun(command, None, time.monotonic() - started, "",
                       f"cannot run: {exc.strerror or exc}")
    output = (proc.stdout + proc.stderr)[-OUTPUT_TAIL:]
    return GateRun(command, proc.returncode, time.monotonic() - started, output)
