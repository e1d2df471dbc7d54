"""Clone vs worktree workspaces: `start` time and disk, and `collect` cost.

Builds a throw-away repository of 20,000 files and 5,000 commits (with
`git fast-import`), then in interleaved rounds (so machine noise hits both
sides alike):
- `git orch start --isolation worktree` and `--isolation clone`, each next to
  plain git doing the same work (`git worktree add`; `git clone --shared
  --no-checkout` + `git checkout`), and the disk each workspace adds (its
  folder, plus the linked worktree's admin folder in the lead's git dir;
  objects borrowed through alternates are not counted: they are the lead's);
- `git orch collect ID` with nothing changed (tips compared, nothing fetched)
  and after a commit + handoff in the workspace, next to a plain `git fetch`
  of the workspace's branch.
Target: clone start within 1.5x of worktree start.

Run: .venv/bin/python bench/isolation.py [--files 20000] [--commits 5000] [--rounds 3]
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

from timing import hermetic_env


def run(args: list[str], cwd: Path, env: dict[str, str], stdin: bytes | None = None) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, input=stdin, capture_output=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(args[:4])} failed: {proc.stderr.decode().strip()}")
    return proc.stdout.decode()


def orch(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    return run([sys.executable, "-m", "git_orch", *args], cwd, env)


# start enforces max_active (3 by default); the rounds start more tasks than that.
FORCE = ("--force", "--reason", "bench")


def timed(action: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    action(*args)
    return time.perf_counter() - start


def disk(path: Path) -> int:
    """Bytes of the files under path (hardlinks and alternates are not followed)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def clone_shared(common: Path, dest: Path, env: dict[str, str]) -> None:
    """What clone mode does, in plain git."""
    run(["git", "clone", "-q", "--shared", "--no-checkout", str(common), str(dest)],
        dest.parent, env)
    run(["git", "checkout", "-q", "main"], dest, env)


def history(files: int, commits: int) -> bytes:
    """A fast-import stream: one commit adding `files` files, then small edits."""
    out = [b"blob\nmark :1\ndata 6\nhello\n"]
    stamp = 1_700_000_000
    lines = [f"M 100644 :1 src/d{i % 200}/f{i}.txt\n".encode() for i in range(files)]
    out.append(f"commit refs/heads/main\nmark :2\ncommitter B <b@x> {stamp} +0000\n"
               f"data 4\nbase\n".encode() + b"".join(lines))
    for n in range(1, commits):
        body = f"edit {n}\n".encode()
        out.append(f"commit refs/heads/main\nmark :{n + 2}\n"
                   f"committer B <b@x> {stamp + n} +0000\ndata 5\nedit\nfrom :{n + 1}\n"
                   f"M 100644 inline src/d{n % 200}/f{n % files}.txt\n"
                   f"data {len(body)}\n".encode() + body)
    return b"".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = hermetic_env(Path(tmp) / "home")
        env.pop("ORCH_TASK", None)
        repo = Path(tmp) / "repo"
        repo.mkdir()
        run(["git", "init", "-q", "-b", "main"], repo, env)
        run(["git", "fast-import", "--quiet"], repo, env, history(opts.files, opts.commits))
        run(["git", "reset", "-q", "--hard", "main"], repo, env)
        run(["git", "gc", "-q"], repo, env)
        orch(["init"], repo, env)
        toml = repo / "orch.toml"  # two tasks a round, all active at once
        toml.write_text(toml.read_text().replace("max_active = 3",
                                                 f"max_active = {2 * opts.rounds}"))
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-q", "-m", "policy"], repo, env)
        common = repo / ".git"
        root = Path(tmp) / "repo.orch"
        plain = Path(tmp) / "plain"
        plain.mkdir()
        t: dict[str, list[float]] = {k: [] for k in (
            "start_worktree", "start_clone", "git_worktree_add", "git_clone_shared")}
        size: dict[str, int] = {}
        for r in range(opts.rounds):
            wt_id, cl_id = f"w{r}", f"c{r}"
            t["start_worktree"].append(timed(
                orch, ["start", wt_id, "--title", "bench", *FORCE, "--allow", f"{wt_id}/**",
                       "--isolation", "worktree"], repo, env))
            t["start_clone"].append(timed(
                orch, ["start", cl_id, "--title", "bench", *FORCE, "--allow", f"src/d{r}/**",
                       "--isolation", "clone"], repo, env))
            pw, pc = plain / f"w{r}", plain / f"c{r}"
            t["git_worktree_add"].append(timed(
                run, ["git", "worktree", "add", "-q", "--detach", str(pw), "main"], repo, env))
            t["git_clone_shared"].append(timed(clone_shared, common, pc, env))
            size["disk_worktree_bytes"] = disk(root / wt_id) + disk(common / "worktrees" / wt_id)
            size["disk_clone_bytes"] = disk(root / cl_id)
        ws = root / "c0"
        orch(["collect", "c0"], repo, env)  # the first collect takes the workspace in
        unchanged = [timed(orch, ["collect", "c0"], repo, env) for _ in range(opts.rounds)]
        # collect's own work, without the interpreter and its imports.
        from git_orch.repo import OrchRepo
        from git_orch.workspace.collect import collect_task

        inproc = [timed(lambda: collect_task(OrchRepo(repo), "c0")) for _ in range(opts.rounds)]
        # A git-orch process that does (almost) nothing: the floor of any command.
        floor = [timed(orch, ["--version"], repo, env) for _ in range(opts.rounds)]
        changed: list[float] = []
        fetches: list[float] = []
        for n in range(opts.rounds):
            (ws / "src" / "d0" / "f0.txt").write_text(f"change {n}\n")
            run(["git", "commit", "-q", "-am", f"change {n}\n\nOrch-Task: c0"], ws, env)
            orch(["handoff", "--summary", f"change {n}"], ws, env)
            changed.append(timed(orch, ["collect", "c0"], repo, env))
            fetches.append(timed(
                run, ["git", "fetch", "-q", "--no-tags", str(ws), "+orch/c0:refs/bench/c0"],
                repo, env))
        m = {k: statistics.median(v) for k, v in t.items()}
        m["collect_unchanged"] = statistics.median(unchanged)
        m["collect_changed"] = statistics.median(changed)
        m["collect_unchanged_in_process"] = statistics.median(inproc)
        m["git_fetch_changed"] = statistics.median(fetches)
        m["orch_version_floor"] = statistics.median(floor)
        print(f"files={opts.files}")
        print(f"commits={opts.commits}")
        print(f"rounds={opts.rounds}")
        for key, value in m.items():
            print(f"{key}_s={value:.3f}")
        for key, value in size.items():
            print(f"{key}={value}")
        print(f"ratio_start_clone_to_worktree={m['start_clone'] / m['start_worktree']:.2f}")
        print(f"ratio_start_clone_to_plain_git={m['start_clone'] / m['git_clone_shared']:.2f}")
        print(f"ratio_start_worktree_to_plain_git="
              f"{m['start_worktree'] / m['git_worktree_add']:.2f}")
        print(f"ratio_disk_clone_to_worktree="
              f"{size['disk_clone_bytes'] / max(size['disk_worktree_bytes'], 1):.2f}")
        print(f"collect_unchanged_in_process_ms={m['collect_unchanged_in_process'] * 1000:.1f}"
              " (target <= 20)")
        print(f"collect_unchanged_over_floor_ms="
              f"{(m['collect_unchanged'] - m['orch_version_floor']) * 1000:.1f}")
        print(f"ratio_collect_unchanged_to_orch_floor="
              f"{m['collect_unchanged'] / m['orch_version_floor']:.2f}")
        print(f"ratio_collect_changed_to_git_fetch="
              f"{m['collect_changed'] / m['git_fetch_changed']:.2f}")
        within = m["start_clone"] <= 1.5 * m["start_worktree"]
        print(f"target_clone_within_1.5x={'yes' if within else 'no'}")
        shutil.rmtree(plain, ignore_errors=True)


if __name__ == "__main__":
    main()
