"""The roadmap (plan add, plan show), next and dispatch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from typing import Any

import pytest
from conftest import Repo

from git_orch.agent import runner
from git_orch.agent.standin import preset_toml
from git_orch.dispatch import EMPTY_TREE
from git_orch.record.tasks import transition
from git_orch.repo import OrchRepo
from git_orch.roadmap import literal_prefix, patterns_overlap, write_sets_overlap


def plan(repo: Repo, package: str, task: str, *extra: str) -> None:
    repo.orch_ok("plan", "add", "--package", package, "--task", task, "--title",
                 f"do {task}", *extra)


def nxt(repo: Repo, *extra: str) -> dict[str, Any]:
    result = repo.orch("next", "--json", *extra)
    assert result.code == 0, result.err
    data = result.json()
    assert isinstance(data, dict)
    return data


def set_max_active(repo: Repo, count: int) -> None:
    path = repo.path / "orch.toml"
    path.write_text(re.sub(r"max_active = \d+", f"max_active = {count}", path.read_text()))


def land(repo: Repo, task_id: str) -> None:
    """Record what review and land would (those commands belong to other modules)."""
    orepo = OrchRepo(repo.path)
    head = repo.rev(f"orch/{task_id}")
    for event in ({"type": "handoff", "head": head, "summary": "done", "risks": []},
                  {"type": "accepted", "head": head},
                  {"type": "merged", "commit": head, "strategy": "ff", "target": "main"}):
        transition(orepo, task_id, event)


def test_plan_add_keeps_comments_and_layout(repo: Repo) -> None:
    path = repo.path / "orch.toml"
    before = path.read_text()
    path.write_text(before + "\n# our roadmap, in order\n")
    plan(repo, "auth", "login", "--allow", "src/auth/**", "--gate", "pytest -q")
    plan(repo, "docs", "guide", "--allow", "docs/**")
    plan(repo, "auth", "logout", "--allow", "src/auth/**", "--depends-on", "login",
         "--agent", "codex")
    text = path.read_text()
    assert text.startswith(before)  # every comment and key above kept, byte for byte
    assert "# our roadmap, in order" in text
    data = tomllib.loads(text)
    assert [p["name"] for p in data["packages"]] == ["auth", "docs"]
    assert [t["id"] for t in data["packages"][0]["tasks"]] == ["login", "logout"]
    assert data["packages"][0]["tasks"][1]["depends_on"] == ["login"]
    shown = repo.orch_ok("plan", "show", "--json").json()
    assert isinstance(shown, dict)
    assert shown["packages"][0]["tasks"][1]["agent"] == "codex"
    assert "logout" in repo.orch_ok("plan", "show").out


@pytest.mark.parametrize("args,message", [
    (["--task", "login"], "already in the roadmap"),
    (["--task", "x", "--depends-on", "ghost"], "no such task"),
    (["--task", "x", "--depends-on", "later"], "in a later package"),
    (["--task", "x", "--allow", ":(exclude)src"], "pathspec magic"),
    (["--task", "bad id"], "not allowed"),
])
def test_plan_add_refusals(repo: Repo, args: list[str], message: str) -> None:
    plan(repo, "auth", "login")
    plan(repo, "docs", "later")
    before = (repo.path / "orch.toml").read_text()
    result = repo.orch("plan", "add", "--package", "auth", "--title", "t", *args)
    usage = message == "not allowed"  # a bad id on the command line is a usage error
    assert result.code == (2 if usage else 1) and message in result.err
    assert (repo.path / "orch.toml").read_text() == before


def test_plan_add_refuses_a_roadmap_it_cannot_edit(repo: Repo) -> None:
    path = repo.path / "orch.toml"
    path.write_text('packages = [{ name = "inline" }]\n' + path.read_text())
    result = repo.orch("plan", "add", "--package", "inline", "--task", "a", "--title", "t")
    assert result.code == 1 and "[[packages]] tables" in result.err


def test_next_stays_in_the_current_package(repo: Repo) -> None:
    plan(repo, "core", "a1", "--allow", "src/a/**")
    plan(repo, "core", "a2", "--allow", "src/b/**")
    plan(repo, "later", "b1", "--allow", "docs/**")
    first = nxt(repo, "--start")
    assert first["task"]["id"] == "a1" and first["started"] is True
    assert repo.status()["a1"]["package"] == "core"
    assert nxt(repo, "--start")["task"]["id"] == "a2"
    # Slots are free and b1 touches nothing of core's, but core is not closed.
    waiting = nxt(repo)
    assert waiting["task"] is None and waiting["package"] == "core"
    assert "waiting for a1, a2 to end" in waiting["reasons"][0]
    assert "not a reason" in waiting["reasons"][0]
    text = repo.orch("next")
    assert text.code == 0 and "nothing to start" in text.out
    land(repo, "a1")
    repo.orch_ok("start", "x", "--title", "unplanned", "--allow", "tests/**")
    transition(OrchRepo(repo.path), "a2", {"type": "abandoned", "reason": "not needed"})
    assert nxt(repo)["task"]["id"] == "b1"  # core closed: on to the next package


def test_next_respects_the_slot_limit(repo: Repo) -> None:
    set_max_active(repo, 1)
    plan(repo, "core", "a1", "--allow", "src/a/**")
    plan(repo, "core", "a2", "--allow", "src/b/**")
    repo.orch_ok("next", "--start")
    full = nxt(repo)
    assert full["task"] is None
    assert full["reasons"] == ["all 1 worker slots are taken by tasks being worked: a1"]
    # Blocked, a1 holds no worker slot (start counts the same): a2 may start.
    repo.orch_ok("block", "--reason", "waits for a key", cwd=repo.worktree("a1"))
    assert nxt(repo)["task"]["id"] == "a2"


def test_next_never_overlaps_a_live_write_set(repo: Repo) -> None:
    plan(repo, "core", "wide", "--allow", "src/**")
    plan(repo, "core", "narrow", "--allow", "src/app.py")
    plan(repo, "core", "docs", "--allow", "docs/**")
    assert nxt(repo, "--start")["task"]["id"] == "wide"
    rec = nxt(repo)
    assert rec["task"]["id"] == "docs"  # narrow is skipped, docs is disjoint
    repo.orch_ok("next", "--start")
    blocked = nxt(repo)
    assert blocked["task"] is None
    assert "narrow: its write set may overlap live task(s) wide" in blocked["reasons"]


def test_next_treats_a_task_without_allow_as_overlapping_everything(repo: Repo) -> None:
    """The rule start applies: a roadmap without write sets runs one task at a time."""
    plan(repo, "core", "a1")
    plan(repo, "core", "a2")
    plan(repo, "core", "a3", "--allow", "docs/**")
    assert nxt(repo, "--start")["task"]["id"] == "a1"  # nothing live: nothing to overlap
    rec = nxt(repo, "--start")
    assert rec["task"] is None and rec["started"] is False
    assert rec["reasons"][:2] == [
        "a2: declares no allow, so it may write anywhere and may overlap live task(s) a1; "
        "give it allow in the roadmap (orch.toml)",
        "a3: live task(s) a1 declare no allow, so they may write anywhere"]
    assert sorted(repo.status()) == ["a1"]
    repo.orch_ok("abandon", "a1", "--reason", "dropped")
    assert nxt(repo, "--start")["task"]["id"] == "a2"


def test_next_waits_for_dependencies_to_land(repo: Repo) -> None:
    plan(repo, "core", "base", "--allow", "src/a/**")
    plan(repo, "core", "top", "--allow", "src/b/**", "--depends-on", "base")
    repo.orch_ok("next", "--start")
    rec = nxt(repo)
    assert rec["task"] is None
    assert "top: waits for base (active) to land" in rec["reasons"]
    land(repo, "base")
    assert nxt(repo)["task"]["id"] == "top"


def test_next_says_why_there_is_nothing(repo: Repo) -> None:
    empty = nxt(repo)
    assert empty["task"] is None and "roadmap is empty" in empty["reasons"][0]
    plan(repo, "core", "a1")
    repo.orch_ok("next", "--start")
    transition(OrchRepo(repo.path), "a1", {"type": "abandoned", "reason": "dropped"})
    done = nxt(repo)
    assert done["task"] is None and "every roadmap package is closed" in done["reasons"][0]


def test_dispatch_drain_and_paused_start_nothing(repo: Repo) -> None:
    plan(repo, "core", "a1")
    assert repo.orch_ok("dispatch", "--json").json() == {
        "mode": "active", "note": None, "at": None, "actor": None}
    repo.orch_ok("dispatch", "drain", "--note", "release freeze")
    rec = nxt(repo, "--start")
    assert rec["task"] is None and rec["started"] is False
    assert rec["reasons"][0].startswith("dispatch is drain (release freeze)")
    assert "a1" not in repo.status()
    repo.orch_ok("dispatch", "paused")
    assert "dispatch is paused" in nxt(repo)["reasons"][0]
    assert "\nDispatch: paused; next starts nothing\n" in repo.orch_ok("status").out
    status = repo.orch_ok("status", "--json").json()
    assert isinstance(status, dict) and status["dispatch"]["mode"] == "paused"
    state = repo.orch_ok("dispatch", "--json").json()
    assert isinstance(state, dict) and state["mode"] == "paused"
    assert "paused" in repo.orch_ok("dispatch").out
    # Loop-wide events are the note on the empty tree, readable with plain git.
    note = repo.git("cat-file", "-p", f"refs/orch/ledger:{EMPTY_TREE[:2]}/{EMPTY_TREE[2:]}")
    assert [json.loads(line)["mode"] for line in note.splitlines()] == ["drain", "paused"]
    repo.orch_ok("dispatch", "active")
    assert nxt(repo)["task"]["id"] == "a1"
    assert repo.orch("dispatch", "sleepy").code == 2


def test_next_start_launches_the_planned_agent(repo: Repo) -> None:
    scenario = repo.path.parent / "ok.toml"
    scenario.write_text(
        '[[steps]]\nwrite = "src/new.py"\ncontent = "x = 1\\n"\n'
        '[[steps]]\ncommit = "Add new"\n[[steps]]\nhandoff_file = "added"\n'
        '[[steps]]\nhandoff = "added new.py"\n')
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write(preset_toml("ok", scenario))
    plan(repo, "core", "a1", "--allow", "src/**", "--agent", "ok")
    rec = nxt(repo, "--start")
    assert rec["started"] and rec["run"]["agent"] == "ok"
    runner.wait(OrchRepo(repo.path), "a1", timeout=60)
    assert repo.status()["a1"]["state"] == "completed-unreviewed"


@pytest.mark.parametrize("a,b,overlap", [
    ("src/auth/**", "src/api/**", False),
    ("src/**", "src/api/x.py", True),
    ("src/a/**", "/src/a/b.py", True),
    ("docs/**", "src/**", False),
    ("*.md", "src/**", True),  # no slash: matches at any depth
    ("README.md", "src/**", True),
    ("/README.md", "src/**", False),
    ("src/[ab]/x", "src/c/y", True),  # prefixes "src/" agree: conservative
])
def test_pattern_overlap(a: str, b: str, overlap: bool) -> None:
    assert patterns_overlap(a, b) is overlap
    assert patterns_overlap(b, a) is overlap


def test_write_set_overlap() -> None:
    assert write_sets_overlap([], ["docs/**"])  # no allow list = everything
    assert not write_sets_overlap(["src/a/**", "docs/a.md"], ["src/b/**", "docs/b.md"])
    assert literal_prefix("/src/x/*.py") == "src/x/"


def test_template_presets_parse_when_uncommented(repo: Repo) -> None:
    """The commented presets in the init template are valid once uncommented."""
    from git_orch.agent.agents import presets
    from git_orch.config import TEMPLATE, parse_policy

    text = TEMPLATE.format(main_branch="main")
    example = re.compile(r'# (\[|[a-z_]+ = |\s{4,}")')
    lines = [line[2:] if example.match(line) else line for line in text.splitlines()]
    policy = parse_policy("\n".join(lines))
    found = presets(policy)
    assert {"codex", "claude", "custom", "standin"} <= set(found)
    assert "aider" not in found  # unsupported: see docs/agents.md
    assert found["codex"].max_attempts == 2
    assert "--output-last-message" in found["codex"].argv
    proc = subprocess.run([sys.executable, "-m", "git_orch.agent.standin", "--help"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "scenario" in proc.stdout


@pytest.mark.parametrize("roadmap,message", [
    ('[[packages]]\ntitle = "x"\n', "needs a name"),
    ('[[packages]]\nname = "p"\n[[packages.tasks]]\nid = "a"\n', "needs id and title"),
    ('[[packages]]\nname = "p"\n[[packages.tasks]]\nid = "a"\ntitle = "t"\n'
     '[[packages.tasks]]\nid = "a"\ntitle = "u"\n', "planned twice"),
    ('[[packages]]\nname = "p"\n[[packages.tasks]]\nid = "a"\ntitle = "t"\n'
     'depends_on = "b"\n', "depends_on must be a list of strings"),
    ('[[packages]]\nname = "p"\n[[packages.tasks]]\nid = "-a"\ntitle = "t"\n', "not allowed"),
])
def test_malformed_roadmap_is_refused_clearly(repo: Repo, roadmap: str, message: str) -> None:
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write("\n" + roadmap)
    for args in (["next"], ["plan", "show"]):
        result = repo.orch(*args)
        assert result.code == 1 and message in result.err, (args, result.err)
        assert len(result.err.strip().splitlines()) == 1
