"""The scenario behind `git orch demo`: the loop in a throw-away repository.

Four stand-in agents (git_orch.agent.standin: scripted, no API key, no
network) play the workers a lead meets in the first hour:

- greet-upper stays in scope with honest local evidence: review passes, land
  merges and pushes;
- migrate touches a forbidden path: the hook refuses the commit, the agent
  bypasses it with --no-verify, and review rejects the branch;
- readme claims direct evidence without an artifact: review finds an overclaim;
- hang never finishes: its preset's max_runtime kills it.

A second clone then syncs and sees the same loop. Every step is printed as a
command a person can paste (`git -C DIR ...`, quoted with shlex.join), and
every change to orch.toml is printed. Everything happens in one folder with a
fixed identity; no repository or git config of the user is touched.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from git_orch.agent import runner, standin
from git_orch.cli import main as orch_main
from git_orch.errors import OrchError
from git_orch.repo import OrchRepo

IDENTITY = {
    "GIT_AUTHOR_NAME": "Demo Lead",
    "GIT_AUTHOR_EMAIL": "lead@example.com",
    "GIT_COMMITTER_NAME": "Demo Lead",
    "GIT_COMMITTER_EMAIL": "lead@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}
GATE = "python3 tests/check_greet.py"
HANG_LIMIT = "3s"


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def show(argv: list[str]) -> None:
    print(f"$ {shlex.join(argv)}", flush=True)


def git(*args: str, cwd: Path) -> None:
    show(["git", "-C", str(cwd), *args])
    subprocess.run(["git", *args], cwd=cwd, check=True)


def orch(*args: str, cwd: Path, expect: int = 0) -> None:
    show(["git", "-C", str(cwd), "orch", *args])
    code = orch_main(["-C", str(cwd), *args])
    if code != expect:
        raise OrchError(f"demo: `git orch {shlex.join(args)}` exited {code}, expected {expect}")


def build_repo(root: Path) -> Path:
    """An app with a check script, and a bare `origin` it is pushed to."""
    origin = root / "origin.git"
    show(["git", "init", "-q", "--bare", "-b", "main", str(origin)])
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo = root / "app"
    show(["git", "init", "-q", "-b", "main", str(repo)])
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    files = {
        "src/greet.py": "def greet(name):\n    return 'hi ' + name\n",
        "tests/check_greet.py": "import sys\nsys.path.insert(0, 'src')\nfrom greet import greet\n"
        "assert greet('ada') == 'HI ADA', greet('ada')\nprint('greet ok')\n",
        "migrations/001_init.sql": "create table users (name text);\n",
        "README.md": "# demo app\n",
    }
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    print(f"(wrote {', '.join(files)})")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "Initial app", cwd=repo)
    git("remote", "add", "origin", str(origin), cwd=repo)
    git("push", "-q", "-u", "origin", "main", cwd=repo)
    return repo


def agent_presets(root: Path) -> str:
    """Four stand-in agents, one per case, as [agents.*] tables for orch.toml."""
    folder = root / "agents"
    folder.mkdir(exist_ok=True)
    honest = standin.write_scenario(folder / "honest.json", [
        {"write": "src/greet.py",
         "content": "def greet(name):\n    return 'HI ' + name.upper()\n"},
        {"commit": "Shout greetings",
         "trailers": [f"Orch-Gate: {GATE}", f"Orch-Evidence: local: {GATE} passes"]},
        {"handoff_file": "greet() now upper-cases; the check script passes."},
        {"handoff": "greet() shouts", "risks": ["callers that expect lower case"]},
    ])
    forbidden = standin.write_scenario(folder / "forbidden.json", [
        {"write": "src/greet.py", "content": "def greet(name):\n    return 'hello ' + name\n"},
        {"write": "migrations/002_greetings.sql", "content": "create table greetings (t text);\n"},
        {"commit": "Store greetings", "may_fail": True,
         "trailers": ["Orch-Evidence: local: the migration applies"]},
        {"commit": "Store greetings", "no_verify": True,
         "trailers": ["Orch-Evidence: local: the migration applies"]},
        {"handoff_file": "greetings stored in a new table."},
        {"handoff": "greetings stored"},
    ])
    overclaim = standin.write_scenario(folder / "overclaim.json", [
        {"write": "README.md", "content": "# demo app\n\nSays hello, loudly.\n"},
        {"commit": "Describe the app",
         "trailers": ["Orch-Evidence: direct: verified in production by real users"]},
        {"handoff_file": "README explains the app."},
        {"handoff": "README updated"},
    ])
    hang = standin.write_scenario(folder / "hang.json", [
        {"print": "thinking..."}, {"sleep": 600},
    ])
    return (standin.preset_toml("honest", honest) + standin.preset_toml("forbidden", forbidden)
            + standin.preset_toml("overclaim", overclaim)
            + standin.preset_toml("hang", hang, max_runtime=HANG_LIMIT))


def configure(repo: Path, root: Path) -> None:
    """Edit orch.toml, printing each change: the gate review may re-run, the agents."""
    config = repo / "orch.toml"
    gates = f'gates = ["{GATE}"]'
    print(f"(edit {config}: under [orch], `gates = []` becomes `{gates}`)")
    print(f"(edit {config}: under [orch], `max_active = 3` becomes `max_active = 4`)")
    presets = agent_presets(root)
    print(f"(edit {config}: append four stand-in agent presets)")
    print("\n".join(f"    {line}" for line in presets.strip().splitlines()))
    text = config.read_text().replace("gates = []", gates, 1)
    config.write_text(text.replace("max_active = 3", "max_active = 4", 1) + presets)


def wait_for(repo: Path, *task_ids: str) -> None:
    print(f"(waiting for the agents of {', '.join(task_ids)})", flush=True)
    for task_id in task_ids:
        runner.wait(OrchRepo(repo), task_id, timeout=60)


def run(root: Path, page: Path) -> None:
    repo = build_repo(root)
    say("1. init: a commented orch.toml, per-worktree config, an empty ledger")
    orch("init", cwd=repo)
    configure(repo, root)
    git("add", "orch.toml", cwd=repo)
    git("commit", "-q", "-m", "Add git-orch policy", cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)

    say("2. start four tasks, each in its own worktree, each with its agent")
    orch("start", "greet-upper", "--title", "Shout greetings", "--allow", "src/**",
         "--gate", GATE, "--agent", "honest", cwd=repo)
    orch("start", "migrate", "--title", "Store greetings", "--allow", "src/**",
         "--forbid", "migrations/**", "--agent", "forbidden", "--force", "--reason",
         "demo: overlaps greet-upper on purpose", cwd=repo)
    orch("start", "readme", "--title", "Describe the app", "--allow", "/README.md",
         "--agent", "overclaim", cwd=repo)
    orch("start", "hang", "--title", "Refactor everything", "--allow", "src/**",
         "--agent", "hang", "--force", "--reason", "demo: overlaps on purpose", cwd=repo)
    wait_for(repo, "greet-upper", "migrate", "readme", "hang")
    orch("logs", "migrate", cwd=repo)

    say("3. in scope, honest local evidence: review re-runs the gate, passes; land pushes")
    orch("review", "greet-upper", "--rerun-gates", cwd=repo)
    orch("accept", "greet-upper", cwd=repo)
    orch("land", "greet-upper", "--push", cwd=repo)
    git("--no-pager", "log", "--oneline", "--graph", "-3", "main", cwd=repo)

    say("4. a forbidden path: the hook refused the commit (log above), review rejects")
    orch("review", "migrate", cwd=repo, expect=1)
    orch("reject", "migrate", "--reason", "changed migrations/, which the contract forbids",
         cwd=repo)

    say("5. direct evidence without an artifact: review finds an overclaim")
    orch("review", "readme", cwd=repo, expect=1)
    orch("reject", "readme", "--reason", "claims production evidence it cannot show",
         cwd=repo)

    say(f"6. a hung agent: its max_runtime ({HANG_LIMIT}) killed it")
    orch("show", "hang", cwd=repo)

    say("7. status for a person (the hung run needs you), and the status page")
    orch("status", "--write", "--out", str(page), cwd=repo)

    say("8. the ledger is plain git; sync shares all of it through origin")
    orch("sync", cwd=repo)
    git("ls-remote", "origin", "refs/orch/*", cwd=repo)

    say("9. a second machine clones, syncs, and sees the same loop")
    laptop = root / "laptop"
    git("clone", "-q", str(root / "origin.git"), str(laptop), cwd=root)
    orch("init", cwd=laptop)
    orch("sync", cwd=laptop)
    orch("status", cwd=laptop)


def main(folder: Path | None = None, keep: bool = False) -> None:
    """Run the demo in folder (kept) or a temporary one (removed unless keep)."""
    os.environ.update(IDENTITY)
    started = time.monotonic()
    if folder is not None and folder.exists() and any(folder.iterdir()):
        raise OrchError(f"demo: {folder} is not empty; name a new or empty folder")
    root = folder if folder is not None else Path(tempfile.mkdtemp(prefix="git-orch-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    page = Path(tempfile.mkdtemp(prefix="git-orch-demo-status-")) if folder is None \
        else root / "status"
    try:
        run(root, page)
    finally:
        if keep or folder is not None:
            print(f"\ndemo folder kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"status page: {page / 'status.html'}")
    print(f"\ndemo finished in {time.monotonic() - started:.0f}s: one task landed and pushed, "
          "one refused and rejected for a forbidden path, one rejected for overclaiming, "
          "one hung agent killed by its timeout")
