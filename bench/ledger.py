"""Ledger at scale: 10,000 tasks / 100,000 events; and write throughput.

Prints `git orch status --json` time (a real process, and the in-process
collect), one write's latency and the bytes of new objects it adds, and the
ratio of status to `git for-each-ref` over the same refs.

Throughput: ledger writes per second with 8 concurrent in-process writers
(8 processes calling ledger.append, each on its own task) and with 8
concurrent `git orch dispatch` processes, each with its ratio to
`git update-ref` run in a loop by one process (plain git's rate for one ref
move per process).
Usage: python bench/ledger.py [--tasks N] [--events-per-task K] [--throughput-only]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pygit2
from timing import prepare

from git_orch.record import ledger
from git_orch.record.contract import Contract
from git_orch.repo import OrchRepo
from git_orch.report import status

ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}
ENDED_CYCLE = ["created", "activated", "handoff", "reviewed", "accepted", "merged",
               "pushed", "cleaned"]


def sh(*args: str, cwd: Path, input: str | None = None) -> str:
    return subprocess.run(list(args), cwd=cwd, check=True, capture_output=True, text=True,
                          input=input).stdout


def build(root: Path, tasks: int, per_task: int) -> Path:
    repo_dir = root / "repo"
    repo_dir.mkdir()
    sh("git", "init", "-q", "-b", "main", cwd=repo_dir)
    (repo_dir / "README.md").write_text("bench\n")
    sh("git", "add", "-A", cwd=repo_dir)
    sh("git", "commit", "-q", "-m", "base", cwd=repo_dir)
    orepo = OrchRepo(repo_dir)
    sh(sys.executable, "-m", "git_orch", "init", cwd=repo_dir)
    repo = orepo.pygit
    base = repo.revparse_single("HEAD")
    sig = pygit2.Signature("Bench", "bench@example.com")
    fanout: dict[str, pygit2.TreeBuilder] = {}
    ref_lines = []
    for n in range(tasks):
        task_id = f"task-{n:05d}"
        contract = Contract(task_id, f"Task {n}", str(base.id), package=f"pkg{n % 50}",
                            allow=[f"src/mod{n % 97}/**"])
        oid = repo.create_commit(None, sig, sig, contract.message(), base.tree.id, [base.id])
        live = n >= tasks - 20
        kinds = ["created", "activated"] if live else ENDED_CYCLE
        kinds = (kinds + ["note"] * per_task)[:per_task]
        lines = []
        for lamport, kind in enumerate(kinds, start=1):
            event = {"v": 1, "id": os.urandom(16).hex(), "lamport": lamport,
                     "at": "2026-01-01T00:00:00Z", "actor": "Bench <bench@example.com>",
                     "type": kind, "task": task_id}
            if kind in ("handoff", "accepted", "reviewed"):
                event["head"] = str(base.id)
            lines.append(ledger.encode_event(event))
        blob = repo.create_blob(b"".join(lines))
        hexid = str(oid)
        fanout.setdefault(hexid[:2], repo.TreeBuilder()).insert(
            hexid[2:], blob, pygit2.GIT_FILEMODE_BLOB)
        ref_lines.append(f"create refs/orch/tasks/{task_id} {hexid}\n")
    root_tb = repo.TreeBuilder()
    for prefix, builder in fanout.items():
        root_tb.insert(prefix, builder.write(), pygit2.GIT_FILEMODE_TREE)
    tip = orepo.ref_target(ledger.LEDGER_REF)
    commit = repo.create_commit(None, sig, sig, "bench ledger", root_tb.write(), [tip])
    ref_lines.append(f"update {ledger.LEDGER_REF} {commit} {tip}\n")
    sh("git", "update-ref", "--stdin", cwd=repo_dir, input="".join(ref_lines))
    sh("git", "pack-refs", "--all", cwd=repo_dir)
    sh("git", "gc", "-q", cwd=repo_dir)
    return repo_dir


def timed(fn: object, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - start)
    return out


def loose_bytes(common: Path) -> int:
    total = 0
    for folder in (common / "objects").glob("[0-9a-f][0-9a-f]"):
        total += sum(f.stat().st_size for f in folder.iterdir())
    return total


WRITERS = 8


def _writer(repo_dir: str, task: str, count: int, ready: object, go: object) -> None:
    orepo = OrchRepo(repo_dir)
    target = str(orepo.ref_target(f"refs/orch/tasks/{task}"))
    ready.release()  # type: ignore[attr-defined]
    go.wait()  # type: ignore[attr-defined]
    for n in range(count):
        ledger.append(orepo, target, lambda _log, n=n: [{"type": "note", "n": n}])


def _cli_writer(repo_dir: Path, count: int, ready: object, go: object) -> None:
    ready.release()  # type: ignore[attr-defined]
    go.wait()  # type: ignore[attr-defined]
    for _ in range(count):
        sh(sys.executable, "-m", "git_orch", "dispatch", "active", "--note", "bench",
           cwd=repo_dir)


def throughput(root: Path, per_writer: int, cli_per_writer: int) -> dict[str, float]:
    """Writes/s: 8 in-process writers, 8 CLI processes, and `git update-ref` in a loop."""
    repo_dir = root / "tp"
    repo_dir.mkdir()
    sh("git", "init", "-q", "-b", "main", cwd=repo_dir)
    (repo_dir / "README.md").write_text("bench\n")
    sh("git", "add", "-A", cwd=repo_dir)
    sh("git", "commit", "-q", "-m", "base", cwd=repo_dir)
    sh(sys.executable, "-m", "git_orch", "init", cwd=repo_dir)
    toml = repo_dir / "orch.toml"  # every writer's task is live at once
    toml.write_text(toml.read_text().replace("max_active = 3", f"max_active = {WRITERS}"))
    for n in range(WRITERS):
        sh(sys.executable, "-m", "git_orch", "start", f"w{n}", "--title", "writer",
           "--no-worktree", "--allow", f"w{n}/**", "--force", "--reason", "bench",
           cwd=repo_dir)
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=_writer, args=(str(repo_dir), f"w{n}", per_writer, ready, go))
             for n in range(WRITERS)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    for proc in procs:
        proc.join()
    inproc = WRITERS * per_writer / (time.perf_counter() - start)
    # The CLI writers' own start (a spawned interpreter each) is left out of the
    # timing, as for the in-process ones: only the git orch processes are timed.
    ready, go = ctx.Semaphore(0), ctx.Event()
    clis = [ctx.Process(target=_cli_writer, args=(repo_dir, cli_per_writer, ready, go))
            for _ in range(WRITERS)]
    for proc in clis:
        proc.start()
    for _ in clis:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    for proc in clis:
        proc.join()
    cli = WRITERS * cli_per_writer / (time.perf_counter() - start)
    head = sh("git", "rev-parse", "HEAD", cwd=repo_dir).strip()
    loops = 200
    start = time.perf_counter()
    for _ in range(loops):
        sh("git", "update-ref", "refs/bench/plain", head, cwd=repo_dir)
    plain = loops / (time.perf_counter() - start)
    orepo = OrchRepo(repo_dir)
    snap = ledger.snapshot(orepo)
    counted = sum(1 for n in range(WRITERS)
                  for e in snap.log(str(orepo.ref_target(f"refs/orch/tasks/w{n}"))).events
                  if e["type"] == "note")
    assert counted == WRITERS * per_writer, f"lost writes: {counted}"
    return {"inproc": inproc, "cli": cli, "plain": plain}


def like_a_user() -> None:
    """Child processes run as from an installed wheel (timing.prepare: .pyc files,
    no PYTHONDONTWRITEBYTECODE). The editable install's import finder still costs
    ~10 ms a process in `site`, which a wheel's does not."""
    prepare()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def main() -> int:
    like_a_user()
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--events-per-task", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--writes-per-writer", type=int, default=50)
    parser.add_argument("--cli-writes-per-writer", type=int, default=8)
    parser.add_argument("--throughput-only", action="store_true")
    args = parser.parse_args()
    os.environ.update(ENV)
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as tmp:
        rates = throughput(Path(tmp), args.writes_per_writer, args.cli_writes_per_writer)
    print(f"ledger_writes_per_s_8_inprocess={rates['inproc']:.1f} (target >= 100)")
    print(f"ledger_writes_per_s_8_cli={rates['cli']:.1f} (target >= 25)")
    print(f"git_update_ref_loop_per_s={rates['plain']:.1f}")
    print(f"inprocess_to_update_ref_ratio={rates['inproc'] / rates['plain']:.2f}")
    print(f"cli_to_update_ref_ratio={rates['cli'] / rates['plain']:.2f}")
    if args.throughput_only:
        return 0
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as tmp:
        t0 = time.perf_counter()
        repo_dir = build(Path(tmp), args.tasks, args.events_per_task)
        print(f"built {args.tasks} tasks / {args.tasks * args.events_per_task} events "
              f"in {time.perf_counter() - t0:.1f}s")
        cli = [sys.executable, "-m", "git_orch", "status", "--json"]
        first = timed(lambda: sh(*cli, cwd=repo_dir), 1)[0]
        status_runs = timed(lambda: sh(*cli, cwd=repo_dir), args.runs)
        data = json.loads(sh(*cli, cwd=repo_dir))
        assert len(data["tasks"]) == args.tasks, "status lost tasks"
        orepo = OrchRepo(repo_dir)
        collect_runs = timed(lambda: status.collect(OrchRepo(repo_dir)), args.runs)
        fer = ["git", "for-each-ref", "--format=%(objectname) %(refname)", "refs/orch/"]
        fer_runs = timed(lambda: sh(*fer, cwd=repo_dir), args.runs)
        writes = []
        added = []
        for n in range(args.runs):
            before = loose_bytes(orepo.common_dir)
            task = f"task-{args.tasks - 1 - n:05d}"
            writes += timed(lambda t=task: ledger.append(
                orepo, str(orepo.ref_target(f"refs/orch/tasks/{t}")),
                lambda log: [{"type": "note", "task": t}]), 1)
            added.append(loose_bytes(orepo.common_dir) - before)
    status_s = statistics.median(status_runs)
    fer_s = statistics.median(fer_runs)
    print(f"status --json (process): first {first:.3f}s, median {status_s:.3f}s (target <= 0.5s)")
    print(f"status collect (in-process): median {statistics.median(collect_runs):.3f}s")
    print(f"git for-each-ref refs/orch/: median {fer_s * 1000:.1f} ms")
    print(f"one write: median {statistics.median(writes) * 1000:.1f} ms (target <= 20 ms), "
          f"new objects {statistics.median(added) / 1024:.1f} KiB (target <= 16 KB)")
    print(f"status_json_s={status_s:.3f}")
    print(f"status_json_first_s={first:.3f}")
    print(f"status_collect_s={statistics.median(collect_runs):.3f}")
    print(f"for_each_ref_ms={fer_s * 1000:.1f}")
    print(f"status_to_for_each_ref_ratio={status_s / fer_s:.1f}")
    print(f"write_ms={statistics.median(writes) * 1000:.1f}")
    print(f"write_new_object_bytes={int(statistics.median(added))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
