"""Every write of start, land, abandon, sync and heartbeat --repair is a kill point.

For each command: one uninterrupted run gives the end state and the list of
writes; then, for every write k, git-orch is SIGKILLed right before and right
after it, and recovery (re-running the command, or heartbeat --repair and
then the command) must reach the same end state, lose no ledger event, leave
no push unrecorded (nor a recorded push missing) and leave no lock behind.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Repo, git, initialised_repo
from killpoints import Harness, check_push_records, end_state, event_ids, subcommand
from test_land import ready


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path / "s", tmp_path / "harness")


def new_repo(root: Path, isolation: str = "worktree") -> Repo:
    return initialised_repo(root / "repo", isolation)


def add_remote(repo: Repo, root: Path) -> Path:
    bare = root / "remote.git"
    git("init", "-q", "--bare", str(bare), cwd=root)
    repo.git("remote", "add", "origin", str(bare))
    repo.git("push", "-q", "origin", "main")
    return bare


def converge(harness: Harness, repo: Repo, args: list[str], remote: Path | None,
             *, rerun_ok: Callable[[int, str], bool] | None = None) -> None:
    """Kill at every write, recover, compare with the uninterrupted end state."""
    harness.save()
    points = harness.kill_points(args, repo.path)
    want = end_state(repo, remote)
    for call in points:
        for when in ("before", "after"):
            harness.restore()
            killed = harness.run(args, repo.path, at=call.number, when=when)
            where = f"killed {when} #{call.number} ({call.kind} {call.text})"
            assert killed.code == -9, f"{where}: not killed: {killed.code} {killed.err}"
            check_push_records(repo, remote)
            kept = event_ids(repo)
            if when == "after":  # a cron heartbeat may come first
                repaired = repo.orch("heartbeat", "--once", "--repair")
                assert repaired.code == 0, f"{where}: repair: {repaired.err}"
                check_push_records(repo, remote)
            again = repo.orch(*args)
            ok = again.code == 0 or (rerun_ok is not None and rerun_ok(again.code, again.err))
            assert ok, f"{where}: re-run: {again.code} {again.err}"
            assert kept <= event_ids(repo), f"{where}: ledger events lost"
            check_push_records(repo, remote)
            assert end_state(repo, remote) == want, where


def already_started(code: int, err: str) -> bool:
    return code == 1 and "already exists" in err


@pytest.mark.parametrize("isolation", ["worktree", "clone"])
def test_start_resumes_from_every_kill_point(harness: Harness, isolation: str) -> None:
    repo = new_repo(harness.root, isolation)
    converge(harness, repo, ["start", "t1", "--title", "one", "--allow", "src/**",
                             "--isolation", isolation], None, rerun_ok=already_started)


@pytest.mark.parametrize("strategy,push,isolation", [
    ("--merge", True, "worktree"), ("--merge", False, "worktree"), ("--ff", True, "worktree"),
    ("--squash", True, "worktree"), ("--squash", False, "worktree"), ("--merge", True, "clone"),
])
def test_land_resumes_from_every_kill_point(harness: Harness, strategy: str, push: bool,
                                            isolation: str) -> None:
    repo = new_repo(harness.root, isolation)
    remote = add_remote(repo, harness.root) if push else None
    if push:
        with open(repo.path / "orch.toml", "a") as handle:
            handle.write('\n[land]\npush = true\nremote = "origin"\n')
        repo.commit_all("land pushes")
        repo.git("push", "-q", "origin", "main")
    ready(repo, "t1", {"src/new-feature.txt": "new\n"})
    if strategy != "--ff":
        repo.write("docs/other.md", "main moved on\n")
        repo.commit_all("main moves on")
    converge(harness, repo, ["land", "t1", strategy], remote)


@pytest.mark.parametrize("isolation", ["worktree", "clone"])
def test_abandon_resumes_from_every_kill_point(harness: Harness, isolation: str) -> None:
    repo = new_repo(harness.root, isolation)
    wt = repo.start("t1", "--isolation", isolation)
    if isolation == "worktree":  # a clone's commits reach the lead only through collect
        repo.write("src/half.py", "x = 1\n", cwd=wt)
        repo.commit_all("half done", cwd=wt)
    converge(harness, repo, ["abandon", "t1", "--reason", "not needed"], None)


def test_sync_resumes_from_every_kill_point(harness: Harness) -> None:
    root = harness.root
    seed = new_repo(root)
    remote = add_remote(seed, root)
    seed.start("t1", "--no-worktree", "--allow", "src/**")
    seed.orch_ok("sync")
    git("clone", "-q", str(remote), "other", cwd=root)
    other = Repo(root / "other")
    other.orch_ok("init")
    other.orch_ok("sync")
    other.start("t2", "--no-worktree", "--allow", "docs/**")
    other.orch_ok("sync")
    seed.start("t3", "--no-worktree", "--allow", "notes/**")
    converge(harness, seed, ["sync"], remote)
    remote_ids = subprocess.run(["git", "for-each-ref", "refs/orch/"], cwd=remote,
                                capture_output=True, text=True, check=True).stdout
    assert "refs/orch/tasks/t3" in remote_ids


def test_repair_resumes_from_every_kill_point(harness: Harness) -> None:
    repo = new_repo(harness.root)
    ready(repo, "t1", {"src/done.txt": "done\n"})
    repo.orch_ok("land", "t1", "--keep-worktree")
    wt = repo.start("t2")
    repo.orch_ok("abandon", "t2", "--reason", "later")
    repo.start("t3")
    repo.git("branch", "orch/nobody")
    repo.git("worktree", "add", "-q", str(wt.parent / "stray"), "-b", "stray-branch")
    converge(harness, repo, ["heartbeat", "--once", "--repair"], None)


def test_repair_finishes_a_worktree_whose_checkout_was_killed(harness: Harness) -> None:
    repo = new_repo(harness.root, "worktree")
    args = ["start", "t1", "--title", "one"]
    harness.save()
    add = next(c for c in harness.kill_points(args, repo.path)
               if subcommand(c.text.split()) == "worktree" and " add " in c.text)
    harness.restore()
    assert harness.run(args, repo.path, at=add.number, when="before").code == -9
    # What `git worktree add` leaves when killed during its checkout.
    path = repo.worktree("t1")
    repo.git("worktree", "add", "--no-checkout", "-q", str(path), "orch/t1")
    repo.git("worktree", "lock", "--reason", "initializing", str(path))
    assert repo.git("status", "--porcelain", cwd=path)
    out = repo.orch_ok("heartbeat", "--once", "--repair").out
    assert f"t1: finished its setup (worktree {path}" in out
    assert repo.git("status", "--porcelain", cwd=path) == ""
    assert (path / "src/app.py").is_file()
    assert "locked" not in repo.git("worktree", "list", "--porcelain")
    assert repo.status()["t1"]["state"] == "active"


def test_a_half_removed_worktree_is_finished_by_land(harness: Harness) -> None:
    repo = new_repo(harness.root, "worktree")
    wt = ready(repo, "t1", {"src/new.txt": "new\n"})
    repo.orch_ok("land", "t1", "--keep-worktree")
    (wt / ".git").unlink()  # `git worktree remove` killed after deleting the .git file
    out = repo.orch_ok("land", "t1").out
    assert "removed what was left of worktree" in out
    assert not wt.exists() and repo.status()["t1"]["state"] == "cleaned"


def test_a_refused_push_stays_due_through_repair(harness: Harness) -> None:
    repo = new_repo(harness.root)
    remote = add_remote(repo, harness.root)
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write('\n[land]\npush = true\n')
    repo.commit_all("land pushes")
    repo.git("push", "-q", "origin", "main")
    ready(repo, "t1", {"src/new.txt": "new\n"})
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho closed for maintenance >&2\nexit 1\n")
    hook.chmod(0o755)
    refused = repo.orch("land", "t1")
    assert refused.code == 1 and "push to origin failed" in refused.err
    out = repo.orch_ok("heartbeat", "--once", "--repair").out
    assert "left t1: merged, its push to origin is still due" in out
    assert repo.status()["t1"]["state"] == "merged"
    hook.unlink()
    repo.orch_ok("land", "t1")
    assert repo.status()["t1"]["state"] == "cleaned"
    assert repo.git("rev-parse", "main", cwd=remote) == repo.rev("main")
