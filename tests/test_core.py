"""init, start, status, show, handoff, block: from main and worker worktrees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Repo, ledger_note, orch


def test_init_is_idempotent_and_keeps_edits(plain_repo: Repo) -> None:
    first = plain_repo.orch_ok("init")
    assert "wrote" in first.out
    config = plain_repo.path / "orch.toml"
    config.write_text(config.read_text() + "# my note\n")
    again = plain_repo.orch_ok("init")
    assert "kept" in again.out
    assert "# my note" in config.read_text()
    assert plain_repo.git("config", "extensions.worktreeConfig") == "true"
    assert plain_repo.git("rev-parse", "--verify", "refs/orch/ledger")


def test_start_creates_contract_branch_worktree(any_repo: Repo) -> None:
    repo = any_repo  # both isolation modes
    result = repo.orch_ok(
        "start", "t1", "--title", "Fix it", "--allow", "src/**", "--forbid", "src/secret/**",
        "--gate", "pytest -q", "--package", "core", "--json",
    )
    data = json.loads(result.out)
    wt = Path(data["worktree"])
    assert wt == repo.worktree("t1") and wt.is_dir()
    assert data["state"] == "active"
    assert repo.git("rev-parse", "orch/t1") == repo.rev("main")
    # The contract is readable with plain git.
    message = repo.git("log", "-1", "--format=%B", "refs/orch/tasks/t1")
    assert "Orch-Allow: src/**" in message and "Orch-Gate: pytest -q" in message
    assert repo.git("rev-parse", "refs/orch/tasks/t1^") == repo.rev("main")
    assert repo.git("rev-parse", "refs/orch/tasks/t1^{tree}") == repo.rev("main^{tree}")
    # The worktree is marked as this task's worker, and only it.
    assert repo.git("config", "--worktree", "orch.task", cwd=wt) == "t1"
    assert repo.git("config", "--get", "orch.task", check=False) == ""
    notes = ledger_note(repo, "refs/orch/tasks/t1")
    assert [json.loads(line)["type"] for line in notes.splitlines()] == ["created", "activated"]


def test_status_and_show_work_from_worker_and_subdirectory(repo: Repo) -> None:
    wt = repo.start("t1", "--allow", "src/**")
    for where in (repo.path, wt, wt / "src", repo.path / "docs"):
        status = repo.status() if where == repo.path else {
            t["id"]: t for t in orch("status", "--json", cwd=where).json()["tasks"]  # type: ignore[index]
        }
        assert status["t1"]["state"] == "active"
        shown = orch("show", "t1", cwd=where)
        assert shown.code == 0 and "allow    src/**" in shown.out


def test_handoff_and_block_change_state(any_repo: Repo) -> None:
    repo = any_repo  # both isolation modes
    wt = repo.start("t1", "--allow", "src/**")
    refused = repo.orch("handoff", cwd=wt)
    assert refused.code == 1 and "no commits since its base" in refused.err
    repo.write("src/app.py", "print('fixed')\n", cwd=wt)
    head = repo.commit_all("fix", cwd=wt)
    repo.write("src/scratch.py", "draft\n", cwd=wt)
    refused = repo.orch("handoff", cwd=wt)
    assert refused.code == 1 and "uncommitted changes" in refused.err
    (wt / "src/scratch.py").unlink()
    repo.orch_ok("handoff", "--summary", "fixed", "--risk", "untested on windows", cwd=wt)
    task = repo.status()["t1"]
    assert task["state"] == "completed-unreviewed"
    assert task["head"] == head and task["summary"] == "fixed"
    assert task["risks"] == ["untested on windows"] and task["commits"] == 1

    wt2 = repo.start("t2", "--allow", "docs/**")
    assert repo.orch("block", "--reason", "  ", cwd=wt2).code == 1
    repo.orch_ok("block", "--reason", "needs a password", cwd=wt2)
    text = repo.orch_ok("status").out
    needs = text.split("Running")[0]
    assert "t2" in needs and "needs a password" in needs and "t1" in needs


def test_handoff_outside_worker_needs_task(repo: Repo) -> None:
    result = repo.orch("handoff")
    assert result.code == 1
    assert "not in a worker worktree" in result.err


@pytest.mark.parametrize("bad", ["../x", "a b", "-x", "x" * 200, "a..b", "x.lock", "", "a/b", "é"])
def test_bad_ids_are_refused_and_nothing_is_written(repo: Repo, bad: str) -> None:
    before = repo.git("for-each-ref")
    result = repo.orch("start", "--title", "t", "--", bad)
    assert result.code in (1, 2)
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert repo.git("for-each-ref") == before
    assert not (repo.path.parent / "repo.orch").exists()


def test_duplicate_id_is_refused(any_repo: Repo) -> None:
    repo = any_repo  # both isolation modes
    repo.start("t1")
    before = repo.git("for-each-ref")
    result = repo.orch("start", "t1", "--title", "again")
    assert result.code == 1 and "already exists" in result.err
    assert repo.git("for-each-ref") == before


def test_bad_base_and_bad_pathspec_are_refused(repo: Repo) -> None:
    before = repo.git("for-each-ref")
    result = repo.orch("start", "t1", "--title", "x", "--base", "no-such-rev")
    assert result.code == 1 and "bad revision" in result.err
    result = repo.orch("start", "t1", "--title", "x", "--allow", ":(exclude)src")
    assert result.code == 1 and "pathspec magic" in result.err
    result = repo.orch("start", "t1", "--title", "x", "--base", "--all")
    assert result.code in (1, 2)
    assert repo.git("for-each-ref") == before


def test_outside_a_repository_and_in_a_bare_one(tmp_path: Path) -> None:
    result = orch("status", cwd=tmp_path)
    assert result.code == 1 and "not a git repository" in result.err
    bare = tmp_path / "bare.git"
    import subprocess

    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    result = orch("status", cwd=bare)
    assert result.code == 1 and "bare" in result.err


def test_setup_failure_leaves_pending_setup_with_error(repo: Repo) -> None:
    # A file where the worktree folder must go makes `git worktree add` fail.
    (repo.path.parent / "repo.orch").mkdir()
    blocker = repo.path.parent / "repo.orch" / "t1"
    repo.git("worktree", "add", "-q", "--detach", str(blocker))
    repo.git("worktree", "remove", "--force", str(blocker))
    (repo.path.parent / "repo.orch").rmdir()
    (repo.path.parent / "repo.orch").write_text("not a folder")
    result = repo.orch("start", "t1", "--title", "x")
    assert result.code == 1 and "setup failed" in result.err
    task = repo.status()["t1"]
    assert task["state"] == "pending-setup" and task["error"]
    assert "setup failed" in repo.orch_ok("status").out


def test_usage_error_exits_2(repo: Repo) -> None:
    result = repo.orch("start", "t1")
    assert result.code == 2 and "--title" in result.err


def test_unexpected_failure_exits_3_with_log(repo: Repo) -> None:
    # Point the ledger ref at a blob: reading it is a bug-class failure, not a user error.
    blob = repo.git("hash-object", "-w", "--stdin", input="junk")
    repo.git("update-ref", "refs/orch/ledger", blob)
    result = repo.orch_proc("start", "t1", "--title", "x")
    assert result.code in (1, 3)
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    if result.code == 3:
        log = Path(result.err.split("traceback in ")[1].rstrip(")\n"))
        assert "Traceback" in log.read_text()


def test_help_has_examples() -> None:
    from git_orch.cli import COMMANDS

    for name in COMMANDS:
        result = orch(name, "--help", cwd=Path("."))
        assert result.code == 0 and "Example" in result.out, name


def test_git_orch_works_as_a_git_subcommand(repo: Repo) -> None:
    """The console script `git-orch` on PATH is what makes `git orch` work."""
    import os
    import subprocess
    import sys

    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "git-orch").exists()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["git", "orch", "status", "--json"], cwd=repo.path, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tasks"] == []
