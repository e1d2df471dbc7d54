"""Package-close review: a closed roadmap package gets one pack and one recorded verdict."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Repo
from test_notify import add_notifier, received


def land_task(repo: Repo, task_id: str, path: str) -> None:
    """The real loop: start, commit with evidence, hand off, review, accept, land."""
    wt = repo.start(task_id, "--allow", path, "--package", "p")
    repo.write(path, f"{task_id}\n", cwd=wt)
    repo.commit_all(f"Add {path}\n\nOrch-Evidence: local: cat {path}", cwd=wt)
    repo.orch_ok("handoff", "--summary", f"added {path}", cwd=wt)
    repo.orch_ok("review", task_id)
    repo.orch_ok("accept", task_id)
    repo.orch_ok("land", task_id)


def test_a_closed_package_is_due_packed_and_reviewed(repo: Repo, tmp_path: Path) -> None:
    for task_id, path in (("a", "src/a.py"), ("b", "src/b.py")):
        repo.orch_ok("plan", "add", "--package", "p", "--task", task_id, "--title",
                     f"task {task_id}", "--allow", path)
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write("\n[review]\npackage_pack = true\n")
    out = add_notifier(repo, tmp_path, 'events = ["package-closed"]\n')
    repo.commit_all("Plan package p")
    first_base = repo.rev("main")
    land_task(repo, "a", "src/a.py")
    assert repo.orch_ok("status", "--json").json()["packages_due"] == []  # type: ignore[index]
    refused = repo.orch("review", "--package", "p", "--pack", str(tmp_path / "early"))
    assert refused.code == 1 and "package 'p' is not closed" in refused.err
    land_task(repo, "b", "src/b.py")
    last = repo.rev("main")
    assert [n["package"] for n in received(out)] == ["p"]
    assert "package p closed: review pack due" in repo.orch_ok("status").out
    due = repo.orch_ok("status", "--json").json()["packages_due"]  # type: ignore[index]
    assert due == [{"package": "p", "base": first_base, "head": last, "tasks": ["a", "b"]}]
    site = tmp_path / "site"
    repo.orch_ok("status", "--write", "--out", str(site))
    assert "package p closed: review pack due" in (site / "status.md").read_text()
    assert 'data-kind="package-review"' in (site / "status.html").read_text()
    assert "package p closed: review pack due" in (site / "status.html").read_text()

    pack = tmp_path / "pack"
    repo.orch_ok("review", "--package", "p", "--pack", str(pack))
    patch = (pack / "combined.patch").read_text()
    assert "+++ b/src/a.py" in patch and "+++ b/src/b.py" in patch
    tasks = (pack / "tasks.md").read_text()
    assert "## a: task a" in tasks and "Orch-Evidence: local: cat src/b.py" in tasks
    assert json.loads((pack / "package.json").read_text())["head"] == last

    verdict = {"schema": 1, "package": "p", "head": last, "verdict": "concerns",
               "reviewer": "outside model", "summary": "fits, one seam",
               "findings": [{"rule": "seam", "severity": "concern",
                             "message": "b does not call a"}]}
    (pack / "verdict.json").write_text(json.dumps(verdict))
    imported = repo.orch("review-import", "--package", "p", "--file", str(pack / "verdict.json"),
                         "--json")
    assert imported.code == 1  # concerns, like a task verdict that is not a pass
    event = imported.json()
    assert isinstance(event, dict) and event["type"] == "package-reviewed"
    assert event["tasks"] == ["a", "b"] and event["verdict"] == "concerns"
    assert "review pack due" not in repo.orch_ok("status").out


def test_package_verdicts_are_checked(repo: Repo, tmp_path: Path) -> None:
    land_task(repo, "a", "src/a.py")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": 1, "package": "p", "head": "0" * 40, "verdict": "pass",
                               "reviewer": "x", "findings": []}))
    stale = repo.orch("review-import", "--package", "p", "--file", str(bad))
    assert stale.code == 1 and "make a new pack" in stale.err
    bad.write_text(json.dumps({"schema": 1, "task": "a", "head": "0" * 40}))
    wrong = repo.orch("review-import", "--package", "p", "--file", str(bad))
    assert wrong.code == 1 and 'a package verdict is a JSON object with a "package"' in wrong.err
    both = repo.orch("review-import", "a", "--package", "p", "--file", str(bad))
    assert both.code == 2 and "one of them" in both.err
    nopack = repo.orch("review", "--package", "p")
    assert nopack.code == 2 and "--package goes with --pack DIR" in nopack.err
