"""Whole-process cost of the small commands at scale, next to plain git doing the same.

Builds a throw-away repository with N tasks (bench/ledger.py's builder, 10
events each), then times real processes, interleaved so machine noise hits
every side alike:
- `start ID` with a worktree  vs  plain git: commit-tree (the contract),
  notes add, update-ref, worktree add -b, config --worktree;
- `show ID --json` right after a write to the task (a full read) and again
  (answered from its output cache)  vs  `git log -1 --format=%N` (the note);
- `handoff` and `block` in the worker worktree  vs  the dirty check plus one
  `git notes append` (what a ledger write is at its core). Run as the console
  script runs them, their plain forms skip click (git_orch/fastpath.py).
`unblock` (not timed) returns the task to active between rounds.

Children run with this interpreter and without PYTHONDONTWRITEBYTECODE (compiled
first, as a wheel is). From .venv that is the editable install, whose import
finder costs a git-orch command next to nothing (docs/performance.md), so the
figures stand for an installed wheel's.

Run: .venv/bin/python bench/commands.py [--tasks 10000] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger import ENV, build, like_a_user  # bench/ledger.py: the shared 10-events-per-task builder

CPU: list[float] = []  # CPU seconds of every process run() started, in order


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Wall seconds of one process (its CPU seconds, with its children's, go to CPU):
    on a loaded machine CPU time says more than wall time. Exits when it fails."""
    cpu = children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - start
    CPU.append(children_cpu() - cpu)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} failed: {proc.stderr.strip()}")
    return elapsed


def cpu_of(step: Callable[[], object]) -> float:
    """CPU seconds of every process one step (a call that uses run()) started."""
    before = len(CPU)
    step()
    return sum(CPU[before:])


def out(args: list[str], cwd: Path) -> str:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def orch(*args: str) -> list[str]:
    return [sys.executable, "-m", "git_orch", *args]


# Linked worktrees on both sides (plain git's side is `git worktree add`); a clone
# workspace's own costs are bench/isolation.py's.
WORKTREE = ("--isolation", "worktree")
# The builder leaves 20 live tasks: past max_active, and (tasks without --allow
# overlap everything) past the write-set rule.
FORCE = ("--force", "--reason", "bench")


def plain_start(repo: Path, n: int) -> float:
    """The git work of a start: contract commit, its note, its ref, branch + worktree."""
    start = time.perf_counter()
    tree = out(["git", "rev-parse", "HEAD^{tree}"], repo)
    commit = out(["git", "commit-tree", tree, "-p", "HEAD", "-m", f"plain {n}"], repo)
    run(["git", "notes", "--ref", "bench", "add", "-m", "{}", commit], repo)
    run(["git", "update-ref", f"refs/bench/tasks/plain-{n}", commit], repo)
    path = repo.parent / f"plain-{n}"
    run(["git", "worktree", "add", "-q", "-b", f"bench/plain-{n}", str(path)], repo)
    run(["git", "config", "--worktree", "orch.task", f"plain-{n}"], path)
    return time.perf_counter() - start


def plain_write(worker: Path, repo: Path, contract: str) -> float:
    """A ledger write at its core: the dirty check, then one note append (outside the
    worker worktree, whose hooks refuse foreign refs)."""
    start = time.perf_counter()
    run(["git", "status", "--porcelain"], worker)
    run(["git", "notes", "--ref", "bench", "append", "-m", "{}", contract], repo)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    opts = parser.parse_args()
    like_a_user()
    os.environ.update(ENV)
    names = ("start", "plain_start", "show", "show_repeat", "plain_show", "handoff", "block",
             "plain_write")
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}

    def measure(name: str, step: Callable[..., float], *args: Any) -> None:
        box: list[float] = []
        cpu[name].append(cpu_of(lambda: box.append(step(*args))))
        wall[name].append(box[0])

    with tempfile.TemporaryDirectory(prefix="orch-bench-cmd-") as tmp:
        repo = build(Path(tmp), opts.tasks, 10)
        run(orch("start", "live", "--title", "Live", "--allow", "src/**", *WORKTREE, *FORCE),
            repo)
        worker = Path(tmp) / "repo.orch" / "live"
        (worker / "src").mkdir()
        (worker / "src" / "app.py").write_text("print('app')\n")
        run(["git", "add", "-A"], worker)
        run(["git", "commit", "-q", "-m", "Add app"], worker)
        contract = out(["git", "rev-parse", "refs/orch/tasks/live"], repo)
        notes_env = {"GIT_NOTES_REF": "refs/orch/ledger"}
        for n in range(opts.runs):
            measure("start", run, orch("start", f"s{n}", "--title", f"S {n}", *WORKTREE, *FORCE),
                    repo)
            measure("plain_start", plain_start, repo, n)
            measure("show", run, orch("show", "live", "--json"), repo)
            measure("show_repeat", run, orch("show", "live", "--json"), repo)
            measure("plain_show", run, ["git", "log", "-1", "--format=%N", contract], repo,
                    notes_env)
            measure("handoff", run, orch("handoff", "--summary", f"round {n}"), worker)
            measure("block", run, orch("block", "--reason", f"round {n}"), worker)
            measure("plain_write", plain_write, worker, repo, contract)
            run(orch("unblock", "live", "--note", "bench"), repo)
    ms = {k: statistics.median(v) * 1000 for k, v in wall.items()}
    cpu_ms = {k: statistics.median(v) * 1000 for k, v in cpu.items()}
    print(f"{opts.tasks} tasks, medians of {opts.runs} whole-process runs (shared machine: "
          "wall time, and CPU time of the process and its children)")
    print(f"tasks={opts.tasks}")
    for name in names:
        print(f"{name}_ms={ms[name]:.1f}")
        print(f"{name}_cpu_ms={cpu_ms[name]:.1f}")
    for name, plain in (("start", "plain_start"), ("show", "plain_show"),
                        ("show_repeat", "plain_show"), ("handoff", "plain_write"),
                        ("block", "plain_write")):
        print(f"{name}_vs_plain_ratio={ms[name] / ms[plain]:.2f}")
        print(f"{name}_vs_plain_cpu_ratio={cpu_ms[name] / cpu_ms[plain]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
