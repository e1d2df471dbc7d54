"""The README's first quick-start command runs the whole loop."""

from __future__ import annotations

import os
import subprocess
import sys


def test_demo_runs_the_full_loop() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "git_orch", "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "verdict: pass" in out and "verdict: reject" in out
    assert "greet-upper: pushed to origin" in out
    assert "refs/orch/ledger" in out and "refs/orch/tasks/greet-upper" in out
    assert "demo finished" in out
