"""git orch sync: three clones of one bare remote converge, race, refuse and recover."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Repo, git, make_repo, set_isolation

from git_orch import sync as syncmod
from git_orch.record.tasks import record, transition
from git_orch.repo import OrchRepo

# Fields of `status --json` that come from the ledger and contracts alone, so
# they must be equal on every machine after a sync.
SHARED = ("id", "title", "state", "package", "base", "contract", "host", "created", "updated",
          "summary", "risks", "reason", "error", "accepted_head", "review", "runs", "conflicts",
          "handed_off_head", "worktree")


def clones(tmp_path: Path, names: str = "abc") -> tuple[Path, list[Repo]]:
    """A bare remote with main and orch.toml, and one initialised clone per name."""
    seed = make_repo(tmp_path / "seed")
    seed.orch_ok("init")
    set_isolation(seed, "worktree")  # these workers sync from their worktrees
    seed.commit_all("Add git-orch policy")
    bare = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    seed.git("push", "-q", str(bare), "main")
    out = []
    for name in names:
        git("clone", "-q", str(bare), name, cwd=tmp_path)
        clone = Repo(tmp_path / name)
        clone.orch_ok("init")
        out.append(clone)
    return bare, out


def shared_state(repo: Repo) -> dict[str, dict[str, object]]:
    return {tid: {k: t[k] for k in SHARED} for tid, t in repo.status().items()}


def event_ids(repo: Repo) -> set[str]:
    ids: set[str] = set()
    for tid in repo.status():
        data = repo.orch_ok("show", tid, "--json").json()
        assert isinstance(data, dict)
        ids |= {e["id"] for e in data["events"]}
    return ids


def sync_json(repo: Repo, *args: str) -> dict[str, object]:
    data = repo.orch_ok("sync", *args, "--json").json()
    assert isinstance(data, dict)
    return data


def remote_ref(bare: Path, ref: str) -> str:
    return git("rev-parse", "--verify", "--quiet", ref, cwd=bare, check=False)


def orch_refs(repo: Repo) -> str:
    return repo.git("for-each-ref", "--format=%(objectname) %(refname)", "refs/orch/")


def note_events(repo: Repo, task_id: str, *types: str) -> None:
    orepo = OrchRepo(repo.path)
    record(orepo, task_id, lambda st: [{"type": t} for t in types])


def test_independent_starts_converge_on_three_clones(tmp_path: Path) -> None:
    bare, (a, b, c) = clones(tmp_path)
    a.start("a1", "--allow", "src/**")
    a.start("a2", "--no-worktree", "--allow", "docs/**")
    b.start("b1")
    c.start("c1")
    wt = a.worktree("a1")
    a.write("src/app.py", "print('a1')\n", cwd=wt)
    a.commit_all("a1 work", cwd=wt)
    a.orch_ok("handoff", "--summary", "done", cwd=wt)
    first = sync_json(a)
    assert first["pushed"] and first["pushed_tasks"] == ["a1", "a2"]
    assert sync_json(b)["imported_tasks"] == ["a1", "a2"]
    sync_json(c)
    sync_json(a)
    sync_json(b)
    tips = {r.rev("refs/orch/ledger") for r in (a, b, c)}
    assert tips == {remote_ref(bare, "refs/orch/ledger")}
    states = [shared_state(r) for r in (a, b, c)]
    assert states[0] == states[1] == states[2]
    assert sorted(states[0]) == ["a1", "a2", "b1", "c1"]
    assert states[0]["a1"]["state"] == "completed-unreviewed"
    assert event_ids(a) == event_ids(b) == event_ids(c)
    # The ledger keeps git's 2/38 fanout after merges.
    for entry in a.git("ls-tree", "refs/orch/ledger").splitlines():
        mode_type, name = entry.split("\t")
        assert mode_type.split()[1] == "tree" and len(name) == 2
    # Tracking copies live outside refs/orch/ and never reach the remote.
    assert a.git("rev-parse", "refs/orch-remote/origin/ledger")
    assert git("for-each-ref", "refs/orch-remote/", cwd=bare) == ""
    # Up to date now: nothing to push.
    again = sync_json(c)
    assert again["outcome"] == "up-to-date" and not again["pushed"]


def test_merge_commit_has_both_parents_and_clock_moves_past_merged_events(
    tmp_path: Path,
) -> None:
    bare, (a, b) = clones(tmp_path, "ab")
    a.start("t1", "--no-worktree")
    sync_json(a)
    sync_json(b)
    note_events(a, "t1", "note", "note", "note")
    note_events(b, "t1", "note")
    ours = b.rev("refs/orch/ledger")
    sync_json(a)
    result = sync_json(b)
    assert result["outcome"] == "merged" and result["notes_merged"] == 1
    parents = b.git("rev-list", "--parents", "-n1", "refs/orch/ledger").split()[1:]
    assert parents == [ours, a.rev("refs/orch/ledger")]  # ours first, then theirs
    assert remote_ref(bare, "refs/orch/ledger") == b.rev("refs/orch/ledger")
    note_events(b, "t1", "note")
    events = b.orch_ok("show", "t1", "--json").json()["events"]  # type: ignore[index]
    lamports = [e["lamport"] for e in events]
    assert lamports[-1] > max(lamports[:-1])
    assert len(events) == 2 + 3 + 1 + 1


def test_same_id_on_two_machines_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    bare, (a, b) = clones(tmp_path, "ab")
    a.start("t1", "--no-worktree")
    b.orch_ok("start", "t1", "--title", "another t1", "--no-worktree", "--allow", "src/**")
    b.start("b2", "--no-worktree", "--allow", "docs/**")
    sync_json(a)
    before_b, before_remote = orch_refs(b), remote_ref(bare, "refs/orch/ledger")
    refused = b.orch("sync")
    assert refused.code == 1
    assert "task t1" in refused.err
    assert a.rev("refs/orch/tasks/t1") in refused.err and b.rev("refs/orch/tasks/t1") in refused.err
    assert orch_refs(b) == before_b
    assert remote_ref(bare, "refs/orch/ledger") == before_remote
    assert remote_ref(bare, "refs/orch/tasks/b2") == ""


def test_conflicting_accepts_and_double_land_resolve_the_same_everywhere(
    tmp_path: Path,
) -> None:
    _, (a, b, c) = clones(tmp_path)
    wt = a.start("t1")
    a.write("src/app.py", "print('x')\n", cwd=wt)
    head = a.commit_all("work", cwd=wt)
    a.orch_ok("handoff", cwd=wt)
    sync_json(a)
    sync_json(b)
    transition(OrchRepo(a.path), "t1", {"type": "accepted", "head": head})
    transition(OrchRepo(b.path), "t1", {"type": "accepted", "head": "1" * 40})
    transition(OrchRepo(a.path), "t1", {"type": "merged", "commit": "2" * 40})
    transition(OrchRepo(b.path), "t1", {"type": "merged", "commit": "3" * 40})
    sync_json(a)
    told = b.orch_ok("sync")
    assert "conflict in t1: decisions disagree" in told.out
    for repo in (c, a, b):
        sync_json(repo)
    states = [shared_state(r)["t1"] for r in (a, b, c)]
    assert states[0] == states[1] == states[2]
    assert states[0]["state"] == "merged"
    assert states[0]["accepted_head"] in (head, "1" * 40)
    conflicts = states[0]["conflicts"]
    assert isinstance(conflicts, list) and len(conflicts) == 2
    loser = "1" * 12 if states[0]["accepted_head"] == head else head[:12]
    assert any(x.startswith(f"accepted of {loser} by") for x in conflicts)
    assert any(x.startswith("merged of ") for x in conflicts)
    for repo in (a, b, c):
        assert "conflict" in repo.status()["t1"]["flags"]
        needs = repo.orch_ok("status").out.split("Running")[0]
        assert "t1" in needs and "[conflict]" in needs and f"accepted of {loser} by" in needs


def test_push_race_is_retried_from_the_fetch(tmp_path: Path) -> None:
    bare, (a, b) = clones(tmp_path, "ab")
    a.start("a1", "--no-worktree")
    b.start("b1", "--no-worktree")
    orepo = OrchRepo(a.path)
    syncmod.fetch(orepo, "origin")
    plan = syncmod.plan(orepo, "origin")
    assert syncmod.write_local(orepo, plan)[0]
    sync_json(b)  # the remote moves between a's fetch and a's push
    with pytest.raises(syncmod._PushRace):
        syncmod.push(orepo, "origin", plan)
    assert remote_ref(bare, "refs/orch/tasks/a1") == ""  # atomic: nothing went
    result = sync_json(a)
    assert result["pushed"] and result["imported_tasks"] == ["b1"]
    sync_json(b)
    assert shared_state(a) == shared_state(b)


def test_concurrent_syncs_from_real_processes_lose_nothing(tmp_path: Path) -> None:
    bare, repos = clones(tmp_path)
    for repo in repos:
        for n in range(3):
            repo.start(f"{repo.path.name}{n}", "--no-worktree", "--allow", f"part{n}/**")
        note_events(repo, f"{repo.path.name}0", "note", "note")
    expected = set().union(*(event_ids(r) for r in repos))
    for _ in range(2):
        procs = [
            subprocess.Popen([sys.executable, "-m", "git_orch", "sync", "--json"], cwd=r.path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for r in repos
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert json.loads(out)["remote"] == "origin"
    for repo in repos:
        sync_json(repo)
    for repo in repos:
        assert event_ids(repo) == expected
        assert len(repo.status()) == 9
    assert len({r.rev("refs/orch/ledger") for r in repos}) == 1


def test_sync_interrupted_after_fetch_or_before_push_recovers(tmp_path: Path) -> None:
    bare, (a, b) = clones(tmp_path, "ab")
    b.start("b1", "--no-worktree")
    sync_json(b)
    a.start("a1", "--no-worktree")
    before = orch_refs(a)
    orepo = OrchRepo(a.path)
    syncmod.fetch(orepo, "origin")  # killed right after the fetch
    assert orch_refs(a) == before
    assert a.rev("refs/orch-remote/origin/tasks/b1") == b.rev("refs/orch/tasks/b1")
    syncmod.fetch(orepo, "origin")
    plan = syncmod.plan(orepo, "origin")
    assert syncmod.write_local(orepo, plan)[0]  # killed after the local merge, before the push
    assert "b1" in a.status()
    assert remote_ref(bare, "refs/orch/tasks/a1") == ""
    result = sync_json(a)
    assert result["outcome"] == "ahead" and result["pushed"]
    sync_json(b)
    assert shared_state(a) == shared_state(b)


def test_sync_killed_at_any_moment_recovers(tmp_path: Path) -> None:
    _, (a, b) = clones(tmp_path, "ab")
    b.start("b1", "--no-worktree")
    sync_json(b)
    a.start("a1", "--no-worktree")
    # SIGKILL to git-orch alone (its git children finish or die of SIGPIPE), and
    # SIGTERM to the whole group (git removes its own lock files on SIGTERM).
    for delay, group, sig in ((0.05, False, signal.SIGKILL), (0.3, True, signal.SIGTERM),
                              (0.45, False, signal.SIGKILL), (0.6, True, signal.SIGTERM)):
        proc = subprocess.Popen([sys.executable, "-m", "git_orch", "sync"], cwd=a.path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(delay)
        if group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        proc.wait()
    time.sleep(0.2)  # let orphaned git children finish
    sync_json(a)
    sync_json(b)
    assert shared_state(a) == shared_state(b)
    assert sorted(a.status()) == ["a1", "b1"]


def test_sync_option_and_auto_sync(tmp_path: Path) -> None:
    bare, (a, b) = clones(tmp_path, "ab")
    wt = a.start("t1", "--allow", "src/**", "--sync")
    assert remote_ref(bare, "refs/orch/tasks/t1") == a.rev("refs/orch/tasks/t1")
    a.write("src/app.py", "print('t1')\n", cwd=wt)
    a.commit_all("work", cwd=wt)
    a.orch_ok("handoff", "--sync", cwd=wt)
    config = b.path / "orch.toml"
    config.write_text(config.read_text() + "\n[sync]\nauto = true\n")
    b.orch_ok("block", "--task", "t1", "--reason", "needs a person")  # syncs before and after
    sync_json(a)
    assert a.status()["t1"]["state"] == "blocked"
    # The sync before the write brings the remote's tasks: a taken id is refused.
    a.start("t3", "--no-worktree", "--allow", "docs/**", "--sync")
    taken = b.orch("start", "t3", "--title", "mine", "--no-worktree", "--allow", "docs/**")
    assert taken.code == 1 and "already exists" in taken.err
    # --no-sync wins over the default; a failed sync before a write writes nothing.
    b.git("remote", "set-url", "origin", str(tmp_path / "gone.git"))
    refused = b.orch("start", "t2", "--title", "x", "--no-worktree", "--allow", "notes/**")
    assert refused.code == 1 and "sync before writing failed" in refused.err
    assert b.git("rev-parse", "--verify", "--quiet", "refs/orch/tasks/t2", check=False) == ""
    b.orch_ok("start", "t2", "--title", "x", "--no-worktree", "--allow", "notes/**", "--no-sync")


def test_remote_choice_and_bad_remote(tmp_path: Path) -> None:
    bare, (a,) = clones(tmp_path, "a")
    a.start("t1", "--no-worktree", "--allow", "docs/**")
    missing = a.orch("sync", "nowhere")
    assert missing.code == 1 and "no remote 'nowhere'" in missing.err
    assert a.orch("sync", "--", "-x").code == 1
    a.git("remote", "add", "backup", str(bare))
    result = sync_json(a, "backup")
    assert result["remote"] == "backup" and result["pushed"]
    assert a.git("rev-parse", "refs/orch-remote/backup/ledger") == a.rev("refs/orch/ledger")
    lone = make_repo(tmp_path / "lone")
    lone.orch_ok("init")
    none = lone.orch("sync")
    assert none.code == 1 and "no remote 'origin'" in none.err
    text = a.orch_ok("sync").out
    assert "sync with origin" in text
    # A relative remote URL means what it means to plain git in the main worktree,
    # wherever sync runs from (here: a worker worktree).
    wt = a.start("t2", "--allow", "src/**")
    a.git("remote", "add", "rel", "../remote.git")
    assert a.orch("sync", "rel", cwd=wt).code == 0
    a.git("remote", "set-url", "rel", "../nowhere.git")
    failed = a.orch("sync", "rel")
    assert failed.code == 1
    assert failed.err == "git-orch: cannot fetch from rel: '../nowhere.git' does not appear " \
        "to be a git repository\n"
    assert remote_ref(bare, "refs/orch/tasks/t2") == a.rev("refs/orch/tasks/t2")


def test_remote_hook_refusal_keeps_the_local_write_and_says_so(tmp_path: Path) -> None:
    bare, (a,) = clones(tmp_path, "a")
    wt = a.start("t1", "--sync")
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'no pushes today' >&2\nexit 1\n")
    hook.chmod(0o755)
    a.write("src/app.py", "print('t1')\n", cwd=wt)
    a.commit_all("work", cwd=wt)
    result = a.orch("handoff", "--sync", cwd=wt)
    assert result.code == 1
    assert "recorded here, but sync failed" in result.err
    assert "pre-receive hook declined" in result.err
    assert a.status()["t1"]["state"] == "completed-unreviewed"
    hook.unlink()
    assert sync_json(a)["pushed"]


def test_clean_escapes_what_a_terminal_would_obey() -> None:
    from git_orch.sanitize import clean

    assert clean("ok: ü → 日本") == "ok: ü → 日本"
    assert clean("a\x1b[2Jb\rc\nd\x07\x9b") == "a\\x1b[2Jb\\x0dc\\x0ad\\x07\\x9b"
    assert clean("evil\u202etxt.exe\u2028x") == "evil\\u202etxt.exe\\u2028x"
    assert clean(None) == "None"


def test_stale_lock_from_a_hard_kill_is_named(tmp_path: Path) -> None:
    _, (a, b) = clones(tmp_path, "ab")
    b.start("b1", "--no-worktree")
    sync_json(b)
    a.start("a1", "--no-worktree")
    lock = a.path / ".git" / "refs" / "orch" / "ledger.lock"
    lock.write_text("")  # what a SIGKILLed git update-ref leaves behind
    stuck = a.orch("sync")
    assert stuck.code == 1
    assert "gave up after 10 attempts" in stuck.err and "ledger.lock" in stuck.err
    assert "remove the .lock file" in stuck.err
    lock.unlink()
    sync_json(a)
    assert sorted(a.status()) == ["a1", "b1"]


def test_a_fresh_clone_joins_with_one_sync(tmp_path: Path) -> None:
    bare, (a,) = clones(tmp_path, "a")
    a.start("t1", "--no-worktree")
    sync_json(a)
    git("clone", "-q", str(bare), "late", cwd=tmp_path)
    late = Repo(tmp_path / "late")
    result = sync_json(late)  # no git orch init: the ledger comes from the remote
    assert result["outcome"] == "fast-forward" and result["imported_tasks"] == ["t1"]
    assert late.rev("refs/orch/ledger") == a.rev("refs/orch/ledger")
    assert shared_state(late) == shared_state(a)


def test_decisions_and_land_with_sync_reach_another_clone(tmp_path: Path) -> None:
    """A lead on clone a decides and lands with --sync; clone b sees it all after sync."""
    _, (a, b) = clones(tmp_path, "ab")
    wt = a.start("t1", "--allow", "src/**", "--sync")
    a.write("src/app.py", "print('new')\n", cwd=wt)
    a.commit_all("Change app\n\nOrch-Evidence: local: ran it", cwd=wt)
    a.orch_ok("handoff", "--sync", cwd=wt)
    a.orch("review", "t1")
    a.orch_ok("accept", "t1", "--override", "demo", "--sync")
    assert b.orch_ok("sync").code == 0 and b.status()["t1"]["state"] == "accepted"
    a.orch_ok("land", "t1", "--no-push", "--sync")
    b.orch_ok("sync")
    assert b.status()["t1"]["state"] == "cleaned"


def test_fresh_clone_takes_the_remote_ledger_without_a_merge(tmp_path: Path) -> None:
    """A new clone's empty ledger (from init) is replaced, not merged into history."""
    bare, (a, b) = clones(tmp_path, "ab")
    a.start("t1", "--no-worktree", "--sync")
    remote_tip = remote_ref(bare, "refs/orch/ledger")
    data = sync_json(b)
    assert data["outcome"] == "fast-forward"
    assert b.rev("refs/orch/ledger") == remote_tip
    assert remote_ref(bare, "refs/orch/ledger") == remote_tip
