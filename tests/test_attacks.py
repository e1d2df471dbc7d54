"""A hostile worker, played by real processes inside its workspace.

Worktree mode is advisory: the worker shares the lead's git dir, so these
attacks can succeed. What must hold is that every one that succeeds is
reported by `status` (a needs-you item, blamed on the task when it can be)
or refused by `land` with a named finding, and that `hooks install` repairs
what git-orch owns. docs/security.md has the table these tests back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, bwrap_unusable

from git_orch.agent import sandbox
from git_orch.record.tasks import transition
from git_orch.repo import OrchRepo


def hostile(wt: Path, *argv: str, task: str = "t1") -> subprocess.CompletedProcess[str]:
    """Run argv as the worker would: a real process in its workspace, ORCH_TASK set."""
    return subprocess.run(list(argv), cwd=wt, capture_output=True, text=True, check=False,
                          env={**os.environ, "ORCH_TASK": task}, timeout=60)


def ready(repo: Repo, task_id: str = "t1") -> Path:
    """A started task with one commit, handed off and accepted: what land takes."""
    wt = repo.start(task_id, "--allow", "src/**")
    repo.write("src/new.py", "x = 1\n", cwd=wt)
    repo.commit_all(f"work on {task_id}", cwd=wt)
    repo.orch_ok("handoff", "--summary", f"did {task_id}", cwd=wt)
    head = repo.rev(f"orch/{task_id}")
    transition(OrchRepo(repo.path), task_id, {"type": "accepted", "head": head})
    return wt


def tampering(repo: Repo) -> list[dict[str, Any]]:
    data = repo.orch_ok("status", "--json").json()
    assert isinstance(data, dict)
    found = data["tampering"]
    assert isinstance(found, list)
    return found


def write_file(path: Path, text: str, mode: int = 0o755) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


EVIL = "#!/bin/sh\necho ran >> \"$(dirname \"$0\")/evil.ran\"\nexit 0\n"


def _unset_worktree_config(repo: Repo, wt: Path) -> None:
    assert hostile(wt, "git", "config", "--unset", "extensions.worktreeConfig").returncode == 0


def _worker_hooks_path(repo: Repo, wt: Path) -> None:
    assert hostile(wt, "git", "config", "--worktree", "core.hooksPath",
                   "/dev/null").returncode == 0


def _common_hooks_path(repo: Repo, wt: Path) -> None:
    assert hostile(wt, "git", "config", "core.hooksPath", "/dev/null").returncode == 0


def _fsmonitor(repo: Repo, wt: Path) -> None:
    write_file(wt / "evil.sh", EVIL)
    assert hostile(wt, "git", "config", "core.fsmonitor", str(wt / "evil.sh")).returncode == 0


def _worker_fsmonitor(repo: Repo, wt: Path) -> None:
    write_file(wt / "evil.sh", EVIL)
    assert hostile(wt, "git", "config", "--worktree", "core.fsmonitor",
                   str(wt / "evil.sh")).returncode == 0


def _write_config(repo: Repo, wt: Path) -> None:
    common = Path(hostile(wt, "git", "rev-parse", "--path-format=absolute",
                          "--git-common-dir").stdout.strip())
    with open(common / "config", "a") as handle:
        handle.write('[filter "lfs"]\n\tclean = ./evil.sh %f\n')


def _write_repo_hook(repo: Repo, wt: Path) -> None:
    write_file(repo.path / ".git" / "hooks" / "pre-push", EVIL)


def _alter_orch_hook(repo: Repo, wt: Path) -> None:
    write_file(repo.path / ".git" / "orch" / "hooks" / "pre-commit", "#!/bin/sh\nexit 0\n")


def _plant_orch_hook(repo: Repo, wt: Path) -> None:
    write_file(repo.path / ".git" / "orch" / "hooks" / "post-checkout", EVIL)


def _tag_force(repo: Repo, wt: Path) -> None:
    proc = hostile(wt, "git", "-c", "core.hooksPath=/dev/null", "tag", "-f", "v1", "HEAD")
    assert proc.returncode == 0, proc.stderr


def _delete_contract(repo: Repo, wt: Path) -> None:
    proc = hostile(wt, "git", "-c", "core.hooksPath=/dev/null", "update-ref", "-d",
                   "refs/orch/tasks/t0")
    assert proc.returncode == 0, proc.stderr


def _rewind_ledger(repo: Repo, wt: Path) -> None:
    proc = hostile(wt, "git", "-c", "core.hooksPath=/dev/null", "update-ref",
                   "refs/orch/ledger", "refs/orch/ledger~1")
    assert proc.returncode == 0, proc.stderr


def _commit_on_main_through_the_common_dir(repo: Repo, wt: Path) -> None:
    repo.write("README.md", "hello from the worker\n", cwd=wt)
    common = hostile(wt, "git", "rev-parse", "--git-common-dir").stdout.strip()
    proc = hostile(wt, "git", f"--git-dir={common}", "--work-tree=.", "commit", "-qam", "x")
    assert proc.returncode == 0, proc.stderr


# (attack, the finding kind status shows, blamed on the task?)
DETECTED = [
    (_unset_worktree_config, "hooks-disarmed", False),
    (_worker_hooks_path, "hooks-disarmed", True),
    (_common_hooks_path, "hooks-disarmed", False),
    (_fsmonitor, "fsmonitor", False),
    (_worker_fsmonitor, "fsmonitor", True),
    (_write_config, "config-changed", False),
    (_write_repo_hook, "hooks-changed", False),
    (_alter_orch_hook, "hooks-changed", False),
    (_plant_orch_hook, "hooks-changed", False),
    (_tag_force, "refs-changed", False),
    (_delete_contract, "refs-changed", False),
    (_rewind_ledger, "refs-changed", False),
    (_commit_on_main_through_the_common_dir, "target-moved", False),
]


@pytest.mark.parametrize("attack,kind,blamed", DETECTED, ids=[a.__name__[1:] for a, _, _ in
                                                                DETECTED])
def test_worktree_attack_is_reported(repo: Repo, attack: Any, kind: str,
                                                     blamed: bool) -> None:
    repo.git("tag", "v1")  # a release tag the lead made
    repo.start("t0", "--allow", "docs/**")  # another task, whose contract a worker may delete
    wt = ready(repo)
    assert tampering(repo) == []  # git-orch has looked: this is what it knows
    main = repo.rev("main")
    attack(repo, wt)
    found = tampering(repo)
    assert [f["kind"] for f in found] == [kind], found
    assert (found[0]["task"] == "t1") is blamed
    text = repo.orch_ok("status").out
    if blamed:
        assert "bypass" in repo.status()["t1"]["flags"]
        assert "[bypass]" in text
    else:
        assert f"  [{kind}] " in text
    assert "Needs you (0)" not in text
    hooks = repo.orch_ok("hooks", "status").out
    assert f"[{kind}]" in hooks and "t1: hooks" in hooks  # the worker is still listed
    if kind == "target-moved":
        return  # reported only: it may be the person's own commit (land does not refuse)
    refused = repo.orch("land", "t1")
    assert refused.code == 1 and f"refusing to land t1: [{kind}]" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert repo.rev("main") == main


@pytest.mark.parametrize("attack", [_unset_worktree_config, _worker_hooks_path,
                                    _alter_orch_hook, _plant_orch_hook, _write_repo_hook,
                                    _common_hooks_path, _tag_force,
                                    _commit_on_main_through_the_common_dir])
def test_hooks_install_repairs_or_takes_note(repo: Repo, attack: Any) -> None:
    wt = ready(repo)
    tampering(repo)
    attack(repo, wt)
    assert tampering(repo)
    result = repo.orch_ok("hooks", "install", "--json").json()
    assert isinstance(result, dict) and result["repaired"] and result["findings"] == []
    assert tampering(repo) == []
    # The worker's hooks are on again: they refuse a commit outside the contract.
    repo.write("docs/guide.md", "changed\n", cwd=wt)
    repo.git("add", "-A", cwd=wt)
    assert hostile(wt, "git", "commit", "-qm", "outside").returncode != 0
    repo.git("reset", "-q", "--hard", cwd=wt)
    repo.git("reset", "-q", "--hard")  # the main worktree follows whatever main is now
    repo.orch_ok("land", "t1")


def test_heartbeat_records_a_bypass_misalignment_once(repo: Repo) -> None:
    wt = ready(repo)
    repo.orch_ok("heartbeat", "--once")
    _worker_hooks_path(repo, wt)
    beat = repo.orch_ok("heartbeat", "--once", "--json").json()
    assert isinstance(beat, dict) and [m["task"] for m in beat["misalignments"]] == ["t1"]
    assert "needs you: t1 [hooks-disarmed]" in repo.orch_ok("heartbeat", "--once").out
    shown = repo.orch_ok("show", "t1", "--json").json()
    assert isinstance(shown, dict)
    (event,) = [e for e in shown["events"] if e["type"] == "misalignment"]
    assert event["source"] == "bypass" and "core.hooksPath = /dev/null" in event["what"]


def test_hooks_uninstall_by_the_lead_is_not_an_attack(repo: Repo) -> None:
    ready(repo)
    repo.orch_ok("hooks", "uninstall", "--task", "t1")
    assert tampering(repo) == []
    repo.orch_ok("hooks", "install", "--task", "t1")
    assert tampering(repo) == []


def test_branch_force_and_fetch_into_main_fail_at_the_source(repo: Repo) -> None:
    wt = ready(repo)
    main = repo.rev("main")
    for argv in (["git", "branch", "-f", "main", "HEAD"],
                 ["git", "-c", "core.hooksPath=/dev/null", "branch", "-f", "main", "HEAD"],
                 ["git", "fetch", ".", "HEAD:main"],
                 ["git", "-c", "core.hooksPath=/dev/null", "fetch", ".", "HEAD:main"]):
        proc = hostile(wt, *argv)
        assert proc.returncode != 0, argv
    assert repo.rev("main") == main


def test_main_moved_by_the_lead_without_workers_is_not_news(repo: Repo) -> None:
    ready(repo)
    tampering(repo)
    repo.orch_ok("land", "t1")  # its worktree goes: no linked worker is left
    repo.write("docs/guide.md", "edited on main\n")
    repo.commit_all("Edit the guide on main")
    assert tampering(repo) == []


def test_a_new_tag_on_landed_history_is_the_leads_release(repo: Repo) -> None:
    ready(repo)
    tampering(repo)
    repo.git("tag", "-a", "-m", "release", "v2", "main")
    assert tampering(repo) == []


def test_lead_only_commands_refuse_in_a_worker_worktree(repo: Repo) -> None:
    wt = ready(repo)
    main = repo.rev("main")
    for argv in (["accept", "t1"], ["land", "t1"], ["start", "nested", "--title", "more"]):
        proc = hostile(wt, sys.executable, "-m", "git_orch", *argv)
        assert proc.returncode == 1, argv
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert repo.rev("main") == main
    assert "nested" not in repo.status()


def test_moving_main_with_hooks_off_is_reported(repo: Repo) -> None:
    wt = ready(repo)
    tampering(repo)
    proc = hostile(wt, "git", "-c", "core.hooksPath=/dev/null", "update-ref", "refs/heads/main",
                   "HEAD")
    assert proc.returncode == 0 and repo.rev("main") == repo.rev("orch/t1")
    data = repo.orch_ok("status", "--json").json()
    assert isinstance(data, dict)
    assert [(f["rule"], f["task"]) for f in data["target"]] == [("target-bypass", "t1")]
    assert "target-bypass" in repo.orch_ok("status").out


def test_push_no_verify_to_the_remote_is_reported(repo: Repo, remote: Path) -> None:
    wt = ready(repo)
    hostile(wt, "git", "push", "-q", "--no-verify", "origin", "HEAD:main")
    # The remote took it: only the local tracking ref's update was refused (by the
    # worker's reference-transaction hook, after the push).
    assert repo.git("--git-dir", str(remote), "rev-parse", "main") == repo.rev("orch/t1")
    repo.git("fetch", "-q", "origin")
    data = repo.orch_ok("status", "--json").json()
    assert isinstance(data, dict)
    assert ("target-bypass", "t1") in [(f["rule"], f["task"]) for f in data["target"]]
    # What makes it binding: CI verify on the remote's main refuses it.
    verify = repo.orch("verify", "--require-landed", "main..origin/main")
    assert verify.code == 1, verify.out + verify.err


# --- clone mode with bubblewrap ----------------------------------------------------
#
# The workspace is `git clone --shared` of the lead's repository; the attacker runs
# inside git-orch's bubblewrap line (sandbox.wrap: root read-only, workspace writable).
# Every attack must fail or change only the workspace, and the lead's git dir must be
# byte-identical afterwards.

CLONE_ATTACKS: list[tuple[str, list[str], str]] = [
    # (name, argv run in the workspace ({lead} = the lead's worktree), expected outcome)
    ("update-ref main, hooks off",
     ["git", "-c", "core.hooksPath=/dev/null", "update-ref", "refs/heads/main", "HEAD"],
     "workspace"),
    ("update-ref main in the lead's git dir",
     ["git", "--git-dir={lead}/.git", "update-ref", "refs/heads/main", "HEAD"], "fails"),
    ("commit through the common dir",
     ["sh", "-c", 'echo x >> README.md && git --git-dir="$(git rev-parse --git-common-dir)" '
      "--work-tree=. commit -qam x"], "workspace"),
    ("commit into the lead's git dir",
     ["sh", "-c", "echo x >> README.md && git --git-dir={lead}/.git --work-tree=. "
      "commit -qam x"], "fails"),
    ("unset extensions.worktreeConfig",
     ["git", "config", "--file", "{lead}/.git/config", "--unset",
      "extensions.worktreeConfig"], "fails"),
    ("core.fsmonitor in its config", ["git", "config", "core.fsmonitor", "./evil.sh"],
     "workspace"),
    ("core.fsmonitor in the lead's config",
     ["git", "config", "--file", "{lead}/.git/config", "core.fsmonitor", "./evil.sh"],
     "fails"),
    ("write the lead's .git/hooks/pre-push",
     ["sh", "-c", "printf '#!/bin/sh\\n' > {lead}/.git/hooks/pre-push"], "fails"),
    ("write its own .git/hooks/pre-push",
     ["sh", "-c", "printf '#!/bin/sh\\n' > .git/hooks/pre-push"], "workspace"),
    ("write the lead's .git/config",
     ["sh", "-c", "printf '[core]\\n\\tpager = evil\\n' >> {lead}/.git/config"], "fails"),
    ("push --no-verify origin HEAD:main",
     ["git", "push", "-q", "--no-verify", "origin", "HEAD:main"], "fails"),
    ("tag -f, hooks off",
     ["git", "-c", "core.hooksPath=/dev/null", "tag", "-f", "v1", "HEAD"], "workspace"),
    ("branch -f main", ["git", "branch", "-f", "main", "HEAD"], "workspace"),
    ("fetch . HEAD:main", ["git", "fetch", "-q", ".", "HEAD:main"], "workspace"),
    ("edit the lead's ledger ref",
     ["git", "--git-dir={lead}/.git", "update-ref", "refs/orch/ledger", "HEAD"], "fails"),
    ("write the lead's ledger ref file",
     ["sh", "-c", "git rev-parse HEAD > {lead}/.git/refs/orch/ledger"], "fails"),
    ("git orch land in the lead", ["git", "orch", "-C", "{lead}", "land", "t1"], "fails"),
    ("git orch start in the lead",
     ["git", "orch", "-C", "{lead}", "start", "nested", "--title", "more workers"], "fails"),
]


def lead_snapshot(git_dir: Path) -> dict[str, bytes]:
    """Every file of the lead's git dir (refs, packed-refs, config, hooks, objects)."""
    return {str(p.relative_to(git_dir)): p.read_bytes()
            for p in sorted(git_dir.rglob("*")) if p.is_file()}


def clone_workspace(repo: Repo, path: Path) -> Path:
    repo.git("clone", "-q", "--shared", "--no-checkout", str(repo.path), str(path))
    repo.git("checkout", "-q", "-b", "orch/t1", "origin/main", cwd=path)
    repo.write("src/new.py", "x = 1\n", cwd=path)
    repo.commit_all("work on t1", cwd=path)
    return path


@pytest.mark.skipif(bwrap_unusable() is not None, reason=str(bwrap_unusable()))
@pytest.mark.parametrize("name,argv,outcome", CLONE_ATTACKS, ids=[a[0] for a in CLONE_ATTACKS])
def test_clone_attack_in_bwrap_leaves_the_lead_byte_identical(
        repo: Repo, tmp_path: Path, name: str, argv: list[str], outcome: str) -> None:
    wt = ready(repo)  # an accepted worktree task t1, so land has something to do
    ws = clone_workspace(repo, tmp_path / "ws")
    before = lead_snapshot(repo.path / ".git")
    ws_before = lead_snapshot(ws / ".git")
    line = [part.replace("{lead}", str(repo.path)) for part in argv]
    bindir = str(Path(sys.executable).parent)
    wrapped = sandbox.wrap(line, bwrap="bwrap", workspace=ws,
                           readable=sandbox.visible(line, [repo.path / ".git"]),
                           writable=[], network=False)
    proc = subprocess.run(wrapped, capture_output=True, text=True, check=False, timeout=60,
                          env={**os.environ, "ORCH_TASK": "t1",
                               "PATH": f"{bindir}:{os.environ['PATH']}"})
    assert "Traceback" not in proc.stderr
    if outcome == "fails":
        assert proc.returncode != 0, f"{name}: {proc.stdout}{proc.stderr}"
    else:
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
        assert lead_snapshot(ws / ".git") != ws_before
    assert lead_snapshot(repo.path / ".git") == before, name
    assert wt.is_dir()


# --- clone mode end to end: `git orch run` of a hostile agent ----------------------

ATTACKER_AGENT = r"""
import json, os, subprocess, sys
lead, task, handoff = sys.argv[1], sys.argv[2], sys.argv[3]
git_dir = lead + "/.git"
def run(*argv):
    p = subprocess.run(list(argv), capture_output=True, text=True)
    return p.returncode
def sh(script):
    return run("sh", "-c", script)
def write(path, text):
    try:
        with open(path, "a") as f:
            f.write(text)
        return 0
    except OSError:
        return 1
# Kept in its git dir (not a change of the work tree); it notes a run by anyone
# but the worker itself (the worker's own git may run its own fsmonitor).
evil_path = os.getcwd() + "/.git/evil.sh"
evil = ("#!/bin/sh\n[ -n \"$ORCH_TASK\" ] || echo ran >> '" + os.getcwd()
        + "/.git/evil.ran'\n")
with open(evil_path, "w") as f:
    f.write(evil)
os.chmod(evil_path, 0o755)
with open("src/app.py", "w") as f:
    f.write("print('honest change')\n")
run("git", "commit", "-qam", "Honest change\n\nOrch-Task: " + task)
fails = {
    "update-ref main in the lead": run("git", "--git-dir", git_dir, "update-ref",
                                       "refs/heads/main", "HEAD"),
    "commit through the lead's git dir": sh("echo x >> README.md && git --git-dir=" + git_dir
                                            + " --work-tree=. commit -qam x; r=$?; "
                                            "git checkout -q -- README.md; exit $r"),
    "unset extensions.worktreeConfig": run("git", "config", "--file", git_dir + "/config",
                                           "--unset", "extensions.worktreeConfig"),
    "core.fsmonitor in the lead": run("git", "config", "--file", git_dir + "/config",
                                      "core.fsmonitor", evil_path),
    "write the lead's .git/config": write(git_dir + "/config", "[core]\n\tpager = evil\n"),
    "write the lead's pre-push hook": write(git_dir + "/hooks/pre-push", evil),
    "push --no-verify into the lead": run("git", "push", "-q", "--no-verify", lead,
                                          "HEAD:main"),
    "edit the lead's ledger ref": run("git", "--git-dir", git_dir, "update-ref",
                                      "refs/orch/ledger", "HEAD"),
    "write the lead's ledger ref file": write(git_dir + "/refs/orch/ledger", "0" * 40),
    "git orch accept": run("git", "orch", "accept", task),
    "git orch land": run("git", "orch", "land", task),
    "git orch land in the lead": run("git", "orch", "-C", lead, "land", task),
    "git orch start nested": run("git", "orch", "start", "nested", "--title", "more"),
}
own = {
    "update-ref main, hooks off": run("git", "-c", "core.hooksPath=/dev/null", "update-ref",
                                      "refs/heads/main", "HEAD"),
    "core.fsmonitor in its config": run("git", "config", "core.fsmonitor", evil_path),
    "its own pre-push hook": write(".git/hooks/pre-push", evil),
    "tag -f, hooks off": run("git", "-c", "core.hooksPath=/dev/null", "tag", "-f", "v1"),
    "branch -f main": run("git", "branch", "-f", "main", "HEAD"),
    "fetch . HEAD:main": run("git", "fetch", "-q", ".", "HEAD:main"),
}
with open(handoff, "w") as f:
    f.write("changed the app\n")
handed = subprocess.run(["git", "orch", "handoff", "--summary", "changed the app"]).returncode
own["forge an accepted event in its ledger copy"] = run(
        sys.executable, "-c", "from git_orch.repo import OrchRepo\n"
        "from git_orch.record.tasks import record\n"
        "o = OrchRepo('.')\n"
        "head = o.git(['rev-parse', 'HEAD']).strip()\n"
        "record(o, " + repr(task) + ", lambda st: [{'type': 'accepted', 'head': head}])")
print("RESULTS " + json.dumps({"fails": fails, "own": own}), flush=True)
sys.exit(handed)
"""


# What collect and the supervisor legitimately write in the lead: the ledger, the
# task branches, collect's fetched refs.
COLLECTED = ("refs/orch/ledger ", "refs/heads/orch/", "refs/orch-collect/")


def lead_state(repo: Repo) -> dict[str, object]:
    """What the lead owns and a worker must not change: refs outside git-orch's
    own task branches and ledger, config, hooks, and every object file there was."""
    git_dir = repo.path / ".git"
    refs = repo.git("for-each-ref", "--format=%(refname) %(objectname)").splitlines()
    return {
        "refs": [r for r in refs if not r.startswith(COLLECTED)],
        "config": (git_dir / "config").read_bytes(),
        "hooks": lead_snapshot(git_dir / "hooks"),
        "objects": lead_snapshot(git_dir / "objects"),
    }


@pytest.mark.skipif(bwrap_unusable() is not None, reason=str(bwrap_unusable()))
def test_clone_mode_run_of_a_hostile_agent_changes_nothing_of_the_lead(clone_repo: Repo
                                                                       ) -> None:
    repo = clone_repo
    script = repo.path.parent / "attacker.py"
    script.write_text(ATTACKER_AGENT)
    argv = ["{python}", str(script), str(repo.path), "{task}", "{handoff_file}"]
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write(f'\n[agents.attacker]\nargv = {json.dumps(argv)}\nmax_runtime = "120s"\n')
    repo.commit_all("Add the attacker")
    repo.git("tag", "v1")
    ws = repo.start("t1", "--allow", "src/**")
    before = lead_state(repo)
    main = repo.rev("main")
    result = repo.orch("run", "t1", "--agent", "attacker", "--wait", "--json")
    log = repo.orch_ok("logs", "t1").out
    assert "git-orch: sandbox bwrap" in log, log
    line = next(x for x in log.splitlines() if x.startswith("RESULTS "))
    outcomes = json.loads(line[len("RESULTS "):])
    assert {k: v for k, v in outcomes["fails"].items() if v == 0} == {}, log
    assert {k: v for k, v in outcomes["own"].items() if v != 0} == {}, log
    assert result.code == 0, result.out + log
    # The lead: main, tags, config, hooks, the objects it had are as they were.
    after = lead_state(repo)
    for part in ("refs", "config", "hooks"):
        assert after[part] == before[part], part
    objects_before = before["objects"]
    objects_after = after["objects"]
    assert isinstance(objects_before, dict) and isinstance(objects_after, dict)
    assert {k: objects_after.get(k) for k in objects_before} == objects_before
    assert repo.rev("main") == main
    # The honest work arrived through collect; the forged acceptance did not.
    task = repo.status()["t1"]
    assert task["state"] == "completed-unreviewed"
    assert repo.git("log", "-1", "--format=%s", "orch/t1") == "Honest change"
    shown = repo.orch_ok("show", "t1", "--json").json()
    assert isinstance(shown, dict)
    dropped = [e for e in shown["events"] if e["type"] == "misalignment"
               and e["source"] == "dropped-worker-event"]
    assert dropped and "accepted" in json.dumps(dropped)
    # The worker's fsmonitor and hook were never run by the lead's commands.
    repo.orch_ok("status")
    repo.orch_ok("heartbeat", "--once")
    assert not (ws / ".git" / "evil.ran").exists()


@pytest.mark.parametrize("damage", ["not json", '{"hook_files": 3, "tags": [1], "recorded": 5}',
                                    "folder"])
def test_a_damaged_fingerprint_never_breaks_status(repo: Repo, damage: str) -> None:
    ready(repo)
    tampering(repo)
    state = repo.path / ".git" / "orch" / "tamper.json"
    state.unlink()
    if damage == "folder":
        state.mkdir()
    else:
        state.write_text(damage)
    for _ in range(2):  # reported until the person has looked, not taken in silently
        result = repo.orch("status")
        assert result.code == 0, result.err
        assert "  [fingerprint-damaged] " in result.out
    assert repo.orch("heartbeat", "--once").code == 0
    assert "[fingerprint-damaged]" in repo.orch_ok("hooks", "status").out
    refused = repo.orch("land", "t1")
    assert refused.code == 1 and "[fingerprint-damaged]" in refused.err
    if damage == "folder":
        state.rmdir()
    repo.orch_ok("hooks", "install")
    assert tampering(repo) == []
