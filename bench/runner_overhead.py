"""What supervision costs: a supervised stand-in run vs the same agent run directly.

Builds a throw-away repository, then for N tasks runs the stand-in agent
(edit, commit, hand off) once through `runner.run(..., wait=True)` (envelope,
supervisor process, run-started/run-ended, judging) and once as a plain
subprocess in the worktree. Prints per-run times and the ratio.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from git_orch.agent import runner
from git_orch.agent.standin import preset_toml, write_scenario
from git_orch.cli import main as orch_main
from git_orch.repo import OrchRepo

N = int(os.environ.get("BENCH_RUNS", "5"))


def orch(args: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return orch_main(args)


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def setup(root: Path) -> Path:
    repo = root / "app"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    (repo / "README.md").write_text("bench\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "init", cwd=repo)
    assert orch(["-C", str(repo), "init"]) == 0
    scenario = write_scenario(root / "s.json", [
        {"write": "work.txt", "content": "done\n"},
        {"commit": "Do the work", "trailers": ["Orch-Evidence: local: cat work.txt"]},
        {"handoff_file": "did the work"},
        {"handoff": "work done"},
    ])
    with open(repo / "orch.toml", "a") as handle:
        handle.write(preset_toml("standin", scenario))
    return repo


def main() -> int:
    os.environ.update({"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "b@example.com",
                       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "b@example.com",
                       "GIT_CONFIG_NOSYSTEM": "1"})
    with tempfile.TemporaryDirectory(prefix="git-orch-bench-") as tmp:
        root = Path(tmp)
        repo = setup(root)
        orepo = OrchRepo(repo)
        scenario = root / "s.json"
        supervised, direct = [], []
        for i in range(N):
            for kind, times in (("s", supervised), ("d", direct)):
                task = f"{kind}{i}"
                assert orch(["-C", str(repo), "start", task, "--title", task,
                             "--allow", "/work.txt", "--force", "--reason",
                             "bench: every task writes work.txt"]) == 0
                worktree = repo.parent / "app.orch" / task
                began = time.perf_counter()
                if kind == "s":
                    result = runner.run(orepo, task, "standin", wait=True, timeout=120)
                    assert result.ok, json.dumps(result.to_json())
                else:
                    subprocess.run(
                        [sys.executable, "-m", "git_orch.agent.standin", str(scenario),
                         "--worktree", str(worktree), "--handoff-file", str(root / f"{task}.md")],
                        cwd=worktree, env={**os.environ, "ORCH_TASK": task}, check=True,
                        capture_output=True)
                times.append(time.perf_counter() - began)
    sup, dire = statistics.median(supervised), statistics.median(direct)
    print(f"{N} runs each of the stand-in agent (edit, commit, handoff)")
    print(f"  supervised (git orch run --wait): median {sup * 1000:.0f} ms")
    print(f"  direct subprocess:                median {dire * 1000:.0f} ms")
    print(f"  supervision overhead:             {(sup - dire) * 1000:.0f} ms per run "
          f"({sup / dire:.2f}x)")
    print(f"supervised_run_ms={sup * 1000:.0f}")
    print(f"direct_run_ms={dire * 1000:.0f}")
    print(f"supervision_overhead_ms={(sup - dire) * 1000:.0f}")
    print(f"supervised_vs_direct_ratio={sup / dire:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
