"""Issue 11: CI checks what entered (verify --require-landed, other_commits) and the
target branch git-orch watches. Real repositories, real pushes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Repo, git
from test_review import GOOD, wcommit
from test_verify import set_verify


def accepted(repo: Repo, task_id: str, files: dict[str, str | bytes]) -> Path:
    wt = repo.start(task_id, "--allow", "src/**")
    wcommit(repo, wt, f"Work on {task_id}\n\n{GOOD.replace('t1', task_id)}", files)
    repo.orch_ok("handoff", "--summary", "done", cwd=wt)
    repo.orch_ok("review", task_id)
    repo.orch_ok("accept", task_id)
    return wt


def test_landed_work_passes_require_landed(repo: Repo) -> None:
    before = repo.rev("main")
    accepted(repo, "t1", {"src/a.py": "a\n"})
    repo.orch_ok("land", "t1", "--no-push")
    ok = repo.orch("verify", f"{before}..main", "--require-landed")
    assert ok.code == 0, ok.out
    accepted(repo, "t2", {"src/b.py": "b\n"})
    before = repo.rev("main")
    repo.orch_ok("land", "t2", "--squash", "--no-push")
    assert repo.orch("verify", f"{before}..main", "--require-landed").code == 0


def test_worker_push_to_main_is_caught(repo: Repo, remote: Path) -> None:
    """Why 1: `git push --no-verify origin HEAD:main` from a worker."""
    wt = repo.start("t1", "--allow", "src/**")
    wcommit(repo, wt, f"Sneak\n\n{GOOD}", {"src/a.py": "a\n"})
    repo.git("-c", "core.hooksPath=/dev/null", "push", "-q", "--no-verify", "origin",
             "HEAD:main", cwd=wt)
    repo.git("fetch", "-q", "origin")
    assert repo.orch("verify", "main..origin/main").code == 0  # what it says is fine
    caught = repo.orch("verify", "main..origin/main", "--require-landed")
    assert caught.code == 1 and "not-landed" in caught.out
    assert "no head the ledger records as accepted for t1" in caught.out


def test_accepted_but_pushed_by_hand_is_not_landed(repo: Repo, remote: Path) -> None:
    wt = accepted(repo, "t1", {"src/a.py": "a\n"})
    repo.git("-c", "core.hooksPath=/dev/null", "push", "-q", "--no-verify", "origin",
             "HEAD:main", cwd=wt)
    repo.git("fetch", "-q", "origin")
    caught = repo.orch("verify", "main..origin/main", "--require-landed")
    assert caught.code == 1 and "without its landing commit" in caught.out


def test_require_landed_from_orch_toml_on_the_protected_end(repo: Repo, remote: Path) -> None:
    set_verify(repo, "require_landed = true")
    repo.git("push", "-q", "origin", "main")
    wt = repo.start("t1", "--allow", "src/**")
    wcommit(repo, wt, f"Sneak\n\n{GOOD}", {"src/a.py": "a\n"})
    # The commit cannot relax the rule for itself: [verify] is read on main.
    wcommit(repo, wt, f"Relax\n\n{GOOD}", {"orch.toml": "[verify]\nrequire_landed = false\n"})
    caught = repo.orch("verify", "main..orch/t1")
    assert caught.code == 1 and "not-landed" in caught.out


def test_the_policy_commit_init_asks_for_passes_verify(repo: Repo) -> None:
    """Why 3: a person's own commit is not a failure by default."""
    root = repo.git("rev-list", "--max-parents=0", "HEAD")
    result = repo.orch("verify", f"{root}..main", "--require-landed")
    assert result.code == 0 and "1 commit, 0 findings: ok" in result.out, result.out
    set_verify(repo, 'other_commits = "deny"')
    repo.write("notes.md", "a person's note\n")
    repo.commit_all("A note")
    denied = repo.orch("verify", "main~1..main")
    assert denied.code == 1 and "no-task-trailer" in denied.out


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_other_commits_signed_uses_git_verify_commit(repo: Repo, tmp_path: Path) -> None:
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ada", "-f",
                    str(key)], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"ada@example.com {(tmp_path / 'key.pub').read_text()}")
    repo.git("config", "gpg.format", "ssh")
    repo.git("config", "user.signingKey", str(key))
    repo.git("config", "gpg.ssh.allowedSignersFile", str(signers))
    set_verify(repo, 'other_commits = "signed"')
    base = repo.rev("main")
    repo.write("notes.md", "signed\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-S", "-m", "Signed by a person")
    ok = repo.orch("verify", f"{base}..main")
    assert ok.code == 0, ok.out
    repo.write("notes.md", "unsigned\n")
    unsigned = repo.commit_all("Not signed")
    refused = repo.orch("verify", f"{base}..main")
    assert refused.code == 1 and "unsigned-commit" in refused.out and unsigned[:12] in refused.out
    git("config", "--unset", "gpg.ssh.allowedSignersFile", cwd=repo.path)
    assert "unsigned-commit" in repo.orch("verify", f"{base}..main~1").out


# --- the watched target ----------------------------------------------------------

def push_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "pushed to" in line or "not pushed" in line]


def test_status_and_heartbeat_report_a_bypass(repo: Repo, remote: Path) -> None:
    wt = repo.start("t1", "--allow", "src/**")
    sneak = wcommit(repo, wt, f"Sneak\n\n{GOOD}", {"src/a.py": "a\n"})
    repo.git("-c", "core.hooksPath=/dev/null", "push", "-q", "--no-verify", "origin",
             "HEAD:main", cwd=wt)
    repo.git("fetch", "-q", "origin")
    status = repo.orch_ok("status")
    assert "Needs you" in status.out and "target-bypass" in status.out
    assert sneak[:12] in status.out and "origin/main" in status.out
    data = repo.orch_ok("status", "--json").json()
    assert isinstance(data, dict)
    assert [(f["rule"], f["commit"], f["task"]) for f in data["target"]] == [
        ("target-bypass", sneak, "t1")]
    site = repo.path.parent / "site"
    repo.orch_ok("status", "--write", "--out", str(site))
    page = (site / "status.html").read_text()
    assert 'data-task="t1" data-kind="target-bypass"' in page
    beat = repo.orch_ok("heartbeat", "--once")
    assert "needs you: target-bypass" in beat.out
    repo.orch_ok("heartbeat", "--once")  # recorded once, not at every beat
    shown = repo.orch_ok("show", "t1", "--json").json()
    assert isinstance(shown, dict)
    found = [e for e in shown["events"] if e["type"] == "misalignment"]
    assert len(found) == 1 and found[0]["source"] == "bypass" and found[0]["commit"] == sneak


def test_rewritten_target_is_reported_and_land_refuses(repo: Repo) -> None:
    accepted(repo, "t1", {"src/a.py": "a\n"})
    landed = repo.orch_ok("land", "t1")
    said = push_lines(landed.out)
    assert said == ["t1: not pushed (set [land] push = true or pass --push)"]
    tip = repo.rev("main")
    repo.git("reset", "-q", "--hard", "main~1")  # a person drops the landed merge
    status = repo.orch_ok("status")
    assert "target-rewritten" in status.out and tip[:12] in status.out
    accepted(repo, "t2", {"src/b.py": "b\n"})
    refused = repo.orch("land", "t2")
    assert refused.code == 1 and "target-rewritten" in refused.err
    assert repo.rev("main") == repo.rev(f"{tip}~1")
    empty = repo.orch("land", "t2", "--override")
    assert empty.code == 1 and "needs a reason" in empty.err
    repo.orch_ok("land", "t2", "--override", "--reason", "t1 was reverted on purpose")
    steps = [e for e in repo.orch_ok("show", "t2", "--json").json()["events"]  # type: ignore[index]
             if e["type"] == "land-step"]
    assert steps[0]["override"] == "t1 was reverted on purpose"


def test_land_says_it_pushed_and_reflogs_name_the_command(repo: Repo, remote: Path) -> None:
    accepted(repo, "t1", {"src/a.py": "a\n"})
    landed = repo.orch_ok("land", "t1", "--push")
    assert push_lines(landed.out) == ["t1: pushed to origin"]
    assert repo.orch_ok("land", "t1").out.splitlines()[-1] == "pushed to origin"
    data = repo.orch_ok("land", "t1", "--json").json()
    assert isinstance(data, dict) and data["pushed"] is True
    main_log = repo.git("reflog", "show", "--format=%gs", "main")
    assert main_log.splitlines()[0] == "git orch land: land t1"
    ledger_log = repo.git("reflog", "show", "--format=%gs", "refs/orch/ledger")
    for line in ("git orch accept: t1", "git orch review: review t1", "git orch land: land t1",
                 "git orch start: t1"):
        assert line in ledger_log.splitlines(), ledger_log
    assert repo.git("reflog", "show", "--format=%gs", "refs/orch/tasks/t1") == "git orch start: t1"


def test_hostile_ledger_heads_never_reach_git_argv(repo: Repo, tmp_path: Path) -> None:
    from git_orch.record.tasks import record
    from git_orch.repo import OrchRepo

    wt = repo.start("t1", "--allow", "src/**")
    wcommit(repo, wt, f"Work\n\n{GOOD}", {"src/a.py": "a\n"})
    target = tmp_path / "written"
    record(OrchRepo(repo.path), "t1", lambda _s: [
        {"type": "accepted", "head": f"--output={target}"},
        {"type": "merged", "commit": "--all", "head": f"--output={target}", "target": "main"}])
    result = repo.orch_proc("verify", "main..orch/t1", "--require-landed")
    assert result.code == 1 and "not-landed" in result.out, result.err
    status = repo.orch_proc("status")
    assert status.code == 0 and "Traceback" not in status.err
    assert not target.exists()
