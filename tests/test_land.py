"""land and abandon on real repositories: strategies, checkouts, refusals, resume, push."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import Repo, ledger_note

from git_orch.record.tasks import transition
from git_orch.repo import OrchRepo


def accept(repo: Repo, task_id: str) -> str:
    """Record acceptance of the branch head (stands in for `git orch accept`)."""
    head = repo.rev(f"orch/{task_id}")
    transition(OrchRepo(repo.path), task_id, {"type": "accepted", "head": head})
    return head


def ready(repo: Repo, task_id: str, files: dict[str, str], *, accepted: bool = True,
          allow: tuple[str, ...] = ()) -> Path:
    """Start a task, commit files in its worktree, hand off and (by default) accept.

    Its write set is the files it commits (or `allow`): bounded, so tasks made
    ready side by side pass start's write-set limit when their files differ."""
    wt = repo.start(task_id, *(arg for path in allow or files for arg in ("--allow", path)))
    for rel, text in files.items():
        repo.write(rel, text, cwd=wt)
    repo.commit_all(f"work on {task_id}\n\nOrch-Task: {task_id}", cwd=wt)
    repo.orch_ok("handoff", "--summary", f"did {task_id}", cwd=wt)
    repo.orch_ok("collect")  # a clone workspace's work reaches the lead (no-op for worktrees)
    if accepted:
        accept(repo, task_id)
    return wt


def events(repo: Repo, task_id: str) -> list[dict[str, object]]:
    note = ledger_note(repo, f"refs/orch/tasks/{task_id}")
    return [json.loads(line) for line in note.splitlines()]


def refs(repo: Repo) -> str:
    return repo.git("for-each-ref", "--format=%(refname) %(objectname)")


def trailers(repo: Repo, rev: str) -> str:
    return repo.git("log", "-1", "--format=%(trailers:only,unfold)", rev)


def test_land_merge_while_main_checked_out_clean(any_repo: Repo) -> None:
    repo = any_repo  # both isolation modes
    wt = ready(repo, "t1", {"src/new.py": "x = 1\n"})
    head = repo.rev("orch/t1")
    repo.write("docs/other.md", "moved on\n")
    before = repo.commit_all("main moves on")
    result = repo.orch_ok("land", "t1", "--merge", "--json").json()
    assert isinstance(result, dict)
    merge = repo.rev("main")
    assert result["commit"] == merge and result["state"] == "cleaned"
    assert repo.git("rev-parse", "main^1") == before and repo.git("rev-parse", "main^2") == head
    text = trailers(repo, "main")
    assert f"Orch-Task: t1\nOrch-Reviewed-Head: {head}\nOrch-Verdict: accepted" in text
    # The main worktree followed the merge and is clean.
    assert (repo.path / "src/new.py").read_text() == "x = 1\n"
    assert repo.git("status", "--porcelain") == ""
    # Cleanup: worktree and branch gone, contract and ledger kept.
    assert not wt.exists()
    assert repo.git("branch", "--list", "orch/t1") == ""
    assert repo.git("rev-parse", "refs/orch/tasks/t1")
    types = [e["type"] for e in events(repo, "t1")]
    assert types[-2:] == ["merged", "cleaned"]
    merged = events(repo, "t1")[-2]
    assert merged["strategy"] == "merge" and merged["target"] == "main"
    assert merged["commit"] == merge and merged["previous"] == before


def test_land_moves_a_checkout_whose_files_were_only_touched(repo: Repo) -> None:
    """A file of the checkout rewritten unchanged (new stat data, same content), with git
    forbidden to refresh the index on the side (GIT_OPTIONAL_LOCKS=0): land refreshes
    it before moving the checkout, as a person's `git merge` would."""
    ready(repo, "t1", {"src/app.py": "print('task')\n"})
    app = repo.path / "src/app.py"
    app.write_text(app.read_text())
    stamp = app.stat().st_mtime + 5
    os.utime(app, (stamp, stamp))
    result = repo.orch_proc("land", "t1", env={"GIT_OPTIONAL_LOCKS": "0"})
    assert result.code == 0, result.err
    assert app.read_text() == "print('task')\n"
    assert repo.git("status", "--porcelain") == ""


def test_land_squash_when_main_not_checked_out(any_repo: Repo) -> None:
    repo = any_repo  # both isolation modes
    ready(repo, "t1", {"src/a.py": "a\n", "src/b.py": "b\n"})
    head = repo.rev("orch/t1")
    repo.git("checkout", "-q", "--detach")
    repo.orch_ok("land", "t1", "--squash")
    main = repo.rev("main")
    assert len(repo.git("log", "-1", "--format=%P", "main").split()) == 1  # one parent
    assert repo.git("show", "main:src/b.py") == "b"
    message = repo.git("log", "-1", "--format=%B", "main")
    assert message.startswith("task t1\n") and "work on t1" in message
    assert f"Orch-Reviewed-Head: {head}" in trailers(repo, "main")
    # The squashed-away commits stay reachable through the archive ref.
    assert repo.rev("refs/orch/archive/t1") == head
    # The detached main worktree was not touched.
    assert repo.rev("HEAD") != main and repo.git("status", "--porcelain") == ""


def test_land_ff_and_ff_refused_when_main_moved(repo: Repo) -> None:
    ready(repo, "t1", {"src/a.py": "a\n"})
    head = repo.rev("orch/t1")
    ready(repo, "t2", {"src/b.py": "b\n"})
    repo.orch_ok("land", "t1", "--ff")
    assert repo.rev("main") == head and (repo.path / "src/a.py").exists()
    before = refs(repo)
    refused = repo.orch("land", "t2", "--ff")
    assert refused.code == 1 and "cannot fast-forward" in refused.err and "--merge" in refused.err
    assert refs(repo) == before
    assert repo.status()["t2"]["state"] == "accepted"


def test_land_merges_into_main_checked_out_in_another_worktree(repo: Repo, tmp_path: Path) -> None:
    ready(repo, "t1", {"src/a.py": "a\n"})
    repo.git("checkout", "-q", "-b", "side")
    other = tmp_path / "mainline"
    repo.git("worktree", "add", "-q", str(other), "main")
    repo.orch_ok("land", "t1")
    assert (other / "src/a.py").read_text() == "a\n"
    assert repo.git("status", "--porcelain", cwd=other) == ""
    assert not (repo.path / "src/a.py").exists()  # the side checkout is left alone


def test_land_strategy_and_push_default_from_orch_toml(repo: Repo, remote: Path) -> None:
    config = repo.path / "orch.toml"
    config.write_text(config.read_text() + '\n[land]\nstrategy = "squash"\npush = true\n')
    repo.commit_all("land policy")
    repo.git("push", "-q", "origin", "main")
    ready(repo, "t1", {"src/a.py": "a\n"})
    repo.orch_ok("land", "t1")
    assert len(repo.git("log", "-1", "--format=%P", "main").split()) == 1
    assert repo.git("rev-parse", "main", cwd=remote) == repo.rev("main")


def test_land_refused_unaccepted_with_nothing_changed(repo: Repo) -> None:
    ready(repo, "t1", {"src/a.py": "a\n"}, accepted=False)
    before = refs(repo)
    result = repo.orch("land", "t1")
    assert result.code == 1 and "review and accept" in result.err
    assert refs(repo) == before
    repo.start("t2", "--allow", "docs/**")
    result = repo.orch("land", "t2")
    assert result.code == 1 and "only an accepted task can land" in result.err
    assert repo.orch("land", "nope").code == 1


def test_land_refused_when_head_moved_after_accept(repo: Repo) -> None:
    wt = ready(repo, "t1", {"src/a.py": "a\n"})
    repo.write("src/a.py", "changed after review\n", cwd=wt)
    repo.commit_all("sneaky", cwd=wt)
    before = refs(repo)
    result = repo.orch("land", "t1")
    assert result.code == 1 and "moved since it was accepted" in result.err
    assert refs(repo) == before
    assert repo.status()["t1"]["state"] == "accepted"


def test_land_conflict_aborts_cleanly_listing_paths(repo: Repo) -> None:
    ready(repo, "t1", {"src/app.py": "print('task')\n", "src/extra.py": "e\n"})
    repo.write("src/app.py", "print('main')\n")
    repo.commit_all("main edits app")
    before_refs, before_log = refs(repo), repo.git("log", "--oneline", "main")
    result = repo.orch("land", "t1")
    assert result.code == 1
    assert "conflicts in src/app.py" in result.err and "stays accepted" in result.err
    assert "extra.py" not in result.err
    assert refs(repo) == before_refs and repo.git("log", "--oneline", "main") == before_log
    assert repo.git("status", "--porcelain") == ""
    assert repo.status()["t1"]["state"] == "accepted"


def test_land_refused_dirty_or_mid_merge_target(repo: Repo) -> None:
    ready(repo, "t1", {"src/a.py": "a\n"})
    repo.write("README.md", "local edit\n")
    before = refs(repo)
    result = repo.orch("land", "t1")
    assert result.code == 1 and "uncommitted changes" in result.err and "README.md" in result.err
    assert refs(repo) == before
    repo.git("checkout", "--", "README.md")
    # An untracked file the merge would overwrite is also refused, nothing changed.
    repo.write("src/a.py", "mine\n")
    result = repo.orch("land", "t1")
    assert result.code == 1 and "src/a.py" in result.err
    assert refs(repo) == before
    (repo.path / "src/a.py").unlink()
    # A merge in progress in the main worktree.
    repo.git("checkout", "-q", "-b", "x")
    repo.write("README.md", "x\n")
    repo.commit_all("x")
    repo.git("checkout", "-q", "main")
    repo.write("README.md", "y\n")
    repo.commit_all("y")
    repo.git("merge", "x", check=False)
    result = repo.orch("land", "t1")
    assert result.code == 1 and "a merge is in progress" in result.err and "--abort" in result.err
    repo.git("merge", "--abort")
    repo.orch_ok("land", "t1")


def test_post_merge_gate_failure_stops_before_anything_moves(repo: Repo) -> None:
    config = repo.path / "orch.toml"
    config.write_text(
        config.read_text()
        + '\n[land]\npost_merge_gates = ["git diff --quiet HEAD~1 -- src/a.py"]\n'
    )
    repo.commit_all("gates")
    ready(repo, "t1", {"src/a.py": "a\n"})
    main, head = repo.rev("main"), repo.rev("orch/t1")
    result = repo.orch("land", "t1")
    assert result.code == 1 and "post-merge gate failed" in result.err
    assert repo.rev("main") == main and repo.rev("orch/t1") == head
    assert repo.status()["t1"]["state"] == "accepted"
    assert [e for e in events(repo, "t1") if e["type"] == "land-step"][-1]["ok"] is False
    # Worktrees used for gates are gone again.
    assert len(repo.git("worktree", "list").splitlines()) == 2


def test_post_merge_gate_pass_lands(repo: Repo) -> None:
    config = repo.path / "orch.toml"
    config.write_text(config.read_text() + '\n[land]\npost_merge_gates = ["test -f src/a.py"]\n')
    repo.commit_all("gates")
    ready(repo, "t1", {"src/a.py": "a\n"})
    result = repo.orch_ok("land", "t1", "--json").json()
    assert isinstance(result, dict) and "gates" in result["steps"]


def test_push_sends_branch_and_orch_refs_atomically(repo: Repo, remote: Path) -> None:
    ready(repo, "t1", {"src/a.py": "a\n"})
    repo.orch_ok("land", "t1", "--push")
    assert repo.git("rev-parse", "main", cwd=remote) == repo.rev("main")
    assert repo.git("rev-parse", "refs/orch/tasks/t1", cwd=remote) == repo.rev("refs/orch/tasks/t1")
    remote_ledger = repo.git("rev-parse", "refs/orch/ledger", cwd=remote)
    # The remote ledger holds the merge; the push event itself is recorded after.
    assert repo.git("merge-base", "--is-ancestor", remote_ledger, "refs/orch/ledger") == ""
    assert [e["type"] for e in events(repo, "t1")][-3:] == ["merged", "pushed", "cleaned"]


def test_interrupted_land_resumes_after_push_rejected(repo: Repo, remote: Path) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'remote says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    wt = ready(repo, "t1", {"src/a.py": "a\n"})
    remote_main = repo.git("rev-parse", "main", cwd=remote)
    result = repo.orch("land", "t1", "--push")
    assert result.code == 1 and "push to origin failed" in result.err
    assert "land t1 again" in result.err
    # Merged locally, nothing sent, worktree still there.
    assert repo.status()["t1"]["state"] == "merged"
    assert repo.git("rev-parse", "main", cwd=remote) == remote_main
    assert repo.git("rev-parse", "--verify", "--quiet", "refs/orch/ledger", cwd=remote,
                    check=False) == ""
    assert wt.exists()
    merge = repo.rev("main")
    hook.unlink()
    again = repo.orch_ok("land", "t1", "--push", "--json").json()
    assert isinstance(again, dict)
    assert again["steps"][0] == "pushed to origin" and "merged" not in again["steps"]
    assert repo.rev("main") == merge  # no second merge
    assert repo.git("rev-parse", "main", cwd=remote) == merge
    assert again["state"] == "cleaned" and not wt.exists()
    assert [e["type"] for e in events(repo, "t1")].count("merged") == 1
    done = repo.orch_ok("land", "t1")
    assert "nothing left to do" in done.out


def test_push_refused_when_remote_ledger_diverged(repo: Repo, remote: Path, tmp_path: Path) -> None:
    ready(repo, "t1", {"src/a.py": "a\n"})
    # Someone else's ledger is already on the remote: a non-fast-forward for ours.
    other = tmp_path / "other"
    repo.git("clone", "-q", str(remote), str(other))
    repo.git("commit", "-q", "--allow-empty", "-m", "their ledger", cwd=other)
    repo.git("push", "-q", "origin", "HEAD:refs/orch/ledger", cwd=other)
    remote_main = repo.git("rev-parse", "main", cwd=remote)
    result = repo.orch("land", "t1", "--push")
    assert result.code == 1 and "refs/orch/ledger" in result.err
    assert repo.git("rev-parse", "main", cwd=remote) == remote_main  # atomic: main not sent


def test_resume_after_kill_between_merge_and_cleanup(any_repo: Repo) -> None:
    repo = any_repo  # both isolation modes
    wt = ready(repo, "t1", {"src/a.py": "a\n"})
    repo.write("scratch.txt", "uncommitted\n", cwd=wt)
    result = repo.orch("land", "t1")
    assert result.code == 1 and "uncommitted changes" in result.err
    assert repo.status()["t1"]["state"] == "merged"
    assert "cleanup-needed" in repo.status()["t1"]["flags"]
    (wt / "scratch.txt").unlink()
    repo.orch_ok("land", "t1")
    assert repo.status()["t1"]["state"] == "cleaned" and not wt.exists()


def test_keep_worktree_leaves_it_for_later(any_repo: Repo) -> None:
    repo = any_repo  # both isolation modes
    wt = ready(repo, "t1", {"src/a.py": "a\n"})
    repo.orch_ok("land", "t1", "--keep-worktree")
    assert wt.exists() and repo.status()["t1"]["state"] == "merged"
    repo.orch_ok("land", "t1")
    assert not wt.exists() and repo.status()["t1"]["state"] == "cleaned"


def test_abandon_keeps_commits_reachable(any_repo: Repo) -> None:
    repo = any_repo  # both isolation modes
    wt = ready(repo, "t1", {"src/a.py": "a\n"}, accepted=False)
    head = repo.rev("orch/t1")
    repo.write("wip.txt", "draft\n", cwd=wt)
    refused = repo.orch("abandon", "t1", "--reason", "superseded")
    assert refused.code == 1 and "--discard-changes" in refused.err and wt.exists()
    assert repo.status()["t1"]["state"] == "completed-unreviewed"
    (wt / "wip.txt").unlink()
    repo.orch_ok("abandon", "t1", "--reason", "superseded")
    assert not wt.exists() and repo.git("branch", "--list", "orch/t1") == ""
    assert repo.rev("refs/orch/archive/t1") == head
    repo.git("gc", "-q", "--prune=now")
    assert repo.git("cat-file", "-t", head) == "commit"
    last = events(repo, "t1")
    assert [e["type"] for e in last][-2:] == ["abandoned", "cleaned"]
    assert last[-2]["head"] == head and last[-2]["reason"] == "superseded"
    task = repo.status()["t1"]
    assert task["state"] == "abandoned" and task["flags"] == []
    assert repo.orch("land", "t1").code == 1
    assert repo.orch("abandon", "t1", "--reason", "again").code == 0


def test_abandon_refuses_landed_task(repo: Repo) -> None:
    ready(repo, "t1", {"src/a.py": "a\n"})
    repo.orch_ok("land", "t1")
    result = repo.orch("abandon", "t1", "--reason", "late")
    assert result.code == 1 and "landed" in result.err


@pytest.mark.parametrize("toml, message", [
    ('[land]\nstrategy = "octopus"\n', "strategy"),
    ('[land]\npush = "yes"\n', "push"),
    ('[land]\npost_merge_gates = "make"\n', "post_merge_gates"),
])
def test_bad_land_policy_is_refused(repo: Repo, toml: str, message: str) -> None:
    config = repo.path / "orch.toml"
    config.write_text(config.read_text() + "\n" + toml)
    repo.commit_all("bad land policy")
    ready(repo, "t1", {"src/a.py": "a\n"})
    result = repo.orch("land", "t1")
    assert result.code == 1 and message in result.err and "Traceback" not in result.err


def test_rerun_finishes_checkout_update_cut_short_by_a_crash(repo: Repo) -> None:
    ready(repo, "t1", {"src/a.py": "a\n"})
    previous = repo.rev("main")
    repo.orch_ok("land", "t1", "--keep-worktree")
    merge = repo.rev("main")
    # What a kill between the ref move and the checkout update leaves: HEAD at the
    # merge, index and files still at the previous commit.
    repo.git("read-tree", "-m", "-u", merge, previous)
    assert not (repo.path / "src/a.py").exists() and repo.git("status", "--porcelain") != ""
    repo.orch_ok("land", "t1")
    assert (repo.path / "src/a.py").read_text() == "a\n"
    assert repo.git("status", "--porcelain") == "" and repo.rev("main") == merge


def test_land_adopts_a_task_already_merged_by_hand(repo: Repo) -> None:
    ready(repo, "t1", {"src/a.py": "a\n"})
    repo.git("merge", "-q", "--ff-only", "orch/t1")
    main = repo.rev("main")
    data = repo.orch_ok("land", "t1", "--json").json()
    assert isinstance(data, dict) and data["commit"] == main and repo.rev("main") == main
    merged = [e for e in events(repo, "t1") if e["type"] == "merged"][0]
    assert merged["contained"] is True


def test_push_without_remote_says_how_to_go_on(repo: Repo) -> None:
    ready(repo, "t1", {"src/a.py": "a\n"})
    result = repo.orch("land", "t1", "--push")
    assert result.code == 1 and "no remote 'origin'" in result.err and "--no-push" in result.err
    assert repo.status()["t1"]["state"] == "merged"
    repo.orch_ok("land", "t1", "--no-push")
    assert repo.status()["t1"]["state"] == "cleaned"


def test_land_refused_by_a_reference_transaction_hook_changes_nothing(repo: Repo) -> None:
    ready(repo, "t1", {"src/a.py": "a\n"})
    hook = repo.path / ".git" / "hooks" / "reference-transaction"
    hook.write_text('#!/bin/sh\n[ "$1" = prepared ] || exit 0\n'
                    'grep -q " refs/heads/main$" && exit 1\nexit 0\n')
    hook.chmod(0o755)
    before = refs(repo)
    result = repo.orch("land", "t1")
    assert result.code == 1 and "refused to move main" in result.err
    assert refs(repo) == before and repo.status()["t1"]["state"] == "accepted"
    hook.unlink()


def test_squash_keeps_the_workers_authorship(repo: Repo) -> None:
    wt = repo.start("t1")
    repo.write("src/a.py", "a\n", cwd=wt)
    repo.git("add", "-A", cwd=wt)
    repo.git("-c", "user.name=Worker Bee", "-c", "user.email=bee@example.com", "commit", "-q",
             "--author=Worker Bee <bee@example.com>", "-m", "work", cwd=wt)
    repo.orch_ok("handoff", cwd=wt)
    accept(repo, "t1")
    repo.orch_ok("land", "t1", "--squash")
    assert repo.git("log", "-1", "--format=%an <%ae>|%cn", "main") == \
        "Worker Bee <bee@example.com>|Ada Tester"


def test_verdict_trailer_comes_from_the_review_and_override(repo: Repo) -> None:
    from git_orch.record.tasks import record

    ready(repo, "t1", {"src/a.py": "a\n"}, accepted=False)
    orepo = OrchRepo(repo.path)
    head = repo.rev("orch/t1")
    record(orepo, "t1", lambda _s: [{"type": "reviewed", "head": head, "verdict": "concerns",
                                     "findings": {}}])
    transition(orepo, "t1", {"type": "accepted", "head": head, "override": "flaky CI only"})
    repo.orch_ok("land", "t1")
    expected = "Orch-Verdict: concerns (accepted with override: flaky CI only)"
    assert expected in trailers(repo, "main")


def test_uncommitted_land_policy_is_not_trusted(repo: Repo) -> None:
    ready(repo, "t1", {"src/a.py": "a\n"})
    repo.git("checkout", "-q", "--detach")  # main is not checked out: no dirty-target refusal
    config = repo.path / "orch.toml"
    config.write_text(config.read_text() + '\n[land]\npost_merge_gates = ["false"]\n')
    repo.orch_ok("land", "t1")
    assert repo.status()["t1"]["state"] == "cleaned"


def test_abandon_with_discard_changes_removes_a_dirty_worktree(any_repo: Repo) -> None:
    repo = any_repo  # both isolation modes
    wt = repo.start("t1")
    repo.write("src/a.py", "a\n", cwd=wt)
    head = repo.commit_all("partial", cwd=wt)
    repo.write("scratch.txt", "throw away\n", cwd=wt)
    data = repo.orch_ok("abandon", "t1", "--reason", "wrong approach", "--discard-changes",
                        "--json").json()
    assert isinstance(data, dict)
    assert data["archive"] == "refs/orch/archive/t1" and data["head"] == head
    assert not wt.exists() and repo.rev("refs/orch/archive/t1") == head
    assert repo.status()["t1"]["state"] == "abandoned"
