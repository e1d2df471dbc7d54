"""Worker hooks, end to end with real git, from worktrees made by `git orch start`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import Repo, git


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=input, check=False)


def refs(repo: Repo) -> str:
    """Every ref and where each worktree's HEAD points: must not move on a refusal."""
    listing = repo.git("for-each-ref", "--format=%(refname) %(objectname)")
    heads = [repo.git("worktree", "list", "--porcelain")]
    return listing + "\n" + "\n".join(heads)


@pytest.fixture
def worker(repo: Repo) -> Path:
    """Task t1 (allow src/**, docs/**; forbid src/secret/, docs/guide.md) with one commit.

    The main worktree is detached so git's own "branch checked out elsewhere"
    protection never answers before the hooks do.
    """
    path = repo.start("t1", "--allow", "src/**", "--allow", "docs/**",
                      "--forbid", "src/secret/", "--forbid", "docs/guide.md")
    repo.write("src/app.py", "print('v2')\n", cwd=path)
    repo.commit_all("Work on app", cwd=path)
    repo.git("checkout", "-q", "--detach")
    return path


def refused(repo: Repo, path: Path, args: list[str], message: str) -> str:
    before = refs(repo)
    proc = run(*args, cwd=path)
    assert proc.returncode != 0, f"git {' '.join(args)} was not refused"
    assert message in proc.stderr, proc.stderr
    assert refs(repo) == before, f"git {' '.join(args)} moved a ref"
    return proc.stderr


# --- refs -----------------------------------------------------------------

REF_CASES = [
    (["push", ".", "HEAD:main"], "workers do not push"),
    (["fetch", ".", "HEAD:main"], "may only move its own branch orch/t1, not main"),
    (["update-ref", "refs/heads/main", "HEAD"], "not main"),
    (["branch", "-f", "main", "HEAD"], "not main"),
    (["checkout", "-b", "other"], "not other"),
    (["branch", "other"], "not other"),
    (["tag", "v1"], "workers do not create, move or delete tags (v1)"),
    (["tag", "-a", "-m", "rel", "v2"], "tags (v2)"),
    (["update-ref", "refs/orch/ledger", "HEAD"], "refs/orch/ledger is written by git orch only"),
    (["update-ref", "-d", "refs/heads/orch/t1"], "do not delete their task branch"),
    (["update-ref", "refs/notes/commits", "HEAD"], "may not update refs/notes/commits"),
    (["update-ref", "refs/remotes/origin/main", "HEAD"], "may not update refs/remotes/origin/main"),
    (["update-ref", "main-worktree/HEAD", "HEAD"], "may not update main-worktree/HEAD"),
    (["update-ref", "lowercase", "HEAD"], "may not update lowercase"),
]


@pytest.mark.parametrize(("args", "message"), REF_CASES, ids=[" ".join(a) for a, _ in REF_CASES])
def test_worker_ref_updates_are_refused(repo: Repo, worker: Path, args: list[str],
                                        message: str) -> None:
    err = refused(repo, worker, args, message)
    lines = [ln for ln in err.splitlines() if ln.startswith("git-orch:")]
    assert 1 <= len(lines) <= 2, err


def test_push_to_a_bare_remote_is_refused(repo: Repo, remote: Path, worker: Path) -> None:
    before = git("for-each-ref", cwd=remote)
    err = refused(repo, worker, ["push", "origin", "HEAD"], "workers do not push (task t1)")
    assert "git orch handoff" in err
    assert git("for-each-ref", cwd=remote) == before


def test_merge_is_refused_true_merge_and_fast_forward(repo: Repo, worker: Path) -> None:
    repo.git("checkout", "-q", "main")
    repo.write("README.md", "main moved\n")
    repo.commit_all("Main moves on")
    repo.git("checkout", "-q", "--detach")
    refused(repo, worker, ["merge", "--no-edit", "main"], "workers do not merge")
    # git leaves the merge half done; committing it is refused too
    proc = run("commit", "-q", "--no-edit", cwd=worker)
    assert proc.returncode != 0 and "a merge is in progress" in proc.stderr
    run("merge", "--abort", cwd=worker)
    # a worker with no commits of its own would fast-forward: refused as well
    fresh = repo.start("t2", "--allow", "lib/**")
    base = git("rev-parse", "HEAD", cwd=fresh)
    repo.git("checkout", "-q", "main")
    repo.write("docs/new.md", "x\n")
    repo.commit_all("Main again")
    repo.git("checkout", "-q", "--detach")
    err = refused(repo, fresh, ["merge", "--ff-only", "main"], "workers do not merge or pull")
    assert "git orch block" in err
    assert git("rev-parse", "HEAD", cwd=fresh) == base


def test_main_worktree_still_does_all_of_it(repo: Repo, remote: Path, worker: Path) -> None:
    head = git("rev-parse", "HEAD", cwd=worker)
    for args in (
        ["update-ref", "refs/heads/main", head],
        ["branch", "-f", "side", head],
        ["fetch", ".", f"{head}:refs/heads/fetched"],
        ["tag", "v1", head],
        ["push", ".", f"{head}:refs/heads/pushed"],
        ["push", "-q", "origin", "main"],
        ["checkout", "-q", "-b", "other"],
        ["merge", "-q", "--no-edit", "side"],
    ):
        proc = run(*args, cwd=repo.path)
        assert proc.returncode == 0, f"main worktree: git {' '.join(args)}: {proc.stderr}"
        assert "git-orch" not in proc.stderr
    assert repo.rev("refs/tags/v1") == head
    assert run("config", "--get", "core.hooksPath", cwd=repo.path).returncode == 1
    repo.write("README.md", "anything goes here\n")
    repo.commit_all("Main commits freely")
    body = repo.git("log", "-1", "--format=%B")
    assert "Orch-Task" not in body


def test_worker_normal_work_is_allowed(repo: Repo, worker: Path) -> None:
    """Commit, amend, detached HEAD, stash, reset and rebase of its own work."""
    w = worker
    repo.write("src/more.py", "x = 1\n", cwd=w)
    repo.commit_all("More", cwd=w)
    assert run("commit", "-q", "--amend", "-m", "More, amended", cwd=w).returncode == 0
    repo.write("src/app.py", "print('stash me')\n", cwd=w)
    assert run("stash", "-q", cwd=w).returncode == 0
    assert run("stash", "pop", "-q", cwd=w).returncode == 0
    assert run("checkout", "-q", "--", "src/app.py", cwd=w).returncode == 0
    assert run("checkout", "-q", "--detach", "HEAD~1", cwd=w).returncode == 0
    repo.write("src/detached.py", "y = 2\n", cwd=w)
    repo.commit_all("Detached work", cwd=w)
    assert run("checkout", "-q", "orch/t1", cwd=w).returncode == 0
    proc = run("rebase", "-q", "HEAD~1", "--exec", "true", cwd=w)
    assert proc.returncode == 0, proc.stderr
    assert run("reset", "-q", "--hard", "HEAD~1", cwd=w).returncode == 0
    assert run("cherry-pick", "ORIG_HEAD", cwd=w).returncode == 0
    assert git("symbolic-ref", "HEAD", cwd=w) == "refs/heads/orch/t1"


# --- paths ------------------------------------------------------------------

def test_forbidden_path_is_refused_naming_path_and_rule(repo: Repo, worker: Path) -> None:
    repo.write("src/secret/key.txt", "k\n", cwd=worker)
    repo.git("add", "-A", cwd=worker)
    err = refused(repo, worker, ["commit", "-q", "-m", "Leak"], "src/secret/key.txt")
    assert "forbidden by Orch-Forbid: src/secret/" in err
    assert "git restore --staged" in err


def test_policy_forbid_reaches_the_hook(repo: Repo, worker: Path) -> None:
    repo.write("orch.toml", "# edited\n", cwd=worker)
    repo.git("add", "-A", cwd=worker)
    err = refused(repo, worker, ["commit", "-q", "-m", "Policy"], "orch.toml: forbidden")
    assert "Orch-Forbid: orch.toml" in err


def test_rename_into_forbidden_is_refused(repo: Repo, worker: Path) -> None:
    (worker / "src" / "secret").mkdir()
    repo.git("mv", "src/app.py", "src/secret/app.py", cwd=worker)
    err = refused(repo, worker, ["commit", "-q", "-m", "Hide"], "src/secret/app.py")
    assert "src/app.py" not in err.replace("src/secret/app.py", "")


def test_rename_out_of_forbidden_is_refused(repo: Repo, worker: Path) -> None:
    repo.git("mv", "docs/guide.md", "docs/manual.md", cwd=worker)
    err = refused(repo, worker, ["commit", "-q", "-m", "Move"], "docs/guide.md: forbidden")
    assert "docs/manual.md" not in err


def test_path_outside_allowed_is_refused(repo: Repo, worker: Path) -> None:
    repo.write("README.md", "changed\n", cwd=worker)
    repo.write("src/ok.py", "ok\n", cwd=worker)
    repo.git("add", "-A", cwd=worker)
    err = refused(repo, worker, ["commit", "-q", "-m", "Readme"],
                  "README.md: outside Orch-Allow (src/**, docs/**)")
    assert "src/ok.py" not in err


def test_literal_pathspec_env_does_not_switch_matching_off(repo: Repo, worker: Path) -> None:
    repo.write("src/secret/key.txt", "k\n", cwd=worker)
    repo.git("add", "-A", cwd=worker)
    proc = run("commit", "-q", "-m", "Leak", cwd=worker, env={"GIT_LITERAL_PATHSPECS": "1"})
    assert proc.returncode != 0 and "src/secret/key.txt" in proc.stderr


def forbid_now(repo: Repo, w: Path, path: str, rule: int) -> None:
    """Add a forbid rule to the worker's config by hand, then commit that path: refused."""
    repo.git("config", "--worktree", "--add", "orch.forbid", path, cwd=w)
    repo.git("config", "--worktree", "--add", "orch.forbidPathspec", f"{rule} :(top,glob){path}",
             cwd=w)
    repo.write(path, "x\n", cwd=w)
    repo.git("add", "-A", cwd=w)
    refused(repo, w, ["commit", "-q", "-m", f"Add {path}"], f"{path}: forbidden")


def test_config_edits_after_install_are_seen(repo: Repo) -> None:
    """The hooks' cache of the config is dropped as soon as the config changes."""
    forbid_now(repo, repo.start("t3"), "README.md", 2)


def test_shared_config_changes_keep_the_rules_and_a_new_hookspath_is_seen(
    repo: Repo, worker: Path, tmp_path: Path
) -> None:
    """A shared config edit that cannot matter (a remote) keeps the cached rules;
    one that sets core.hooksPath is read, and the project's hook is chained."""
    repo.git("remote", "add", "elsewhere", str(tmp_path / "nowhere"))
    repo.write("src/secret/key.txt", "k\n", cwd=worker)
    repo.git("add", "-A", cwd=worker)
    refused(repo, worker, ["commit", "-q", "-m", "Key"], "src/secret/key.txt: forbidden")
    repo.git("reset", "-q", cwd=worker)
    (worker / "src" / "secret" / "key.txt").unlink()
    repo.write("src/b.py", "b\n", cwd=worker)
    repo.git("add", "-A", cwd=worker)
    repo.git("commit", "-q", "-m", "Add b", cwd=worker)
    assert trailers(worker) == "Orch-Task: t1"
    marks = tmp_path / "marks"
    hook(tmp_path / "project-hooks", "pre-commit", f"echo project >> {marks}")
    repo.git("config", "core.hooksPath", str(tmp_path / "project-hooks"))
    repo.write("src/c.py", "c\n", cwd=worker)
    repo.git("add", "-A", cwd=worker)
    repo.git("commit", "-q", "-m", "Add c", cwd=worker)
    assert marks.read_text() == "project\n"


def test_rules_with_config_syntax_characters_are_stored_exactly(any_repo: Repo) -> None:
    """install writes the worktree's config file itself: quotes, backslashes, ; # and
    tabs must read back as given, and a reinstall replaces rather than adds."""
    repo = any_repo
    odd = ['src/a"b/**', "src/semi;colon#hash/**", "src/back\\slash", "src/tab\there"]
    w = repo.start("t8", *[arg for spec in odd for arg in ("--forbid", spec)])
    expected = [*odd, "orch.toml", ".github/workflows/**"]
    listed = run("config", "--worktree", "-z", "--get-all", "orch.forbid", cwd=w).stdout
    assert listed.split("\0")[:-1] == expected
    result = repo.orch_proc("hooks", "install", "--task", "t8")
    assert result.code == 0, result.err
    again = run("config", "--worktree", "-z", "--get-all", "orch.forbid", cwd=w).stdout
    assert again == listed
    for key in ("core.hooksPath", "orch.task", "maintenance.auto"):
        assert len(git("config", "--worktree", "--get-all", key, cwd=w).splitlines()) == 1
    repo.write("src/tab\there", "x\n", cwd=w)
    repo.git("add", "-A", cwd=w)
    refused(repo, w, ["commit", "-q", "-m", "Tab"], "forbidden by Orch-Forbid")


def test_a_config_edit_in_the_workspace_keeps_the_rules(any_repo: Repo) -> None:
    """The worker's own config edit (a clone's is its repository config) must not
    switch the checks off."""
    w = any_repo.start("t9", "--forbid", "docs/**")
    any_repo.git("config", "user.name", "Worker", cwd=w)
    any_repo.write("docs/x.md", "x\n", cwd=w)
    any_repo.git("add", "-A", cwd=w)
    refused(any_repo, w, ["commit", "-q", "-m", "Docs"], "docs/x.md: forbidden")


def config_reads(repo: Repo, w: Path, path: str) -> int:
    """Commit one change to `path` in `w`; how many times its hooks asked git for the config."""
    repo.write(path, f"{path}\n", cwd=w)
    repo.git("add", "-A", cwd=w)
    trace = w.parent / "trace.txt"
    trace.unlink(missing_ok=True)
    proc = run("commit", "-q", "-m", f"Edit {path}", cwd=w, env={"GIT_TRACE": str(trace)})
    assert proc.returncode == 0, proc.stderr
    return trace.read_text().count("built-in: git config ")


def test_a_config_read_that_finds_the_cache_right_restores_the_fast_path(
    any_repo: Repo, tmp_path: Path
) -> None:
    """After a config edit that changes nothing of the worker's (a clone's own config,
    the shared one of a worktree), one hook reads the config with git, and the next
    commits need no git call for it; an edit after that is still seen at once."""
    repo = any_repo
    w = repo.start("t10", "--allow", "src/**")
    config_reads(repo, w, "src/a.py")
    repo.git("config", "user.name", "Worker", cwd=w)
    assert config_reads(repo, w, "src/b.py") >= 1
    assert config_reads(repo, w, "src/c.py") == 0
    forbid_now(repo, w, "src/d.py", 9)
    repo.git("reset", "-q", cwd=w)
    (w / "src" / "d.py").unlink()
    # A project hook path set in the shared config is read and chained as well.
    marks = tmp_path / "marks"
    hook(tmp_path / "project-hooks", "pre-commit", f"echo project >> {marks}")
    repo.git("config", "core.hooksPath", str(tmp_path / "project-hooks"), cwd=w)
    config_reads(repo, w, "src/e.py")
    assert marks.read_text() == "project\n"


def test_no_confirmation_while_a_config_write_is_under_way_or_a_file_is_included(
    repo: Repo, tmp_path: Path
) -> None:
    """git writes a config file as `<file>.lock`, renamed over it later with the lock's
    older time; and a change in an included file leaves the including file's time
    alone. In either case the hooks keep reading the config with git."""
    w = repo.start("t12", "--allow", "src/**")
    repo.git("config", "user.name", "Worker", cwd=w)
    lock = repo.path / ".git" / "config.lock"
    lock.write_text("")
    assert config_reads(repo, w, "src/a.py") >= 1
    assert config_reads(repo, w, "src/b.py") >= 1
    lock.unlink()
    assert config_reads(repo, w, "src/c.py") >= 1
    assert config_reads(repo, w, "src/d.py") == 0
    included = tmp_path / "included.gitconfig"
    included.write_text("[user]\n\tname = Included\n")
    repo.git("config", "include.path", str(included), cwd=w)
    assert config_reads(repo, w, "src/e.py") >= 1
    assert config_reads(repo, w, "src/f.py") >= 1


def test_a_forged_confirmation_without_a_fresh_read_is_not_trusted(repo: Repo) -> None:
    """The confirmation counts only with the mark written before the read it confirms:
    equal contents do not help when a config file is newer than the mark."""
    w = repo.start("t11", "--allow", "src/**")
    gitdir = Path(git("rev-parse", "--absolute-git-dir", cwd=w))
    config_reads(repo, w, "src/a.py")
    (gitdir / "orch-hooks.checked").write_text("forged\n")
    (gitdir / "orch-hooks.confirmed").write_text("forged\n")
    forbid_now(repo, w, "src/d.py", 9)


# --- messages -------------------------------------------------------------

def trailers(path: Path) -> str:
    return git("interpret-trailers", "--parse",
               input=git("log", "-1", "--format=%B", cwd=path), cwd=path)


def test_commit_gets_its_orch_task_trailer(repo: Repo, worker: Path) -> None:
    assert trailers(worker) == "Orch-Task: t1"
    repo.write("src/a.py", "a\n", cwd=worker)
    repo.git("add", "-A", cwd=worker)
    repo.git("commit", "-q", "-m", "Add a\n\nBody.\n\nOrch-Task: t1\n"
             "Orch-Evidence: local: pytest passes", cwd=worker)
    assert trailers(worker) == "Orch-Task: t1\nOrch-Evidence: local: pytest passes"


@pytest.mark.parametrize(("message", "expected"), [
    ("X\n\nOrch-Task: t9", "belongs to task t1, but the message says Orch-Task: t9"),
    ("X\n\norch-task: other", "Orch-Task: other"),
    ("X\n\nOrch-Evidence: tested: it works", "malformed trailer Orch-Evidence: tested: it works"),
    ("X\n\nOrch-Evidence: local:", "malformed trailer"),
    ("X\n\nOrch-Evidence: it works", "label one of direct, proxy, local, blocked"),
])
def test_bad_trailers_are_refused(repo: Repo, worker: Path, message: str, expected: str) -> None:
    repo.write("src/a.py", "a\n", cwd=worker)
    repo.git("add", "-A", cwd=worker)
    refused(repo, worker, ["commit", "-q", "-m", message], expected)


# --- the repository's own hooks ---------------------------------------------

def hook(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_repo_hooks_still_run_in_the_worker(repo: Repo, tmp_path: Path) -> None:
    hooks = repo.path / ".git" / "hooks"
    marks = tmp_path / "marks"
    hook(hooks, "pre-commit", f'echo "pre-commit $(pwd)" >> {marks}')
    hook(hooks, "commit-msg", f'grep -q "^Orch-Task: t4$" "$1" && echo commit-msg >> {marks}')
    hook(hooks, "post-commit", f"echo post-commit >> {marks}")
    hook(hooks, "reference-transaction", f'echo "rt $1 $(cat | tr "\\n" " ")" >> {marks}')
    w = repo.start("t4")
    repo.write("src/x.py", "x\n", cwd=w)
    repo.commit_all("X", cwd=w)
    seen = marks.read_text()
    assert f"pre-commit {w}" in seen
    assert "commit-msg" in seen and "post-commit" in seen
    assert "rt prepared " in seen and "refs/heads/orch/t4" in seen
    # our check first: a refused commit never reaches the repository's hook
    marks.unlink()
    refused(repo, w, ["update-ref", "refs/heads/main", "HEAD"], "not main")
    assert "rt prepared" not in (marks.read_text() if marks.exists() else "")
    # the repository's hook can still refuse
    hook(hooks, "pre-commit", "echo project check failed >&2; exit 1")
    repo.write("src/y.py", "y\n", cwd=w)
    repo.git("add", "-A", cwd=w)
    refused(repo, w, ["commit", "-q", "-m", "Y"], "project check failed")
    # the main worktree's hooks are the repository's, untouched
    assert sorted(p.name for p in hooks.iterdir() if not p.name.endswith(".sample")) == [
        "commit-msg", "post-commit", "pre-commit", "reference-transaction"]


def test_repo_core_hookspath_is_chained(repo: Repo, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    hook(repo.path / ".husky", "pre-commit", f"echo husky >> {marks}")
    repo.git("config", "core.hooksPath", ".husky")
    repo.git("add", ".husky")
    repo.git("commit", "-q", "-m", "Add husky")
    w = repo.start("t5")
    marks.unlink()
    repo.write("src/x.py", "x\n", cwd=w)
    repo.commit_all("X", cwd=w)
    assert marks.read_text() == "husky\n"
    status = repo.orch_ok("hooks", "status", "--task", "t5", "--json").json()
    assert isinstance(status, dict)
    assert status["workers"][0]["chained"] == ["pre-commit"]
    assert status["workers"][0]["repo_hooks_dir"] == str(w / ".husky")


# --- git orch's own writes and the hooks command -----------------------------

def test_handoff_and_block_work_in_a_hooked_worker(repo: Repo, worker: Path) -> None:
    result = repo.orch_proc("handoff", "--summary", "done", cwd=worker)
    assert result.code == 0, result.err
    other = repo.start("t6", "--allow", "lib/**")
    result = repo.orch_proc("block", "--reason", "needs a password", cwd=other)
    assert result.code == 0, result.err
    tasks = repo.status()
    assert tasks["t1"]["state"] == "completed-unreviewed"
    assert tasks["t6"]["state"] == "blocked"
    assert run("config", "--get", "core.hooksPath", cwd=worker).returncode == 0


def test_uninstall_restores_and_status_reports(repo: Repo, worker: Path) -> None:
    status = repo.orch_ok("hooks", "status", "--json", cwd=worker).json()
    assert isinstance(status, dict)
    assert status["hooks_current"] is True
    (entry,) = status["workers"]
    assert entry["task"] == "t1" and entry["installed"] is True
    assert entry["allow"] == ["src/**", "docs/**"]
    assert entry["forbid"] == ["src/secret/", "docs/guide.md", "orch.toml", ".github/workflows/**"]
    assert entry["worktree"] == str(worker)
    assert git("config", "--worktree", "--get", "maintenance.auto", cwd=worker) == "false"

    refused_here = repo.orch("hooks", "uninstall", cwd=worker)  # lead-only
    assert refused_here.code == 1 and "is for the lead, not a worker" in refused_here.err
    repo.orch_ok("hooks", "uninstall", "--task", "t1")
    assert run("update-ref", "refs/heads/side", "HEAD", cwd=worker).returncode == 0
    repo.write("README.md", "free\n", cwd=worker)
    repo.commit_all("Unguarded", cwd=worker)
    assert "Orch-Task" not in trailers(worker)
    status = repo.orch_ok("hooks", "status", "--json").json()
    assert isinstance(status, dict)
    assert [w["installed"] for w in status["workers"]] == [False]
    assert git("config", "--worktree", "--get", "orch.task", cwd=worker) == "t1"

    out = repo.orch_ok("hooks", "install").out  # from the main worktree: every worker
    assert f"installed hooks for t1 in {worker}" in out
    refused(repo, worker, ["update-ref", "refs/heads/side", "HEAD"], "not side")
    text = repo.orch_ok("hooks", "status").out
    assert "t1: hooks on" in text and "allow: src/**, docs/**" in text


def test_status_names_repo_hooks_added_after_install(repo: Repo, worker: Path) -> None:
    hook(repo.path / ".git" / "hooks", "post-commit", "true")
    text = repo.orch_ok("hooks", "status").out
    assert "NOT run (added after install): post-commit: run git orch hooks install" in text
    repo.orch_ok("hooks", "install", "--task", "t1")
    status = repo.orch_ok("hooks", "status", "--json").json()
    assert isinstance(status, dict)
    assert status["workers"][0]["chained"] == ["post-commit"]
    assert status["workers"][0]["unchained"] == []


def test_hooks_command_refusals(repo: Repo) -> None:
    result = repo.orch("hooks", "install", "--task", "nope")
    assert result.code == 1 and "task nope has no worktree" in result.err
    assert repo.orch_ok("hooks", "status").out.endswith("no worker worktrees\n")
    result = repo.orch("hooks", "--help")
    assert result.code == 0 and "Example" in result.out


def test_hooks_survive_a_moved_package(repo: Repo, worker: Path) -> None:
    """The installed copy needs neither the package nor Python."""
    folder = Path(git("config", "--get", "core.hooksPath", cwd=worker))
    assert folder == repo.path / ".git" / "orch" / "hooks"
    assert json.dumps(sorted(p.name for p in folder.iterdir())) == json.dumps(sorted(
        ["orch-common.sh", "orch-match.sh", "orch-slow.sh", "pre-commit", "commit-msg",
         "reference-transaction", "pre-push", "pre-merge-commit"]))
    for path in folder.iterdir():
        assert "python" not in path.read_text()


@pytest.mark.parametrize("message", [
    "Subject only",
    "fix: conventional subject",
    "Subject\n\nBody line one.\nBody line two.",
    "Subject\n\nBody: with a colon",
    "Subject\n\nBody.\n\nSigned-off-by: Ada <ada@example.com>",
    "Subject\n\nSigned-off-by: Ada <ada@example.com>\n\n\n",
    "Subject\n\nsee https://example.com/x",
    "Subject\n\n--- not a patch",
])
def test_orch_task_trailer_agrees_with_git(repo: Repo, worker: Path, message: str) -> None:
    """Whatever the message, the result reads as git's own trailer insertion would."""
    expected = git("interpret-trailers", "--if-exists", "doNothing", "--if-missing", "add",
                   "--trailer", "Orch-Task: t1",
                   input=git("stripspace", input=message, cwd=worker) + "\n", cwd=worker)
    repo.write("src/a.py", message, cwd=worker)
    repo.git("add", "-A", cwd=worker)
    repo.git("commit", "-q", "-m", message, cwd=worker)
    parsed = git("interpret-trailers", "--parse", input=expected, cwd=worker)
    assert trailers(worker) == parsed
    assert "Orch-Task: t1" in parsed.splitlines()
    body = git("log", "-1", "--format=%B", cwd=worker)
    kept = [line for line in body.splitlines() if line.strip() and line != "Orch-Task: t1"]
    assert kept == [line for line in message.splitlines() if line.strip()]


def test_wildcard_rules_are_matched_by_git(repo: Repo) -> None:
    """Patterns with wildcards take the git :(glob) path; plain ones the sh path."""
    w = repo.start("t7", "--allow", "src/*.py", "--allow", "docs/**", "--forbid", "**/*.md")
    cache = (repo.path / ".git" / "worktrees" / "t7" / "orch-hooks.sh").read_text()
    assert "orch_allow_sh=''" in cache  # src/*.py is not a plain path
    repo.write("docs/guide.md", "changed\n", cwd=w)
    repo.write("src/deep/x.py", "x\n", cwd=w)
    repo.write("src/ok.py", "ok\n", cwd=w)
    repo.git("add", "-A", cwd=w)
    err = refused(repo, w, ["commit", "-q", "-m", "Mixed"], "docs/guide.md: forbidden by "
                  "Orch-Forbid: **/*.md")
    assert "src/deep/x.py: outside Orch-Allow (src/*.py, docs/**)" in err
    assert "src/ok.py" not in err
    repo.git("reset", "-q", "docs/guide.md", "src/deep/x.py", cwd=w)
    repo.git("commit", "-q", "-m", "Only ok", cwd=w)
    assert trailers(w) == "Orch-Task: t7"


def test_quoted_path_names_fall_back_to_git(repo: Repo, worker: Path) -> None:
    repo.write('src/secret/we"ird', "k\n", cwd=worker)
    repo.git("add", "-A", cwd=worker)
    refused(repo, worker, ["commit", "-q", "-m", "Odd"], "forbidden by Orch-Forbid: src/secret/")


# --- one reading of trailers: the hook checks what verify reads (issue 11) ------

def _task_values(repo: Repo, path: Path) -> list[str]:
    """Orch-Task as verify reads the committed object (judge/trailers.py)."""
    from git_orch.judge.trailers import parse_trailers, values

    raw = subprocess.run(["git", "cat-file", "commit", "HEAD"], cwd=path, capture_output=True,
                         check=True).stdout
    return values(parse_trailers(raw.split(b"\n\n", 1)[1]), "Orch-Task")


@pytest.mark.parametrize("message", [
    "X\n\nOrch-Task: t1\n\x0c\nOrch-Task: t9",
    "X\n\nOrch-Task: t1\n\u2028Orch-Task: t9",
    "X\n\nNote: see\u2028Orch-Task: t9",
    "X\n\nOrch-Task: t1\r\nOrch-Gate: make\r",
    "X\n\nOrch-Task: t1\n# ------------------------ >8 ------------------------\nOrch-Task: t9",
])
def test_hook_and_verify_read_the_same_task(repo: Repo, worker: Path, message: str) -> None:
    repo.write("src/a.py", message, cwd=worker)
    repo.git("add", "-A", cwd=worker)
    proc = run("commit", "-q", "--cleanup=verbatim", "-m", message, cwd=worker)
    if proc.returncode == 0:
        assert _task_values(repo, worker) == ["t1"]
    else:
        assert "git-orch:" in proc.stderr


@pytest.mark.parametrize("config", [
    ["-c", "trailer.separators=:="], ["-c", "trailer.ot.key=Orch-Task"],
    ["-c", "core.commentChar=O"],
])
def test_configuration_cannot_change_what_the_hook_reads(repo: Repo, worker: Path,
                                                         config: list[str]) -> None:
    message = "X\n\not: t9\nOrch-Task=t9\nOrch-Evidence: local: ok"
    repo.write("src/a.py", "a\n", cwd=worker)
    repo.git("add", "-A", cwd=worker)
    proc = run(*config, "commit", "-q", "-m", message, cwd=worker)
    if proc.returncode == 0:
        assert _task_values(repo, worker) == ["t1"]
    else:
        assert "git-orch:" in proc.stderr


def test_comment_inside_the_trailers_of_an_edited_message_is_refused(
        repo: Repo, worker: Path, tmp_path: Path) -> None:
    """The editor's cleanup drops comments after the hook: the value would change."""
    edited = tmp_path / "edited"
    edited.write_text("X\n\nOrch-Task: t1\n# a comment\n  t9\n")
    repo.write("src/a.py", "a\n", cwd=worker)
    repo.git("add", "-A", cwd=worker)
    refused(repo, worker, ["-c", f"core.editor=cp {edited}", "commit", "-q"],
            "trailers-ambiguous")
