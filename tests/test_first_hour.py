"""What a new user meets in the first hour: land and gate messages, the README's
example as written, and the small rough edges found by trying it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from conftest import Repo
from test_land import ready

README = Path(__file__).resolve().parent.parent / "README.md"


def test_land_says_whether_it_pushed(repo: Repo, remote: Path) -> None:
    ready(repo, "quiet", {"src/q.py": "q\n"})
    out = repo.orch_ok("land", "quiet").out
    assert "quiet: not pushed (set [land] push = true or pass --push)" in out
    ready(repo, "loud", {"src/l.py": "l\n"})
    out = repo.orch_ok("land", "loud", "--push").out
    assert "loud: pushed to origin" in out and "not pushed" not in out


def test_start_warns_about_a_gate_review_will_not_run(repo: Repo) -> None:
    result = repo.orch_ok("start", "g1", "--title", "t", "--allow", "src/auth/**",
                          "--gate", "pytest tests/auth")
    assert "warning: gate 'pytest tests/auth' is not in [orch] gates" in result.err
    assert '\n  gates = ["pytest tests/auth"]' in result.err
    quiet = repo.orch_ok("start", "g2", "--title", "t", "--allow", "docs/**")
    assert quiet.err == ""


def readme_example() -> tuple[str, list[str]]:
    """The gates line and the `start` argv of the README's Use section, as written."""
    text = README.read_text()
    gates = re.search(r"put  (gates = \[.*?\])  under \[orch\]", text)
    assert gates, "the README no longer says which gates line to add"
    start = re.search(r"^git orch start fix-login (.*?)\n(\s+.*?)$", text, re.M)
    assert start
    joined = (start.group(1).rstrip("\\") + " " + start.group(2)).split("#")[0]
    return gates.group(1), shlex.split(joined)


def test_readme_example_passes_rerun_gates_as_written(repo: Repo) -> None:
    gates_line, start_args = readme_example()
    toml = (repo.path / "orch.toml").read_text()
    assert "gates = []" in toml
    repo.write("orch.toml", toml.replace("gates = []", gates_line, 1))
    repo.commit_all("gates as the README says")
    started = repo.orch_ok("start", "fix-login", *start_args)
    assert "warning" not in started.err
    wt = repo.worktree("fix-login")
    repo.write("src/auth/login.py", "def redirect():\n    return '/home'\n", cwd=wt)
    repo.write("tests/auth/test_login.py", "import sys\nsys.path.insert(0, 'src/auth')\n"
               "from login import redirect\n\ndef test_redirect():\n"
               "    assert redirect() == '/home'\n", cwd=wt)
    repo.git("add", "-A", cwd=wt)
    repo.git("commit", "-q", "-m", "Fix login redirect", "-m",
             "Orch-Gate: pytest tests/auth\nOrch-Evidence: local: pytest tests/auth passes",
             cwd=wt)
    repo.orch_ok("handoff", "--summary", "Redirect fixed", cwd=wt)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    old = os.environ["PATH"]
    os.environ["PATH"] = path  # the gate runs `pytest` from this venv
    try:
        review = repo.orch("review", "fix-login", "--rerun-gates")
    finally:
        os.environ["PATH"] = old
    assert "gate-not-in-policy" not in review.out, review.out
    assert review.code == 0 and "verdict: pass" in review.out, review.out + review.err


# --- the smaller findings -----------------------------------------------------------


def test_review_of_an_unknown_task_says_no_task(repo: Repo) -> None:
    result = repo.orch("review", "nope")
    assert result.code == 1 and "no task 'nope'" in result.err


def test_an_invalid_id_is_a_usage_error_shown_as_typed(repo: Repo) -> None:
    result = repo.orch("start", "caf\u00e9!", "--title", "t")
    assert result.code == 2, result.err
    assert "task id 'caf\u00e9!' is not allowed" in result.err and "\\\\x" not in result.err
    assert repo.orch("show", "a b").code == 2


def test_an_empty_repository_says_commit_first(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    Repo(empty).git("init", "-q", "-b", "main")
    fresh = Repo(empty)
    fresh.orch_ok("init")
    result = fresh.orch("start", "t1", "--title", "first")
    assert result.code == 1 and "no commits yet" in result.err
    assert "commit something first" in result.err and "bad revision" not in result.err


def test_abandon_names_the_archive_once(repo: Repo) -> None:
    wt = repo.start("gone")
    repo.write("src/g.py", "g\n", cwd=wt)
    repo.commit_all("work\n\nOrch-Task: gone", cwd=wt)
    out = repo.orch_ok("abandon", "gone", "--reason", "superseded").out
    assert out.count("refs/orch/archive/gone") == 1, out


def test_an_orphan_says_what_fixes_it(repo: Repo) -> None:
    repo.git("branch", "orch/ghost")
    out = repo.orch_ok("status").out
    assert "[orphan] branch orch/ghost" in out
    assert "fix: git orch heartbeat --once --repair" in out


def test_show_inside_a_worker_defaults_to_its_task(repo: Repo) -> None:
    wt = repo.start("mine")
    assert "task     mine" in repo.orch_ok("show", cwd=wt).out
    outside = repo.orch("show")
    assert outside.code == 2 and "git orch show ID" in outside.err


def test_verify_counts_one_finding(repo: Repo) -> None:
    repo.write("loose.txt", "x\n")
    repo.commit_all("names a task that does not exist\n\nOrch-Task: nosuch")
    out = repo.orch("verify", "HEAD~1..HEAD").out
    assert "1 commit, 1 finding: FAILED" in out, out


def test_a_refused_merge_in_a_worker_says_how_to_put_files_back(repo: Repo) -> None:
    wt = repo.start("solo")
    repo.write("docs/new.md", "main moved\n")
    repo.commit_all("main moves")
    merge = subprocess.run(["git", "merge", "--ff-only", "main"], cwd=wt, capture_output=True,
                           text=True, check=False)
    assert merge.returncode != 0
    assert "git reset --merge" in merge.stderr, merge.stderr
    assert repo.git("status", "--porcelain", cwd=wt) != ""
    repo.git("reset", "--merge", cwd=wt)
    assert repo.git("status", "--porcelain", cwd=wt) == ""


def test_handoff_names_an_uncommitted_path_as_it_is(repo: Repo) -> None:
    wt = repo.start("accents")
    repo.write("src/a.py", "a\n", cwd=wt)
    repo.commit_all("work\n\nOrch-Task: accents", cwd=wt)
    repo.write("src/\u00e9t\u00e9.py", "x\n", cwd=wt)
    result = repo.orch("handoff", "--summary", "done", cwd=wt)
    assert result.code == 1 and "src/\u00e9t\u00e9.py" in result.err, result.err
    assert "\\\\303" not in result.err
