"""Eval fixtures: a caught failure is stored in git and replayed by `git orch eval`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import Repo


def overclaimed(repo: Repo, task_id: str = "t1") -> None:
    wt = repo.start(task_id, "--allow", "src/**")
    repo.write("src/app.py", "print('fast')\n", cwd=wt)
    repo.commit_all("Speed up\n\nOrch-Evidence: local: verified in production", cwd=wt)
    repo.orch_ok("handoff", "--summary", "faster", cwd=wt)
    assert repo.orch("review", task_id).code == 1


def test_a_fixture_is_kept_and_replayed(repo: Repo) -> None:
    overclaimed(repo)
    added = repo.orch_ok("fixture", "add", "t1", "--note", "local test sold as prod",
                         "--json").json()
    assert isinstance(added, dict) and added["expected"] == ["overclaim"]
    assert repo.git("cat-file", "-t", "refs/orch/fixtures/t1") == "commit"
    assert "local test sold as prod" in repo.git("show", "refs/orch/fixtures/t1:fixture.json")
    repo.orch_ok("abandon", "t1", "--reason", "kept as a fixture")
    repo.git("branch", "-D", "orch/t1", check=False)
    repo.git("gc", "-q", "--prune=now")  # the fixture keeps its commits alive
    result = repo.orch_ok("eval")
    assert "ok t1: caught by overclaim" in result.out and "1/1 fixture(s)" in result.out
    again = repo.orch("fixture", "add", "t1")
    assert again.code == 1


def test_eval_fails_when_the_policy_stops_catching(repo: Repo) -> None:
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write('\n[review]\ndocs = { "src/**" = "docs/*.md" }\n')
    wt = repo.start("t1", "--allow", "src/**")
    repo.write("src/app.py", "print('new')\n", cwd=wt)
    repo.commit_all("Change\n\nOrch-Evidence: local: ran it", cwd=wt)
    repo.orch_ok("handoff", cwd=wt)
    assert repo.orch("review", "t1").code == 1
    repo.orch_ok("fixture", "add", "t1", "--name", "stale-docs")
    assert repo.orch("eval").code == 0
    text = (repo.path / "orch.toml").read_text().replace('docs = { "src/**" = "docs/*.md" }', "")
    (repo.path / "orch.toml").write_text(text)
    missed = repo.orch("eval", "--json")
    assert missed.code == 1
    data = missed.json()
    assert isinstance(data, dict) and data["fixtures"][0]["missing"] == ["docs-stale"]
    assert "MISSED stale-docs: no longer caught by docs-stale" in repo.orch("eval").out


def test_fixture_refusals_and_a_broken_fixture(repo: Repo) -> None:
    wt = repo.start("t1", "--allow", "src/**")
    no_review = repo.orch("fixture", "add", "t1")
    assert no_review.code == 1 and "has no review to keep" in no_review.err
    repo.write("src/app.py", "print('ok')\n", cwd=wt)
    repo.commit_all("Fine\n\nOrch-Evidence: local: ran it", cwd=wt)
    repo.orch_ok("handoff", cwd=wt)
    repo.orch_ok("review", "t1")
    passed = repo.orch("fixture", "add", "t1")
    assert passed.code == 1 and "passed: nothing was caught" in passed.err
    bad_name = repo.orch("fixture", "add", "t1", "--name", "../x")
    assert bad_name.code == 1
    repo.git("update-ref", "refs/orch/fixtures/junk", "HEAD")
    broken = repo.orch("eval")
    assert broken.code == 1 and "refs/orch/fixtures/junk: not a fixture commit" in broken.out


def test_contrib_eval_script_runs_in_a_clone(repo: Repo, remote: Path, tmp_path: Path) -> None:
    overclaimed(repo)
    repo.orch_ok("fixture", "add", "t1")
    repo.git("push", "-q", "origin", "refs/orch/fixtures/*")
    clone = tmp_path / "ci"
    repo.git("clone", "-q", str(remote), str(clone))
    script = Path(__file__).parents[1] / "contrib" / "eval.sh"
    git_orch = Path(sys.executable).parent / "git-orch"
    proc = subprocess.run(["sh", str(script)], cwd=clone, capture_output=True, text=True,
                          env={**os.environ, "GIT_ORCH": str(git_orch)}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "1/1 fixture(s) still caught" in proc.stdout
