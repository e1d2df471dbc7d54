"""A walk through the git-orch loop in a throw-away repository.

Run with `python -m git_orch.demo [--keep]`. Everything happens in a fresh
temporary folder with a fixed identity, so it touches none of your repos.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from git_orch.cli import main as orch_main

IDENTITY = {
    "GIT_AUTHOR_NAME": "Demo Lead",
    "GIT_AUTHOR_EMAIL": "lead@example.com",
    "GIT_COMMITTER_NAME": "Demo Lead",
    "GIT_COMMITTER_EMAIL": "lead@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def git(*args: str, cwd: Path) -> None:
    print(f"$ git {' '.join(args)}", flush=True)
    subprocess.run(["git", *args], cwd=cwd, check=True)


def orch(*args: str, cwd: Path, expect: int = 0) -> None:
    print(f"$ git orch {' '.join(args)}", flush=True)
    code = orch_main(["-C", str(cwd), *args])
    if code != expect:
        raise SystemExit(f"demo: `git orch {' '.join(args)}` exited {code}, expected {expect}")


def build_repo(root: Path) -> Path:
    repo = root / "app"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    (repo / "src").mkdir()
    (repo / "src" / "greet.py").write_text("def greet(name):\n    return 'hi ' + name\n")
    (repo / "README.md").write_text("# demo app\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "Initial app", cwd=repo)
    return repo


def run(root: Path) -> None:
    repo = build_repo(root)
    say("1. init: policy file, per-worktree config, empty ledger")
    orch("init", cwd=repo)
    git("add", "orch.toml", cwd=repo)
    git("commit", "-q", "-m", "Add git-orch policy", cwd=repo)

    say("2. start two bounded tasks, each with its own worktree and branch")
    orch("start", "greet-upper", "--title", "Shout greetings", "--allow", "src/**",
         "--package", "greetings", cwd=repo)
    orch("start", "docs-intro", "--title", "Write an intro", "--allow", "README.md",
         "--package", "docs", cwd=repo)

    say("3. a worker commits in its worktree and hands off")
    worker = root / "app.orch" / "greet-upper"
    (worker / "src" / "greet.py").write_text(
        "def greet(name):\n    return 'HI ' + name.upper()\n"
    )
    git("commit", "-q", "-am", "Shout greetings\n\nOrch-Task: greet-upper\n"
        "Orch-Evidence: local: python -c 'import greet' passes", cwd=worker)
    orch("handoff", "--summary", "greet() now shouts", cwd=worker)

    say("4. the other worker is blocked and says why")
    orch("block", "--reason", "which tone should the intro have?",
         cwd=root / "app.orch" / "docs-intro")

    say("5. status: what needs you, what runs")
    orch("status", cwd=repo)

    say("6. the ledger is plain git")
    git("log", "--oneline", "-3", "refs/orch/ledger", cwd=repo)
    orch("show", "greet-upper", cwd=repo)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    keep = "--keep" in args
    os.environ.update(IDENTITY)
    root = Path(tempfile.mkdtemp(prefix="git-orch-demo-"))
    try:
        run(root)
    finally:
        if keep:
            print(f"\ndemo repository kept at {root / 'app'}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print("\ndemo finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
