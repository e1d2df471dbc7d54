"""`start` and `run` respect max_active and write-set overlap; --force --reason is recorded."""

from __future__ import annotations

import os
import subprocess

from conftest import Repo, ledger_note
from test_runner import HANG_STEPS, add_agent, events, wait_until


def set_max_active(repo: Repo, value: int) -> None:
    text = (repo.path / "orch.toml").read_text()
    (repo.path / "orch.toml").write_text(text.replace("max_active = 3", f"max_active = {value}"))


def test_the_default_is_three_live_tasks(repo: Repo) -> None:
    for number in range(3):
        repo.start(f"t{number}", "--allow", f"src/part{number}/**")
    refused = repo.orch("start", "t3", "--title", "fourth", "--allow", "src/part3/**")
    assert refused.code == 1
    assert "start t3 refused: max_active = 3 and 3 task(s) being worked: t0, t1, t2" in refused.err
    assert "t3" not in repo.status()
    repo.orch_ok("abandon", "t0", "--reason", "make room")
    repo.start("t3", "--allow", "src/part3/**")


def test_overlapping_write_sets_are_refused(repo: Repo) -> None:
    repo.start("auth", "--allow", "src/auth/**")
    refused = repo.orch("start", "auth2", "--title", "x", "--allow", "src/auth/login.py")
    assert refused.code == 1 and "may overlap that of auth (live)" in refused.err
    repo.start("docs", "--allow", "docs/**")  # disjoint: fine
    assert sorted(repo.status()) == ["auth", "docs"]


def test_a_bare_file_name_overlap_says_why(repo: Repo) -> None:
    """README.md matches at any depth (a .gitignore line): the refusal says so and
    names the anchored form, which then starts beside the other task."""
    repo.start("auth", "--allow", "src/auth/**")
    err = refused_once(repo, "start", "readme", "--title", "x", "--allow", "README.md")
    assert ("may overlap that of auth (live) (README.md has no slash, so it matches at any "
            "depth, like a .gitignore line; /README.md names the top-level path)") in err
    repo.start("readme", "--allow", "/README.md")


def refused_once(repo: Repo, *argv: str) -> str:
    """The one-line refusal of a limits breach (exit 1); nothing is recorded."""
    before = repo.git("for-each-ref", "refs/orch/")
    refused = repo.orch(*argv)
    assert refused.code == 1, refused.err
    assert len(refused.err.strip().splitlines()) == 1, refused.err
    assert repo.git("for-each-ref", "refs/orch/") == before
    return refused.err


def test_a_new_task_without_allow_overlaps_every_live_task(repo: Repo) -> None:
    repo.start("auth", "--allow", "src/auth/**")
    repo.start("docs", "--allow", "docs/**")
    err = refused_once(repo, "start", "any", "--title", "x")
    assert ("start any refused: any declares no --allow, so it may write anywhere and may "
            "overlap auth, docs (live); bound it with --allow PATHSPEC "
            "(--force --reason TEXT to go past the limit") in err
    repo.start("any", "--allow", "/README.md")  # bounded and apart: fine


def test_a_live_task_without_allow_overlaps_every_new_task(repo: Repo) -> None:
    repo.start("wild")  # nothing else live: nothing to overlap
    err = refused_once(repo, "start", "docs", "--title", "x", "--allow", "docs/**")
    assert ("start docs refused: wild (live) has no --allow, so it may write anywhere, "
            "the files of docs included; start docs once wild ended (--force --reason TEXT") in err
    err = refused_once(repo, "start", "any", "--title", "x")  # both unbounded
    assert "any declares no --allow, so it may write anywhere and may overlap wild (live)" in err
    assert sorted(repo.status()) == ["wild"]


def test_disjoint_write_sets_start_side_by_side(repo: Repo) -> None:
    repo.start("auth", "--allow", "src/auth/**", "--allow", "tests/auth/**")
    repo.start("billing", "--allow", "src/billing/**")
    repo.start("guide", "--allow", "docs/guide.md")
    assert [t["state"] for t in repo.status().values()] == ["active"] * 3
    assert all(not events(repo, t, "limits-overridden") for t in ("auth", "billing", "guide"))


def test_force_starts_an_unbounded_task_and_records_why(repo: Repo) -> None:
    repo.start("auth", "--allow", "src/auth/**")
    repo.orch_ok("start", "sweep", "--title", "rename everywhere", "--force",
                 "--reason", "a rename that touches every file, auth agreed")
    (forced,) = events(repo, "sweep", "limits-overridden")
    assert forced["command"] == "start"
    assert forced["reason"] == "a rename that touches every file, auth agreed"
    assert forced["limits"] == ["sweep declares no --allow, so it may write anywhere and may "
                                "overlap auth (live); bound it with --allow PATHSPEC"]
    assert repo.status()["sweep"]["state"] == "active"
    # And the other way round: a bounded task beside the unbounded one.
    repo.orch_ok("start", "docs", "--title", "x", "--allow", "docs/**", "--force",
                 "--reason", "docs only; sweep skips docs")
    (forced,) = events(repo, "docs", "limits-overridden")
    assert forced["limits"] == ["sweep (live) has no --allow, so it may write anywhere, the "
                                "files of docs included; start docs once sweep ended"]


def test_ended_tasks_do_not_count_but_accepted_work_does(repo: Repo) -> None:
    wt = repo.start("wild")
    repo.write("src/app.py", "print('wild')\n", cwd=wt)
    repo.commit_all("Change app\n\nOrch-Evidence: local: ran it", cwd=wt)
    repo.orch_ok("handoff", "--summary", "done", cwd=wt)
    repo.orch("review", "wild")
    repo.orch_ok("accept", "wild", "--override", "checked by hand")
    err = refused_once(repo, "start", "docs", "--title", "x", "--allow", "docs/**")
    assert "wild (live) has no --allow" in err  # accepted work still has to land
    repo.orch_ok("land", "wild")
    repo.start("gone")  # wild is merged: nothing live
    repo.orch_ok("abandon", "gone", "--reason", "not needed")
    repo.start("docs", "--allow", "docs/**")  # wild landed and gone abandoned: neither counts
    assert not events(repo, "docs", "limits-overridden")


def test_force_needs_a_reason_and_is_recorded(repo: Repo) -> None:
    repo.start("auth", "--allow", "src/auth/**")
    usage = repo.orch("start", "auth2", "--title", "x", "--allow", "src/auth/**", "--force")
    assert usage.code == 2 and "--force needs --reason" in usage.err
    stray = repo.orch("start", "auth2", "--title", "x", "--reason", "why")
    assert stray.code == 2 and "--reason goes with --force" in stray.err
    repo.orch_ok("start", "auth2", "--title", "x", "--allow", "src/auth/**", "--force",
                 "--reason", "hotfix on the same files, agreed with auth's owner")
    forced = events(repo, "auth2", "limits-overridden")
    assert len(forced) == 1 and forced[0]["command"] == "start"
    assert forced[0]["reason"] == "hotfix on the same files, agreed with auth's owner"
    assert "may overlap that of auth" in forced[0]["limits"][0]
    assert repo.status()["auth2"]["state"] == "active"


def test_run_refuses_a_second_agent_on_an_overlapping_write_set(repo: Repo, tmp_path) -> None:
    add_agent(repo, "hang", HANG_STEPS.format(pid_file=tmp_path / "pids"), kill_grace="0.5s")
    repo.start("a", "--allow", "src/**")
    repo.orch_ok("start", "b", "--title", "b", "--allow", "src/b/**", "--force",
                 "--reason", "b runs after a")
    repo.orch_ok("run", "a", "--agent", "hang")
    try:
        wait_until(lambda: events(repo, "a", "run-started"), "a's run")
        refused = repo.orch("run", "b", "--agent", "hang")
        assert refused.code == 1
        assert "run b refused: its write set may overlap that of a (live)" in refused.err
        set_max_active(repo, 1)
        refused = repo.orch("run", "b", "--agent", "hang")
        assert "max_active = 1 and 1 task(s) with an agent running: a" in refused.err
        repo.orch_ok("run", "b", "--agent", "hang", "--force", "--reason", "a is nearly done")
        repo.orch_ok("stop", "b")
    finally:
        repo.orch_ok("stop", "a")
    forced = events(repo, "b", "limits-overridden")
    assert [e["command"] for e in forced] == ["start", "run"]
    assert forced[1]["reason"] == "a is nearly done" and len(forced[1]["limits"]) == 2


def test_run_applies_the_strict_rule_to_running_agents(repo: Repo, tmp_path) -> None:
    add_agent(repo, "hang", HANG_STEPS.format(pid_file=tmp_path / "pids"), kill_grace="0.5s")
    repo.start("wild")
    repo.orch_ok("start", "docs", "--title", "docs", "--allow", "docs/**", "--force",
                 "--reason", "docs waits for wild's agent")
    repo.orch_ok("run", "wild", "--agent", "hang")
    try:
        wait_until(lambda: events(repo, "wild", "run-started"), "wild's run")
        err = refused_once(repo, "run", "docs", "--agent", "hang")
        assert ("run docs refused: wild (live) has no --allow, so it may write anywhere, "
                "the files of docs included; run docs once wild stopped its agent") in err
    finally:
        repo.orch_ok("stop", "wild")
    repo.orch_ok("run", "docs", "--agent", "hang")  # wild's agent stopped: it does not count
    try:
        wait_until(lambda: events(repo, "docs", "run-started"), "docs's run")
        err = refused_once(repo, "run", "wild", "--agent", "hang")
        assert ("run wild refused: wild declares no --allow, so it may write anywhere and may "
                "overlap docs (live); run it once no other agent runs") in err
        repo.orch_ok("run", "wild", "--agent", "hang", "--force", "--reason", "docs is read-only")
        repo.orch_ok("stop", "wild")
    finally:
        repo.orch_ok("stop", "docs")
    (forced,) = events(repo, "wild", "limits-overridden")
    assert forced["command"] == "run" and forced["reason"] == "docs is read-only"
    assert forced["limits"][0].startswith("wild declares no --allow")


def test_settled_tasks_are_indexed_by_object_ids_and_never_go_stale(repo: Repo) -> None:
    """start reads only tasks that can be live: an ended task is remembered by its
    (contract, note blob) and skipped unread; once its note changes it is read again."""
    from git_orch.repo import OrchRepo
    from git_orch.workspace import limits

    set_max_active(repo, 2)
    repo.start("old", "--allow", "src/old/**")
    repo.orch_ok("abandon", "old", "--reason", "done with it")
    repo.start("a", "--allow", "src/a/**")  # writes the index: `old` is settled
    index = repo.path / ".git" / "orch" / limits.SETTLED_FILE
    contract = repo.rev("refs/orch/tasks/old")
    settled = limits._load_index(index)
    assert settled is not None and [(t, c) for t, (c, _) in settled.tasks.items()] == [
        ("old", contract)]
    assert sorted(limits.live_tasks(OrchRepo(repo.path))) == ["a"]
    # The note changes under the index (as a sync merge might change it): `old` is
    # live again by its log, and is read, counted and re-indexed.
    revive(repo, contract)
    refused = repo.orch("start", "b", "--title", "b", "--allow", "src/b/**")
    assert refused.code == 1 and "2 task(s) being worked: a, old" in refused.err
    settled = limits._load_index(index)
    assert settled is not None and settled.tasks == {}
    # A damaged index is only a slower read.
    index.write_bytes(b"not marshal")
    refused = repo.orch("start", "b", "--title", "b", "--allow", "src/b/**")
    assert refused.code == 1 and "2 task(s) being worked: a, old" in refused.err


def revive(repo: Repo, contract: str) -> None:
    """Drop the `abandoned` event from a task's note, with plain git plumbing."""
    lines = ledger_note(repo, contract).splitlines()
    text = "".join(line + "\n" for line in lines if '"abandoned"' not in line)
    blob = repo.git("hash-object", "-w", "--stdin", input=text)
    path = next(p for p in repo.git("ls-tree", "-r", "--name-only", "refs/orch/ledger")
                .splitlines() if p.replace("/", "") == contract)
    env = {**os.environ, "GIT_INDEX_FILE": str(repo.path / ".git" / "scratch-index")}

    def plumb(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo.path, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()

    plumb("read-tree", "refs/orch/ledger")
    plumb("update-index", "--cacheinfo", f"100644,{blob},{path}")
    commit = plumb("commit-tree", plumb("write-tree"), "-p", "refs/orch/ledger", "-m", "edit")
    repo.git("update-ref", "refs/orch/ledger", commit)


def test_a_live_task_in_a_ledger_folder_unchanged_since_the_index_is_read_whole(
        repo: Repo) -> None:
    """The index skips the notes of fanout folders unchanged since it was written: a
    live task there is still read with its own note (its state, not an empty log)."""
    from git_orch.repo import OrchRepo
    from git_orch.workspace import limits

    repo.start("old", "--allow", "src/old/**")
    repo.start("old2", "--allow", "src/old2/**")
    repo.orch_ok("abandon", "old", "--reason", "done with it")
    repo.start("a", "--allow", "src/a/**")  # the index: old is settled
    repo.orch_ok("abandon", "old2", "--reason", "done with it")
    assert sorted(limits.live_tasks(OrchRepo(repo.path))) == ["a"]  # rewritten: old2 settled
    again = limits.live_tasks(OrchRepo(repo.path))  # a's folder is unchanged since
    assert sorted(again) == ["a"]
    assert again["a"].state.state == repo.status()["a"]["state"] == "active"
