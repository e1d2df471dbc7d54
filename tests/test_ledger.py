"""The ledger: fanout layout, atomic writes under real races, tolerant reading."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from conftest import Repo, ledger_note

from git_orch.record import ledger
from git_orch.repo import OrchRepo

WRITER = textwrap.dedent(
    """
    import sys
    from git_orch.repo import OrchRepo
    from git_orch.record.tasks import record
    repo, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    orepo = OrchRepo(repo)
    for n in range(count):
        task = "shared" if n % 2 == 0 else f"own-{writer}"
        record(orepo, task, lambda st, n=n: [{"type": "note", "text": f"{writer}:{n}"}])
    """
)


def test_eight_racing_processes_lose_no_event(repo: Repo) -> None:
    writers, per_writer = 8, 20
    config = repo.path / "orch.toml"  # nine tasks at once: past the default max_active
    config.write_text(config.read_text().replace("max_active = 3", "max_active = 9"))
    repo.orch_ok("start", "shared", "--title", "shared", "--no-worktree", "--allow", "shared/**")
    for w in range(writers):
        repo.orch_ok("start", f"own-{w}", "--title", "own", "--no-worktree",
                     "--allow", f"own/{w}/**")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(repo.path), str(w), str(per_writer)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    orepo = OrchRepo(repo.path)
    snap = ledger.snapshot(orepo)
    seen: list[str] = []
    for task_id, oid in ledger.task_refs(orepo).items():
        log = snap.log(str(oid))
        assert not log.problems
        seen += [e["text"] for e in log.events if e["type"] == "note"]
        lamports = [e["lamport"] for e in log.events]
        assert len(set(lamports)) == len(lamports), f"{task_id}: lamport reused"
    expected = {f"{w}:{n}" for w in range(writers) for n in range(per_writer)}
    assert sorted(seen) == sorted(expected)
    # Every write is one commit on top of the previous one: a linear history.
    history = repo.git("rev-list", "--count", "refs/orch/ledger")
    merges = repo.git("rev-list", "--merges", "--count", "refs/orch/ledger")
    assert merges == "0" and int(history) >= writers * per_writer


def test_notes_use_fanout_and_git_reads_them(repo: Repo) -> None:
    repo.start("t1")
    contract = repo.rev("refs/orch/tasks/t1")
    tree = repo.git("ls-tree", "-r", "--name-only", "refs/orch/ledger")
    assert tree.splitlines() == [f"{contract[:2]}/{contract[2:]}"]
    events = [json.loads(line) for line in ledger_note(repo, contract).splitlines()]
    assert [e["type"] for e in events] == ["created", "activated"]
    assert all(e["v"] == 1 and e["task"] == "t1" for e in events)


def test_flat_note_written_by_git_is_read_and_moved_into_fanout(repo: Repo) -> None:
    """A note git itself wrote flat (a small notes tree) is still this task's log."""
    repo.orch_ok("start", "t1", "--title", "x", "--no-worktree")
    contract = repo.rev("refs/orch/tasks/t1")
    old_line = ledger_note(repo, contract).splitlines()[0]
    # Rebuild the ledger as git notes would write it: flat, one entry.
    blob = repo.git("hash-object", "-w", "--stdin", input=old_line + "\n")
    tree = repo.git("mktree", input=f"100644 blob {blob}\t{contract}\n")
    commit = repo.git("commit-tree", tree, "-m", "flat")
    repo.git("update-ref", "refs/orch/ledger", commit)
    assert repo.status()["t1"]["state"] == "pending-setup"
    repo.orch_ok("block", "--task", "t1", "--reason", "why")
    names = repo.git("ls-tree", "-r", "--name-only", "refs/orch/ledger").splitlines()
    assert names == [f"{contract[:2]}/{contract[2:]}"]
    assert [json.loads(x)["type"] for x in ledger_note(repo, contract).splitlines()] == [
        "created", "blocked",
    ]


def _rewrite_note(repo: Repo, task: str, extra: bytes) -> None:
    contract = repo.rev(f"refs/orch/tasks/{task}")
    data = ledger_note(repo, contract).encode("utf-8", "surrogateescape") + b"\n" + extra
    orepo = OrchRepo(repo.path)
    snap = ledger.snapshot(orepo)
    blob = orepo.pygit.create_blob(data)
    tree = ledger.put_note(orepo.pygit, snap.tree, contract, blob)
    sig = orepo.signature
    commit = orepo.pygit.create_commit(None, sig, sig, "tamper", tree, [snap.tip])
    repo.git("update-ref", "refs/orch/ledger", str(commit))


def test_corrupt_and_unknown_version_lines_are_reported_not_fatal(repo: Repo) -> None:
    repo.start("t1")
    _rewrite_note(
        repo,
        "t1",
        b'{"v":1,"id":"x"\n'  # cut short
        b'\x00\xff binary junk\n'
        b'[1,2,3]\n'
        b'{"v":2,"id":"future","lamport":9,"type":"teleported"}\n'
        b'{"v":1,"id":"nolamport","type":"blocked"}\n',
    )
    status = repo.orch_ok("status")
    assert "Ledger problems" in status.out and "not valid JSON" in status.out
    task = repo.status()["t1"]
    assert task["state"] == "active"  # the readable events still fold
    assert "ledger-problem" in task["flags"]
    assert any("unknown version" in p for p in task["problems"])
    shown = repo.orch_ok("show", "t1", "--json").json()
    assert shown["skipped_versions"] == 1 and len(shown["problems"]) == 4  # type: ignore[index]
    # Writing after corruption keeps every byte that was there.
    before = ledger_note(repo, repo.rev("refs/orch/tasks/t1"))
    repo.orch_ok("block", "--task", "t1", "--reason", "look at the ledger")
    after = ledger_note(repo, repo.rev("refs/orch/tasks/t1"))
    assert after.startswith(before) and repo.status()["t1"]["state"] == "blocked"


def test_disallowed_event_is_a_conflict_not_a_state_change(repo: Repo) -> None:
    repo.start("t1")
    line = json.dumps(
        {"v": 1, "id": "f" * 32, "lamport": 99, "type": "merged", "task": "t1", "at": "x"}
    ).encode()
    _rewrite_note(repo, "t1", line + b"\n")
    task = repo.status()["t1"]
    assert task["state"] == "active" and "conflict" in task["flags"]
    assert "Needs you (1)" in repo.orch_ok("status").out


def test_merge_logs_is_a_union_by_id() -> None:
    def ev(i: str, lamport: int) -> bytes:
        return json.dumps({"v": 1, "id": i, "lamport": lamport, "type": "note"}).encode()

    ours = ev("a", 1) + b"\n" + ev("b", 2) + b"\n"
    theirs = ev("a", 1) + b"\n" + ev("c", 2) + b"\nnot json\n"
    merged = ledger.merge_logs(ours, theirs)
    log = ledger.parse_log(merged)
    assert [e["id"] for e in log.events] == ["a", "b", "c"]
    assert b"not json" in merged
    assert ledger.merge_logs(merged, ours) == merged


def test_status_cache_is_rebuilt_when_corrupt_and_follows_new_events(repo: Repo) -> None:
    wt = repo.start("t1")
    assert repo.status()["t1"]["state"] == "active"
    cache = OrchRepo(repo.path).runtime_dir / "status-cache.marshal"
    assert cache.exists()
    cache.write_bytes(b"\x00garbage")
    assert repo.status()["t1"]["state"] == "active"
    repo.orch_ok("block", "--reason", "stuck", cwd=wt)
    assert repo.status()["t1"]["state"] == "blocked"


def test_event_ids_are_random_uuids(repo: Repo) -> None:
    """Each event's id is a version 4 UUID in hex, as uuid.uuid4().hex wrote them before."""
    import uuid

    wt = repo.start("t1")
    repo.orch_ok("block", "--reason", "why", cwd=wt)
    ids = [json.loads(line)["id"] for line in ledger_note(repo, "refs/orch/tasks/t1").splitlines()]
    assert len(ids) == 3 and len(set(ids)) == 3
    for text in ids:
        parsed = uuid.UUID(hex=text)
        assert parsed.hex == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
