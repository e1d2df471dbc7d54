"""A repeated `status --json` is answered from the last output only while it is still true.

Every status here is a real process (`python -m git_orch`, the console script's
entry), so the answer comes from the path a user's poll takes. After each change
a user or a worker can make, the next status must print what a status with no
kept output prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Repo
from test_status_settled import many_ended

from git_orch.record.misalignment import record_misalignment
from git_orch.repo import OrchRepo
from git_orch.report.repeat import CACHE_FILE


def kept_path(repo: Repo) -> Path:
    return OrchRepo(repo.path).runtime_dir / CACHE_FILE


def status(repo: Repo) -> dict[str, object]:
    result = repo.orch_proc("status", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert isinstance(data, dict)
    return data


def without_clock(data: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in data.items() if k != "generated"}


def fresh(repo: Repo) -> dict[str, object]:
    """What status prints with no kept output."""
    kept_path(repo).unlink(missing_ok=True)
    return status(repo)


def answered_from_kept(repo: Repo, env: dict[str, str] | None = None) -> bool:
    """Whether the next status prints the kept output: mark it (same length), look, undo."""
    path = kept_path(repo)
    if not path.exists():
        return False
    data = path.read_bytes()
    if b'"title":"quiet loop"' not in data:
        return False
    path.write_bytes(data.replace(b'"title":"quiet loop"', b'"title":"KEPT-OUTPUT"', 1))
    try:
        result = repo.orch_proc("status", "--json", env=env)
        assert result.code == 0, result.err
        shown = json.loads(result.out)
    finally:
        if path.exists():
            path.write_bytes(data)
    tasks = shown["tasks"]
    assert isinstance(tasks, list)
    return any(t["title"] == "KEPT-OUTPUT" for t in tasks)


def quiet_loop(repo: Repo) -> None:
    """Ended tasks and one open task without a workspace; a status that can be kept."""
    many_ended(repo, 3)
    repo.orch_ok("start", "open-one", "--title", "quiet loop", "--no-worktree",
                 "--allow", "src/open/**")
    os.utime(repo.path / "orch.toml", (time.time() - 10, time.time() - 10))
    status(repo)
    status(repo)  # the first may have written status's own records: this one keeps


def test_a_repeated_status_is_answered_from_the_kept_output(repo: Repo) -> None:
    quiet_loop(repo)
    assert answered_from_kept(repo)
    first, again = fresh(repo), status(repo)
    assert without_clock(again) == without_clock(first)
    assert again["generated"] != "" and isinstance(again["generated"], str)


def test_the_kept_output_carries_the_time_of_each_answer(repo: Repo) -> None:
    quiet_loop(repo)
    before = status(repo)["generated"]
    time.sleep(1.1)
    assert answered_from_kept(repo)
    assert status(repo)["generated"] != before


def _edit_policy(repo: Repo) -> None:
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write('\n[agents.extra]\nargv = ["/bin/true", "{task}"]\n')


def _note(repo: Repo) -> None:
    record_misalignment(OrchRepo(repo.path), "open-one", "wrote outside its pathspecs",
                        "scope-violation", "src/x.py")


def _hook(repo: Repo) -> None:
    hook = repo.path / ".git" / "hooks" / "post-checkout"
    hook.write_text("#!/bin/sh\necho planted\n")
    hook.chmod(0o755)


def _config(repo: Repo) -> None:
    repo.git("config", "core.fsmonitor", "/tmp/planted-program")


def _main_moves(repo: Repo) -> None:
    repo.write("outside.txt", "not through land\n")
    repo.commit_all("a commit on main")


def _heartbeat(repo: Repo) -> None:
    repo.orch_ok("heartbeat", "--once")


def _stale_lock(repo: Repo) -> None:
    lock = repo.path / ".git" / "refs" / "orch" / "ledger.lock"
    lock.write_text("")
    os.utime(lock, (time.time() - 600, time.time() - 600))


def _worktree_appears(repo: Repo) -> None:
    repo.git("worktree", "add", "-q", "--detach", str(repo.path.parent / "elsewhere"))


# Each change, and whether status shows it (a plain commit on main or a worktree of
# the person's own leave the output as it was: it must still be read again).
CHANGES: dict[str, tuple[Callable[[Repo], None], bool]] = {
    "a ledger event": (_note, True),
    "orch.toml edited, not committed": (_edit_policy, True),
    "a hook planted in the lead's hooks": (_hook, True),
    "a program-running config key": (_config, True),
    "a heartbeat": (_heartbeat, True),
    "a stale ledger lock": (_stale_lock, True),
    "main moved by plain git": (_main_moves, False),
    "a linked worktree": (_worktree_appears, False),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_any_change_shows_in_the_next_status(repo: Repo, change: str) -> None:
    quiet_loop(repo)
    assert answered_from_kept(repo)
    kept = status(repo)
    make, shows = CHANGES[change]
    make(repo)
    after = status(repo)
    assert without_clock(after) == without_clock(fresh(repo))
    assert (without_clock(after) != without_clock(kept)) == shows


def test_a_task_turns_stale_when_its_time_comes(repo: Repo) -> None:
    """The clock alone changes the answer: the kept output ends at that moment."""
    policy = repo.path / "orch.toml"
    policy.write_text(policy.read_text().replace('stale_after = "2h"', 'stale_after = "3s"'))
    repo.commit_all("stale after 3 s")
    quiet_loop(repo)
    cards = {t["id"]: t for t in status(repo)["tasks"]}  # type: ignore[union-attr,index]
    if "stale-needs-inspection" in cards["open-one"]["flags"]:
        pytest.skip("the machine was too slow to see the task before it turned stale")
    time.sleep(3.5)
    cards = {t["id"]: t for t in status(repo)["tasks"]}  # type: ignore[union-attr,index]
    assert "stale-needs-inspection" in cards["open-one"]["flags"]


def test_a_worker_workspace_is_never_answered_from_kept_output(repo: Repo) -> None:
    """A worker's files are not watched: while a workspace exists every status reads."""
    quiet_loop(repo)
    wt = repo.start("with-tree", "--allow", "src/tree/**")
    status(repo)
    status(repo)
    assert not answered_from_kept(repo)
    repo.write("src/tree/new.py", "x = 1\n", cwd=wt)
    cards = {t["id"]: t for t in status(repo)["tasks"]}  # type: ignore[union-attr,index]
    assert cards["with-tree"]["dirty"] is True


def test_a_damaged_kept_output_is_ignored(repo: Repo) -> None:
    quiet_loop(repo)
    expected = without_clock(fresh(repo))
    status(repo)
    path = kept_path(repo)
    for damage in (b"", b"\xff" * 9, path.read_bytes()[:-3]):
        path.write_bytes(damage)
        assert without_clock(status(repo)) == expected


def test_other_environment_other_answer(repo: Repo) -> None:
    """Another HOME (another global git config) is another key: status reads again."""
    quiet_loop(repo)
    home = repo.path.parent / "other-home"
    home.mkdir()
    assert not answered_from_kept(repo, {"HOME": str(home)})
    assert answered_from_kept(repo)


def test_a_status_killed_while_keeping_leaves_nothing_behind(repo: Repo) -> None:
    """A copy half-written by a killed status is removed by a later one; a fresh one
    (another status writing now) is left alone."""
    quiet_loop(repo)
    folder = kept_path(repo).parent
    old, young = folder / f".{CACHE_FILE}.999999", folder / f".{CACHE_FILE}.999998"
    for path in (old, young):
        path.write_bytes(b'{"half": ')
    os.utime(old, (time.time() - 120, time.time() - 120))
    _note(repo)
    status(repo)
    status(repo)  # the first after a change may have written status's own records
    assert not old.exists() and young.exists()
    assert answered_from_kept(repo)


FORGE = """
import sys, time
from git_orch.report import repeat
time.sleep(0.3)  # past the racy window of what start just wrote
lead = sys.argv[1]
probe = repeat.Probe(lead, repeat.git_dirs(lead), [])
list(probe.keep([b'{"tasks": [{"title": "FORGED"}]}\\n'], lambda: None, lambda: 1e12))
"""


def test_a_worktree_worker_cannot_plant_a_kept_output(repo: Repo) -> None:
    """A worker in a linked worktree can write the lead's git dir: it writes a kept
    output whose fingerprint matches; the lead's status does not print it."""
    quiet_loop(repo)
    wt = repo.start("planter", "--allow", "src/plant/**")
    proc = subprocess.run([sys.executable, "-c", FORGE, str(repo.path)], cwd=wt,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert b"FORGED" in kept_path(repo).read_bytes()
    assert "FORGED" not in json.dumps(status(repo))
