"""`git orch status --json` at scale, next to plain git reading the same data.

For each size (tasks, 10 events each; the newest 20 tasks are live) builds a
throw-away repository (bench/ledger.py's builder) and times whole processes:
- plain git's full read: every contract commit (for-each-ref piped to
  `cat-file --batch`) and every ledger note (ls-tree piped to `cat-file --batch`);
- cold: no caches at all (first status on a machine);
- warm: one ledger write since the last status (the usual case: caches hold
  every task but one, the whole output is stale);
- repeat: nothing changed since the last status (answered from its kept output,
  report/repeat.py, when that status could keep it).
Also peak RSS of a warm status and µs per task (warm) per size, to show the
cost is linear in N. Numbers are medians of interleaved runs, as wall time and
as CPU time (with children: git); the machine is shared, so compare the
ratios to plain git from the same run, CPU ones above all.

Run: .venv/bin/python bench/status.py [--sizes 1000,10000,50000] [--runs 5]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ledger import ENV, build  # bench/ledger.py: the shared 10-events-per-task builder

import git_orch
from git_orch.record import ledger
from git_orch.record.summary_cache import CACHE_FILE
from git_orch.repo import OrchRepo
from git_orch.report import repeat
from git_orch.report.settled import INDEX_FILE


def timed_process(args: list[str], cwd: Path) -> tuple[float, int, float]:
    """(wall seconds, peak RSS in KiB, CPU seconds with its children's) of one process;
    its stdout goes to a file."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        assert proc.stderr is not None
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        if proc.returncode != 0:
            sys.exit(f"bench: {' '.join(args)} failed ({proc.returncode}): {err.strip()}")
        return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def plain_git_read(cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds: every contract commit and note blob through `git cat-file --batch`."""
    cpu = children_cpu()
    start = time.perf_counter()
    refs = subprocess.run(["git", "for-each-ref", "--format=%(objectname)", "refs/orch/",
                           "refs/heads/orch/"], cwd=cwd, capture_output=True, check=True).stdout
    subprocess.run(["git", "cat-file", "--batch"], cwd=cwd, input=refs, capture_output=True,
                   check=True)
    tree = subprocess.run(["git", "ls-tree", "-r", "--format=%(objectname)", ledger.LEDGER_REF],
                          cwd=cwd, capture_output=True, check=True).stdout
    subprocess.run(["git", "cat-file", "--batch"], cwd=cwd, input=tree, capture_output=True,
                   check=True)
    return time.perf_counter() - start, children_cpu() - cpu


def clear_caches(repo_dir: Path) -> None:
    """Forget every per-machine cache status uses."""
    for name in (CACHE_FILE, INDEX_FILE, repeat.CACHE_FILE):
        (OrchRepo(repo_dir).runtime_dir / name).unlink(missing_ok=True)


def one_write(orepo: OrchRepo, task_id: str) -> None:
    ledger.append(orepo, str(orepo.ref_target(f"refs/orch/tasks/{task_id}")),
                  lambda log: [{"type": "note", "task": task_id}])


def measure(size: int, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="orch-bench-status-") as tmp:
        t0 = time.perf_counter()
        repo_dir = build(Path(tmp), size, 10)
        print(f"built {size} tasks / {size * 10} events in {time.perf_counter() - t0:.1f}s",
              flush=True)
        orepo = OrchRepo(repo_dir)
        cli = [sys.executable, "-m", "git_orch", "status", "--json"]
        runs_of: dict[str, list[tuple[float, int, float]]] = {
            "cold": [], "warm": [], "repeat": []}
        plain: list[tuple[float, float]] = []
        for n in range(runs):
            plain.append(plain_git_read(repo_dir))
            clear_caches(repo_dir)
            runs_of["cold"].append(timed_process(cli, repo_dir))
            one_write(orepo, f"task-{size - 1 - n % 20:05d}")
            runs_of["warm"].append(timed_process(cli, repo_dir))
            runs_of["repeat"].append(timed_process(cli, repo_dir))
    result = {
        "plain_git_s": statistics.median(p[0] for p in plain),
        "plain_git_cpu_s": statistics.median(p[1] for p in plain),
        "peak_rss_mib": statistics.median(r[1] for r in runs_of["warm"]) / 1024,
    }
    for kind, found in runs_of.items():
        result[f"{kind}_s"] = statistics.median(r[0] for r in found)
        result[f"{kind}_cpu_s"] = statistics.median(r[2] for r in found)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated task counts")
    parser.add_argument("--runs", type=int, default=5)
    opts = parser.parse_args()
    os.environ.update(ENV)
    # Measure what a user runs: an installed wheel has its bytecode compiled.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(Path(git_orch.__file__).parent, quiet=1)
    sizes = [int(s) for s in opts.sizes.split(",")]
    results = {size: measure(size, opts.runs) for size in sizes}
    for size, res in results.items():
        tag = f"{size // 1000}k" if size % 1000 == 0 else str(size)
        plain, plain_cpu = res["plain_git_s"], res["plain_git_cpu_s"]
        print(f"status_{tag}_plain_git_s={plain:.3f}")
        print(f"status_{tag}_plain_git_cpu_s={plain_cpu:.3f}")
        for kind in ("warm", "repeat", "cold"):
            print(f"status_{tag}_{kind}_s={res[f'{kind}_s']:.3f}")
            print(f"status_{tag}_{kind}_ratio={res[f'{kind}_s'] / plain:.2f}")
            print(f"status_{tag}_{kind}_cpu_s={res[f'{kind}_cpu_s']:.3f}")
            print(f"status_{tag}_{kind}_cpu_ratio={res[f'{kind}_cpu_s'] / plain_cpu:.2f}")
        print(f"status_{tag}_warm_us_per_task={res['warm_s'] / size * 1e6:.1f}")
        print(f"status_{tag}_warm_cpu_us_per_task={res['warm_cpu_s'] / size * 1e6:.1f}")
        print(f"status_{tag}_peak_rss_mib={res['peak_rss_mib']:.1f}")
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        for unit in ("s", "cpu_s"):
            slope = (results[large][f"warm_{unit}"] - results[small][f"warm_{unit}"]) / (
                large - small)
            name = "us_per_task" if unit == "s" else "cpu_us_per_task"
            print(f"status_warm_marginal_{name}={slope * 1e6:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
