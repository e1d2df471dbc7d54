"""`git orch collect`: the lead pulls a clone workspace, under the provenance rule."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Repo, git, ledger_note

from git_orch.record.ledger import Event
from git_orch.record.tasks import record
from git_orch.repo import OrchRepo


def work(repo: Repo, ws: Path, rel: str = "src/a.py", text: str = "a\n") -> str:
    repo.write(rel, text, cwd=ws)
    return repo.commit_all(f"Work\n\nOrch-Task: {ws.name}", cwd=ws)


def lead_events(repo: Repo, task_id: str) -> list[dict[str, object]]:
    note = ledger_note(repo, f"refs/orch/tasks/{task_id}")
    return [json.loads(line) for line in note.splitlines()]


def worker_writes(ws: Path, task_id: str, *events: Event) -> list[Event]:
    """A hostile worker appending to its own ledger copy with git-orch's own writer."""
    return record(OrchRepo(ws), task_id, lambda _state: [dict(e) for e in events])


def collect(repo: Repo, *args: str) -> dict[str, object]:
    data = repo.orch_ok("collect", *args, "--json").json()
    assert isinstance(data, dict) and not data["errors"], data
    items = data["collected"]
    assert isinstance(items, list) and len(items) == 1
    item = items[0]
    assert isinstance(item, dict)
    return item


def lead_refs(repo: Repo) -> str:
    return repo.git("for-each-ref", "--format=%(objectname) %(refname)")


def test_collect_takes_branch_and_handoff_and_is_cheap_when_nothing_changed(
    clone_repo: Repo,
) -> None:
    ws = clone_repo.start("t1")
    head = work(clone_repo, ws)
    clone_repo.orch_ok("handoff", "--summary", "done", cwd=ws)
    first = collect(clone_repo, "t1")
    assert first["changed"] is True and first["branch"] == "fast-forward"
    assert first["head_after"] == head == clone_repo.rev("orch/t1")
    assert len(first["taken"]) == 1 and first["dropped"] == []  # type: ignore[arg-type]
    second = collect(clone_repo, "t1")
    assert second["changed"] is False and second["taken"] == []
    handoffs = [e for e in lead_events(clone_repo, "t1") if e["type"] == "handoff"]
    assert len(handoffs) == 1 and handoffs[0]["head"] == head
    assert clone_repo.status()["t1"]["state"] == "completed-unreviewed"


def test_worker_events_it_may_not_write_are_dropped_and_recorded_once(clone_repo: Repo
                                                                      ) -> None:
    ws = clone_repo.start("t1")
    head = work(clone_repo, ws)
    forged = worker_writes(
        ws, "t1",
        {"type": "accepted", "head": head},
        {"type": "run-ended", "ok": True},
        {"type": "handoff", "head": "0" * 40, "summary": "not my tip"},
        {"type": "note", "text": "halfway"},
    )
    item = collect(clone_repo, "t1")
    dropped = {e["id"] for e in forged[:3]}
    assert set(item["dropped"]) == dropped  # type: ignore[arg-type]
    assert item["taken"] == [forged[3]["id"]]
    events = lead_events(clone_repo, "t1")
    mis = [e for e in events if e["type"] == "misalignment"]
    assert {m["event"] for m in mis} == dropped
    assert all(m["source"] == "dropped-worker-event" for m in mis)
    assert not [e for e in events if e["type"] in ("accepted", "run-ended")]
    assert clone_repo.status()["t1"]["state"] == "active"
    # A new commit makes the next collect fetch again: nothing is recorded twice.
    work(clone_repo, ws, "src/b.py")
    again = collect(clone_repo, "t1")
    assert again["changed"] is True and again["dropped"] == []
    assert len([e for e in lead_events(clone_repo, "t1") if e["type"] == "misalignment"]) == 3


def test_events_of_another_task_in_the_workers_ledger_are_never_read(clone_repo: Repo) -> None:
    clone_repo.start("t2", "--allow", "docs/**")
    ws = clone_repo.start("t1", "--allow", "src/**")
    work(clone_repo, ws)
    # The worker's copy of the ledger has t2's log too; it writes into it, its hooks off.
    contract = clone_repo.rev("refs/orch/tasks/t2")
    clone_repo.git("-c", "core.hooksPath=/dev/null", "update-ref", "refs/orch/tasks/t2",
                   contract, cwd=ws)
    worker_writes(ws, "t2", {"type": "abandoned", "reason": "sabotage"})
    collect(clone_repo, "t1")
    assert clone_repo.status()["t2"]["state"] == "active"
    assert not [e for e in lead_events(clone_repo, "t2") if e["type"] == "abandoned"]


def test_a_handoff_at_an_older_commit_than_the_tip_is_dropped(clone_repo: Repo) -> None:
    ws = clone_repo.start("t1")
    work(clone_repo, ws)
    clone_repo.orch_ok("handoff", "--summary", "first", cwd=ws)
    tip = work(clone_repo, ws, "src/b.py")  # committed after handing off
    item = collect(clone_repo, "t1")
    assert item["head_after"] == tip and len(item["dropped"]) == 1  # type: ignore[arg-type]
    assert clone_repo.status()["t1"]["state"] == "active"


def test_a_rework_handoff_after_a_rejection_counts(clone_repo: Repo) -> None:
    """The worker's ledger copy does not know the lead rejected: its handoff's Lamport
    value is lower than the rejection's; collect orders it after the lead's log."""
    ws = clone_repo.start("t1")
    work(clone_repo, ws)
    clone_repo.orch_ok("handoff", "--summary", "first", cwd=ws)
    collect(clone_repo, "t1")
    clone_repo.orch_ok("reject", "t1", "--reason", "needs a test")
    assert clone_repo.status()["t1"]["state"] == "rejected"
    tip = work(clone_repo, ws, "tests/test_a.py", "def test(): pass\n")
    clone_repo.orch_ok("handoff", "--summary", "with a test", cwd=ws)
    view = clone_repo.status()["t1"]
    assert view["state"] == "completed-unreviewed" and view["head"] == tip


def test_a_rewrite_dropping_the_handed_off_head_is_refused_and_recorded(clone_repo: Repo
                                                                        ) -> None:
    ws = clone_repo.start("t1")
    handed = work(clone_repo, ws)
    clone_repo.orch_ok("handoff", "--summary", "done", cwd=ws)
    collect(clone_repo, "t1")
    clone_repo.git("reset", "-q", "--hard", "HEAD~1", cwd=ws)
    work(clone_repo, ws, "src/other.py")
    assert collect(clone_repo, "t1")["branch"] == "refused"
    assert collect(clone_repo, "t1")["changed"] is False
    clone_repo.orch_ok("handoff", "--summary", "rewritten", cwd=ws)
    again = collect(clone_repo, "t1")
    assert again["branch"] == "refused" and len(again["dropped"]) == 1  # type: ignore[arg-type]
    assert clone_repo.rev("orch/t1") == handed
    rewrites = [e for e in lead_events(clone_repo, "t1")
                if e["type"] == "misalignment" and e["source"] == "rewritten-handoff"]
    assert len(rewrites) == 1 and handed[:12] in str(rewrites[0]["what"])


def test_before_a_handoff_the_worker_may_rewrite_its_branch(clone_repo: Repo) -> None:
    ws = clone_repo.start("t1")
    work(clone_repo, ws)
    collect(clone_repo, "t1")
    clone_repo.git("commit", "-q", "--amend", "-m", "Better\n\nOrch-Task: t1", cwd=ws)
    item = collect(clone_repo, "t1")
    assert item["branch"] == "forced"
    assert clone_repo.rev("orch/t1") == clone_repo.git("rev-parse", "HEAD", cwd=ws)


def test_nothing_but_the_tasks_branch_and_the_ledger_moves_in_the_lead(clone_repo: Repo
                                                                       ) -> None:
    ws = clone_repo.start("t1")
    before = {line.split()[1]: line.split()[0] for line in lead_refs(clone_repo).splitlines()}
    head = work(clone_repo, ws)
    off = ("-c", "core.hooksPath=/dev/null")  # a worker switching its hooks off
    clone_repo.git(*off, "branch", "-f", "main", "HEAD", cwd=ws)
    clone_repo.git(*off, "tag", "v9", cwd=ws)
    clone_repo.git(*off, "update-ref", "refs/orch/tasks/t1", head, cwd=ws)
    collect(clone_repo, "t1")
    after = {line.split()[1]: line.split()[0] for line in lead_refs(clone_repo).splitlines()}
    moved = {ref for ref in after if before.get(ref) != after[ref]}
    assert "refs/heads/orch/t1" in moved
    assert moved <= {"refs/heads/orch/t1", "refs/orch/ledger"} | {
        f"refs/orch-collect/t1/{name}" for name in ("head", "ledger", "fetched-head",
                                                    "fetched-ledger")}
    assert clone_repo.git("tag") == ""
    assert after["refs/heads/main"] == before["refs/heads/main"]
    assert after["refs/orch/tasks/t1"] == before["refs/orch/tasks/t1"]


def test_a_workspace_elsewhere_is_collected_from_its_url(clone_repo: Repo, tmp_path: Path
                                                         ) -> None:
    """The same path for a worker on another machine: its workspace reached by URL."""
    ws = clone_repo.start("t1")
    head = work(clone_repo, ws)
    clone_repo.orch_ok("handoff", "--summary", "remote", cwd=ws)
    bare = tmp_path / "relay.git"
    git("clone", "-q", "--bare", "--no-tags", str(ws), str(bare), cwd=tmp_path)
    git("fetch", "-q", str(ws), "refs/orch/ledger:refs/orch/ledger", cwd=bare)
    item = collect(clone_repo, "t1", "--from", f"file://{bare}")
    assert item["branch"] == "fast-forward" and item["head_after"] == head
    assert clone_repo.status()["t1"]["state"] == "completed-unreviewed"


def test_collect_refuses_clearly(clone_repo: Repo) -> None:
    missing = clone_repo.orch("collect", "nope")
    assert missing.code == 1 and "no task 'nope'" in missing.err
    clone_repo.orch_ok("start", "t1", "--title", "w", "--isolation", "worktree",
                       "--allow", "src/**")
    worktree = clone_repo.orch("collect", "t1")
    assert worktree.code == 1 and "has no clone workspace" in worktree.err
    usage = clone_repo.orch("collect", "--from", "/tmp/x")
    assert usage.code == 2
    clone_repo.start("t2", "--allow", "docs/**")
    bad = clone_repo.orch("collect", "t2", "--from", str(clone_repo.path / "no-such"))
    assert bad.code == 1 and "cannot read" in bad.err
    clone_repo.orch_ok("collect")
    assert clone_repo.orch_ok("collect").out.strip() == "t2: unchanged"


def test_a_collect_killed_after_its_fetch_takes_everything_next_time(clone_repo: Repo) -> None:
    from git_orch.workspace import collect as collecting

    ws = clone_repo.start("t1")
    head = work(clone_repo, ws)
    clone_repo.orch_ok("handoff", "--summary", "done", cwd=ws)
    lead = OrchRepo(clone_repo.path)
    tips = collecting.read_tips(str(ws), "t1", lead.no_hooks_dir)
    collecting.fetch(lead, str(ws), "t1", tips)  # ... and killed here
    assert clone_repo.rev("orch/t1") != head
    item = collect(clone_repo, "t1")
    assert item["changed"] is True and item["head_after"] == head
    assert clone_repo.status()["t1"]["state"] == "completed-unreviewed"


def test_a_bare_relay_path_works_like_its_url(clone_repo: Repo, tmp_path: Path) -> None:
    ws = clone_repo.start("t1")
    head = work(clone_repo, ws)
    bare = tmp_path / "relay.git"
    git("clone", "-q", "--bare", "--no-tags", str(ws), str(bare), cwd=tmp_path)
    assert collect(clone_repo, "t1", "--from", str(bare))["head_after"] == head


def test_auto_sync_is_skipped_in_a_clone_workspace(clone_repo: Repo) -> None:
    toml = clone_repo.path / "orch.toml"
    toml.write_text(toml.read_text() + "\n[sync]\nauto = true\n")
    clone_repo.commit_all("sync on")
    ws = clone_repo.start("t1", "--no-sync")  # the lead has no remote in this test
    work(clone_repo, ws)
    clone_repo.orch_ok("handoff", "--summary", "no remote here", cwd=ws)
    assert clone_repo.status()["t1"]["state"] == "completed-unreviewed"


def test_the_workers_ledger_copy_catches_up_once_its_events_are_taken(clone_repo: Repo
                                                                       ) -> None:
    from git_orch.record.tasks import load_task
    from git_orch.workspace import workspaces

    ws = clone_repo.start("t1")
    work(clone_repo, ws)
    clone_repo.orch_ok("block", "--reason", "need a key", cwd=ws)
    lead = OrchRepo(clone_repo.path)
    space = workspaces.Workspace("t1", ws, workspaces.CLONE)
    assert workspaces.share_ledger(lead, space) is False  # its block is not taken yet
    collect(clone_repo, "t1")
    clone_repo.orch_ok("unblock", "t1", "--note", "key is in the vault")
    assert workspaces.share_ledger(lead, space) is True  # what a run does before each attempt
    assert load_task(OrchRepo(ws), "t1").state.state == "active"
    clone_repo.orch_ok("block", "--reason", "the vault is locked", cwd=ws)
    assert clone_repo.status()["t1"]["state"] == "blocked"


def test_a_branch_or_ledger_that_is_not_a_commit_is_refused_with_a_warning(clone_repo: Repo
                                                                           ) -> None:
    ws = clone_repo.start("t1")
    head = work(clone_repo, ws)
    tree = clone_repo.git("rev-parse", "HEAD^{tree}", cwd=ws)
    off = ("-c", "core.hooksPath=/dev/null")
    clone_repo.git(*off, "update-ref", "refs/orch/ledger", tree, cwd=ws)
    item = collect(clone_repo, "t1")
    assert item["branch"] == "fast-forward" and item["head_after"] == head
    assert any("ledger is unreadable" in w for w in item["warnings"])  # type: ignore[union-attr]
    blob = clone_repo.git("hash-object", "-w", "--stdin", cwd=ws, input="not a commit\n")
    (ws / ".git" / "refs" / "heads" / "orch" / "t1").write_text(blob + "\n")  # git refuses
    refused = collect(clone_repo, "t1")
    assert refused["branch"] == "refused" and clone_repo.rev("orch/t1") == head
    assert clone_repo.orch("status").code == 0


def test_status_shows_what_collect_dropped(clone_repo: Repo) -> None:
    ws = clone_repo.start("t1")
    work(clone_repo, ws)
    worker_writes(ws, "t1", {"type": "accepted", "head": "0" * 40})
    view = clone_repo.status()["t1"]  # status collects first
    (mis,) = view["misalignments"]  # type: ignore[misc]
    assert mis["source"] == "dropped-worker-event"
    assert "a worker may not record 'accepted' events" in mis["what"]
    text = clone_repo.orch_ok("status").out
    assert "[misalignment] dropped-worker-event: accepted event" in text
    assert "1 misalignment(s) (1 dropped-worker-event)" in text
