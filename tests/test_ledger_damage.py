"""Damage to the ledger is reported with its fix, and `ledger recover` undoes it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import Repo
from test_sync import clones
from test_sync_hostile import append_lines, event


def event_types(repo: Repo, task_id: str) -> list[str]:
    data = repo.orch_ok("show", task_id, "--json").json()
    assert isinstance(data, dict)
    return [str(e["type"]) for e in data["events"]]


def damage(repo: Repo) -> list[str]:
    data = repo.orch_ok("status", "--json").json()
    assert isinstance(data, dict)
    return list(data["ledger_damage"])


@pytest.mark.parametrize("how", ["rewind", "delete", "main-commit"])
def test_damaged_ledger_is_reported_and_recovered(repo: Repo, how: str) -> None:
    repo.start("t1", "--allow", "src/**")
    early = repo.rev("refs/orch/ledger")
    repo.start("t2", "--allow", "docs/**")
    repo.orch_ok("block", "--task", "t2", "--reason", "needs a person")
    before = {t: event_types(repo, t) for t in ("t1", "t2")}
    assert damage(repo) == []
    if how == "rewind":
        repo.git("update-ref", "refs/orch/ledger", early)
        expected = "was rewound or replaced"
    elif how == "delete":
        repo.git("update-ref", "-d", "refs/orch/ledger")
        expected = "is gone"
    else:
        repo.git("update-ref", "refs/orch/ledger", "main")
        expected = "which is not a ledger commit"
        refused = repo.orch("unblock", "t2", "--note", "ok")
        assert refused.code == 1 and "not a ledger commit" in refused.err
    found = damage(repo)
    assert len(found) == 1 and expected in found[0] and "git orch ledger recover" in found[0]
    text = repo.orch_ok("status").out
    assert "  [ledger-damage] " in text and "git orch ledger recover" in text
    assert expected in text and "git orch ledger recover" in text  # a needs-you item
    assert "ledger damage:" in repo.orch_ok("heartbeat", "--once").out
    assert repo.orch("ledger", "check").code == 1
    out = repo.orch_ok("ledger", "recover").out
    assert "ledger recovered: merged" in out
    assert {t: event_types(repo, t) for t in ("t1", "t2")} == before
    assert damage(repo) == [] and repo.orch("ledger", "check").code == 0
    assert repo.orch_ok("ledger", "recover").out.strip() == "ledger: nothing lost"
    repo.orch_ok("unblock", "t2", "--note", "ok")  # writes work again


def test_stale_ledger_lock_is_named_by_every_command_and_writes_give_up(repo: Repo) -> None:
    repo.start("t1")
    lock = repo.path / ".git" / "refs" / "orch" / "ledger.lock"
    lock.write_text("")
    old = time.time() - 120
    os.utime(lock, (old, old))
    for args in (("status",), ("show", "t1"), ("heartbeat", "--once")):
        result = repo.orch(*args)
        assert result.code == 0 and f"warning: {lock} is 1" in result.err, result.err
    began = time.monotonic()
    result = repo.orch("block", "--task", "t1", "--reason", "x")
    assert result.code == 1 and f"rm {lock}" in result.err
    assert time.monotonic() - began < 10
    assert any(str(lock) in d for d in damage(repo))
    lock.unlink()
    repo.orch_ok("block", "--task", "t1", "--reason", "x")


def test_future_events_are_warned_about_and_do_not_hide_staleness(tmp_path: Path) -> None:
    _, (a, evil) = clones(tmp_path, "ae")
    a.start("t1", "--no-worktree")
    a.orch_ok("sync")
    evil.orch_ok("sync")
    append_lines(evil, "t1", [event(id="future", lamport=9, type="note",
                                    at="9999-12-31T00:00:00Z")])
    result = a.orch("sync")
    assert result.code == 0 and "is dated 9999-12-31T00:00:00Z, in the future" in result.err
    with open(a.path / "orch.toml", "a") as handle:
        handle.write("\n")
    text = (a.path / "orch.toml").read_text().replace('stale_after = "2h"', 'stale_after = "1s"')
    (a.path / "orch.toml").write_text(text)
    time.sleep(2.2)
    assert "stale-needs-inspection" in a.status()["t1"]["flags"]


def test_control_and_bidi_characters_are_escaped_in_status_files(repo: Repo) -> None:
    repo.start("t1")
    nasty = "a\x1b[2Jb\x07c\u202ed\u2028e"
    repo.orch_ok("block", "--task", "t1", "--reason", nasty)
    repo.orch_ok("status", "--write")
    runtime = repo.path / ".git" / "orch"
    for name in ("status.md", "status.html"):
        text = (runtime / name).read_text(encoding="utf-8")
        assert not any(ch in text for ch in "\x1b\x07\u202e\u2028"), name
        assert "x1b" in text, name
    shown = repo.orch_ok("status").out + repo.orch_ok("show", "t1").out
    assert not any(ch in shown for ch in "\x1b\x07\u202e\u2028")
