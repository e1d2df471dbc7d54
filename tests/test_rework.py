"""The review -> fix loop, checkpoints and the context pack, with real reviews and runs.

Every envelope checked here was written by a real supervisor for a real
stand-in agent run; every review is a real `git orch review`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from conftest import Repo
from test_runner import OK_STEPS, add_agent, events

from git_orch.agent import runner
from git_orch.repo import OrchRepo


def runs_dir(repo: Repo, task_id: str) -> Path:
    return repo.path / ".git" / "orch" / "runs" / task_id


def handed_off_without_gate_claim(repo: Repo) -> Path:
    """t1 handed off with a commit that claims no contract gate: review rejects it."""
    wt = repo.start("t1", "--allow", "src/**", "--gate", "python src/app.py")
    repo.write("src/first.py", "x = 1\n", cwd=wt)
    repo.commit_all("First try\n\nOrch-Evidence: local: it imports", cwd=wt)
    repo.orch_ok("handoff", "--summary", "added first.py", "--risk", "untested", cwd=wt)
    return wt


def test_rework_envelope_carries_a_real_review(repo: Repo) -> None:
    add_agent(repo, "ok", OK_STEPS)
    handed_off_without_gate_claim(repo)
    review = repo.orch("review", "t1", "--json")
    assert review.code == 1 and review.json()["verdict"] == "reject"  # type: ignore[index]
    repo.orch_ok("reject", "t1", "--reason", "claim the gate you ran")
    result = runner.run(OrchRepo(repo.path), "t1", "ok", wait=True, timeout=60)
    assert result.ok is True
    text = (runs_dir(repo, "t1") / "envelope-1.md").read_text()
    assert "## Rework" in text
    assert "Reviewer's reason: claim the gate you ran" in text
    assert "reject gate-unclaimed: contract gate 'python src/app.py' is claimed" in text
    assert "Your previous hand-off said: added first.py" in text and "untested" in text
    started = events(repo, "t1", "run-started")[0]
    assert started["envelope_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert isinstance(started["rework"], str)


def test_a_review_with_concerns_can_go_back_to_work(repo: Repo) -> None:
    add_agent(repo, "ok", OK_STEPS)
    wt = repo.start("t1", "--allow", "src/**")
    repo.write("src/first.py", "x = 1\n", cwd=wt)
    repo.commit_all("First try", cwd=wt)  # no evidence: a concern
    repo.orch_ok("handoff", "--summary", "first", cwd=wt)
    assert repo.orch("review", "t1").code == 1
    assert repo.status()["t1"]["state"] == "completed-unreviewed"
    result = runner.run(OrchRepo(repo.path), "t1", "ok", wait=True, timeout=60)
    assert result.ok is True
    text = (runs_dir(repo, "t1") / "envelope-1.md").read_text()
    assert "a reviewer's verdict was concerns" in text and "no-evidence" in text


def test_max_rounds_bounds_the_loop(repo: Repo) -> None:
    add_agent(repo, "ok", OK_STEPS)
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write("\n[review]\nmax_rounds = 1\n")
    handed_off_without_gate_claim(repo)
    repo.orch("review", "t1")
    repo.orch_ok("reject", "t1", "--reason", "first round")
    assert runner.run(OrchRepo(repo.path), "t1", "ok", wait=True, timeout=60).ok is True
    repo.orch("review", "t1")  # still no gate claim
    repo.orch_ok("reject", "t1", "--reason", "second round")
    refused = repo.orch("run", "t1", "--agent", "ok")
    assert refused.code == 1
    assert "went back to work 1 time(s) already ([review] max_rounds = 1)" in refused.err


def test_bad_max_rounds_is_refused(repo: Repo) -> None:
    add_agent(repo, "ok", OK_STEPS)
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write("\n[review]\nmax_rounds = \"many\"\n")
    handed_off_without_gate_claim(repo)
    repo.orch("review", "t1")
    repo.orch_ok("reject", "t1", "--reason", "again")
    refused = repo.orch("run", "t1", "--agent", "ok")
    assert refused.code == 1 and "[review] max_rounds must be an integer" in refused.err


CUT_SHORT_STEPS = """
[[steps]]
write = "src/half.py"
content = "half = True\\n"
attempts = [1]
[[steps]]
commit = "Half of the work"
trailers = ["Orch-Evidence: blocked: not finished"]
attempts = [1]
[[steps]]
handoff_file = "did half; \\u001b[31mnext: the other half"
attempts = [1]
[[steps]]
print = "working on the second half"
attempts = [1]
[[steps]]
exit = 3
attempts = [1]
""" + OK_STEPS


def test_the_next_attempt_starts_from_a_checkpoint(repo: Repo) -> None:
    add_agent(repo, "half", CUT_SHORT_STEPS, max_attempts=2, backoff="1s")
    repo.start("t1", "--allow", "src/**")
    result = runner.run(OrchRepo(repo.path), "t1", "half", wait=True, timeout=90)
    assert [e["outcome"] for e in result.ended] == ["failed", "succeeded"]
    first = (runs_dir(repo, "t1") / "envelope-1.md").read_text()
    second = (runs_dir(repo, "t1") / "envelope-2.md").read_text()
    assert "Where the previous attempt stopped" not in first
    assert "## Where the previous attempt stopped" in second
    assert "Attempt 1 ended: failed" in second
    assert "Half of the work" in second and "Orch-Evidence: blocked: not finished" in second
    assert "did half; \\x1b[31mnext: the other half" in second  # quoted, escape neutralised
    assert "working on the second half" in second
    hashes = [e["envelope_sha256"] for e in events(repo, "t1", "run-started")]
    assert hashes == [hashlib.sha256(t.encode()).hexdigest() for t in (first, second)]


def test_the_envelope_renders_the_context_pack(repo: Repo) -> None:
    add_agent(repo, "ok", OK_STEPS)
    repo.orch_ok("plan", "add", "--package", "p", "--task", "t1", "--title", "Change the app",
                 "--allow", "src/**", "--non-goal", "no new dependencies",
                 "--pointer", "docs/guide.md", "--pointer", "https://example.com/spec",
                 "--decision", "print, not logging")
    plan = repo.orch_ok("plan", "show", "--json").json()
    task: dict[str, Any] = plan["packages"][0]["tasks"][0]  # type: ignore[index]
    assert task["non_goals"] == ["no new dependencies"]
    repo.start("t1", "--allow", "src/**")
    assert runner.run(OrchRepo(repo.path), "t1", "ok", wait=True, timeout=60).ok is True
    text = (runs_dir(repo, "t1") / "envelope.md").read_text()
    assert "## Non-goals" in text and "- no new dependencies" in text
    assert "- docs/guide.md" in text and "- https://example.com/spec" in text
    assert "## Decisions already made" in text and "- print, not logging" in text
    assert "do not start other workers, agents\n   or tasks" in text


def test_context_pack_entries_must_be_single_lines(repo: Repo) -> None:
    bad = repo.orch("plan", "add", "--package", "p", "--task", "t1", "--title", "x",
                    "--decision", "one\ntwo")
    assert bad.code == 1 and "--decision must be a single line" in bad.err
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write('\n[[packages]]\nname = "q"\n[[packages.tasks]]\n'
                     'id = "t2"\ntitle = "x"\nnon_goals = "not a list"\n')
    shown = repo.orch("plan", "show")
    assert shown.code == 1 and "non_goals must be a list of strings" in shown.err


TIMEOUT_STEPS = """
[[steps]]
write = "src/half.py"
content = "half = True\\n"
attempts = [1]
[[steps]]
commit = "First half before the cut"
trailers = ["Orch-Evidence: blocked: not finished"]
attempts = [1]
[[steps]]
sleep = 60
attempts = [1]
""" + OK_STEPS


def test_a_timed_out_attempt_leaves_a_checkpoint(repo: Repo) -> None:
    add_agent(repo, "slow", TIMEOUT_STEPS, max_attempts=2, backoff="1s", max_runtime="3s",
              kill_grace="0.5s")
    repo.start("t1", "--allow", "src/**")
    result = runner.run(OrchRepo(repo.path), "t1", "slow", wait=True, timeout=90)
    assert [e["outcome"] for e in result.ended] == ["timeout", "succeeded"]
    second = (runs_dir(repo, "t1") / "envelope-2.md").read_text()
    assert "Attempt 1 ended: timeout (timed out after 3s" in second
    assert "First half before the cut" in second
