"""Notifications: the [notify] argv gets the event as JSON on stdin; failures never fail."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from conftest import Repo
from test_runner import OK_STEPS, add_agent

from git_orch.agent import runner
from git_orch.repo import OrchRepo


def add_notifier(repo: Repo, tmp_path: Path, extra: str = "") -> Path:
    """A notifier that appends each stdin JSON object, one a line, to a file."""
    out = tmp_path / "notified.jsonl"
    script = tmp_path / "notifier.py"
    script.write_text("import sys\n"
                      f"open({str(out)!r}, 'a').write(sys.stdin.read() + '\\n')\n")
    argv = [sys.executable, str(script)]
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write(f"\n[notify]\nargv = {json.dumps(argv)}\n{extra}")
    return out


def received(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def test_handoff_and_block_notify(repo: Repo, tmp_path: Path) -> None:
    out = add_notifier(repo, tmp_path)
    wt = repo.start("t1", "--allow", "src/**")
    repo.write("src/first.py", "x = 1\n", cwd=wt)
    repo.commit_all("First", cwd=wt)
    repo.orch_ok("handoff", "--summary", "first done", cwd=wt)
    wt2 = repo.start("t2", "--allow", "docs/**")
    repo.orch_ok("block", "--reason", "need the password", cwd=wt2)
    got = received(out)
    assert [(n["kind"], n["task"]) for n in got] == [("handoff", "t1"), ("blocked", "t2")]
    assert got[0]["summary"] == "first done" and got[0]["repo"] == str(repo.path)
    assert got[1]["reason"] == "need the password"


def test_a_supervised_run_notifies_once_when_it_ends(repo: Repo, tmp_path: Path) -> None:
    out = add_notifier(repo, tmp_path)
    add_agent(repo, "ok", OK_STEPS)
    add_agent(repo, "fails", '[[steps]]\nexit = 2\n', max_attempts=2, backoff="1s")
    repo.start("t1", "--allow", "src/**")
    repo.start("t2", "--allow", "docs/**")
    orepo = OrchRepo(repo.path)
    assert runner.run(orepo, "t1", "ok", wait=True, timeout=60).ok is True
    assert runner.run(orepo, "t2", "fails", wait=True, timeout=60).ok is False
    got = received(out)
    assert [(n["kind"], n["task"]) for n in got] == [("handoff", "t1"), ("run-failed", "t2")]
    assert got[1]["attempt"] == 2 and got[1]["outcome"] == "failed" and got[1]["agent"] == "fails"


def test_a_hook_refusal_notifies(repo: Repo, tmp_path: Path) -> None:
    out = add_notifier(repo, tmp_path, 'events = ["misalignment"]\n')
    wt = repo.start("t1", "--allow", "src/**")
    repo.write("docs/guide.md", "outside\n", cwd=wt)
    repo.git("add", "-A", cwd=wt)
    repo.git("commit", "-q", "-m", "sneak", cwd=wt, check=False)
    repo.orch_ok("heartbeat", "--once")
    got = received(out)
    assert len(got) == 1 and got[0]["kind"] == "misalignment" and got[0]["count"] == 1
    assert got[0]["what"].startswith("pre-commit hook refused")


def test_notifier_failures_are_logged_never_fatal(repo: Repo, tmp_path: Path) -> None:
    log = repo.path / ".git" / "orch" / "notify.log"
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write('\n[notify]\nargv = ["/nonexistent/notifier"]\n')
    wt = repo.start("t1", "--allow", "src/**")
    repo.orch_ok("block", "--reason", "stuck", cwd=wt)
    assert "blocked t1: cannot run /nonexistent/notifier" in log.read_text()
    text = (repo.path / "orch.toml").read_text().replace(
        '["/nonexistent/notifier"]',
        json.dumps([sys.executable, "-c", "import time, sys; sys.stderr.write('boom'); "
                    "time.sleep(30)"]) + '\ntimeout = "1s"')
    (repo.path / "orch.toml").write_text(text)
    repo.orch_ok("unblock", "t1", "--note", "go on")
    repo.orch_ok("block", "--reason", "stuck again", cwd=wt)
    assert "still running after 1s; killed" in log.read_text()
    (repo.path / "orch.toml").write_text(text.replace('timeout = "1s"', 'timeout = "2h"'))
    repo.orch_ok("unblock", "t1", "--note", "go on")
    repo.orch_ok("block", "--reason", "and again", cwd=wt)
    assert "[notify] timeout must be from 1s to 60s" in log.read_text()
