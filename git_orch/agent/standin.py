"""A stand-in agent driven by a scenario file, for tests and the demo (no API key).

    python -m git_orch.agent.standin SCENARIO.toml [--worktree DIR] [--handoff-file FILE]

The scenario (TOML or JSON) is a list of steps run in order; each step is a
table with one action key:

    [[steps]]
    write = "src/greet.py"          # create or replace a file (relative to the worktree)
    content = "def greet(): ...\\n"
    append = false                  # true: append instead of replacing
    [[steps]]
    commit = "Shout greetings"      # git add -A, then commit; Orch-Task is added
    trailers = ["Orch-Evidence: local: pytest passes"]
    may_fail = true                 # a refused commit is logged, not fatal
    no_verify = true                # git commit --no-verify (skips the hooks)
    [[steps]]
    handoff = "greet() now shouts"  # git orch handoff --summary ...; `risks = [...]`
    [[steps]]
    block = "need the API token"    # git orch block --reason ...
    [[steps]]
    handoff_file = "summary text"   # write the handoff file
    [[steps]]
    sleep = 0.3                     # seconds
    [[steps]]
    spawn_sleeper = 30              # start a child `sleep 30` in our process group
    [[steps]]
    pid_file = "/tmp/pids"          # write "<our pid> <sleeper pid or ->" there
    [[steps]]
    ignore_sigterm = true           # from now on, only SIGKILL stops us
    [[steps]]
    print = "working..."            # a line on stdout (goes to the attempt log)
    [[steps]]
    exit = 1                        # exit now with this code

Any step may carry `attempts = [1, 2]`: it then runs only on those attempt
numbers (from ORCH_ATTEMPT), so one scenario can fail first and succeed later.
Without an `exit` step the stand-in exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ACTIONS = ("write", "commit", "handoff", "block", "handoff_file", "sleep", "spawn_sleeper",
           "pid_file", "ignore_sigterm", "print", "exit")


def preset_argv(scenario: str | Path) -> list[str]:
    """The argv of an [agents.NAME] preset that plays `scenario` (for the demo and tests)."""
    return ["{python}", "-m", "git_orch.agent.standin", "--scenario", str(scenario),
            "--worktree", "{worktree}", "--handoff-file", "{handoff_file}"]


def preset_toml(name: str, scenario: str | Path, max_runtime: str = "2m") -> str:
    """An `[agents.NAME]` table to append to orch.toml."""
    return (f"\n[agents.{name}]\nargv = {json.dumps(preset_argv(scenario))}\n"
            f"max_runtime = {json.dumps(max_runtime)}\n")


def write_scenario(path: Path, steps: list[dict[str, Any]]) -> Path:
    """Write a JSON scenario (the demo builds its agents' scripts with this)."""
    path.write_text(json.dumps({"steps": steps}, indent=2), encoding="utf-8")
    return path


def load_scenario(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    data: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    steps = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise SystemExit(f"standin: {path}: needs a list of [[steps]] tables")
    for number, step in enumerate(steps, start=1):
        if not [key for key in ACTIONS if key in step]:
            raise SystemExit(f"standin: {path}: step {number} has no action ({', '.join(ACTIONS)})")
    return steps


def _git(args: list[str], cwd: Path, may_fail: bool = False) -> None:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0 and may_fail:
        print(f"standin: git {args[0]} refused, going on: {proc.stderr.strip()}", flush=True)
    elif proc.returncode != 0:
        raise SystemExit(f"standin: git {args[0]} failed: {proc.stderr.strip()}")


def _orch(args: list[str], cwd: Path) -> None:
    from git_orch.cli import main as orch_main  # only when needed: keeps startup light

    code = orch_main(["-C", str(cwd), *args])
    if code != 0:
        raise SystemExit(f"standin: git orch {args[0]} exited {code}")


class Standin:
    def __init__(self, worktree: Path, handoff_file: Path | None, task: str | None) -> None:
        self.worktree = worktree
        self.handoff_file = handoff_file
        self.task = task or os.environ.get("ORCH_TASK") or ""
        self.children: list[subprocess.Popen[bytes]] = []

    def step(self, step: dict[str, Any]) -> int | None:
        """Run one step; return an exit code to stop with, or None to go on."""
        if "write" in step:
            path = self.worktree / str(step["write"])
            path.parent.mkdir(parents=True, exist_ok=True)
            mode = "a" if step.get("append") else "w"
            with open(path, mode, encoding="utf-8") as handle:
                handle.write(str(step.get("content", "")))
        elif "commit" in step:
            lines = [f"Orch-Task: {self.task}", *[str(t) for t in step.get("trailers", [])]]
            message = f"{step['commit']}\n\n" + "\n".join(lines) + "\n"
            _git(["add", "-A"], self.worktree)
            verify = ["--no-verify"] if step.get("no_verify") else []
            _git(["commit", "-q", *verify, "-m", message], self.worktree,
                 may_fail=bool(step.get("may_fail")))
        elif "handoff" in step:
            args = ["handoff", "--summary", str(step["handoff"])]
            for risk in step.get("risks", []):
                args += ["--risk", str(risk)]
            _orch(args, self.worktree)
        elif "block" in step:
            _orch(["block", "--reason", str(step["block"])], self.worktree)
        elif "handoff_file" in step:
            if self.handoff_file is None:
                raise SystemExit("standin: no --handoff-file given (nor ORCH_HANDOFF_FILE)")
            self.handoff_file.parent.mkdir(parents=True, exist_ok=True)
            self.handoff_file.write_text(str(step["handoff_file"]) + "\n", encoding="utf-8")
        elif "sleep" in step:
            time.sleep(float(step["sleep"]))
        elif "spawn_sleeper" in step:
            self.children.append(subprocess.Popen(["sleep", str(step["spawn_sleeper"])]))
        elif "pid_file" in step:
            child = str(self.children[-1].pid) if self.children else "-"
            Path(str(step["pid_file"])).write_text(f"{os.getpid()} {child}\n")
        elif "ignore_sigterm" in step:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elif "print" in step:
            print(str(step["print"]), flush=True)
        elif "exit" in step:
            return int(step["exit"])
        return None

    def run(self, steps: list[dict[str, Any]], attempt: int | None) -> int:
        for step in steps:
            only = step.get("attempts")
            if isinstance(only, list) and attempt not in only:
                continue
            code = self.step(step)
            if code is not None:
                return code
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m git_orch.agent.standin",
                                     description="Stand-in agent that plays a scenario file.")
    parser.add_argument("scenario_pos", nargs="?", metavar="SCENARIO")
    parser.add_argument("--scenario")
    parser.add_argument("--worktree", default=".")
    parser.add_argument("--handoff-file", default=os.environ.get("ORCH_HANDOFF_FILE"))
    parser.add_argument("--task")
    args = parser.parse_args(argv)
    scenario = args.scenario or args.scenario_pos
    if not scenario:
        parser.error("a scenario file is required")
    steps = load_scenario(Path(scenario))
    attempt_text = os.environ.get("ORCH_ATTEMPT", "")
    attempt = int(attempt_text) if attempt_text.isdigit() else None
    handoff = Path(args.handoff_file) if args.handoff_file else None
    print(f"standin: playing {scenario} in {args.worktree}", flush=True)
    return Standin(Path(args.worktree), handoff, args.task).run(steps, attempt)


if __name__ == "__main__":
    sys.exit(main())
