"""What a new user meets in the first hour: land and gate messages, the README's
example as written, and the small rough edges found by trying it."""

from __future__ import annotations

import os
import re
import shlex
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
    result = repo.orch_ok("start", "g1", "--title", "t", "--gate", "pytest tests/auth")
    assert "warning: gate 'pytest tests/auth' is not in [orch] gates" in result.err
    assert '\n  gates = ["pytest tests/auth"]' in result.err
    quiet = repo.orch_ok("start", "g2", "--title", "t")
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
