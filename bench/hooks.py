"""Cost of the worker hooks: 200 commits in a worker worktree, with and without.

Creates a throw-away repository, `git orch init`, `git orch start` (which
installs the hooks), then times `git commit -a` in the worker worktree, in
interleaved rounds (so machine noise hits every side alike) with:
- git-orch's hooks (`git orch hooks install`);
- git-orch's hooks after the shared `.git/config` changed (`git remote add`):
  the first hook reads the config with git and, finding the cache right,
  confirms it (the cache is keyed by config file times: docs/hooks.md#speed),
  so the hooks after it take the fast path again;
- no hooks (`git orch hooks uninstall`);
- trivial hooks (`exit 0`) under the same names that run on a commit
  (pre-commit, commit-msg, reference-transaction): what git's own hook
  spawning costs, the floor for any hook-based guard. Each commit is a normal
worker commit: one changed file inside the task's allowed paths, a message
without trailers (the commit-msg hook adds Orch-Task). Automatic gc is off in
the shared config for the whole run (`hooks uninstall` drops the worker's own
`maintenance.auto=false`), so no side pays for a gc another side triggered; a
clone does not read the shared config, so there the bench sets the clone's own
`maintenance.auto=false` again after `hooks uninstall` (else every plain and
trivial commit also starts `git maintenance run --auto`, one more git process).

In clone mode (--isolation clone, git-orch's default) the config change is the
clone's own (`git config user.name` there): the worker's repository config is
the one that changes under its hooks. CPU time per commit (git and its hooks)
is reported beside wall time.

Run: .venv/bin/python bench/hooks.py [--commits 200] [--rounds 4] [--isolation worktree]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import children_cpu, hermetic_env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def orch(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    return run([sys.executable, "-m", "git_orch", *args], cwd, env)


CPU: dict[str, list[float]] = {}


def commits(worker: Path, count: int, env: dict[str, str], tag: str) -> list[float]:
    """Seconds per `git commit`, file edits not counted (CPU seconds go to CPU[tag])."""
    times = []
    target = worker / "src" / "app.py"
    kind = tag.split()[0]
    for i in range(count):
        with target.open("a") as handle:
            handle.write(f"# {tag} {i}\n")
        cpu = children_cpu()
        start = time.perf_counter()
        run(["git", "commit", "-q", "-a", "-m", f"Edit app ({tag} {i})"], worker, env)
        times.append(time.perf_counter() - start)
        CPU.setdefault(kind, []).append(children_cpu() - cpu)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=200, help="commits each way")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds")
    parser.add_argument("--isolation", choices=["worktree", "clone"], default="worktree")
    opts = parser.parse_args()
    clone = opts.isolation == "clone"
    with tempfile.TemporaryDirectory() as tmp:
        env = hermetic_env(Path(tmp) / "home")
        repo = Path(tmp) / "repo"
        repo.mkdir()
        run(["git", "init", "-q", "-b", "main"], repo, env)
        (repo / "src").mkdir()
        (repo / "src" / "app.py").write_text("print('app')\n")
        (repo / "README.md").write_text("bench\n")
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-q", "-m", "initial"], repo, env)
        orch(["init"], repo, env)
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-q", "-m", "policy"], repo, env)
        run(["git", "config", "gc.auto", "0"], repo, env)
        run(["git", "config", "maintenance.auto", "false"], repo, env)
        orch(["start", "bench", "--title", "Bench", "--allow", "src/**",
              "--forbid", "src/secret/", "--isolation", opts.isolation], repo, env)
        worker = Path(tmp) / "repo.orch" / "bench"
        trivial_dir = Path(tmp) / "trivial-hooks"
        trivial_dir.mkdir()
        for name in ("pre-commit", "commit-msg", "reference-transaction"):
            (trivial_dir / name).write_text("#!/bin/sh\nexit 0\n")
            (trivial_dir / name).chmod(0o755)
        per_round = max(1, opts.commits // opts.rounds)
        hooked: list[float] = []
        changed: list[float] = []
        plain: list[float] = []
        trivial: list[float] = []
        for r in range(opts.rounds):
            hooked += commits(worker, per_round, env, f"hooked {r}")
            if clone:
                run(["git", "config", "user.name", f"Worker {r}"], worker, env)
            else:
                run(["git", "remote", "add", f"bench{r}", str(repo)], repo, env)
            changed += commits(worker, per_round, env, f"changed {r}")
            orch(["hooks", "uninstall", "--task", "bench"], repo, env)  # lead-only
            if clone:
                # A clone does not read the shared config: without this, every plain and
                # trivial commit would also start `git maintenance run --auto`.
                run(["git", "config", "maintenance.auto", "false"], worker, env)
            plain += commits(worker, per_round, env, f"plain {r}")
            scope = [] if clone else ["--worktree"]
            run(["git", "config", *scope, "core.hooksPath", str(trivial_dir)], worker, env)
            trivial += commits(worker, per_round, env, f"trivial {r}")
            orch(["hooks", "install", "--task", "bench"], repo, env)
        log = run(["git", "log", "-1", "--format=%(trailers:key=Orch-Task,valueonly)",
                   "--grep=hooked"], worker, env)
        if log.strip() != "bench":
            sys.exit("bench: hooked commits lack their Orch-Task trailer")
    with_ms = statistics.median(hooked) * 1000
    without_ms = statistics.median(plain) * 1000
    trivial_ms = statistics.median(trivial) * 1000
    mean_with = statistics.fmean(hooked) * 1000
    mean_without = statistics.fmean(plain) * 1000
    mean_trivial = statistics.fmean(trivial) * 1000
    changed_ms = statistics.median(changed) * 1000
    print(f"{len(hooked)} commits each way in a worker worktree (median / mean ms per commit)")
    print(f"  with git-orch hooks: {with_ms:6.2f} / {mean_with:6.2f}")
    print(f"  after config change: {changed_ms:6.2f} / {statistics.fmean(changed) * 1000:6.2f}")
    print(f"  without hooks:       {without_ms:6.2f} / {mean_without:6.2f}")
    print(f"  trivial hooks:       {trivial_ms:6.2f} / {mean_trivial:6.2f}")
    print(f"  added by git-orch:   {with_ms - without_ms:6.2f} / {mean_with - mean_without:6.2f}"
          f"   (ratio {with_ms / without_ms:.2f}x)")
    print(f"  added by spawning:   {trivial_ms - without_ms:6.2f} / "
          f"{mean_trivial - mean_without:6.2f}   (trivial hooks, same names)")
    print(f"isolation={opts.isolation}")
    print(f"commits={len(hooked)}")
    print(f"with_hooks_ms={with_ms:.2f}")
    print(f"without_hooks_ms={without_ms:.2f}")
    print(f"trivial_hooks_ms={trivial_ms:.2f}")
    print(f"added_ms={with_ms - without_ms:.2f}")
    print(f"added_mean_ms={mean_with - mean_without:.2f}")
    print(f"added_over_trivial_ms={with_ms - trivial_ms:.2f}")
    print(f"ratio={with_ms / without_ms:.2f}")
    print(f"after_config_change_ms={changed_ms:.2f}")
    print(f"ratio_to_trivial={with_ms / trivial_ms:.2f}")
    print(f"after_config_change_ratio_to_trivial={changed_ms / trivial_ms:.2f}")
    cpu_ms = {k: statistics.median(v) * 1000 for k, v in CPU.items()}
    for kind in ("hooked", "changed", "plain", "trivial"):
        print(f"{kind}_cpu_ms={cpu_ms[kind]:.2f}")
    print(f"cpu_ratio_to_trivial={cpu_ms['hooked'] / cpu_ms['trivial']:.2f}")
    print(f"after_config_change_cpu_ratio_to_trivial={cpu_ms['changed'] / cpu_ms['trivial']:.2f}")


if __name__ == "__main__":
    main()
