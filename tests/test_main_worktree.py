"""The main worktree (where orch.toml is read) is the one git names, whether or not
`git worktree list` ran: a worker's commands work it out from the common dir and
the config they read anyway, so it must agree with git in every layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Repo, git, make_repo

from git_orch.config import load_policy
from git_orch.repo import OrchRepo


def listed_main(cwd: Path) -> Path:
    """What git-orch took from `git worktree list` before: the first non-bare entry."""
    entries = git("worktree", "list", "--porcelain", cwd=cwd).split("\n\n")
    for entry in entries:
        fields = dict(line.partition(" ")[::2] for line in entry.splitlines())
        if "bare" not in fields:
            return Path(fields["worktree"])
    raise AssertionError(f"no non-bare worktree listed in {cwd}")


def assert_agrees_with_git(cwd: Path) -> None:
    worked_out = OrchRepo(cwd).main_worktree
    listed = OrchRepo(cwd)
    assert listed.worktrees  # loaded first: the answer comes from the list
    assert worked_out == listed.main_worktree == listed_main(cwd)


def test_a_plain_repository_from_its_main_and_a_linked_worktree(repo: Repo) -> None:
    linked = repo.path.parent / "linked"
    repo.git("worktree", "add", "-q", "-b", "side", str(linked))
    (repo.path / "orch.toml").write_text(
        (repo.path / "orch.toml").read_text().replace("max_active = 3", "max_active = 7"))
    for cwd in (repo.path, linked, linked / "src"):
        assert_agrees_with_git(cwd)
        assert load_policy(OrchRepo(cwd)).max_active == 7


@pytest.mark.parametrize("bare_value", ["true", "yes", "1", None])
def test_a_repository_whose_config_says_bare(tmp_path: Path, bare_value: str | None) -> None:
    source = make_repo(tmp_path / "source")
    holder = tmp_path / "holder"
    holder.mkdir()
    common = holder / ".git"
    git("clone", "-q", "--bare", str(source.path), str(common), cwd=tmp_path)
    if bare_value is None:  # a key without a value is true
        with (common / "config").open("a") as config:
            config.write("[core]\n\tbare\n")
    else:
        git("config", "core.bare", bare_value, cwd=common)
    linked = tmp_path / "linked"
    git("worktree", "add", "-q", str(linked), "main", cwd=common)
    assert_agrees_with_git(linked)
    assert OrchRepo(linked).main_worktree == linked  # the bare one is no worktree


def test_a_separate_git_dir(tmp_path: Path) -> None:
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", f"--separate-git-dir={tmp_path / 'gitdir'}", str(work),
        cwd=tmp_path)
    (work / "README.md").write_text("hello\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "initial", cwd=work)
    linked = tmp_path / "linked"
    git("worktree", "add", "-q", "-b", "side", str(linked), cwd=work)
    for cwd in (work, linked):
        assert_agrees_with_git(cwd)
