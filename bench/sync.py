"""Benchmark: git orch sync with 1,000 new events on each side, 10,000 tasks.

Builds the ledger directly with pygit2 (contract commits, 2/38 fanout notes
trees, refs through one `git update-ref --stdin`), mirrors it to a bare
remote and a second clone, then writes 1,000 events on each clone (500 of
the tasks touched on both sides) and times the syncs. For comparison it
times plain git doing the same transport (fetch and push of refs/orch/*)
and git's own union merge of notes (`git notes merge -s cat_sort_uniq`).

Run: .venv/bin/python bench/sync.py [--tasks N] [--events N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2

from git_orch.record import ledger
from git_orch.repo import OrchRepo
from git_orch.sync import sync

ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(*args: str, cwd: Path) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def line(task: str, lamport: int, kind: str, uid: str) -> bytes:
    return ledger.encode_event({
        "v": 1, "id": uid, "lamport": lamport, "at": "2026-01-01T00:00:00Z", "actor": "Bench",
        "type": kind, "task": task,
    })


def build(path: Path, tasks: int) -> list[tuple[str, str]]:
    """A repo with `tasks` contracts and their two-event logs; returns (id, contract)."""
    path.mkdir()
    git("init", "-q", "-b", "main", cwd=path)
    (path / "README.md").write_text("bench\n")
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "initial", cwd=path)
    repo = pygit2.Repository(str(path))
    base = repo.head.target
    tree = repo[base].tree.id
    sig = pygit2.Signature("Bench", "bench@example.com", 1_700_000_000, 0)
    contracts = []
    for n in range(tasks):
        tid = f"task-{n:05d}"
        msg = f"Task {n}\n\nOrch-Task: {tid}\nOrch-Schema: 1\n"
        contracts.append((tid, str(repo.create_commit(None, sig, sig, msg, tree, [base]))))
    groups: dict[str, dict[str, pygit2.Oid]] = {}
    for n, (tid, oid) in enumerate(contracts):
        data = line(tid, 1, "created", f"{n:032x}") + line(tid, 2, "activated", f"{n:031x}f")
        groups.setdefault(oid[:2], {})[oid[2:]] = repo.create_blob(data)
    root = repo.TreeBuilder()
    for head, entries in groups.items():
        sub = repo.TreeBuilder()
        for rest, blob in entries.items():
            sub.insert(rest, blob, pygit2.GIT_FILEMODE_BLOB)
        root.insert(head, sub.write(), pygit2.GIT_FILEMODE_TREE)
    tip = repo.create_commit(None, sig, sig, "bench ledger", root.write(), [])
    lines = [f"create {ledger.TASKS_PREFIX}{tid} {oid}\n" for tid, oid in contracts]
    lines.append(f"create {ledger.LEDGER_REF} {tip}\n")
    subprocess.run(["git", "update-ref", "--stdin"], cwd=path, input="".join(lines), text=True,
                   check=True)
    return contracts


def add_events(path: Path, chosen: list[tuple[str, str]], tag: str) -> None:
    """One new event on each chosen task, in one ledger commit (as many appends would)."""
    repo = pygit2.Repository(str(path))
    tip = repo.references[ledger.LEDGER_REF].target
    snap = ledger.Snapshot(repo, tip)
    tree = snap.tree
    for n, (tid, oid) in enumerate(chosen):
        data = snap.note_bytes(oid) + line(tid, 3, "note", f"{tag}{n:030x}")
        new = ledger.put_note(repo, tree, oid, repo.create_blob(data))
        tree = repo[new]
    sig = pygit2.Signature("Bench", "bench@example.com")
    commit = repo.create_commit(None, sig, sig, f"bench {tag}", tree.id, [tip])
    git("update-ref", ledger.LEDGER_REF, str(commit), str(tip), cwd=path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000)
    args = parser.parse_args()
    os.environ.update(ENV)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        home.mkdir()
        os.environ["HOME"] = str(home)
        os.environ["GIT_CONFIG_GLOBAL"] = str(home / ".gitconfig")
        # No background `git gc --auto`: it would race the timings and the cleanup.
        (home / ".gitconfig").write_text("[gc]\n\tauto = 0\n\tautoDetach = false\n")
        a, bare, b = tmp / "a", tmp / "remote.git", tmp / "b"
        build_s, contracts = timed(lambda: build(a, args.tasks))
        git("clone", "-q", "--mirror", str(a), str(bare), cwd=tmp)
        git("clone", "-q", str(bare), str(b), cwd=tmp)
        git("fetch", "-q", "origin", "refs/orch/*:refs/orch/*", cwd=b)
        git("remote", "add", "origin", str(bare), cwd=a)
        git("config", "branch.main.remote", "origin", cwd=a)
        # First sync on each clone: writes 10,000 tracking refs (paid once per clone).
        first_sync_s, _ = timed(lambda: sync(OrchRepo(a)))
        sync(OrchRepo(b))
        for path in (a, b):
            git("pack-refs", "--all", cwd=path)
        half = args.events // 2
        add_events(a, contracts[: args.events], "a")
        add_events(b, contracts[half : half + args.events], "b")

        noop_s, _ = timed(lambda: git("fetch", "-q", "origin",
                                      "+refs/orch/*:refs/orch-remote/origin/*", cwd=b))
        push_s, first = timed(lambda: sync(OrchRepo(a)))
        # plain git: fetch the other side's ledger and union-merge it with git notes.
        git("fetch", "-q", "origin", "+refs/orch/ledger:refs/notes/theirs", cwd=b)
        git("update-ref", "refs/notes/ours", "refs/orch/ledger", cwd=b)
        notes_s, _ = timed(lambda: git("notes", "--ref=ours", "merge", "-q", "-s",
                                       "cat_sort_uniq", "refs/notes/theirs", cwd=b))
        merge_s, second = timed(lambda: sync(OrchRepo(b)))
        ff_s, third = timed(lambda: sync(OrchRepo(a)))
        idle_s, fourth = timed(lambda: sync(OrchRepo(b)))
        plain_push_s, _ = timed(lambda: git("push", "-q", "origin",
                                            "refs/orch/ledger:refs/bench/ledger", cwd=b))
        tips = {git("rev-parse", ledger.LEDGER_REF, cwd=p) for p in (a, b, bare)}
        assert len(tips) == 1, "clones did not converge"
        assert second.outcome == "merged" and third.outcome == "fast-forward"
        snap = ledger.snapshot(OrchRepo(b))
        total = sum(len(snap.log(oid).events) for _, oid in contracts)
        assert total == 2 * args.tasks + 2 * args.events, total

    print(f"ledger: {args.tasks} tasks, {2 * args.tasks} events; built in {build_s:.2f}s")
    print(f"new events: {args.events} on each clone, {half} tasks touched on both")
    print(f"first sync of a clone (tracking refs):  {first_sync_s:.3f}s")
    print(f"sync a (push only, remote behind):      {push_s:.3f}s  ({first.outcome})")
    print(f"sync b (fetch + merge {second.notes_taken} taken, {second.notes_merged} merged "
          f"+ push): {merge_s:.3f}s")
    print(f"sync a (fast-forward):                  {ff_s:.3f}s")
    print(f"sync b (up to date):                    {idle_s:.3f}s")
    print(f"plain git fetch of refs/orch/*, nothing new: {noop_s:.3f}s")
    print(f"plain git push of the ledger:           {plain_push_s:.3f}s")
    print(f"git notes merge -s cat_sort_uniq:       {notes_s:.3f}s")
    plain_s = noop_s + notes_s + plain_push_s
    print(f"ratio merge sync / git notes merge:     {merge_s / notes_s:.1f}x")
    print(f"ratio merge sync / plain git fetch + notes merge + push: {merge_s / plain_s:.1f}x")
    print(f"total events after sync: {total} (nothing lost)")
    figures = {
        "tasks": args.tasks,
        "events_each_side": args.events,
        "build_s": round(build_s, 3),
        "first_sync_s": round(first_sync_s, 3),
        "sync_push_only_s": round(push_s, 3),
        "sync_merge_s": round(merge_s, 3),
        "sync_fast_forward_s": round(ff_s, 3),
        "sync_up_to_date_s": round(idle_s, 3),
        "git_fetch_noop_s": round(noop_s, 3),
        "git_push_ledger_s": round(plain_push_s, 3),
        "git_notes_merge_s": round(notes_s, 3),
        "merge_vs_git_notes_ratio": round(merge_s / notes_s, 2),
        "merge_vs_plain_git_ratio": round(merge_s / plain_s, 2),
        "fourth_outcome_up_to_date": int(fourth.outcome == "up-to-date"),
    }
    for name, value in figures.items():
        print(f"{name}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
