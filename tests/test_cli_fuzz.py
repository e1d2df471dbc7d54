"""Fuzz the CLI's read paths: generated ledgers, contracts and orch.toml files.

Whatever a remote or a worker puts in the ledger, a contract commit or the
policy file, every command exits 0, 1 or 2: never 3 (a crash), never a
traceback.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pygit2
import pytest
from conftest import Repo, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ledger_fuzz import json_values

from git_orch.record import ledger

FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

READ_COMMANDS: list[tuple[str, ...]] = [
    ("status",), ("status", "--json"), ("show", "t1"), ("show", "t1", "--json"),
    ("heartbeat", "--once"), ("land", "t1"), ("next",),
]

EVENT_TYPES = ["created", "activated", "setup-failed", "handoff", "blocked", "unblocked",
               "accepted", "rejected", "merged", "pushed", "cleaned", "abandoned", "reviewed",
               "run-started", "run-ended", "flagged", "misalignment", "note", "land-step"]
FIELDS = ["task", "head", "commit", "worktree", "branch", "host", "at", "pid", "pgid",
          "supervisor_pid", "run", "attempt", "flags", "risks", "summary", "reason", "target",
          "previous", "push", "review", "verdict", "findings", "outcome"]

hostile_events = st.builds(
    lambda uid, lamport, kind, fields: {
        **fields, "v": 1, "id": uid.hex, "lamport": lamport, "type": kind,
    },
    st.uuids(),
    st.integers(min_value=0, max_value=50),
    st.sampled_from(EVENT_TYPES),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
)


@pytest.fixture(scope="module")
def fuzz_repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    repo = make_repo(tmp_path_factory.mktemp("fuzz") / "repo")
    repo.orch_ok("init")
    repo.commit_all("Add git-orch policy")
    repo.start("t1")
    return repo


def assert_no_crash(repo: Repo, *args: str) -> None:
    result = repo.orch(*args)
    text = result.out + result.err
    assert result.code in (0, 1, 2), (args, result.code, result.err)
    assert "Traceback" not in text, (args, text)


def set_note(repo: Repo, target: str, data: bytes) -> None:
    pg = pygit2.Repository(str(repo.path))
    tip = pg.references["refs/orch/ledger"].target
    tree = ledger.put_note(pg, pg[tip].tree, target, pg.create_blob(data))
    sig = pygit2.Signature("Eve", "eve@example.com")
    pg.create_commit("refs/orch/ledger", sig, sig, "fuzz", tree, [tip])


@FUZZ
@given(st.lists(hostile_events, max_size=10), st.lists(json_values, max_size=3))
def test_generated_ledgers_never_crash_a_command(fuzz_repo: Repo, events: list[dict[str, object]],
                                                 junk: list[object]) -> None:
    target = fuzz_repo.rev("refs/orch/tasks/t1")
    lines = [json.dumps(e) for e in events] + [json.dumps(j) for j in junk]
    set_note(fuzz_repo, target, "\n".join(lines).encode() + b"\n")
    for command in READ_COMMANDS:
        assert_no_crash(fuzz_repo, *command)


def raw_commit(repo: Repo, encoding: bytes | None, message: bytes) -> str:
    tree = repo.rev("main^{tree}")
    parent = repo.rev("main")
    head = (f"tree {tree}\nparent {parent}\nauthor Eve <e@x> 1700000000 +0000\n"
            f"committer Eve <e@x> 1700000000 +0000\n").encode()
    if encoding is not None:
        head += b"encoding " + encoding + b"\n"
    proc = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin", "--literally"],
                          cwd=repo.path, input=head + b"\n" + message, capture_output=True,
                          check=True)
    return proc.stdout.decode().strip()


messages = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda title, body, task: title + b"\n\n" + body + b"\n\nOrch-Task: " + task + b"\n",
              st.binary(max_size=40), st.binary(max_size=80),
              st.sampled_from([b"t9", b"t1", b"\xff\xfe", b"../x", b""])),
)


@FUZZ
@given(st.one_of(st.none(),
                 st.sampled_from([b"utf-8", b"x-bogus", b"latin-1", b"\xff", b"utf-16"])),
       messages)
def test_generated_contracts_never_crash_a_command(fuzz_repo: Repo, encoding: bytes | None,
                                                   message: bytes) -> None:
    oid = raw_commit(fuzz_repo, encoding, message)
    fuzz_repo.git("update-ref", "refs/orch/tasks/t9", oid)
    try:
        for command in (("status",), ("status", "--json"), ("show", "t9"), ("heartbeat", "--once"),
                        ("land", "t9"), ("verify", f"main..{oid}")):
            assert_no_crash(fuzz_repo, *command)
    finally:
        fuzz_repo.git("update-ref", "-d", "refs/orch/tasks/t9")


toml_texts = st.one_of(
    st.text(max_size=200),
    st.builds(lambda section, key, value: f"[{section}]\n{key} = {value}\n",
              st.sampled_from(["orch", "land", "sync", "agents.x", "dispatch", "packages"]),
              st.sampled_from(["main_branch", "stale_after", "max_active", "forbid", "gates",
                               "worktree_root", "strategy", "push", "remote", "argv", "auto"]),
              st.one_of(st.integers().map(str), st.text(max_size=20).map(json.dumps),
                        st.just("[1, \"a\"]"), st.just("{ a = 1 }"), st.just("9" * 5000),
                        st.just("\"99999999999999999999999s\""))),
)


@FUZZ
@given(toml_texts)
def test_generated_orch_toml_never_crashes_a_command(fuzz_repo: Repo, text: str) -> None:
    path = fuzz_repo.path / "orch.toml"
    original = path.read_bytes()
    try:
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        for command in (*READ_COMMANDS, ("start", "t5", "--title", "x", "--no-worktree")):
            assert_no_crash(fuzz_repo, *command)
    finally:
        path.write_bytes(original)
        fuzz_repo.git("update-ref", "-d", "refs/orch/tasks/t5", check=False)


def test_orch_toml_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    repo.orch_ok("init")
    path = repo.path / "orch.toml"
    path.unlink()
    path.symlink_to("/dev/zero")
    result = repo.orch("status")
    assert result.code == 1 and "not a regular file" in result.err
    assert len(result.err.strip().splitlines()) == 1
    path.unlink()
    import os

    os.mkfifo(path)
    result = repo.orch_proc("status", timeout=30)
    assert result.code == 1 and "not a regular file" in result.err
    path.unlink()
    path.write_text("# " + "x" * (2 * 1024 * 1024) + "\n")
    result = repo.orch("status")
    assert result.code == 1 and "over 1048576 bytes" in result.err


def test_contract_with_a_bogus_encoding_header_arrives_by_sync(tmp_path: Path) -> None:
    from test_sync import clones

    _, (a, evil) = clones(tmp_path, "ae")
    for name, encoding, message in (("t7", b"x-bogus", b"title\n\nOrch-Task: t7\n"),
                                    ("t8", b"utf-8", b"t\xffitle\n\nOrch-Task: t8\n")):
        oid = raw_commit(evil, encoding, message)
        evil.git("push", "-q", "origin", f"{oid}:refs/orch/tasks/{name}")
    result = a.orch("sync")
    assert result.code in (0, 1) and "Traceback" not in result.err, result.err
    for command in (("status",), ("show", "t7"), ("show", "t8"), ("heartbeat", "--once")):
        assert_no_crash(a, *command)
