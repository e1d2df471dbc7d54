"""heartbeat: flags from real repo situations, quiet beats write nothing, --repair."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import Repo
from test_land import events, ready


def beat(repo: Repo, *args: str) -> dict[str, object]:
    data = repo.orch_ok("heartbeat", "--once", "--json", *args).json()
    assert isinstance(data, dict)
    return data


def runtime(repo: Repo) -> Path:
    return Path(repo.git("rev-parse", "--path-format=absolute", "--git-common-dir")) / "orch"


def test_flags_from_real_situations_and_quiet_beat(any_repo: Repo) -> None:
    repo = any_repo  # both isolation modes
    ready(repo, "landed", {"src/l.py": "l\n"})
    repo.orch_ok("land", "landed", "--keep-worktree")  # merged, worktree kept
    dirty = ready(repo, "dirty", {"src/d.py": "d\n"}, accepted=False)
    repo.write("notes.txt", "uncommitted\n", cwd=dirty)  # after handoff: not under review
    busy = repo.start("busy", "--allow", "src/busy/**")
    repo.write("wip.txt", "work in progress\n", cwd=busy)
    gone = repo.start("gone", "--allow", "src/gone/**")
    shutil.rmtree(gone)
    repo.start("calm", "--allow", "src/calm/**")
    data = beat(repo)
    flags = data["flags"]
    assert isinstance(flags, dict)
    assert "cleanup-needed" in flags["landed"]
    assert flags["dirty"] == ["dirty"]
    assert flags["gone"] == ["orphan"]
    assert "calm" not in flags
    assert flags["busy"] == ["dirty"]
    # A worker's tree is dirty between commits all the time: not recorded for it.
    assert [e for e in events(repo, "busy") if e["type"] == "flagged"] == []
    orphans = data["orphans"]
    assert isinstance(orphans, list)
    assert orphans == []  # the vanished worktree is reported on its task
    assert [e["flags"] for e in events(repo, "dirty") if e["type"] == "flagged"] == [["dirty"]]
    # status shows the same flags (one implementation).
    status = repo.status()
    assert status["dirty"]["flags"] == ["dirty"] and status["dirty"]["dirty"] is True
    assert status["gone"]["flags"] == ["orphan"]
    # A quiet beat: nothing changed, so the ledger does not move.
    tip = repo.rev("refs/orch/ledger")
    again = beat(repo)
    assert again["changes"] == [] and repo.rev("refs/orch/ledger") == tip
    # A real change is recorded once: the dirty file goes away.
    (dirty / "notes.txt").unlink()
    changed = beat(repo)
    assert changed["changes"] == [{"task": "dirty", "flags": [], "was": ["dirty"]}]
    saved = json.loads((runtime(repo) / "heartbeat.json").read_text())
    assert saved["interval"] == 300 and saved["changes"] == changed["changes"]


def test_stale_needs_inspection_and_run_log_counts_as_activity(repo: Repo) -> None:
    config = repo.path / "orch.toml"
    config.write_text(config.read_text().replace('stale_after = "2h"', 'stale_after = "1s"'))
    repo.commit_all("short stale time")
    wt = repo.start("quiet", "--allow", "src/quiet/**")
    repo.start("busy", "--allow", "src/busy/**")
    old = time.time() - 3600
    for path in wt.rglob("*"):
        os.utime(path, (old, old))
    time.sleep(1.6)
    log = runtime(repo) / "runs" / "busy" / "agent.log"
    log.parent.mkdir(parents=True)
    log.write_text("working\n")
    flags = beat(repo)["flags"]
    assert isinstance(flags, dict)
    assert flags.get("quiet") == ["stale-needs-inspection"]
    assert "busy" not in flags
    assert "stale-needs-inspection" in repo.orch_ok("status").out
    # A flagged event is not activity: the next beat stays quiet.
    tip = repo.rev("refs/orch/ledger")
    log.write_text("still working\n")
    assert beat(repo)["changes"] == [] and repo.rev("refs/orch/ledger") == tip


def test_repair_fixes_orphans_and_cleanup(repo: Repo) -> None:
    ready(repo, "landed", {"src/l.py": "l\n"})
    repo.orch_ok("land", "landed", "--keep-worktree")
    gone = repo.start("gone")
    repo.write("src/g.py", "g\n", cwd=gone)
    gone_head = repo.commit_all("gone work", cwd=gone)
    shutil.rmtree(gone)
    # An orch/* branch and a task-looking worktree with no task.
    repo.git("branch", "orch/ghost")
    repo.git("checkout", "-q", "-b", "orch/ghost2")
    repo.write("ghost.txt", "g\n")
    ghost2 = repo.commit_all("ghost work")
    repo.git("checkout", "-q", "main")
    spare = repo.path.parent / "repo.orch" / "spare"
    repo.git("worktree", "add", "-q", str(spare), "orch/ghost2")
    vanished = repo.path.parent / "repo.orch" / "vanished"
    repo.git("worktree", "add", "-q", "--detach", str(vanished))
    shutil.rmtree(vanished)
    status = repo.orch_ok("status", "--json").json()
    assert isinstance(status, dict)
    kinds = {(o["kind"], o["name"]) for o in status["orphans"]}
    assert ("branch", "orch/ghost") in kinds and ("worktree", str(spare)) in kinds
    assert ("missing-worktree", str(vanished)) in kinds
    assert "[orphan] branch orch/ghost" in repo.orch_ok("status").out

    result = repo.orch_ok("heartbeat", "--once", "--repair")
    out = result.out
    assert "pruned worktree records" in out and str(vanished) in out
    assert "landed: removed worktree" in out and "recorded landed cleaned" in out
    assert f"gone: restored worktree {gone}" in out
    assert f"removed orphan worktree {spare}" in out
    assert "deleted orphan branch orch/ghost2" in out and "refs/orch/archive/ghost2" in out
    # Repo truth after repair.
    assert repo.status()["landed"]["state"] == "cleaned"
    assert (gone / "src/g.py").read_text() == "g\n"
    assert repo.git("config", "--worktree", "orch.task", cwd=gone) == "gone"
    assert repo.git("config", "--worktree", "core.hooksPath", cwd=gone)  # guardrails back on
    assert repo.rev("orch/gone") == gone_head
    assert repo.rev("refs/orch/archive/ghost2") == ghost2
    assert repo.git("branch", "--list", "orch/ghost*") == ""
    after = repo.orch_ok("status", "--json").json()
    assert isinstance(after, dict)
    assert after["orphans"] == []
    assert all(t["flags"] == [] for t in after["tasks"])


def test_repair_leaves_dirty_worktree_of_ended_task(any_repo: Repo) -> None:
    repo = any_repo  # both isolation modes
    wt = ready(repo, "t1", {"src/a.py": "a\n"})
    repo.orch_ok("land", "t1", "--keep-worktree")
    repo.write("keep.txt", "mine\n", cwd=wt)
    out = repo.orch_ok("heartbeat", "--once", "--repair").out
    assert "left t1" in out and "uncommitted changes" in out
    assert (wt / "keep.txt").exists() and repo.status()["t1"]["state"] == "merged"


def test_repair_adopts_pending_task_whose_setup_finished(any_repo: Repo) -> None:
    repo = any_repo  # both isolation modes
    # What a crash between `git worktree add` and the activated event leaves behind.
    from git_orch.record import ledger
    from git_orch.record.contract import write_contract
    from git_orch.repo import OrchRepo
    from git_orch.workspace.start import StartRequest, build_contract

    orepo = OrchRepo(repo.path)
    contract = build_contract(orepo, StartRequest("half", "half started"))
    oid = write_contract(orepo.objects, contract, orepo.ident)
    ledger.append(orepo, oid, lambda _log: [{"type": "created", "task": "half", "contract": oid}],
                  extra_refs=lambda: [ledger.RefUpdate("refs/orch/tasks/half", oid, None)])
    path = repo.path.parent / "repo.orch" / "half"
    repo.git("worktree", "add", "-q", "-b", "orch/half", str(path))
    assert repo.status()["half"]["state"] == "pending-setup"
    out = repo.orch_ok("heartbeat", "--once", "--repair").out
    assert f"half: finished its setup (worktree {path}" in out  # found as it is
    task = repo.status()["half"]
    assert task["state"] == "active" and task["worktree"] == str(path)
    assert repo.git("config", "--worktree", "core.hooksPath", cwd=path)


def test_missed_heartbeat_shows_in_status(repo: Repo) -> None:
    assert "[heartbeat-missed]" not in repo.orch_ok("status").out
    beat(repo, "--interval", "1m")
    status = repo.orch_ok("status", "--json").json()
    assert isinstance(status, dict) and status["heartbeat"]["missed"] is False
    path = runtime(repo) / "heartbeat.json"
    data = json.loads(path.read_text())
    data["at"] = "2020-01-01T00:00:00Z"
    path.write_text(json.dumps(data))
    assert "[heartbeat-missed]" in repo.orch_ok("status").out
    status = repo.orch_ok("status", "--json").json()
    assert isinstance(status, dict) and status["heartbeat"]["missed"] is True


def test_heartbeat_bad_interval(repo: Repo) -> None:
    result = repo.orch("heartbeat", "--once", "--interval", "soon")
    assert result.code == 1 and "bad duration" in result.err


def test_worktree_of_a_task_on_another_machine_is_not_an_orphan(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    import git_orch.repo

    monkeypatch.setattr(git_orch.repo.socket, "gethostname", lambda: "other-box")
    wt = repo.start("remote-task")
    monkeypatch.undo()
    shutil.rmtree(wt)  # as seen from this machine: the path is not a worktree here
    repo.git("worktree", "prune")
    task = repo.status()["remote-task"]
    assert task["host"] == "other-box" and "orphan" not in task["flags"]
    out = repo.orch_ok("heartbeat", "--once", "--repair").out
    assert "restored" not in out and not wt.exists()


def test_repair_never_recreates_a_worktree_outside_the_configured_root(repo: Repo) -> None:
    """A worktree path read from the ledger is not trusted: only start's own place is used."""
    import shutil

    wt = repo.start("t1")
    shutil.rmtree(wt)
    config = repo.path / "orch.toml"
    text = config.read_text().replace('worktree_root = ""', 'worktree_root = "elsewhere"')
    config.write_text(text)
    out = repo.orch_ok("heartbeat", "--once", "--repair").out
    assert f"left t1: its recorded worktree {wt} is not" in out
    assert not wt.exists() and not (repo.path / "elsewhere").exists()
