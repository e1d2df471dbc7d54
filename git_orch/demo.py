"""The whole git-orch loop in a throw-away repository, with scripted agents.

Run with `python -m git_orch.demo [--keep]` (or `bash scripts/demo.sh`).
Two stand-in agents (git_orch.agent.standin, no API key) play the workers: one does
honest work that review passes and land merges and pushes; the other
overclaims its evidence and review rejects it. Everything happens under a
fresh temporary folder with a fixed identity; none of your repositories and
none of your git config are touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from git_orch.agent import runner, standin
from git_orch.cli import main as orch_main
from git_orch.repo import OrchRepo

IDENTITY = {
    "GIT_AUTHOR_NAME": "Demo Lead",
    "GIT_AUTHOR_EMAIL": "lead@example.com",
    "GIT_COMMITTER_NAME": "Demo Lead",
    "GIT_COMMITTER_EMAIL": "lead@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}
GATE = "python3 tests/check_greet.py"


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
    """An app with a check script, and a bare `origin` it is pushed to."""
    origin = root / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo = root / "app"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    (repo / "src").mkdir()
    (repo / "tests").mkdir()
    (repo / "src" / "greet.py").write_text("def greet(name):\n    return 'hi ' + name\n")
    (repo / "tests" / "check_greet.py").write_text(
        "import sys\nsys.path.insert(0, 'src')\nfrom greet import greet\n"
        "assert greet('ada') == 'HI ADA', greet('ada')\nprint('greet ok')\n"
    )
    (repo / "README.md").write_text("# demo app\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "Initial app", cwd=repo)
    git("remote", "add", "origin", str(origin), cwd=repo)
    git("push", "-q", "-u", "origin", "main", cwd=repo)
    return repo


def write_agents(root: Path) -> str:
    """Two stand-in agents: an honest one and one that overclaims."""
    honest = standin.write_scenario(root / "honest.json", [
        {"write": "src/greet.py",
         "content": "def greet(name):\n    return 'HI ' + name.upper()\n"},
        {"commit": "Shout greetings",
         "trailers": [f"Orch-Gate: {GATE}", f"Orch-Evidence: local: {GATE} passes"]},
        {"handoff_file": "greet() now upper-cases; the check script passes."},
        {"handoff": "greet() shouts", "risks": ["callers that expect lower case"]},
    ])
    sloppy = standin.write_scenario(root / "sloppy.json", [
        {"write": "README.md", "content": "# demo app\n\nSays hello, loudly.\n"},
        {"commit": "Describe the app",
         "trailers": ["Orch-Evidence: local: verified in production by real users"]},
        {"handoff_file": "README explains the app."},
        {"handoff": "README updated"},
    ])
    return standin.preset_toml("honest", honest) + standin.preset_toml("sloppy", sloppy)


def configure(repo: Path, root: Path) -> None:
    config = repo / "orch.toml"
    text = config.read_text().replace("gates = []", f'gates = ["{GATE}"]', 1)
    config.write_text(text + write_agents(root) + '\n[land]\npush = true\nremote = "origin"\n')


def wait_for_agent(repo: Path, task_id: str) -> None:
    print(f"(waiting for {task_id}'s agent to finish)", flush=True)
    runner.wait(OrchRepo(repo), task_id, timeout=120)


def run(root: Path) -> None:
    repo = build_repo(root)
    say("1. init: a commented orch.toml, per-worktree config, an empty ledger")
    orch("init", cwd=repo)
    configure(repo, root)

    say("2. plan: a package of two tasks; the second depends on the first")
    orch("plan", "add", "--package", "greetings", "--task", "greet-upper",
         "--title", "Shout greetings", "--allow", "src/**", "--gate", GATE,
         "--agent", "honest", cwd=repo)
    orch("plan", "add", "--package", "greetings", "--task", "readme",
         "--title", "Describe the app", "--allow", "README.md",
         "--depends-on", "greet-upper", "--agent", "sloppy", cwd=repo)
    git("add", "orch.toml", cwd=repo)
    git("commit", "-q", "-m", "Add git-orch policy and roadmap", cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)

    say("3. next: the lead's recommendation, then start it with its agent")
    orch("next", cwd=repo)
    orch("next", "--start", cwd=repo)
    wait_for_agent(repo, "greet-upper")
    orch("status", cwd=repo)

    say("4. review inspects the unit (scope, trailers, evidence, gates re-run)")
    orch("review", "greet-upper", "--rerun-gates", cwd=repo)
    orch("accept", "greet-upper", cwd=repo)

    say("5. land: merge into main, push main + refs/orch atomically, clean up")
    orch("land", "greet-upper", cwd=repo)
    git("log", "--oneline", "--graph", "-4", "main", cwd=repo)

    say("6. the next task's agent overclaims its evidence: review rejects it")
    orch("next", "--start", cwd=repo)
    wait_for_agent(repo, "readme")
    orch("review", "readme", cwd=repo, expect=1)
    orch("reject", "readme", "--reason", "a local check cannot verify production", cwd=repo)

    say("7. status for a person, and a status page (status.md, status.html)")
    orch("status", "--write", "--out", str(root / "page"), cwd=repo)
    print(f"status page: {root / 'page' / 'status.html'}")

    say("8. the ledger is plain git; sync shares all of it through origin")
    orch("sync", cwd=repo)
    git("ls-remote", str(root / "origin.git"), "refs/orch/*", cwd=repo)
    git("--no-pager", "log", "--oneline", "-3", "refs/orch/ledger", cwd=repo)

    say("9. a second machine clones, syncs, and sees the same loop")
    git("clone", "-q", str(root / "origin.git"), str(root / "laptop"), cwd=root)
    laptop = root / "laptop"
    orch("init", cwd=laptop)
    orch("sync", cwd=laptop)
    orch("status", cwd=laptop)


def main(folder: Path | None = None, keep: bool = False) -> None:
    os.environ.update(IDENTITY)
    root = folder if folder is not None else Path(tempfile.mkdtemp(prefix="git-orch-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        run(root)
    finally:
        if keep or folder is not None:
            print(f"\ndemo kept at {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print("\ndemo finished: one task landed, one rejected for overclaiming")
