"""Whole-process timing shared by the benches: wall and CPU time, as a user runs it.

This environment sets PYTHONDONTWRITEBYTECODE=1, so every git-orch process would
compile its modules from source (~20 ms a run); an installed wheel has .pyc
files. `prepare()` compiles git_orch once and gives child processes an
environment without that variable. CPU time (user + system of the process and
its children) is reported beside wall time: the machine is shared, and CPU
time says more than wall time when other work runs.
"""

from __future__ import annotations

import compileall
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import git_orch


def prepare(env: dict[str, str] | None = None) -> dict[str, str]:
    """Compile git_orch to .pyc; the environment child processes should run in."""
    compileall.compile_dir(str(Path(git_orch.__file__).parent), quiet=1)
    out = dict(os.environ if env is None else env)
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    return out


def hermetic_env(home: Path) -> dict[str, str]:
    """prepare()'s environment with a fresh HOME (its own .gitconfig), no system config
    and a fixed identity: the runs do not depend on this machine's git setup."""
    home.mkdir()
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    return {
        **prepare(), "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
    }


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def proc(args: list[str], cwd: Path, env: dict[str, str],
         stdin: bytes | None = None) -> tuple[float, float]:
    """(wall s, CPU s) of one process and its children; exits the bench when it fails."""
    cpu = children_cpu()
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, input=stdin, capture_output=True,
                          check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(args[:5])} failed: {done.stderr.decode().strip()}")
    return wall, children_cpu() - cpu


def orch_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "git_orch", *args]


class Sample:
    """Wall and CPU seconds of named steps, summed per step over its processes."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def add(self, name: str, wall: float, cpu: float) -> None:
        self.wall.setdefault(name, []).append(wall)
        self.cpu.setdefault(name, []).append(cpu)

    def run(self, name: str, steps: list[list[str]], cwd: Path, env: dict[str, str]) -> None:
        """Time the processes of one step, one after the other, as one sample."""
        wall = cpu = 0.0
        for args in steps:
            w, c = proc(args, cwd, env)
            wall += w
            cpu += c
        self.add(name, wall, cpu)

    def median_ms(self, name: str) -> tuple[float, float]:
        import statistics

        return (statistics.median(self.wall[name]) * 1000,
                statistics.median(self.cpu[name]) * 1000)

    def report(self, name: str, plain: str | None = None) -> None:
        """`name_ms`, `name_cpu_ms` and, against plain git, both ratios."""
        wall, cpu = self.median_ms(name)
        print(f"{name}_ms={wall:.1f}")
        print(f"{name}_cpu_ms={cpu:.1f}")
        if plain is not None:
            pwall, pcpu = self.median_ms(plain)
            print(f"{name}_vs_{plain}_ratio={wall / pwall:.2f}")
            print(f"{name}_vs_{plain}_cpu_ratio={cpu / pcpu:.2f}")
