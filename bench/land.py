"""Benchmark: land N accepted tasks, and a quiet heartbeat over N live tasks.

Builds a throw-away repository with N tasks (one commit each, handed off and
accepted), then times `git orch land` (merge strategy, main checked out,
including cleanup of worktree and branch) next to plain git doing comparable
work (`git merge --no-ff` in the checkout, `git worktree remove`,
`git branch -D`). Then N live tasks with worktrees: a quiet `heartbeat
--once` (which writes nothing) next to `git status` in each worktree.
Ends with name=value lines.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import tempfile
import time
from pathlib import Path

from git_orch.cli import main as orch
from git_orch.record.tasks import transition
from git_orch.repo import OrchRepo

TASKS = int(os.environ.get("BENCH_TASKS", "20"))


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout.strip()


def run(*args: str, cwd: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = orch(["-C", str(cwd), *args])
    if code != 0:
        raise SystemExit(f"git orch {' '.join(args)} failed: {err.getvalue()}")


def hermetic(home: Path) -> None:
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    os.environ.update({
        "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
    })


def make_repo(path: Path) -> Path:
    path.mkdir()
    git("init", "-q", "-b", "main", cwd=path)
    for i in range(50):
        (path / f"file{i}.txt").write_text(f"line {i}\n")
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "initial", cwd=path)
    run("init", cwd=path)
    toml = path / "orch.toml"  # every task active at once in the heartbeat repository
    toml.write_text(toml.read_text().replace("max_active = 3", f"max_active = {TASKS}"))
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "policy", cwd=path)
    return path


def prepare(repo: Path, count: int, accept: bool) -> list[str]:
    ids = []
    orepo = OrchRepo(repo)
    for i in range(count):
        task = f"t{i}"
        run("start", task, "--title", f"task {i}", "--allow", f"/new{i}.txt", cwd=repo)
        wt = repo.parent / f"{repo.name}.orch" / task
        (wt / f"new{i}.txt").write_text(f"task {i}\n")
        git("add", "-A", cwd=wt)
        git("commit", "-q", "-m", f"task {i}\n\nOrch-Task: {task}", cwd=wt)
        if accept:
            run("handoff", "--task", task, cwd=repo)
            transition(orepo, task, {"type": "accepted", "head": git("rev-parse", "HEAD", cwd=wt)})
        ids.append(task)
    return ids


def plain_git(root: Path, count: int) -> float:
    """The same shape of work with plain git: branches in worktrees, merged one by one."""
    repo = root / "plain"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    for i in range(50):
        (repo / f"file{i}.txt").write_text(f"line {i}\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "initial", cwd=repo)
    for i in range(count):
        wt = root / "plain.wt" / f"b{i}"
        git("worktree", "add", "-q", "-b", f"b{i}", str(wt), cwd=repo)
        (wt / f"new{i}.txt").write_text(f"task {i}\n")
        git("add", "-A", cwd=wt)
        git("commit", "-q", "-m", f"task {i}", cwd=wt)
    start = time.perf_counter()
    for i in range(count):
        git("merge", "-q", "--no-ff", "-m", f"merge b{i}", f"b{i}", cwd=repo)
        git("worktree", "remove", str(root / "plain.wt" / f"b{i}"), cwd=repo)
        git("branch", "-q", "-D", f"b{i}", cwd=repo)
    return (time.perf_counter() - start) / count


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = root / "home"
        home.mkdir()
        hermetic(home)
        repo = make_repo(root / "repo")
        ids = prepare(repo, TASKS, accept=True)
        start = time.perf_counter()
        for task in ids:
            run("land", task, cwd=repo)
        land_ms = 1000 * (time.perf_counter() - start) / TASKS
        plain_ms = 1000 * plain_git(root, TASKS)

        live = make_repo(root / "live")
        prepare(live, TASKS, accept=False)
        run("heartbeat", "--once", cwd=live)  # first beat may record flags
        tip = git("rev-parse", "refs/orch/ledger", cwd=live)
        start = time.perf_counter()
        run("heartbeat", "--once", cwd=live)
        beat_ms = 1000 * (time.perf_counter() - start)
        assert git("rev-parse", "refs/orch/ledger", cwd=live) == tip, "quiet beat wrote"
        start = time.perf_counter()
        for i in range(TASKS):
            git("status", "--porcelain", cwd=root / "live.orch" / f"t{i}")
        status_ms = 1000 * (time.perf_counter() - start)

    print(f"land (merge + push off + cleanup), {TASKS} tasks: {land_ms:.0f} ms per task")
    print(f"plain git merge --no-ff + worktree remove + branch -D: {plain_ms:.0f} ms per branch")
    print(f"ratio land/plain: {land_ms / plain_ms:.1f}x")
    print(f"quiet heartbeat over {TASKS} live tasks: {beat_ms:.0f} ms "
          f"(git status in each worktree: {status_ms:.0f} ms, {beat_ms / status_ms:.1f}x)")
    print(f"land_ms_per_task={land_ms:.1f}")
    print(f"plain_git_merge_ms_per_branch={plain_ms:.1f}")
    print(f"land_vs_plain_ratio={land_ms / plain_ms:.2f}")
    print(f"heartbeat_quiet_ms={beat_ms:.1f}")
    print(f"git_status_all_worktrees_ms={status_ms:.1f}")
    print(f"heartbeat_vs_status_ratio={beat_ms / status_ms:.2f}")
    print(f"tasks={TASKS}")


if __name__ == "__main__":
    main()
