"""`git orch start` at scale, whole-process, in both isolation modes, next to plain git.

Builds bench/ledger.py's repository (10,000 tasks / 100,000 events, 20 live),
then, in interleaved rounds so machine noise hits every side alike, times:
- `start --isolation worktree`  vs  plain git doing the same: commit-tree (the
  contract), notes add (its event), update-ref (its ref), `worktree add -b`,
  `config --worktree` (the marker);
- `start --isolation clone` (the default)  vs  the same contract, note and refs,
  then `git clone --shared --no-checkout`, `git checkout`, `git config`.
Every start needs --force --reason (the repository has 20 live tasks, max_active 3).
Run: .venv/bin/python bench/start.py [--tasks 10000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ledger import ENV, build
from timing import Sample, children_cpu, orch_argv, prepare


def out(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def plain_record(sample: Sample, name: str, repo: Path, env: dict[str, str], n: int) -> str:
    """The ledger part of a start in plain git (contract commit, its note, its ref),
    timed as one sample of `name`; returns the task branch's name."""
    cpu, start = children_cpu(), time.perf_counter()
    tree = out(["git", "rev-parse", "HEAD^{tree}"], repo, env)
    commit = out(["git", "commit-tree", tree, "-p", "HEAD", "-m", f"{name} {n}"], repo, env)
    out(["git", "notes", "--ref", "bench", "add", "-m", "{}", commit], repo, env)
    out(["git", "update-ref", f"refs/bench/tasks/{name}-{n}", commit], repo, env)
    sample.add(name, time.perf_counter() - start, children_cpu() - cpu)
    return f"bench/{name}-{n}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    opts = parser.parse_args()
    os.environ.update(ENV)
    env = prepare()
    sample = Sample()
    with tempfile.TemporaryDirectory(prefix="orch-bench-start-") as tmp:
        repo = build(Path(tmp), opts.tasks, 10)
        plain_root = Path(tmp) / "plain"
        plain_root.mkdir()
        force = ("--force", "--reason", "bench")
        # The first start builds this machine's caches (the settled-task index).
        sample.run("first_start", [orch_argv("start", "warm", "--title", "W", *force,
                                             "--isolation", "worktree")], repo, env)
        for n in range(opts.rounds):
            sample.run("start_worktree", [orch_argv("start", f"w{n}", "--title", f"W {n}",
                                                    *force, "--isolation", "worktree")],
                       repo, env)
            sample.run("start_clone", [orch_argv("start", f"c{n}", "--title", f"C {n}",
                                                 *force, "--isolation", "clone")], repo, env)
            branch = plain_record(sample, "plain_worktree", repo, env, n)
            path = plain_root / f"w{n}"
            sample.run("plain_worktree_ws", [
                ["git", "worktree", "add", "-q", "-b", branch, str(path)],
                ["git", "-C", str(path), "config", "--worktree", "orch.task", f"w{n}"]],
                repo, env)
            branch = plain_record(sample, "plain_clone", repo, env, n)
            path = plain_root / f"c{n}"
            sample.run("plain_clone_ws", [
                ["git", "branch", branch],
                ["git", "clone", "-q", "--shared", "--no-checkout", "--single-branch",
                 "--branch", branch, str(repo / ".git"), str(path)],
                ["git", "-C", str(path), "checkout", "-q", branch],
                ["git", "-C", str(path), "config", "orch.task", f"c{n}"]], repo, env)
    for mode in ("worktree", "clone"):
        record, ws = sample.wall[f"plain_{mode}"], sample.wall[f"plain_{mode}_ws"]
        rcpu, wcpu = sample.cpu[f"plain_{mode}"], sample.cpu[f"plain_{mode}_ws"]
        for i in range(len(ws)):
            sample.add(f"git_{mode}", record[i] + ws[i], rcpu[i] + wcpu[i])
    print(f"tasks={opts.tasks}")
    print(f"events={opts.tasks * 10}")
    print(f"rounds={opts.rounds}")
    sample.report("first_start")
    sample.report("git_worktree")
    sample.report("git_clone")
    sample.report("start_worktree", "git_worktree")
    sample.report("start_clone", "git_clone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
