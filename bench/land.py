"""Benchmark: land N accepted tasks, and a quiet heartbeat over N live tasks.

Builds a throw-away repository with N tasks (one commit each, handed off and
accepted), then times `git orch land` as a user runs it, one process per task
(merge strategy, main checked out, including cleanup of workspace and branch),
next to plain git doing the same work on the same kind of workspace: `git
merge --no-ff` in the checkout, then `git worktree remove` (worktree mode) or
`rm -rf` of the workspace (clone mode, whose work plain git fetched before the
timing, as collect did at handoff), then `git branch -D`. Wall and CPU time,
and their ratios. Then N live tasks: a quiet `heartbeat --once` (which writes
nothing) next to `git status` in each workspace.
Ends with name=value lines.
Run: BENCH_TASKS=20 .venv/bin/python bench/land.py [--isolation clone|worktree]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from timing import Sample, orch_argv, prepare

from git_orch.record.tasks import transition
from git_orch.repo import OrchRepo

TASKS = int(os.environ.get("BENCH_TASKS", "20"))


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout.strip()


ENV: dict[str, str] = {}  # the children's environment (set in main)
SAMPLE = Sample()


def run(*args: str, cwd: Path, timed: str | None = None) -> None:
    """git orch ARGS as a process (timed as one sample of `timed` when given)."""
    SAMPLE.run(timed or "setup", [orch_argv(*args)], cwd, ENV)


def hermetic(home: Path) -> None:
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    os.environ.update({
        "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
    })


def make_repo(path: Path, isolation: str) -> Path:
    path.mkdir()
    git("init", "-q", "-b", "main", cwd=path)
    for i in range(50):
        (path / f"file{i}.txt").write_text(f"line {i}\n")
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "initial", cwd=path)
    run("init", cwd=path)
    toml = path / "orch.toml"  # every task active at once in the heartbeat repository
    text = toml.read_text().replace("max_active = 3", f"max_active = {TASKS}")
    toml.write_text(text.replace('isolation = "clone"', f'isolation = "{isolation}"'))
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "policy", cwd=path)
    return path


def prepare_tasks(repo: Path, count: int, accept: bool) -> list[str]:
    ids = []
    orepo = OrchRepo(repo)
    for i in range(count):
        task = f"t{i}"
        run("start", task, "--title", f"task {i}", "--allow", f"/new{i}.txt", cwd=repo)
        wt = repo.parent / f"{repo.name}.orch" / task
        (wt / f"new{i}.txt").write_text(f"task {i}\n")
        git("add", "-A", cwd=wt)
        git("commit", "-q", "-m", f"task {i}\n\nOrch-Task: {task}", cwd=wt)
        if accept and (wt / ".git").is_dir():  # a clone: the worker hands off, the lead collects
            run("handoff", cwd=wt)
            run("collect", task, cwd=repo)
        elif accept:
            run("handoff", "--task", task, cwd=repo)
        if accept:
            transition(orepo, task, {"type": "accepted", "head": git("rev-parse", "HEAD", cwd=wt)})
        ids.append(task)
    return ids


def plain_git(root: Path, count: int, isolation: str) -> None:
    """The same shape of work with plain git: one branch per workspace, merged one by one."""
    repo = root / "plain"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    for i in range(50):
        (repo / f"file{i}.txt").write_text(f"line {i}\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "initial", cwd=repo)
    for i in range(count):
        wt = root / "plain.wt" / f"b{i}"
        if isolation == "worktree":
            git("worktree", "add", "-q", "-b", f"b{i}", str(wt), cwd=repo)
        else:
            git("branch", f"b{i}", cwd=repo)
            git("clone", "-q", "--shared", "--branch", f"b{i}", str(repo / ".git"), str(wt),
                cwd=repo)
        (wt / f"new{i}.txt").write_text(f"task {i}\n")
        git("add", "-A", cwd=wt)
        git("commit", "-q", "-m", f"task {i}", cwd=wt)
        if isolation == "clone":  # what collect took in at handoff
            git("fetch", "-q", str(wt), f"+b{i}:b{i}", cwd=repo)
    for i in range(count):
        wt = root / "plain.wt" / f"b{i}"
        remove = (["git", "worktree", "remove", str(wt)] if isolation == "worktree"
                  else ["rm", "-rf", str(wt)])
        SAMPLE.run("plain", [["git", "merge", "-q", "--no-ff", "-m", f"merge b{i}", f"b{i}"],
                             remove, ["git", "branch", "-q", "-D", f"b{i}"]], repo, ENV)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isolation", choices=["clone", "worktree"], default="clone")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = root / "home"
        home.mkdir()
        hermetic(home)
        ENV.update(prepare())
        repo = make_repo(root / "repo", opts.isolation)
        ids = prepare_tasks(repo, TASKS, accept=True)
        for task in ids:
            run("land", task, cwd=repo, timed="land")
        plain_git(root, TASKS, opts.isolation)

        live = make_repo(root / "live", opts.isolation)
        prepare_tasks(live, TASKS, accept=False)
        run("heartbeat", "--once", cwd=live)  # first beat may record flags
        tip = git("rev-parse", "refs/orch/ledger", cwd=live)
        run("heartbeat", "--once", cwd=live, timed="heartbeat")
        assert git("rev-parse", "refs/orch/ledger", cwd=live) == tip, "quiet beat wrote"
        SAMPLE.run("status", [["git", "-C", str(root / "live.orch" / f"t{i}"), "status",
                               "--porcelain"] for i in range(TASKS)], live, ENV)

    land_ms, land_cpu = SAMPLE.median_ms("land")
    plain_ms, plain_cpu = SAMPLE.median_ms("plain")
    beat_ms, _ = SAMPLE.median_ms("heartbeat")
    status_ms, _ = SAMPLE.median_ms("status")
    print(f"land (merge + push off + cleanup), {TASKS} tasks, {opts.isolation} workspaces: "
          f"median {land_ms:.0f} ms per task (CPU {land_cpu:.0f} ms), "
          f"mean {statistics.fmean(SAMPLE.wall['land']) * 1000:.0f} ms")
    print(f"plain git merge --no-ff + workspace removal + branch -D: {plain_ms:.0f} ms per "
          f"branch (CPU {plain_cpu:.0f} ms)")
    print(f"quiet heartbeat over {TASKS} live tasks: {beat_ms:.0f} ms "
          f"(git status in each workspace: {status_ms:.0f} ms, {beat_ms / status_ms:.1f}x)")
    print(f"isolation={opts.isolation}")
    print(f"tasks={TASKS}")
    SAMPLE.report("land", "plain")
    SAMPLE.report("plain")
    print(f"heartbeat_quiet_ms={beat_ms:.1f}")
    print(f"git_status_all_workspaces_ms={status_ms:.1f}")
    print(f"heartbeat_vs_status_ratio={beat_ms / status_ms:.2f}")


if __name__ == "__main__":
    main()
