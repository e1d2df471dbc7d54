"""The bubblewrap sandbox for agents: the argv it builds, the preset keys, and real
sandboxed processes that may commit in their workspace and touch nothing else."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Repo, bwrap_unusable, git, make_repo

from git_orch.agent import sandbox
from git_orch.agent.supervise import linked_worktree
from git_orch.repo import OrchRepo

needs_bwrap = pytest.mark.skipif(bwrap_unusable() is not None,
                                 reason=str(bwrap_unusable()))


def test_choose_defaults_to_bwrap_only_for_clones_with_bubblewrap() -> None:
    assert sandbox.choose(None, installed=True, clone=True).mode == "bwrap"
    worktree = sandbox.choose(None, installed=True, clone=False)
    assert worktree.mode == "none" and "worktree" in worktree.why
    missing = sandbox.choose(None, installed=False, clone=True)
    assert missing.mode == "none" and "not installed" in missing.why
    assert sandbox.choose("none", installed=True, clone=True).mode == "none"
    # Asked for explicitly, bwrap stays bwrap: the supervisor refuses to launch without it.
    assert sandbox.choose("bwrap", installed=False, clone=False).mode == "bwrap"


def test_wrap_puts_tmpfs_before_binds_and_network_last() -> None:
    ws, handoff, lead = Path("/tmp/ws"), Path("/tmp/h.md"), Path("/tmp/lead/.git")
    line = sandbox.wrap(["agent", "--flag"], bwrap="/usr/bin/bwrap", workspace=ws,
                        readable=[lead], writable=[handoff], network=False)
    assert line[:6] == ["/usr/bin/bwrap", "--ro-bind", "/", "/", "--tmpfs", "/tmp"]
    assert line.index("--ro-bind", 2) < line.index("--bind")
    assert line[line.index("--bind"):line.index("--bind") + 6] == [
        "--bind", "/tmp/ws", "/tmp/ws", "--bind", "/tmp/h.md", "/tmp/h.md"]
    for flag in ("--unshare-pid", "--die-with-parent", "--unshare-net"):
        assert flag in line
    assert line[-5:] == ["--chdir", "/tmp/ws", "--", "agent", "--flag"]
    online = sandbox.wrap(["agent"], bwrap="bwrap", workspace=ws, readable=[], writable=[],
                          network=True)
    assert "--unshare-net" not in online


def test_visible_keeps_existing_paths_the_argv_names(tmp_path: Path) -> None:
    script = tmp_path / "agent.py"
    script.write_text("")
    found = sandbox.visible(["python", str(script), "/no/such/file", "/usr", "-c", "x"],
                            [tmp_path, Path(sys.prefix)])
    real = Path(os.path.realpath(tmp_path))
    expected = [real, real / "agent.py"] if real.is_relative_to("/tmp") else []
    assert found == expected


def _clone_workspace(lead: Repo, path: Path) -> Path:
    git("clone", "-q", "--shared", "--no-checkout", str(lead.path), str(path), cwd=lead.path)
    git("checkout", "-q", "-b", "work", "origin/main", cwd=path)
    return path


def snapshot(git_dir: Path) -> dict[str, bytes]:
    """Every file of a git dir, by relative path: refs, config, hooks, objects."""
    return {str(p.relative_to(git_dir)): p.read_bytes()
            for p in sorted(git_dir.rglob("*")) if p.is_file()}


ATTACKER = r"""
import json, os, subprocess, sys
lead, ws = sys.argv[1], sys.argv[2]
def run(*argv):
    p = subprocess.run(list(argv), capture_output=True, text=True)
    return p.returncode
def write(path, text):
    try:
        with open(path, "a") as f:
            f.write(text)
        return 0
    except OSError:
        return 1
out = {}
with open(os.path.join(ws, "new.txt"), "w") as f:
    f.write("work\n")
out["commit"] = run("git", "-C", ws, "add", "-A") or run("git", "-C", ws, "commit", "-qm", "w")
out["config"] = write(lead + "/.git/config", "[core]\n\tfsmonitor = /tmp/evil\n")
out["hook"] = write(lead + "/.git/hooks/pre-push", "#!/bin/sh\nexit 0\n")
out["ref-file"] = write(lead + "/.git/refs/heads/evil", "0" * 40 + "\n")
out["update-ref"] = run("git", "-C", lead, "update-ref", "refs/heads/main", "HEAD~0")
out["push"] = run("git", "-C", ws, "push", "-q", "origin", "HEAD:main")
out["tmp"] = write("/tmp/scratch", "ok")
print(json.dumps(out))
"""


@needs_bwrap
def test_sandboxed_agent_commits_in_its_clone_and_cannot_touch_the_lead(tmp_path: Path) -> None:
    lead = make_repo(tmp_path / "lead")
    ws = _clone_workspace(lead, tmp_path / "ws")
    before = snapshot(lead.path / ".git")
    script = tmp_path / "attacker.py"
    script.write_text(ATTACKER)
    argv = [sys.executable, str(script), str(lead.path), str(ws)]
    line = sandbox.wrap(argv, bwrap="bwrap", workspace=ws,
                        readable=sandbox.visible(argv, [lead.path / ".git", Path(sys.prefix)]),
                        writable=[], network=False)
    proc = subprocess.run(line, capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["commit"] == 0 and result["tmp"] == 0
    for attack in ("config", "hook", "ref-file", "update-ref", "push"):
        assert result[attack] != 0, attack
    assert git("log", "-1", "--format=%s", cwd=ws) == "w"
    assert snapshot(lead.path / ".git") == before
    assert not Path("/tmp/scratch").exists() or Path("/tmp/scratch").read_text() != "ok"


def _agent(repo: Repo, name: str, script: str, **options: object) -> None:
    """An [agents.NAME] preset running a Python script (kept beside the repository)."""
    path = repo.path.parent / f"{name}.py"
    path.write_text(script)
    lines = [f"\n[agents.{name}]",
             f"argv = {json.dumps(['{python}', str(path), '{handoff_file}', '{task}'])}"]
    options.setdefault("max_runtime", "60s")
    lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write("\n".join(lines) + "\n")


HONEST = r"""
import subprocess, sys
handoff, task = sys.argv[1], sys.argv[2]
with open("src/app.py", "w") as f:
    f.write("print('sandboxed')\n")
subprocess.run(["git", "commit", "-qam", "Sandboxed change"], check=True)
for path in ("/etc/orch-escape", "../escape.txt"):
    try:
        open(path, "w").close()
        print("wrote", path, flush=True)
    except OSError as exc:
        print("refused", path, exc.strerror, flush=True)
with open(handoff, "w") as f:
    f.write("changed the app inside bubblewrap\n")
subprocess.run(["git", "orch", "handoff", "--summary", "sandboxed"], check=True)
"""


def _started(repo: Repo, task_id: str) -> dict[str, object]:
    data = repo.orch_ok("show", task_id, "--json").json()
    assert isinstance(data, dict)
    (event,) = [e for e in data["events"] if e["type"] == "run-started"]
    assert isinstance(event, dict)
    return event


NETWORK = """
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
    print("network reached", flush=True)
except OSError:
    print("network cut", flush=True)
"""


@needs_bwrap
def test_a_bwrap_preset_runs_the_agent_sandboxed(repo: Repo) -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # reachable from outside a sandbox
    port = listener.getsockname()[1]
    _agent(repo, "boxed", NETWORK.format(port=port) + HONEST, sandbox="bwrap", network=False)
    repo.commit_all("Add the agent")
    wt = repo.start("t1", "--allow", "src/**")
    result = repo.orch("run", "t1", "--agent", "boxed", "--wait")
    assert result.code == 0, result.out + result.err
    started = _started(repo, "t1")
    assert started["sandbox"] == "bwrap"
    assert repo.git("log", "-1", "--format=%s", "orch/t1") == "Sandboxed change"
    log = repo.orch_ok("logs", "t1").out
    assert "refused /etc/orch-escape Read-only file system" in log
    assert "network cut" in log
    listener.close()
    # Outside the workspace /tmp is a private tmpfs: what the agent wrote there is gone.
    assert not (wt.parent / "escape.txt").exists()
    assert repo.status()["t1"]["state"] == "completed-unreviewed"


def test_an_unsandboxed_run_says_so_in_status(repo: Repo) -> None:
    _agent(repo, "slow", "import time; time.sleep(30)\n", kill_grace="0.5s")
    repo.start("t1")
    repo.orch_ok("run", "t1", "--agent", "slow")
    deadline = time.monotonic() + 30
    while "no sandbox" not in (out := repo.orch_ok("status").out):
        assert time.monotonic() < deadline, out
        time.sleep(0.1)
    assert "no sandbox: worktree isolation" in out
    assert _started(repo, "t1")["sandbox"] == "none"
    repo.orch_ok("stop", "t1")


@pytest.mark.parametrize("table,message", [
    ('sandbox = "docker"', 'sandbox must be "bwrap" or "none"'),
    ("network = 0", "network must be true or false"),
])
def test_bad_sandbox_keys_are_refused(repo: Repo, table: str, message: str) -> None:
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write(f'\n[agents.bad]\nargv = ["a"]\n{table}\n')
    repo.start("t1")
    result = repo.orch("run", "t1", "--agent", "bad")
    assert result.code == 1 and message in result.err
    assert len(result.err.strip().splitlines()) == 1


ESCAPER = r"""
import os, subprocess, sys, time
# A child in its own session: out of the agent's process group, which is what
# the supervisor kills. Only the sandbox's pid namespace takes it down too.
subprocess.Popen(["sleep", "987654"], start_new_session=True)
print("escaped the group", flush=True)
time.sleep(60)
"""


def _sleepers() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == b"sleep\x00987654\x00":
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@needs_bwrap
def test_a_timed_out_sandboxed_agent_leaves_nothing_running(repo: Repo) -> None:
    assert _sleepers() == []
    _agent(repo, "escaper", ESCAPER, sandbox="bwrap", max_runtime="2s", kill_grace="0.5s")
    repo.start("t1")
    result = repo.orch("run", "t1", "--agent", "escaper", "--wait")
    assert result.code == 1 and "timed out" in result.out
    deadline = time.monotonic() + 10
    while _sleepers():
        assert time.monotonic() < deadline, "a process of the sandboxed agent survived"
        time.sleep(0.1)


def test_only_the_leads_worktree_list_makes_a_workspace_linked(repo: Repo, tmp_path: Path
                                                               ) -> None:
    orepo = OrchRepo(repo.path)
    wt = repo.start("t1")
    assert linked_worktree(orepo, wt) is True
    assert linked_worktree(orepo, repo.path) is False  # the lead's own checkout
    # A workspace whose .git was replaced by a pointer into the lead's git dir (what
    # an earlier attempt could do to its clone) is still not a linked worktree: the
    # sandbox keeps the lead's git dir read-only for it.
    forged = tmp_path / "forged"
    forged.mkdir()
    (forged / ".git").write_text(f"gitdir: {repo.path / '.git' / 'worktrees' / 't1'}\n")
    assert linked_worktree(orepo, forged) is False
