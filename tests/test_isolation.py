"""Isolation modes (clone and worktree), roles, and git config the lead never runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import Repo, make_repo


def commit_in(repo: Repo, ws: Path, rel: str = "src/feature.py", text: str = "x = 1\n") -> str:
    repo.write(rel, text, cwd=ws)
    return repo.commit_all(f"Work\n\nOrch-Task: {ws.name}\nOrch-Evidence: local: it imports",
                           cwd=ws)


def test_init_writes_clone_and_a_repository_without_the_key_keeps_worktrees(tmp_path: Path
                                                                           ) -> None:
    new = make_repo(tmp_path / "new")
    new.orch_ok("init")
    assert 'isolation = "clone"' in (new.path / "orch.toml").read_text()
    old = make_repo(tmp_path / "old")
    old.write("orch.toml", '[orch]\nmain_branch = "main"\n')
    old.commit_all("policy of an older git-orch")
    ws = old.start("t1")
    assert (ws / ".git").is_file()  # a linked worktree: .git is a file
    assert old.status()["t1"]["isolation"] == "worktree"


def test_clone_workspace_has_its_own_git_dir_pointing_back_only_through_alternates(
    clone_repo: Repo,
) -> None:
    out = clone_repo.orch_ok("start", "t1", "--title", "one", "--json").json()
    assert isinstance(out, dict) and out["isolation"] == "clone"
    ws = clone_repo.worktree("t1")
    gitdir = ws / ".git"
    assert gitdir.is_dir()
    common = clone_repo.git("rev-parse", "--path-format=absolute", "--git-common-dir")
    alternates = (gitdir / "objects" / "info" / "alternates").read_text().strip()
    assert Path(alternates) == Path(common) / "objects"
    # Nothing else in the workspace's git dir names the lead's repository (the
    # reflog's "clone: from ..." line is a message, not something git follows).
    for path in gitdir.rglob("*"):
        parts = path.relative_to(gitdir).parts
        if path.is_file() and "objects" not in parts and "logs" not in parts:
            assert common not in path.read_text(errors="replace"), path
    assert clone_repo.git("remote", cwd=ws) == ""
    assert clone_repo.git("config", "orch.role", cwd=ws) == "worker"
    assert clone_repo.git("rev-parse", "--abbrev-ref", "HEAD", cwd=ws) == "orch/t1"
    assert clone_repo.git("rev-parse", "refs/orch/tasks/t1", cwd=ws) == clone_repo.rev(
        "refs/orch/tasks/t1")
    assert (ws / "README.md").read_text() == "hello\n"
    # Objects written in the workspace stay there until the lead collects.
    head = commit_in(clone_repo, ws)
    assert clone_repo.git("cat-file", "-t", head, check=False) != "commit"


def test_isolation_flag_overrides_orch_toml_and_bad_values_are_refused(clone_repo: Repo
                                                                     ) -> None:
    clone_repo.orch_ok("start", "t1", "--title", "one", "--isolation", "worktree")
    assert (clone_repo.worktree("t1") / ".git").is_file()
    assert clone_repo.status()["t1"]["isolation"] == "worktree"
    # run cannot change the kind start chose; --isolation makes sure of it
    wrong = clone_repo.orch("run", "t1", "--agent", "codex", "--isolation", "clone")
    assert wrong.code == 1 and "task t1 has a worktree workspace, not clone" in wrong.err
    bad = clone_repo.orch("start", "t2", "--title", "two", "--isolation", "chroot")
    assert bad.code == 2
    toml = clone_repo.path / "orch.toml"
    toml.write_text(toml.read_text().replace('isolation = "clone"', 'isolation = "vm"'))
    refused = clone_repo.orch("start", "t3", "--title", "three")
    assert refused.code == 1
    assert 'isolation must be "clone" or "worktree"' in refused.err


def test_the_whole_loop_in_both_modes(any_repo: Repo) -> None:
    ws = any_repo.start("t1", "--allow", "src/**")
    head = commit_in(any_repo, ws)
    any_repo.orch_ok("handoff", "--summary", "done", cwd=ws)
    view = any_repo.status()["t1"]  # status collects a clone first
    assert view["state"] == "completed-unreviewed" and view["head"] == head
    any_repo.orch_ok("review", "t1")
    any_repo.orch_ok("accept", "t1")
    landed = any_repo.orch_ok("land", "t1")
    assert "cleaned" in landed.out
    assert not ws.exists()
    assert any_repo.git("branch", "--list", "orch/t1") == ""
    assert any_repo.git("merge-base", "--is-ancestor", head, "main", check=False) == ""
    assert any_repo.git("for-each-ref", "refs/orch-collect/") == ""
    assert any_repo.status()["t1"]["state"] == "cleaned"


def test_abandon_in_both_modes_refuses_uncommitted_work_then_archives(any_repo: Repo) -> None:
    ws = any_repo.start("t1")
    head = commit_in(any_repo, ws)
    (ws / "scratch.txt").write_text("not committed\n")
    refused = any_repo.orch("abandon", "t1", "--reason", "superseded")
    assert refused.code == 1 and "has uncommitted changes" in refused.err
    any_repo.orch_ok("abandon", "t1", "--reason", "superseded", "--discard-changes")
    assert not ws.exists()
    # The worker's commit was pulled in before the workspace went away.
    assert any_repo.rev("refs/orch/archive/t1") == head


def test_status_reports_dirty_and_missing_workspaces_and_repair_restores(any_repo: Repo
                                                                         ) -> None:
    ws = any_repo.start("t1")
    (ws / "new.txt").write_text("untracked\n")
    assert any_repo.status()["t1"]["dirty"] is True
    (ws / "new.txt").unlink()
    assert any_repo.status()["t1"]["dirty"] is False
    import shutil

    shutil.rmtree(ws)
    assert "orphan" in any_repo.status()["t1"]["flags"]
    out = any_repo.orch_ok("heartbeat", "--once", "--repair").out
    assert "restored" in out
    assert ws.is_dir() and any_repo.status()["t1"]["flags"] == []
    assert any_repo.git("rev-parse", "--abbrev-ref", "HEAD", cwd=ws) == "orch/t1"


def test_repair_removes_a_clone_workspace_that_belongs_to_no_task(clone_repo: Repo) -> None:
    import shutil

    ws = clone_repo.worktree("ghost")
    shutil.copytree(clone_repo.start("t1"), ws)
    clone_repo.git("config", "orch.task", "ghost", cwd=ws)
    data = clone_repo.orch_ok("status", "--json").json()
    assert isinstance(data, dict)
    assert {"kind": "workspace", "name": str(ws), "detail": "clone of task ghost; no task"} in (
        data["orphans"])
    out = clone_repo.orch_ok("heartbeat", "--once", "--repair").out
    assert f"removed orphan workspace {ws}" in out and not ws.exists()


def test_runner_works_in_a_clone_and_its_handoff_is_collected(clone_repo: Repo) -> None:
    import json

    from git_orch.agent.standin import preset_argv

    scenario = clone_repo.path.parent / "scenario.toml"
    scenario.write_text('[[steps]]\nwrite = "src/greet.py"\ncontent = "hi"\n'
                        '[[steps]]\ncommit = "Greet"\n'
                        '[[steps]]\nhandoff_file = "greeting added"\n'
                        '[[steps]]\nhandoff = "greeting added"\n')
    toml = clone_repo.path / "orch.toml"
    toml.write_text(toml.read_text() + "\n[agents.standin]\nargv = "
                    + json.dumps(preset_argv(scenario)) + "\n")
    clone_repo.start("t1", "--allow", "src/**")
    result = clone_repo.orch_ok("run", "t1", "--agent", "standin", "--isolation", "clone",
                                "--wait", "--json").json()
    assert isinstance(result, dict) and result["ok"] is True, result
    view = clone_repo.status()["t1"]
    assert view["state"] == "completed-unreviewed"
    assert view["head"] == clone_repo.rev("orch/t1") != view["base"]


# --- roles ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["start", "t9", "--title", "nested"],
    ["accept", "t1"],
    ["reject", "t1", "--reason", "no"],
    ["land", "t1"],
    ["abandon", "t1", "--reason", "no"],
    ["run", "t1"],
    ["next", "--start"],
    ["dispatch", "paused"],
    ["hooks", "uninstall"],
])
def test_lead_only_commands_refuse_in_a_workspace(any_repo: Repo, command: list[str]) -> None:
    ws = any_repo.start("t1")
    result = any_repo.orch(*command, cwd=ws)
    assert result.code == 1, result
    line = result.err.strip()
    assert "\n" not in line and "is for the lead, not a worker" in line
    assert "workspace of task 't1'" in line


def test_orch_task_in_the_environment_makes_any_checkout_a_worker_context(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCH_TASK", "t1")
    result = repo.orch("start", "t2", "--title", "nested")
    assert result.code == 1 and "ORCH_TASK is set" in result.err
    assert repo.git("for-each-ref", "refs/orch/tasks/") == ""


def test_worker_commands_still_work_in_a_workspace(clone_repo: Repo) -> None:
    ws = clone_repo.start("t1")
    commit_in(clone_repo, ws)
    clone_repo.orch_ok("block", "--reason", "need a password", cwd=ws)
    assert clone_repo.status()["t1"]["state"] == "blocked"


def test_envelope_tells_the_worker_not_to_start_workers(clone_repo: Repo) -> None:
    from git_orch.agent import envelope
    from git_orch.record.tasks import load_task
    from git_orch.repo import OrchRepo

    ws = clone_repo.start("t1")
    task = load_task(OrchRepo(clone_repo.path), "t1")
    text = envelope.render(task.contract, ws, ws.parent / "handoff.md", "main")
    assert "never start other workers" in text
    assert f"Worktree: `{ws}` (your own clone, with no remote" in text


# --- never run a worker's configuration ------------------------------------------------


def _trap(folder: Path, marker: Path) -> Path:
    """A program that leaves a marker file if anyone runs it."""
    script = folder / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\nexit 0\n")
    os.chmod(script, 0o755)
    return script


def test_lead_commands_never_run_a_clone_workspaces_fsmonitor_or_hooks(clone_repo: Repo
                                                                       ) -> None:
    ws = clone_repo.start("t1")
    commit_in(clone_repo, ws)
    clone_repo.orch_ok("handoff", "--summary", "s", cwd=ws)
    marker = clone_repo.path.parent / "ran"
    evil = _trap(clone_repo.path.parent, marker)
    hooks = ws / ".git" / "evil-hooks"
    hooks.mkdir()
    for name in ("pre-upload-pack", "reference-transaction", "post-checkout", "pre-push"):
        (hooks / name).write_text(evil.read_text())
        os.chmod(hooks / name, 0o755)
    clone_repo.git("config", "core.fsmonitor", str(evil), cwd=ws)
    clone_repo.git("config", "core.hooksPath", str(hooks), cwd=ws)
    clone_repo.git("config", "uploadpack.packObjectsHook", str(evil), cwd=ws)
    commit_in(clone_repo, ws, "src/more.py")  # something new for collect to fetch
    marker.unlink(missing_ok=True)  # the worker's own commit ran its own hooks: fine
    clone_repo.orch_ok("collect", "t1")
    clone_repo.orch_ok("status")
    clone_repo.orch_ok("heartbeat", "--once")
    clone_repo.orch_ok("abandon", "t1", "--reason", "done")
    assert not marker.exists()


def test_lead_status_never_runs_fsmonitor_or_filters_set_in_the_shared_config(repo: Repo) -> None:
    ws = repo.start("t1")
    (ws / "dirty.txt").write_text("x\n")
    marker = repo.path.parent / "ran"
    evil = _trap(repo.path.parent, marker)
    repo.git("config", "core.fsmonitor", str(evil), cwd=ws)  # a worker writes common config
    repo.git("config", "filter.evil.clean", str(evil), cwd=ws)
    info = Path(repo.git("rev-parse", "--git-common-dir", cwd=ws)) / "info"
    info.mkdir(exist_ok=True)
    (info / "attributes").write_text("* filter=evil\n")
    (ws / "README.md").write_text("changed\n")
    repo.orch_ok("status")
    repo.orch_ok("heartbeat", "--once")
    assert not marker.exists()
    assert repo.git("config", "core.fsmonitor") == str(evil)  # still reported as it is


def test_status_labels_worktree_workers_advisory(clone_repo: Repo) -> None:
    clone_repo.start("c1", "--allow", "src/**")
    clone_repo.orch_ok("start", "w1", "--title", "trusted", "--isolation", "worktree",
                       "--allow", "docs/**")
    text = clone_repo.orch_ok("status").out
    assert "Advisory isolation (1): worktree workers share this git dir" in text
    assert text.rstrip().endswith("w1") or "can write it: w1" in text


def test_hooks_commands_see_clone_workspaces(clone_repo: Repo) -> None:
    ws = clone_repo.start("t1", "--allow", "src/**")
    status = clone_repo.orch_ok("hooks", "status", "--json").json()
    assert isinstance(status, dict)
    (entry,) = status["workers"]
    assert entry["task"] == "t1" and entry["worktree"] == str(ws)
    assert entry["installed"] is True and entry["allow"] == ["src/**"]
    assert entry["hooks_path"] == str(ws / ".git" / "orch" / "hooks")
    clone_repo.orch_ok("hooks", "uninstall", "--task", "t1")
    clone_repo.git("update-ref", "refs/heads/side", "HEAD", cwd=ws)  # no hook refuses now
    out = clone_repo.orch_ok("hooks", "install").out
    assert f"installed hooks for t1 in {ws}" in out
    clone_repo.git("update-ref", "refs/heads/side2", "HEAD", cwd=ws, check=False)  # refused
    assert clone_repo.git("branch", "--list", "side2", cwd=ws) == ""
