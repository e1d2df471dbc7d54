"""Verdicts add up (issue 11): no review replaces another on the head being accepted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import Repo
from test_review import GOOD, wcommit


def handed_off(repo: Repo, message: str = f"Work\n\n{GOOD}",
               files: dict[str, str | bytes] | None = None, *extra: str) -> Path:
    wt = repo.start("t1", "--allow", "src/**", *extra)
    wcommit(repo, wt, message, files or {"src/a.py": "a\n"})
    repo.orch_ok("handoff", "--summary", "done", cwd=wt)
    return wt


def import_verdict(repo: Repo, tmp_path: Path, verdict: str, reviewer: str = "Other Model",
                   findings: list[dict[str, Any]] | None = None) -> int:
    doc = {"schema": 1, "task": "t1", "head": repo.rev("orch/t1"), "verdict": verdict,
           "reviewer": reviewer, "findings": findings or []}
    file = tmp_path / f"verdict-{reviewer.replace(' ', '-')}-{verdict}.json"
    file.write_text(json.dumps(doc))
    return repo.orch("review-import", "t1", "--file", str(file)).code


CONCERN = [{"rule": "missing-test", "severity": "concern", "message": "no test"}]


def test_imported_pass_does_not_replace_our_reject(repo: Repo, tmp_path: Path) -> None:
    # Why 2: a --no-verify commit touching migrations/ and overclaiming, then an outside pass.
    handed_off(repo, "Migrate\n\nOrch-Task: t1\nOrch-Evidence: local: verified in production",
               {"migrations/0001.sql": "drop table users;\n"})
    assert repo.orch("review", "t1").code == 1
    assert import_verdict(repo, tmp_path, "pass") == 0
    refused = repo.orch("accept", "t1")
    assert refused.code == 1 and "verdict-reject" in refused.err
    assert "outside-allow" in refused.err and "overclaim" in refused.err
    overridden = repo.orch("accept", "t1", "--override", "--reason", "looks fine")
    assert overridden.code == 1 and "verdict-reject" in overridden.err
    assert repo.status()["t1"]["state"] == "completed-unreviewed"


def test_re_review_does_not_drop_imported_concerns(repo: Repo, tmp_path: Path) -> None:
    handed_off(repo)
    repo.orch_ok("review", "t1")
    assert import_verdict(repo, tmp_path, "concerns", findings=CONCERN) == 1
    repo.orch_ok("review", "t1")  # our own pass again, recorded beside the concern
    refused = repo.orch("accept", "t1")
    assert refused.code == 1 and "verdict-concerns" in refused.err
    assert "missing-test" in refused.err and "Other Model" in refused.err
    event = repo.orch_ok("accept", "t1", "--override", "--reason", "test added in t2",
                         "--json").json()
    assert isinstance(event, dict)
    assert event["override"] == "test added in t2" and event["overridden"] == ["missing-test"]
    assert [v["source"] for v in event["verdicts"]] == ["git-orch", "import", "git-orch"]


def test_plain_review_does_not_drop_a_rerun_gates_concern(repo: Repo, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    handed_off(repo, f"Work\n\n{GOOD}\nOrch-Gate: touch {marker}")
    rerun = repo.orch("review", "t1", "--rerun-gates")
    assert rerun.code == 1 and "gate-not-in-policy" in rerun.out
    repo.orch_ok("review", "t1")  # without --rerun-gates the concern is not found again
    refused = repo.orch("accept", "t1")
    assert refused.code == 1 and "verdict-concerns" in refused.err
    assert "gate-not-in-policy" in refused.err


def test_required_external_passes_and_who_reviewed(repo: Repo, tmp_path: Path) -> None:
    config = repo.path / "orch.toml"
    config.write_text(config.read_text() + "\n[review]\nrequired_external = 2\n")
    repo.commit_all("Two outside reviews")
    handed_off(repo)
    repo.orch_ok("review", "t1")
    refused = repo.orch("accept", "t1")
    assert refused.code == 1 and "external-review-missing" in refused.err
    assert import_verdict(repo, tmp_path, "pass", "Model A") == 0
    assert import_verdict(repo, tmp_path, "pass", "Model A") == 0  # the same reviewer twice
    assert "has 1" in repo.orch("accept", "t1").err
    assert import_verdict(repo, tmp_path, "pass", "Model B") == 0
    event = repo.orch_ok("accept", "t1", "--json").json()
    assert isinstance(event, dict) and event["verdict"] == "pass"
    reviewers = [v["reviewer"] for v in event["verdicts"] if v["source"] == "import"]
    assert reviewers == ["Model A (imported by Ada Tester <ada@example.com>)"] * 2 + [
        "Model B (imported by Ada Tester <ada@example.com>)"]


def test_outside_verdict_alone_is_not_enough(repo: Repo, tmp_path: Path) -> None:
    wt = handed_off(repo)
    repo.orch_ok("review", "t1")
    wcommit(repo, wt, f"More\n\n{GOOD}", {"src/b.py": "b\n"})
    assert import_verdict(repo, tmp_path, "pass") == 0  # on the new head; ours is older
    refused = repo.orch("accept", "t1")
    assert refused.code == 1 and "review-own-missing" in refused.err


def test_show_and_status_list_every_verdict_on_the_head(repo: Repo, tmp_path: Path) -> None:
    handed_off(repo)
    repo.orch_ok("review", "t1")
    import_verdict(repo, tmp_path, "concerns", findings=CONCERN)
    shown = repo.orch_ok("show", "t1").out
    assert "verdicts on" in shown and "missing-test" in shown and "Other Model" in shown
    data = repo.orch_ok("show", "t1", "--json").json()
    assert isinstance(data, dict)
    assert [v["verdict"] for v in data["verdicts"]] == ["pass", "concerns"]
    status = repo.status()["t1"]
    assert [v["source"] for v in status["verdicts"]] == ["git-orch", "import"]  # type: ignore[union-attr]
