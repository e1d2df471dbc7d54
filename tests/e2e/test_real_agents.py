"""The shipped codex and claude presets, run by `git orch run` with the real CLIs.

Each CLI talks to the scripted model server (tests/e2e/modelserver.py), which
makes it run shell commands through its own tool, in its own sandbox, just as
a model would. Nothing of git-orch is faked: real supervisor, hooks, review
and land. Skipped, with the reason, when the pinned CLIs are not installed
(scripts/install-agent-clis.sh).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agentclis import claude_env, codex_env
from conftest import Repo
from modelserver import ModelServer, Script

CLIS = ["codex", "claude"]
ISOLATION = ["clone", "worktree"]
EVIDENCE = "Orch-Evidence: local: python src/app.py prints changed"


@pytest.fixture
def agent_env(request: pytest.FixtureRequest, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start the scripted server for `script` and point the CLI's environment at it."""

    def start(cli: str, script: Script) -> ModelServer:
        server = ModelServer(script, lifetime=240, max_requests=60).__enter__()
        request.addfinalizer(server.close)
        env = (codex_env(tmp_path / "codex-home", tmp_path / "bin", server.base_url)
               if cli == "codex" else claude_env(server.base_url))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return server

    yield start


def ended(repo: Repo, task_id: str) -> dict[str, Any]:
    data = repo.orch_ok("show", task_id, "--json").json()
    assert isinstance(data, dict)
    (event,) = [e for e in data["events"] if e["type"] == "run-ended"]
    return dict(event)


@pytest.mark.parametrize("isolation", ISOLATION)
@pytest.mark.parametrize("cli", CLIS)
def test_agent_edits_commits_hands_off_and_lands(repo: Repo, agent_env: Any, cli: str,
                                                 isolation: str) -> None:
    wt = repo.start("t1", "--allow", "src/**", "--isolation", isolation)
    server = agent_env(cli, Script([
        "printf 'print(\"changed\")\\n' > src/app.py",
        f"git add src/app.py && git commit -q -m 'Change the app' -m '{EVIDENCE}'",
        "git orch handoff --summary 'Changed the app'",
    ], "Changed src/app.py and handed it off.", workdir=str(wt)))
    run = repo.orch("run", "t1", "--agent", cli, "--wait")
    event = ended(repo, "t1")
    assert run.code == 0, (run.out, repo.orch("logs", "t1").out, server.tool_results)
    assert event["outcome"] == "succeeded" and event["ok"] is True
    handed = [r for r in server.tool_results if "handed off t1" in r]
    assert handed and "error" not in handed[0].lower(), server.tool_results
    assert event["exit_code"] == 0 and event["commits"] and event["handoff"]
    assert event["handoff_file"]
    assert repo.status()["t1"]["state"] == "completed-unreviewed"
    # What it cost, as the CLI reported it (claude prices it, codex does not).
    assert event["usage"]["tokens"] > 0
    assert (event["usage"]["usd"] is not None) is (cli == "claude")
    # What it said: codex's last message; claude's comes from handoff --summary.
    said = "Changed src/app.py and handed it off." if cli == "codex" else "Changed the app"
    assert said in event["handoff_text"]
    assert said in repo.orch_ok("show", "t1").out
    pack = repo.path.parent / "pack"
    assert "verdict: pass" in repo.orch_ok("review", "t1", "--pack", str(pack)).out
    assert said in (pack / "evidence.md").read_text()
    repo.orch_ok("accept", "t1")
    repo.orch_ok("land", "t1")
    assert repo.git("show", "main:src/app.py") == 'print("changed")'


@pytest.mark.parametrize("isolation", ISOLATION)
@pytest.mark.parametrize("cli", CLIS)
def test_agent_is_refused_push_to_main_and_paths_outside_its_task(
        repo: Repo, agent_env: Any, cli: str, isolation: str) -> None:
    wt = repo.start("t1", "--allow", "src/**", "--isolation", isolation)
    base = repo.rev("main")
    server = agent_env(cli, Script([
        "git push . HEAD:main",
        "printf 'changed\\n' > docs/guide.md && git add docs/guide.md"
        f" && git commit -q -m 'Docs too' -m '{EVIDENCE}'",
        "git orch block --reason 'the hooks refused my push and my docs commit'",
    ], "I was refused twice and blocked the task.", workdir=str(wt)))
    run = repo.orch("run", "t1", "--agent", cli, "--wait")
    assert run.code == 1
    said = "\n".join(server.tool_results)
    assert "workers do not push" in said, said
    assert "may not change docs/guide.md" in said, said
    assert repo.rev("main") == base and repo.rev("orch/t1") == base
    event = ended(repo, "t1")
    assert event["outcome"] == "blocked", event
    assert repo.status()["t1"]["state"] == "blocked"
