"""Cost of the isolation guards: the bubblewrap wrapper and the tamper scan.

Creates a throw-away repository, `git orch init` (worktree isolation), `git
orch start` of `--workers` linked worker worktrees and a `git clone --shared`
workspace, then times,
in interleaved rounds (so machine noise hits every side alike):
- `git status --porcelain` in the clone workspace, plain and each in its own
  bubblewrap (the difference is the start-up cost of one sandboxed launch,
  paid once per agent attempt; commands inside a running sandbox pay none);
- the tamper scan that `status`, `heartbeat` and `land` run
  (workerhooks.findings), against plain `git status --porcelain` in the main
  worktree: the floor of any status command.

Prints name=value lines. Run: .venv/bin/python bench/sandbox.py [--workers 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from git_orch.agent import sandbox
from git_orch.repo import OrchRepo
from git_orch.workspace import workerhooks


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def timed(action: Callable[[], object], times: int) -> float:
    """Median milliseconds of `times` calls."""
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=10, help="worker worktrees")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=20, help="calls per round and side")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = {**os.environ, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
               "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
        os.environ.update(env)
        lead = Path(tmp) / "lead"
        lead.mkdir()
        run(["git", "init", "-q", "-b", "main"], lead, env)
        for i in range(200):
            (lead / "src").mkdir(exist_ok=True)
            (lead / "src" / f"m{i}.py").write_text(f"x = {i}\n")
        run(["git", "add", "-A"], lead, env)
        run(["git", "commit", "-qm", "initial"], lead, env)
        run([sys.executable, "-m", "git_orch", "init"], lead, env)
        # Linked worktrees: the mode whose shared git dir the tamper scan watches.
        toml = lead / "orch.toml"
        toml.write_text(toml.read_text().replace('isolation = "clone"', 'isolation = "worktree"')
                        .replace("max_active = 3", f"max_active = {opts.workers}"))
        run(["git", "add", "-A"], lead, env)
        run(["git", "commit", "-qm", "policy"], lead, env)
        for i in range(opts.workers):
            run([sys.executable, "-m", "git_orch", "start", f"t{i}", "--title", "bench",
                 "--allow", f"src/m{i}.py"], lead, env)
        ws = Path(tmp) / "ws"
        run(["git", "clone", "-q", "--shared", str(lead), str(ws)], lead, env)
        orepo = OrchRepo(lead)
        workerhooks.findings(orepo)  # the first look takes the fingerprint
        status = ["git", "status", "--porcelain"]
        bwrap = sandbox.bwrap_path()
        boxed = (sandbox.wrap(status, bwrap=bwrap, workspace=ws,
                              readable=sandbox.visible(status, [lead / ".git"]),
                              writable=[], network=False) if bwrap else None)
        sides: dict[str, list[float]] = {"plain": [], "bwrap": [], "scan": [], "lead": []}
        for _ in range(opts.rounds):
            sides["plain"].append(timed(lambda: run(status, ws, env), opts.calls))
            if boxed is not None:
                sides["bwrap"].append(timed(lambda: run(boxed, ws, env), opts.calls))
            sides["scan"].append(timed(lambda: workerhooks.findings(orepo), opts.calls))
            sides["lead"].append(timed(lambda: run(status, lead, env), opts.calls))
        plain, scan, lead_status = (statistics.median(sides[k]) for k in ("plain", "scan", "lead"))
        print(f"workers={opts.workers}")
        print(f"git_status_plain_ms={plain:.2f}")
        if boxed is not None:
            box = statistics.median(sides["bwrap"])
            print(f"git_status_bwrap_ms={box:.2f}")
            print(f"bwrap_overhead_ms={box - plain:.2f}")
            print(f"bwrap_ratio_to_plain_git={box / plain:.2f}")
        else:
            print(f"bwrap=unavailable ({shutil.which('bwrap') or 'not installed'})")
        print(f"tamper_scan_ms={scan:.2f}")
        print(f"lead_git_status_ms={lead_status:.2f}")
        print(f"tamper_scan_ratio_to_git_status={scan / lead_status:.2f}")


if __name__ == "__main__":
    main()
