"""Hook refusals become misalignment events; status shows a trust section in all outputs."""

from __future__ import annotations

from pathlib import Path

from conftest import Repo
from test_runner import add_agent, events

from git_orch.agent import runner
from git_orch.repo import OrchRepo


def refuse_a_commit(repo: Repo, wt: Path) -> None:
    repo.write("docs/guide.md", "changed outside the contract\n", cwd=wt)
    repo.git("add", "-A", cwd=wt)
    proc = repo.git("commit", "-q", "-m", "sneak", cwd=wt, check=False)
    assert proc == ""
    assert repo.git("status", "--porcelain", cwd=wt)  # still staged: the hook refused


def test_a_hook_refusal_becomes_one_misalignment(repo: Repo) -> None:
    wt = repo.start("t1", "--allow", "src/**")
    refuse_a_commit(repo, wt)
    refusals = Path(repo.git("rev-parse", "--absolute-git-dir", cwd=wt)) / "orch-refusals"
    assert refusals.read_text().startswith("pre-commit\t")
    repo.orch_ok("heartbeat", "--once")
    repo.orch_ok("heartbeat", "--once")  # collecting again records nothing twice
    found = events(repo, "t1", "misalignment")
    assert len(found) == 1
    assert found[0]["source"] == "hook-refusal" and found[0]["hook"] == "pre-commit"
    assert found[0]["what"].startswith("pre-commit hook refused: ")
    assert found[0]["refusal_end"] == refusals.stat().st_size
    text = repo.orch_ok("status").out
    assert "Trust (1; worst first)" in text
    assert "task t1: 1 misalignment(s) (1 hook-refusal), 0 overclaim(s)" in text
    data = repo.orch_ok("status", "--json").json()
    rows = data["trust"]  # type: ignore[index]
    assert rows[0]["kind"] == "task" and rows[0]["name"] == "t1"
    assert rows[0]["misalignments"] == 1 and rows[0]["sources"] == {"hook-refusal": 1}
    out = repo.path.parent / "site"
    repo.orch_ok("status", "--write", "--out", str(out))
    assert "## Trust (worst first)" in (out / "status.md").read_text()
    assert 'id="trust"' in (out / "status.html").read_text()


def test_forged_refusal_lines_are_cleaned_and_bounded(repo: Repo) -> None:
    wt = repo.start("t1", "--allow", "src/**")
    refusals = Path(repo.git("rev-parse", "--absolute-git-dir", cwd=wt)) / "orch-refusals"
    refusals.write_bytes(b"pre-push\t\x1b[2Jgone " + b"x" * 5000 + b"\nnot-a-hook\tnoise\n"
                         b"pre-commit\thalf a line")
    repo.orch_ok("heartbeat", "--once")
    found = events(repo, "t1", "misalignment")
    assert len(found) == 1 and "\\x1b[2J" in found[0]["what"] and len(found[0]["what"]) < 400
    refusals.write_bytes(refusals.read_bytes() + b" now complete\n")
    repo.orch_ok("heartbeat", "--once")
    found = events(repo, "t1", "misalignment")
    assert [e["hook"] for e in found] == ["pre-push", "pre-commit"]
    assert found[1]["what"] == "pre-commit hook refused: half a line now complete"


SNEAKY_STEPS = """
[[steps]]
write = "docs/guide.md"
content = "outside\\n"
[[steps]]
commit = "Touch the docs"
"""

OVERCLAIM_STEPS = """
[[steps]]
write = "src/app.py"
content = "print('changed')\\n"
[[steps]]
commit = "Change the app"
trailers = ["Orch-Evidence: local: works in production"]
[[steps]]
handoff_file = "done"
[[steps]]
handoff = "done"
"""


def test_trust_per_agent_worst_first(repo: Repo) -> None:
    add_agent(repo, "sneaky", SNEAKY_STEPS)
    add_agent(repo, "bragger", OVERCLAIM_STEPS)
    orepo = OrchRepo(repo.path)
    repo.start("t1", "--allow", "src/a/**")
    repo.start("t2", "--allow", "src/app.py")
    result = runner.run(orepo, "t1", "sneaky", wait=True, timeout=60)
    assert result.ok is False
    assert runner.run(orepo, "t2", "bragger", wait=True, timeout=60).ok is True
    assert repo.orch("review", "t2").code == 1
    data = repo.orch_ok("status", "--json").json()
    rows = {(r["kind"], r["name"]): r for r in data["trust"]}  # type: ignore[index]
    assert rows[("agent", "sneaky")]["misalignments"] == 1
    assert rows[("agent", "sneaky")]["runs"] == 1
    assert rows[("agent", "bragger")]["overclaims"] == 1
    assert rows[("task", "t2")]["overclaims"] == 1
    text = repo.orch_ok("status").out
    trust = text[text.index("Trust ("):].splitlines()
    assert trust[1].startswith("  task t1: 1 misalignment(s)")
    assert "agent bragger: 0 misalignment(s), 1 overclaim(s) in the last 1 run(s)" in text


def test_bad_trust_setting_is_a_status_problem(repo: Repo) -> None:
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write("\n[trust]\nlast_runs = 0\n")
    result = repo.orch_ok("status")
    assert "trust: orch.toml: [trust] last_runs must be an integer from 1 to 10000" in result.out
