"""accept, reject and outside reviewers' verdicts (review packs, review-import)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, ledger_note
from test_review import GOOD, wcommit


def handed_off(repo: Repo, message: str = f"Work\n\n{GOOD}") -> Path:
    wt = repo.start("t1", "--allow", "src/**")
    wcommit(repo, wt, message, {"src/a.py": "a\n"})
    repo.orch_ok("handoff", "--summary", "done", cwd=wt)
    return wt


def events(repo: Repo, kind: str) -> list[dict[str, Any]]:
    data = repo.orch_ok("show", "t1", "--json").json()
    assert isinstance(data, dict)
    return [e for e in data["events"] if e["type"] == kind]


def test_accept_needs_a_passing_review_of_the_current_head(repo: Repo) -> None:
    wt = handed_off(repo)
    none = repo.orch("accept", "t1")
    assert none.code == 1 and "has no review: run git orch review t1" in none.err
    repo.orch_ok("review", "t1")
    wcommit(repo, wt, f"More\n\n{GOOD}", {"src/b.py": "b\n"})
    stale = repo.orch("accept", "t1")
    assert stale.code == 1 and "review of t1 is stale" in stale.err
    assert repo.status()["t1"]["state"] == "completed-unreviewed"
    repo.orch_ok("review", "t1")
    accepted = repo.orch_ok("accept", "t1", "--json").json()
    assert isinstance(accepted, dict)
    assert accepted["head"] == repo.rev("orch/t1") and accepted["verdict"] == "pass"
    assert "override" not in accepted
    assert repo.status()["t1"]["state"] == "accepted"


def test_accept_of_concerns_needs_override_and_records_it(repo: Repo) -> None:
    handed_off(repo, "Work\n\nOrch-Task: t1\nOrch-Evidence: blocked: no device here")
    assert repo.orch("review", "t1").code == 1
    refused = repo.orch("accept", "t1")
    assert refused.code == 1 and "says concerns (evidence-blocked)" in refused.err
    assert "--override" in refused.err
    empty = repo.orch("accept", "t1", "--override", "  ")
    assert empty.code == 1 and "needs a reason" in empty.err
    repo.orch_ok("accept", "t1", "--override", "tested on my phone")
    event = events(repo, "accepted")[-1]
    assert event["override"] == "tested on my phone" and event["verdict"] == "concerns"
    assert event["overridden"] == ["evidence-blocked"]
    assert event["actor"] == "Ada Tester <ada@example.com>"


def test_reject_sends_back_and_worker_may_hand_off_again(repo: Repo) -> None:
    wt = handed_off(repo)
    no_reason = repo.orch("reject", "t1", "--reason", " ")
    assert no_reason.code == 1 and "--reason" in no_reason.err
    repo.orch_ok("reject", "t1", "--reason", "add a test")
    status = repo.status()["t1"]
    assert status["state"] == "rejected" and status["reason"] == "add a test"
    wcommit(repo, wt, f"Test\n\n{GOOD}", {"src/test_a.py": "assert True\n"})
    repo.orch_ok("handoff", cwd=wt)
    repo.orch_ok("review", "t1")
    repo.orch_ok("accept", "t1")
    again = repo.orch("accept", "t1")
    assert again.code == 1 and "is accepted" in again.err


def verdict(repo: Repo, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": 1, "task": "t1", "head": repo.rev("orch/t1"), "verdict": "concerns",
        "reviewer": "Other Model v2", "summary": "Mostly fine.",
        "findings": [{"rule": "missing-test", "severity": "concern",
                      "message": "no test for the redirect", "path": "src/a.py"}],
    }
    doc.update(changes)
    return doc


def test_import_records_outside_verdict(repo: Repo, tmp_path: Path) -> None:
    handed_off(repo)
    pack = tmp_path / "pack"
    repo.orch_ok("review", "t1", "--pack", str(pack))
    assert "\"schema\": 1" in (pack / "reviewer-prompt.md").read_text()
    file = tmp_path / "verdict.json"
    file.write_text(json.dumps(verdict(repo)))
    result = repo.orch("review-import", "t1", "--file", str(file))
    assert result.code == 1 and "recorded concerns from Other Model v2" in result.out
    event = events(repo, "reviewed")[-1]
    assert event["source"] == "import" and event["verdict"] == "concerns"
    assert event["findings"]["rules"] == ["missing-test"]
    note = [json.loads(line) for line in ledger_note(repo, "orch/t1").splitlines()]
    assert note[-1]["findings"][0]["message"] == "no test for the redirect"
    # The latest review now says concerns: accept needs an override.
    assert repo.orch("accept", "t1").code == 1


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"extra": 1}, "unknown key 'extra'"),
        ({"schema": 2}, "schema must be 1"),
        ({"verdict": "ok"}, "verdict must be one of pass, concerns, reject"),
        ({"verdict": "pass"}, "verdict 'pass' does not follow from the findings"),
        ({"head": "abc"}, "head must be a full 40-hex commit id"),
        ({"head": "0" * 40}, "the branch moved; make a new pack"),
        ({"task": "t9"}, "verdict is for task 't9', not 't1'"),
        ({"reviewer": ""}, "reviewer must be a non-empty string"),
        ({"findings": [{"rule": "Bad Rule", "severity": "concern", "message": "m"}]},
         "rule must be lowercase"),
        ({"findings": [{"rule": "x", "severity": "fatal", "message": "m"}]},
         "severity must be one of reject, concern, info"),
        ({"findings": [{"rule": "x", "severity": "concern"}]}, "missing key 'message'"),
    ],
)
def test_import_refuses_bad_verdicts(repo: Repo, tmp_path: Path, changes: dict[str, Any],
                                     error: str) -> None:
    handed_off(repo)
    file = tmp_path / "verdict.json"
    file.write_text(json.dumps(verdict(repo, **changes)))
    result = repo.orch("review-import", "t1", "--file", str(file))
    assert result.code == 1 and error in result.err, result.err
    assert "Traceback" not in result.err and events(repo, "reviewed") == []


def test_import_refuses_unreadable_and_non_json(repo: Repo, tmp_path: Path) -> None:
    handed_off(repo)
    missing = repo.orch("review-import", "t1", "--file", str(tmp_path / "nope.json"))
    assert missing.code == 1 and "cannot read" in missing.err
    junk = tmp_path / "junk.json"
    junk.write_bytes(b"\xff{not json")
    bad = repo.orch("review-import", "t1", "--file", str(junk))
    assert bad.code == 1 and "not valid JSON" in bad.err


def test_unblock_returns_a_blocked_task_to_its_worker(repo: Repo) -> None:
    wt = repo.start("t1")
    refused = repo.orch("unblock", "t1", "--note", "here")
    assert refused.code == 1 and "cannot record unblocked" in refused.err
    repo.orch_ok("block", "--reason", "need the token", cwd=wt)
    assert repo.orch("unblock", "t1", "--note", " ").code == 1
    repo.orch_ok("unblock", "t1", "--note", "token is in the vault")
    task = repo.status()["t1"]
    assert task["state"] == "active" and task["reason"] is None
    shown = repo.orch_ok("show", "t1", "--json").json()
    assert shown["events"][-1]["note"] == "token is in the vault"  # type: ignore[index]
