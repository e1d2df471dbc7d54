"""`git orch demo` (the README's first command) runs the four cases and a second clone."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path


def test_demo_runs_the_four_cases(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "git_orch", "demo", "--dir", str(folder)],
        capture_output=True, text=True, timeout=300, env={**os.environ}, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "warning" not in out.lower() and "warning" not in proc.stderr.lower(), proc.stderr
    assert "greet-upper: pushed to origin" in out and "verdict: pass" in out
    assert "standin: git commit refused" in out and "forbidden by Orch-Forbid" in out
    assert "forbidden: migrations/002_greetings.sql" in out
    assert "direct-no-artifact" in out
    assert '"outcome": "timeout"' in out
    assert "refs/orch/tasks/greet-upper" in out and "4 new task(s) here" in out
    laptop = out.split("== 9.")[1]  # the first clone's worktrees are elsewhere, not gone
    assert "(not on this machine)" in laptop and "(gone)" not in laptop
    assert "(edit " in out and 'gates = ["python3 tests/check_greet.py"]' in out
    page = Path(out.split("status page: ")[1].split("\n")[0])
    assert page.is_file() and page.parent.parent == folder
    # Every printed step can be pasted: it parses back to the argv that ran.
    steps = [line[2:] for line in out.splitlines() if line.startswith("$ ")]
    assert any(shlex.split(s)[3:5] == ["orch", "reject"] for s in steps)
    assert ["git", "-C", str(folder / "app"), "orch", "reject", "migrate", "--reason",
            "changed migrations/, which the contract forbids"] in [shlex.split(s) for s in steps]
    assert "demo finished" in out


def test_demo_sh_help_does_not_run_the_demo() -> None:
    script = Path(__file__).resolve().parent.parent / "scripts" / "demo.sh"
    proc = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0 and "Usage: git orch demo" in proc.stdout
    assert "== 1." not in proc.stdout

