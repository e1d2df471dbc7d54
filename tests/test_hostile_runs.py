"""A run-started event from a remote never makes this machine signal a process."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from test_sync import clones

from git_orch.agent.procs import group_alive
from git_orch.record.tasks import record
from git_orch.repo import OrchRepo, hostname


def test_forged_run_started_naming_this_host_kills_nothing(tmp_path: Path) -> None:
    _, (victim, evil) = clones(tmp_path, "ve")
    victim.start("t1")
    victim.orch_ok("sync")
    evil.orch_ok("sync")
    bystander = subprocess.Popen(["sleep", "120"], start_new_session=True)
    try:
        record(OrchRepo(evil.path), "t1", lambda _st: [{
            "type": "run-started", "run": "forged", "attempt": 1, "agent": "x",
            "host": hostname(), "pid": bystander.pid, "pgid": bystander.pid,
            "supervisor_pid": 2**22 + 7,
        }])
        evil.orch_ok("sync")
        victim.orch_ok("sync")
        view = victim.status()["t1"]
        assert "run-unverified" in view["flags"] and "run-dead" not in view["flags"]
        repaired = victim.orch_ok("heartbeat", "--once", "--repair")
        assert "no record of starting it; nothing killed" in repaired.out
        assert "closed dead run" not in repaired.out
        stopped = victim.orch("stop", "t1")
        assert stopped.code == 1 and "no record of starting it" in stopped.err
        running = victim.orch("run", "t1", "--agent", "x")
        assert running.code == 1 and "no record of starting it" in running.err
        assert group_alive(bystander.pid) and bystander.poll() is None
        forced = victim.orch_ok("stop", "t1", "--force", "--json").json()
        assert isinstance(forced, dict) and forced["ended"][0]["outcome"] == "dead"
        assert bystander.poll() is None
        assert "run-unverified" not in victim.status()["t1"]["flags"]
    finally:
        os.kill(bystander.pid, signal.SIGKILL)
        bystander.wait()
