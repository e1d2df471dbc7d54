"""Agent runs with the stand-in agent: real supervisor and agent processes.

Timing: agents sleep well under a second and max_runtime is 1 s; every wait
polls with a generous deadline so a loaded 2-core machine does not flake.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo

from git_orch.agent import breaker, procs, runlog, runner
from git_orch.agent.standin import write_scenario
from git_orch.record.tasks import record, transition
from git_orch.repo import OrchRepo

OK_STEPS = """
[[steps]]
print = "hello from the stand-in"
[[steps]]
write = "src/app.py"
content = "print('changed')\\n"
[[steps]]
commit = "Change the app"
trailers = ["Orch-Evidence: local: python src/app.py prints changed"]
[[steps]]
handoff_file = "Changed the app; checked by running it."
[[steps]]
handoff = "app changed"
"""

HANG_STEPS = """
[[steps]]
spawn_sleeper = 60
[[steps]]
pid_file = "{pid_file}"
[[steps]]
print = "hanging"
[[steps]]
sleep = 60
"""


def add_agent(repo: Repo, name: str, steps: str, **options: object) -> Path:
    """An [agents.NAME] preset playing `steps` with the stand-in agent."""
    scenario = repo.path.parent / f"{name}.toml"
    scenario.write_text(steps)
    argv = ["{python}", "-m", "git_orch.agent.standin", "--scenario", str(scenario),
            "--worktree", "{worktree}", "--handoff-file", "{handoff_file}"]
    lines = [f"\n[agents.{name}]", f"argv = {json.dumps(argv)}"]
    options.setdefault("max_runtime", "30s")
    for key, value in options.items():
        inline = isinstance(value, str) and value.startswith("{")  # an inline table
        lines.append(f"{key} = {value if inline else json.dumps(value)}")
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write("\n".join(lines) + "\n")
    return scenario


def wait_until(check: Callable[[], object], what: str, deadline: float = 30.0) -> Any:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def events(repo: Repo, task_id: str, kind: str) -> list[dict[str, Any]]:
    data = repo.orch_ok("show", task_id, "--json").json()
    assert isinstance(data, dict)
    return [e for e in data["events"] if e["type"] == kind]


def read_pids(path: Path) -> tuple[int, int]:
    text = wait_until(lambda: path.exists() and path.read_text().strip(), "pid file")
    own, child = text.split()
    return int(own), int(child)


def test_successful_run_records_start_and_end(repo: Repo) -> None:
    add_agent(repo, "ok", OK_STEPS)
    wt = repo.start("t1", "--allow", "src/**")
    result = repo.orch("run", "t1", "--agent", "ok", "--wait", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert isinstance(data, dict) and data["ok"] is True
    assert repo.status()["t1"]["state"] == "completed-unreviewed"
    (started,) = events(repo, "t1", "run-started")
    assert started["agent"] == "ok" and started["attempt"] == 1
    assert isinstance(started["pid"], int) and started["host"] and started["started"]
    (ended,) = events(repo, "t1", "run-ended")
    assert ended["ok"] is True and ended["outcome"] == "succeeded"
    assert ended["exit_code"] == 0 and ended["handoff_file"] and ended["commits"]
    assert ended["handoff"] is True
    # The envelope lives in the runtime folder, never in the task's diff.
    envelope = repo.path / ".git" / "orch" / "runs" / "t1" / "envelope.md"
    assert "`src/**`" in envelope.read_text() and "Orch-Evidence" in envelope.read_text()
    assert repo.git("status", "--porcelain", cwd=wt) == ""
    assert repo.git("diff", "--name-only", "main", "orch/t1") == "src/app.py"
    log = repo.orch_ok("logs", "t1")
    assert "hello from the stand-in" in log.out


def test_exit_code_one_fails_the_attempt(repo: Repo) -> None:
    add_agent(repo, "bad", '[[steps]]\nprint = "giving up"\n[[steps]]\nexit = 1\n')
    repo.start("t1")
    result = repo.orch("run", "t1", "--agent", "bad", "--wait")
    assert result.code == 1
    assert "attempt 1: failed (exit code 1" in result.out
    (ended,) = events(repo, "t1", "run-ended")
    assert ended["ok"] is False and ended["exit_code"] == 1
    assert repo.status()["t1"]["state"] == "active"


def test_exit_zero_without_handoff_is_a_failed_attempt(repo: Repo) -> None:
    steps = OK_STEPS.rsplit("[[steps]]", 1)[0]  # everything but the handoff
    add_agent(repo, "lazy", steps)
    repo.start("t1")
    result = repo.orch("run", "t1", "--agent", "lazy", "--wait")
    assert result.code == 1
    (ended,) = events(repo, "t1", "run-ended")
    assert ended["exit_code"] == 0 and ended["commits"] and ended["handoff_file"]
    assert ended["ok"] is False and ended["reason"] == "git orch handoff was not called"


def test_timeout_kills_the_whole_process_group(repo: Repo, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    add_agent(repo, "hang", HANG_STEPS.format(pid_file=pid_file), max_runtime="1s",
              kill_grace="0.5s")
    repo.start("t1")
    orepo = OrchRepo(repo.path)
    result = runner.run(orepo, "t1", "hang")
    agent_pid, sleeper_pid = read_pids(pid_file)
    assert agent_pid == result.agent_pid
    runner.wait(orepo, "t1", timeout=60)
    (ended,) = events(repo, "t1", "run-ended")
    assert ended["outcome"] == "timeout" and ended["ok"] is False
    assert "timed out after 1s" in ended["reason"]
    wait_until(lambda: not procs.pid_alive(agent_pid) and not procs.pid_alive(sleeper_pid),
               "agent and its child to be gone", 10)


def test_retries_then_breaker_opens_and_refuses(repo: Repo) -> None:
    add_agent(repo, "bad", "[[steps]]\nexit = 3\n", max_attempts=3, backoff="0.1s",
              breaker="{ failures = 3, window = \"1h\", cooldown = \"1h\" }")
    repo.start("t1")
    result = repo.orch("run", "t1", "--agent", "bad", "--wait", "--json")
    assert result.code == 1
    data = result.json()
    assert isinstance(data, dict)
    assert [a["attempt"] for a in data["attempts"]] == [1, 2, 3]
    assert all(a["exit_code"] == 3 for a in data["attempts"])
    status = repo.orch_ok("status", "--json").json()
    assert isinstance(status, dict)
    assert status["agents"]["bad"]["state"] == "open"
    assert status["agents"]["bad"]["failures"] == 3
    assert "agent breaker bad: open after 3 failures" in repo.orch_ok("status").out
    refused = repo.orch("run", "t1", "--agent", "bad")
    assert refused.code == 1 and "circuit breaker open" in refused.err
    assert len(events(repo, "t1", "run-started")) == 3
    for attempt in (1, 2, 3):
        assert (repo.path / ".git" / "orch" / "runs" / "t1" / f"attempt-{attempt}.log").exists()


def test_retry_succeeds_on_second_attempt(repo: Repo) -> None:
    steps = '[[steps]]\nexit = 1\nattempts = [1]\n' + OK_STEPS
    add_agent(repo, "flaky", steps, max_attempts=3, backoff="0.1s")
    repo.start("t1", "--allow", "src/**")
    result = runner.run(OrchRepo(repo.path), "t1", "flaky", wait=True, timeout=60)
    assert result.ok is True
    assert [e["outcome"] for e in result.ended] == ["failed", "succeeded"]


def test_stop_kills_the_agent_and_records_it(repo: Repo, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    add_agent(repo, "hang", HANG_STEPS.format(pid_file=pid_file), kill_grace="0.5s")
    repo.start("t1")
    repo.orch_ok("run", "t1", "--agent", "hang")
    agent_pid, sleeper_pid = read_pids(pid_file)
    again = repo.orch("run", "t1", "--agent", "hang")
    assert again.code == 1 and "already has a run going" in again.err
    stopped = repo.orch("stop", "t1")
    assert stopped.code == 0, stopped.err
    assert "attempt 1: stopped" in stopped.out
    (ended,) = events(repo, "t1", "run-ended")
    assert ended["outcome"] == "stopped"
    wait_until(lambda: not procs.pid_alive(agent_pid) and not procs.pid_alive(sleeper_pid),
               "agent and its child to be gone", 10)
    nothing = repo.orch("stop", "t1")
    assert nothing.code == 1 and "no run going" in nothing.err


def test_logs_follow_until_the_run_ends(repo: Repo) -> None:
    steps = "".join(f'[[steps]]\nprint = "line {n}"\n[[steps]]\nsleep = 0.1\n'
                    for n in range(3))
    add_agent(repo, "chatty", steps + "[[steps]]\nexit = 0\n")
    repo.start("t1")
    repo.orch_ok("run", "t1", "--agent", "chatty")
    followed = repo.orch("logs", "t1", "-f")
    assert followed.code == 0
    assert [ln for ln in followed.out.splitlines() if ln.startswith("line")] == [
        "line 0", "line 1", "line 2"]
    assert repo.orch("logs", "nope").code == 1


def test_supervisor_killed_leaves_a_dead_run(repo: Repo, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    add_agent(repo, "hang", HANG_STEPS.format(pid_file=pid_file), kill_grace="0.5s")
    repo.start("t1")
    orepo = OrchRepo(repo.path)
    result = runner.run(orepo, "t1", "hang")
    agent_pid, sleeper_pid = read_pids(pid_file)
    assert runner.dead_runs(orepo) == []
    os.kill(result.supervisor_pid, signal.SIGKILL)
    wait_until(lambda: not procs.supervisor_alive(result.supervisor_pid), "supervisor death")
    dead = runner.dead_runs(orepo)
    assert [(d.task_id, d.number, d.supervisor_pid) for d in dead] == [
        ("t1", 1, result.supervisor_pid)]
    view = repo.status()["t1"]
    assert "run-dead" in view["flags"]
    assert "[run-dead]" in repo.orch_ok("status").out
    # A heartbeat records the flag once; --repair closes the run and kills the agent.
    assert procs.pid_alive(agent_pid)
    repo.orch_ok("heartbeat", "--once")
    (flagged,) = events(repo, "t1", "flagged")
    assert "run-dead" in flagged["flags"]
    repaired = repo.orch_ok("heartbeat", "--once", "--repair")
    assert "closed dead run (attempt 1" in repaired.out
    wait_until(lambda: not procs.pid_alive(agent_pid) and not procs.pid_alive(sleeper_pid),
               "orphaned agent to be gone", 10)
    assert "run-dead" not in repo.status()["t1"]["flags"]
    # Closed, the dead run still needs a person: nothing else will run the task.
    needs = repo.orch_ok("status").out.split("Running")[0]
    assert "[run-failed]" in needs and "ended dead" in needs


def test_run_refusals(repo: Repo) -> None:
    add_agent(repo, "ok", OK_STEPS)
    repo.start("t1", "--allow", "src/**")
    unknown = repo.orch("run", "t1", "--agent", "nope")
    assert unknown.code == 1 and "no agent preset 'nope'" in unknown.err
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write('\n[agents.typo]\nargv = ["agent", "{worktre}"]\n')
    typo = repo.orch("run", "t1", "--agent", "ok")
    assert typo.code == 1 and "unknown placeholder {worktre}" in typo.err
    toml = (repo.path / "orch.toml").read_text()
    (repo.path / "orch.toml").write_text(toml.replace('"{worktre}"', '"{worktree}"'))
    assert repo.orch("run", "missing", "--agent", "ok").code == 1
    wt = repo.worktree("t1")
    repo.orch_ok("block", "--reason", "waiting", cwd=wt)
    blocked = repo.orch("run", "t1", "--agent", "ok")
    assert blocked.code == 1 and "is blocked" in blocked.err
    # A launch that cannot exec is a failed attempt, not a crash.
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write('\n[agents.ghost]\nargv = ["/nonexistent/agent", "{task}"]\n')
    repo.start("t2", "--allow", "docs/**")
    ghost = repo.orch("run", "t2", "--agent", "ghost", "--wait")
    assert ghost.code == 1
    (ended,) = events(repo, "t2", "run-ended")
    assert ended["outcome"] == "launch-failed" and "/nonexistent/agent" in ended["reason"]


@pytest.mark.parametrize("command, why", [
    ("no-such-agent-cli", "command not found"),
    ("{run_dir}/../../../../orch.toml", "not executable"),
])
def test_a_launch_failure_is_seen_at_once(repo: Repo, command: str, why: str) -> None:
    """start --agent exits 1 saying why; status lists it; logs shows the launch error."""
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write(f'\n[agents.ghost]\nargv = ["{command}", "{{task}}"]\n')
    repo.git("add", "orch.toml")
    repo.git("commit", "-qm", "ghost agent")
    failed = repo.orch_proc("start", "t1", "--title", "Change", "--agent", "ghost")
    assert failed.code == 1, failed.out
    assert "started t1" in failed.err and why in failed.err
    (ended,) = events(repo, "t1", "run-ended")
    assert ended["outcome"] == "launch-failed" and why in ended["reason"]
    shown = repo.orch_ok("status").out
    needs = shown.split("Running")[0]
    assert "t1" in needs and "[launch-failed]" in needs and why in needs
    assert why in repo.orch_ok("logs", "t1").out
    assert repo.orch("run", "t1", "--agent", "ghost").code == 1
    page = repo.path.parent / "page"
    repo.orch_ok("status", "--write", "--out", str(page))
    assert "| t1 | launch-failed |" in (page / "status.md").read_text()
    assert why in (page / "status.html").read_text()


def test_a_missing_command_is_a_launch_failure_inside_a_sandbox_too(repo: Repo) -> None:
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write('\n[agents.ghost]\nargv = ["no-such-agent-cli"]\nsandbox = "none"\n'
                     '[agents.boxed]\nargv = ["no-such-agent-cli"]\nsandbox = "bwrap"\n')
    for number, agent in enumerate(["ghost", "boxed"]):
        repo.start(f"t{number}", "--allow", f"src/part{number}/**")
        failed = repo.orch("run", f"t{number}", "--agent", agent)
        assert failed.code == 1 and "command not found (not on PATH)" in failed.err
        (ended,) = events(repo, f"t{number}", "run-ended")
        assert ended["outcome"] == "launch-failed"


def test_start_with_agent_checks_it_first(repo: Repo) -> None:
    add_agent(repo, "ok", OK_STEPS)
    refused = repo.orch("start", "t0", "--title", "x", "--agent", "nope")
    assert refused.code == 1 and "no agent preset" in refused.err
    assert "t0" not in repo.status()
    out = repo.orch_ok("start", "t1", "--title", "Change", "--allow", "src/**", "--agent", "ok")
    assert "agent ok running" in out.out
    orepo = OrchRepo(repo.path)
    runner.wait(orepo, "t1", timeout=60)
    assert repo.status()["t1"]["state"] == "completed-unreviewed"
    waited = repo.orch("start", "t2", "--title", "Change", "--allow", "src/**", "--agent", "ok",
                       "--wait", "--json", "--force", "--reason", "the same app as t1, on purpose")
    assert waited.code == 0, waited.err
    data = waited.json()
    assert isinstance(data, dict) and data["run"]["ok"] is True


def test_placeholders_are_substituted_per_argv_element(repo: Repo, tmp_path: Path) -> None:
    """A title or path with spaces and quotes never splits into more arguments."""
    out = tmp_path / "argv.json"
    script = tmp_path / "dump.py"
    script.write_text(
        "import json, os, sys\n"
        f"open({str(out)!r}, 'w').write(json.dumps([sys.argv[1:], os.environ['MY_TASK']]))\n")
    argv = [sys.executable, str(script), "{task}", "--file={envelope}", "{worktree} x",
            '{"k": 1} {{task}}']
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write(f'\n[agents.dump]\nargv = {json.dumps(argv)}\n'
                     'env = { MY_TASK = "task={task}" }\n')
    repo.start("t1")
    runner.run(OrchRepo(repo.path), "t1", "dump", wait=True, timeout=60)
    args, env_value = json.loads(out.read_text())
    envelope = repo.path / ".git" / "orch" / "runs" / "t1" / "envelope.md"
    assert args == ["t1", f"--file={envelope}", f"{repo.worktree('t1')} x", '{"k": 1} {t1}']
    assert env_value == "task=t1"


@pytest.mark.parametrize("value,seconds", [("1.5s", 1.5), ("30m", 1800), (2, 2.0), ("0", 0)])
def test_parse_seconds(value: object, seconds: float) -> None:
    from git_orch.agent.agents import parse_seconds

    assert parse_seconds(value, "x") == seconds


def test_timeout_escalates_to_sigkill(repo: Repo, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    steps = "[[steps]]\nignore_sigterm = true\n" + HANG_STEPS.format(pid_file=pid_file)
    add_agent(repo, "stubborn", steps, max_runtime="1s", kill_grace="0.3s")
    repo.start("t1")
    orepo = OrchRepo(repo.path)
    runner.run(orepo, "t1", "stubborn")
    agent_pid, sleeper_pid = read_pids(pid_file)
    runner.wait(orepo, "t1", timeout=60)
    (ended,) = events(repo, "t1", "run-ended")
    assert ended["outcome"] == "timeout" and ended["signal"] == signal.SIGKILL
    wait_until(lambda: not procs.pid_alive(agent_pid) and not procs.pid_alive(sleeper_pid),
               "agent and its child to be gone", 10)


def test_stop_between_attempts_cancels_the_retries(repo: Repo) -> None:
    add_agent(repo, "bad", "[[steps]]\nexit = 1\n", max_attempts=3, backoff="30s")
    repo.start("t1")
    orepo = OrchRepo(repo.path)
    result = runner.run(orepo, "t1", "bad")
    wait_until(lambda: events(repo, "t1", "run-ended"), "the first attempt to end")
    assert procs.supervisor_alive(result.supervisor_pid)  # backing off before attempt 2
    repo.orch_ok("stop", "t1")
    wait_until(lambda: not procs.supervisor_alive(result.supervisor_pid), "supervisor exit")
    assert len(events(repo, "t1", "run-started")) == 1


def test_standin_plays_a_json_scenario(repo: Repo, tmp_path: Path) -> None:
    wt = repo.start("t1")
    scenario = write_scenario(tmp_path / "s.json", [
        {"write": "notes.txt", "content": "one\n"},
        {"write": "notes.txt", "content": "two\n", "append": True},
        {"commit": "Add notes", "trailers": ["Orch-Evidence: blocked: no tests for notes"]},
        {"block": "need a person", "attempts": [2]},
        {"exit": 7},
    ])
    proc = subprocess.run([sys.executable, "-m", "git_orch.agent.standin", str(scenario)], cwd=wt,
                          env={**os.environ, "ORCH_TASK": "t1", "ORCH_ATTEMPT": "1"},
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 7, proc.stderr
    assert (wt / "notes.txt").read_text() == "one\ntwo\n"
    message = repo.git("log", "-1", "--format=%B", "orch/t1")
    assert "Orch-Task: t1" in message and "Orch-Evidence: blocked: no tests" in message
    assert repo.status()["t1"]["state"] == "active"  # the block step was for attempt 2 only
    bad = tmp_path / "bad.toml"
    bad.write_text("[[steps]]\nfly = true\n")
    refused = subprocess.run([sys.executable, "-m", "git_orch.agent.standin", str(bad)], cwd=wt,
                             capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "has no action" in refused.stderr


def test_breaker_states_from_events() -> None:
    from git_orch.agent.agents import AgentPreset, Breaker

    preset = AgentPreset("a", ["x"], breaker=Breaker(failures=2, window=600, cooldown=60))
    t0 = 1_800_000_000.0

    def ended(offset: float, outcome: str, agent: str = "a") -> dict[str, object]:
        return {"agent": agent, "outcome": outcome, "ended": runlog.iso(t0 + offset)}

    two = [ended(0, "failed"), ended(10, "timeout"), ended(11, "failed", "other")]
    assert breaker.breaker_state(preset, two, t0 + 20).state == "open"
    assert breaker.breaker_state(preset, two, t0 + 100).state == "half-open"
    assert breaker.breaker_state(preset, two, t0 + 2000).state == "closed"  # out of window
    healed = [*two, ended(30, "succeeded")]
    assert breaker.breaker_state(preset, healed, t0 + 40).state == "closed"
    honest = [ended(0, "stopped"), ended(1, "blocked"), ended(2, "dead"), ended(3, "failed")]
    state = breaker.breaker_state(preset, honest, t0 + 5)
    assert state.state == "closed" and state.failures == 1


def test_status_shows_the_running_agent(repo: Repo, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    add_agent(repo, "hang", HANG_STEPS.format(pid_file=pid_file), kill_grace="0.5s")
    repo.start("t1")
    assert repo.status()["t1"]["run"] is None
    repo.orch_ok("run", "t1", "--agent", "hang")
    read_pids(pid_file)
    run = repo.status()["t1"]["run"]
    assert isinstance(run, dict) and run["running"] is True and run["agent"] == "hang"
    assert "agent hang: running (attempt 1, since" in repo.orch_ok("status").out
    repo.orch_ok("stop", "t1")
    run = repo.status()["t1"]["run"]
    assert isinstance(run, dict) and run["running"] is False and run["outcome"] == "stopped"


def test_two_runs_at_once_start_one_agent(repo: Repo, tmp_path: Path) -> None:
    add_agent(repo, "hang", HANG_STEPS.format(pid_file=tmp_path / "pids"), kill_grace="0.5s")
    repo.start("t1")
    argv = [sys.executable, "-m", "git_orch", "run", "t1", "--agent", "hang"]
    procs_ = [subprocess.Popen(argv, cwd=repo.path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(p.wait(timeout=60), p.stderr.read() if p.stderr else "") for p in procs_]
    try:
        assert sorted(code for code, _ in outcomes) == [0, 1], outcomes
        loser = next(err for code, err in outcomes if code == 1)
        assert "already has a run going" in loser or "another supervisor" in loser
        assert len(events(repo, "t1", "run-started")) == 1
    finally:
        repo.orch("stop", "t1")


def test_a_writing_agent_keeps_its_task_from_going_stale(repo: Repo) -> None:
    path = repo.path / "orch.toml"
    path.write_text(path.read_text().replace('stale_after = "2h"', 'stale_after = "1s"'))
    repo.start("t1")
    wait_until(lambda: "stale-needs-inspection" in repo.status()["t1"]["flags"], "staleness")
    log = repo.path / ".git" / "orch" / "runs" / "t1" / "attempt-1.log"
    log.parent.mkdir(parents=True)
    log.write_text("still working\n")
    assert "stale-needs-inspection" not in repo.status()["t1"]["flags"]


def test_logs_follow_moves_on_to_the_retry(repo: Repo) -> None:
    steps = ('[[steps]]\nprint = "first try"\nattempts = [1]\n'
             '[[steps]]\nexit = 1\nattempts = [1]\n'
             '[[steps]]\nprint = "second try"\n[[steps]]\nexit = 0\n')
    add_agent(repo, "flaky", steps, max_attempts=2, backoff="1s")
    repo.start("t1")
    repo.orch_ok("run", "t1", "--agent", "flaky")
    followed = repo.orch_ok("logs", "t1", "-f").out
    assert "first try" in followed and "--- attempt 2 ---" in followed
    assert followed.index("first try") < followed.index("second try")
    first = repo.orch_ok("logs", "t1", "--attempt", "1").out
    assert "first try" in first and "second try" not in first
    assert repo.orch("logs", "t1", "--attempt", "9").code == 1
    data = repo.orch_ok("logs", "t1", "--json").json()
    assert isinstance(data, dict) and data["attempt"] == 2 and "second try" in data["text"]
    assert repo.orch("logs", "t1", "--json", "-f").code == 2


def test_foreign_and_malformed_runs(repo: Repo) -> None:
    add_agent(repo, "ok", OK_STEPS)
    repo.start("t1", "--allow", "src/**")
    orepo = OrchRepo(repo.path)
    # Hand-written garbage never counts as a running agent.
    record(orepo, "t1", lambda _st: [{"type": "run-started", "run": 5, "attempt": "x"}])
    assert repo.status()["t1"]["run"] is None
    # A run recorded by another machine is not judged (nor killed) here.
    record(orepo, "t1", lambda _st: [{"type": "run-started", "run": "abc", "attempt": 1,
                                      "agent": "ok", "host": "elsewhere", "pid": 1,
                                      "supervisor_pid": 1}])
    assert "run-dead" not in repo.status()["t1"]["flags"]
    busy = repo.orch("run", "t1", "--agent", "ok")
    assert busy.code == 1 and "run going on elsewhere" in busy.err
    refused = repo.orch("stop", "t1")
    assert refused.code == 1 and "stop it there" in refused.err
    forced = repo.orch_ok("stop", "t1", "--force", "--json").json()
    assert isinstance(forced, dict) and forced["ended"][0]["outcome"] == "dead"
    assert runner.run(orepo, "t1", "ok", wait=True, timeout=60).ok is True


@pytest.mark.parametrize("table,message", [
    ('argv = "codex exec"', "argv must be a non-empty list"),
    ('argv = ["a"]\nenv = { X = 1 }', "env must be a table of strings"),
    ('argv = ["a"]\nmax_runtime = "soon"', "bad duration 'soon'"),
    ('argv = ["a"]\nmax_attempts = 0', "max_attempts must be an integer from 1 to 20"),
    ('argv = ["a"]\nbreaker = { failures = "many" }', "breaker.failures must be an integer"),
    ('argv = ["a"]\nbudget = { tokens = -1 }', "budget.tokens must be a positive integer"),
    ('argv = ["a"]\nbudget = { usd = nan }', "budget.usd must be a positive number"),
    ('argv = ["a"]\nbudget = { dollars = 3 }', "budget must be a table with tokens and/or usd"),
])
def test_bad_presets_are_refused_clearly(repo: Repo, table: str, message: str) -> None:
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write(f"\n[agents.bad]\n{table}\n")
    repo.start("t1")
    result = repo.orch("run", "t1", "--agent", "bad")
    assert result.code == 1 and message in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    status = repo.orch_ok("status", "--json").json()
    assert isinstance(status, dict) and any("agent presets" in p for p in status["problems"])


def test_a_bad_budget_table_is_refused_clearly(repo: Repo) -> None:
    add_agent(repo, "ok", OK_STEPS)
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write('\n[budget]\npackage = { tokens = "lots" }\n')
    repo.start("t1", "--package", "p")
    result = repo.orch("run", "t1", "--agent", "ok")
    assert result.code == 1 and "[budget].package.tokens must be a positive integer" \
        in result.err
    assert repo.orch("status").code == 0  # status never needs the budgets


def test_a_new_run_closes_a_dead_one_first(repo: Repo, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    add_agent(repo, "hang", HANG_STEPS.format(pid_file=pid_file), kill_grace="0.5s")
    add_agent(repo, "ok", OK_STEPS)
    repo.start("t1", "--allow", "src/**")
    orepo = OrchRepo(repo.path)
    first = runner.run(orepo, "t1", "hang")
    agent_pid, _ = read_pids(pid_file)
    os.kill(first.supervisor_pid, signal.SIGKILL)
    wait_until(lambda: not procs.supervisor_alive(first.supervisor_pid), "supervisor death")
    second = runner.run(orepo, "t1", "ok", wait=True, timeout=60)
    assert second.ok is True and second.attempt == 2
    outcomes = [e["outcome"] for e in events(repo, "t1", "run-ended")]
    assert outcomes == ["dead", "succeeded"]
    wait_until(lambda: not procs.pid_alive(agent_pid), "orphaned agent to be gone", 10)


def usage_steps(tokens_in: int, tokens_out: int, ok: bool = True) -> str:
    """OK_STEPS (or a failing run) printing a codex-style usage line into the log."""
    line = json.dumps({"type": "turn.completed",
                       "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out}})
    printed = f"[[steps]]\nprint = {json.dumps(line)}\n"
    return printed + (OK_STEPS if ok else "[[steps]]\nexit = 1\n")


def test_usage_is_recorded_and_budgets_refuse_more_runs(repo: Repo) -> None:
    add_agent(repo, "priced", usage_steps(600, 100), budget="{ tokens = 500 }")
    add_agent(repo, "flaky", usage_steps(300, 0, ok=False), max_attempts=3, backoff="0s",
              breaker="{ failures = 10 }")
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write("\n[budget]\ntask = { tokens = 1000 }\npackage = { tokens = 1500 }\n")
    repo.git("add", "orch.toml")
    repo.git("commit", "-qm", "budgets")
    repo.start("t1", "--package", "p", "--allow", "src/app.py")
    assert repo.orch("run", "t1", "--agent", "priced", "--wait").code == 0
    (ended,) = events(repo, "t1", "run-ended")
    assert ended["usage"] == {"tokens": 700, "input_tokens": 600, "output_tokens": 100,
                              "usd": None}
    shown = repo.orch_ok("show", "t1")
    assert "spent    700 tokens" in shown.out
    assert "Changed the app; checked by running it." in shown.out  # the handoff file
    status = repo.orch_ok("status", "--json").json()
    assert isinstance(status, dict)
    assert status["tasks"][0]["spend"] == {"tokens": 700, "usd": None}
    assert status["spend"] == {"p": {"tokens": 700, "usd": None}}
    assert "waiting, spent 700 tokens" in repo.orch_ok("status").out  # package p
    page = repo.path.parent / "page"
    repo.orch_ok("status", "--write", "--out", str(page))
    assert "agent said: Changed the app; checked by running it." in \
        (page / "status.html").read_text()
    assert "| p | 0/1 landed (0%) | 0 | 1 | 700 tokens |" in (page / "status.md").read_text()
    # Three attempts of 300 stay under [budget].task (1000): all run.
    repo.start("t2", "--package", "p", "--allow", "src/t2/**")
    flaky = repo.orch("run", "t2", "--agent", "flaky", "--wait")
    assert flaky.code == 1
    assert len(events(repo, "t2", "run-ended")) == 3
    # The package has spent 700 + 900 = 1600 of 1500: no new run in it, and no new task.
    refused = repo.orch("run", "t2", "--agent", "flaky")
    assert refused.code == 1 and "package p has spent its budget (1,600 of 1,500 tokens" \
        in refused.err
    started = repo.orch("start", "t3", "--title", "x", "--package", "p", "--allow", "src/t3/**",
                        "--agent", "flaky")
    assert started.code == 1 and "package p has spent its budget" in started.err
    assert "t3" not in repo.status()
    repo.orch_ok("plan", "add", "--package", "p", "--task", "t4", "--title", "More")
    for task_id in ("t1", "t2"):  # nothing live: only the budget stands in the way
        transition(OrchRepo(repo.path), task_id, {"type": "abandoned", "reason": "spent"})
    nothing = repo.orch_ok("next", "--json").json()
    assert isinstance(nothing, dict) and nothing["task"] is None
    assert "package p has spent its budget" in nothing["reasons"][-1]


def test_a_retry_is_refused_once_the_task_budget_is_spent(repo: Repo) -> None:
    add_agent(repo, "flaky", usage_steps(400, 0, ok=False), max_attempts=3, backoff="0s",
              budget="{ tokens = 700 }")
    repo.start("t1")
    assert repo.orch("run", "t1", "--agent", "flaky", "--wait").code == 1
    assert len(events(repo, "t1", "run-ended")) == 2  # 400, 800: the third is refused
    again = repo.orch("run", "t1", "--agent", "flaky")
    assert again.code == 1
    assert "task t1 has spent its budget (800 of 700 tokens, the agent preset's budget" \
        in again.err
    log = (repo.path / ".git" / "orch" / "runs" / "t1" / "supervisor.log").read_text()
    assert "not retrying: task t1 has spent its budget" in log


def test_an_empty_dot_git_inside_the_common_dir_is_not_opened(repo: Repo) -> None:
    """codex's sandbox binds an empty read-only `.git` file inside a writable git dir;
    libgit2 must open the common dir itself, not that."""
    wt = repo.start("t1")
    (repo.path / ".git" / ".git").write_text("")  # codex binds an empty file there
    repo.write("src/app.py", "print('x')\n", cwd=wt)
    repo.commit_all("Change\n\nOrch-Evidence: local: ran it", cwd=wt)
    handed = repo.orch("handoff", "--summary", "done", cwd=wt)
    assert handed.code == 0, handed.err
    assert repo.status()["t1"]["state"] == "completed-unreviewed"


def test_handoff_summary_writes_the_handoff_file_the_agent_did_not(repo: Repo,
                                                                  tmp_path: Path) -> None:
    wt = repo.start("t1", "--allow", "src/app.py")
    repo.write("src/app.py", "print('x')\n", cwd=wt)
    repo.commit_all("Change\n\nOrch-Evidence: local: ran it", cwd=wt)
    handoff_file = tmp_path / "handoff-1.md"
    env = {"ORCH_TASK": "t1", "ORCH_HANDOFF_FILE": str(handoff_file)}
    done = repo.orch_proc("handoff", "--summary", "Changed it", "--risk", "untested on ARM",
                          cwd=wt, env=env)
    assert done.code == 0, done.err
    assert handoff_file.read_text() == "Changed it\n\nRisk: untested on ARM\n"
    # A handoff file that cannot be written only warns: the handoff stands.
    wt2 = repo.start("t2", "--allow", "src/t2.py")
    repo.write("src/t2.py", "print('y')\n", cwd=wt2)
    repo.commit_all("Change\n\nOrch-Evidence: local: ran it", cwd=wt2)
    blocked = tmp_path / "no-such-dir" / "handoff-1.md"
    warned = repo.orch_proc("handoff", "--summary", "Changed it", cwd=wt2,
                            env={"ORCH_TASK": "t2", "ORCH_HANDOFF_FILE": str(blocked)})
    assert warned.code == 0 and "could not write the handoff file" in warned.err
    assert repo.status()["t2"]["state"] == "completed-unreviewed"
