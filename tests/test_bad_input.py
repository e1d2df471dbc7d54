"""The adversarial user: bad input is refused with one clear line, never a crash.

House rule: a refusal exits 1 (usage 2) with one line on stderr, no traceback,
no crash log (exit 3 is a bug) and the ledger left exactly as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import Repo, Result

BAD_IDS = [
    "nope",
    "../x",
    "a b",
    "x" * 300,
    "caf\u00e9",
    "a\x01b",
    "a\nb",
    "a..b",
    "x.lock",
    "",
    "refs/heads/main",
]

# Commands that take a task id, with the extra arguments each needs.
ID_COMMANDS: list[tuple[str, ...]] = [
    ("show",),
    ("status",),
    ("review",),
    ("accept",),
    ("reject", "--reason", "no"),
    ("land",),
    ("abandon", "--reason", "no"),
    ("run",),
    ("logs",),
    ("stop",),
    ("handoff", "--task"),
    ("block", "--reason", "stuck", "--task"),
]


def ledger_tip(repo: Repo) -> str:
    return repo.git("rev-parse", "-q", "--verify", "refs/orch/ledger", check=False)


def crash_logs(repo: Repo) -> list[Path]:
    return sorted((repo.path / ".git" / "orch" / "logs").glob("crash-*.log"))


def assert_refused(repo: Repo, result: Result, tip: str | None = None,
                   codes: tuple[int, ...] = (1, 2)) -> None:
    text = result.out + result.err
    assert "Traceback" not in text, text
    assert result.code in codes, f"exit {result.code}: {result.err}"
    assert crash_logs(repo) == [], result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    if result.code == 1:
        assert len(lines) == 1, result.err
        assert lines[0].startswith("git-orch: "), result.err
    else:
        assert 1 <= len(lines) <= 6, result.err
    if tip is not None:
        assert ledger_tip(repo) == tip


def refused(repo: Repo, *args: str, cwd: Path | None = None,
            codes: tuple[int, ...] = (1, 2)) -> Result:
    tip = ledger_tip(repo)
    result = repo.orch(*args, cwd=cwd)
    assert_refused(repo, result, tip, codes)
    return result


@pytest.fixture
def started(repo: Repo) -> Repo:
    repo.start("t1", "--allow", "src/**")
    return repo


# --- ids ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ID_COMMANDS, ids=lambda c: c[0])
def test_bad_task_ids_are_refused(started: Repo, command: tuple[str, ...]) -> None:
    for bad_id in BAD_IDS:
        result = refused(started, *command, bad_id)
        assert "\n" not in result.err.rstrip("\n") and "\x01" not in result.err


def test_start_refuses_bad_ids(repo: Repo) -> None:
    for bad_id in BAD_IDS[1:]:
        refused(repo, "start", bad_id, "--title", "x")
    assert repo.git("for-each-ref", "refs/orch/tasks") == ""
    assert repo.git("branch", "--list", "orch/*") == ""


def test_dash_id_is_a_usage_error(started: Repo) -> None:
    result = refused(started, "show", "-x", codes=(2,))
    assert "-x" in result.err


def test_review_import_bad_id(started: Repo, tmp_path: Path) -> None:
    verdict = tmp_path / "v.json"
    verdict.write_text('{"verdict": "pass"}')
    for bad in ("nope", "../x", "a\x01b"):
        refused(started, "review-import", bad, "--file", str(verdict))


# --- wrong state ---------------------------------------------------------------


def test_wrong_state_refusals(started: Repo) -> None:
    wt = started.worktree("t1")
    refused(started, "land", "t1")  # active, not accepted
    refused(started, "accept", "t1")  # no review
    refused(started, "run", "t1")  # no agent configured
    refused(started, "stop", "t1")  # no run
    refused(started, "logs", "t1")  # no run
    refused(started, "start", "t1", "--title", "again")  # exists
    started.write("src/app.py", "print('changed')\n", cwd=wt)
    started.commit_all("change", cwd=wt)
    started.orch_ok("handoff", "--task", "t1", "--summary", "done")
    refused(started, "land", "t1")  # handed off, not accepted
    refused(started, "accept", "t1")  # still no review
    assert started.orch("review", "t1").code == 1  # concerns: no evidence
    started.orch_ok("accept", "t1", "--override", "fine")
    refused(started, "block", "--task", "t1", "--reason", "late")
    started.orch_ok("abandon", "t1", "--reason", "stop")
    for args in (("review", "t1"), ("accept", "t1"), ("reject", "t1", "--reason", "x"),
                 ("land", "t1"), ("run", "t1"),
                 ("handoff", "--task", "t1"), ("block", "--task", "t1", "--reason", "x"),
                 ("stop", "t1"), ("review-import", "t1", "--file", "/dev/null")):
        refused(started, *args)


def test_handoff_outside_a_worker_worktree(started: Repo) -> None:
    refused(started, "handoff")
    refused(started, "block", "--reason", "x")


# --- missing worktree / branch ------------------------------------------------


def test_deleted_worktree(started: Repo) -> None:
    shutil.rmtree(started.worktree("t1"))
    for args in (("land", "t1"), ("accept", "t1"), ("run", "t1"), ("stop", "t1")):
        refused(started, *args)
    # The branch is still there: these work on it (a worktree is not needed).
    for args in (("status",), ("show", "t1"), ("status", "t1", "--json"), ("review", "t1"),
                 ("heartbeat", "--once"), ("handoff", "--task", "t1")):
        result = started.orch(*args)
        assert result.code in (0, 1) and "Traceback" not in result.err, result
        assert crash_logs(started) == []


def test_deleted_branch(started: Repo) -> None:
    started.git("worktree", "remove", "--force", str(started.worktree("t1")))
    started.git("branch", "-D", "orch/t1")
    for args in (("handoff", "--task", "t1"), ("review", "t1"), ("land", "t1"), ("accept", "t1"),
                 ("reject", "t1", "--reason", "x"), ("run", "t1")):
        refused(started, *args)
    for ok in (("status",), ("show", "t1"), ("status", "--json"), ("heartbeat", "--once")):
        result = started.orch(*ok)
        assert result.code == 0, result.err


# --- orch.toml ------------------------------------------------------------------

BAD_TOMLS = {
    "invalid": "[orch\nmain_branch = ",
    "orch-not-table": "orch = 3\n",
    "main-int": "[orch]\nmain_branch = 3\n",
    "main-empty": "[orch]\nmain_branch = \"\"\n",
    "main-dash": "[orch]\nmain_branch = \"-x\"\n",
    "max-active-str": "[orch]\nmax_active = \"x\"\n",
    "max-active-neg": "[orch]\nmax_active = -1\n",
    "stale-list": "[orch]\nstale_after = []\n",
    "stale-bool": "[orch]\nstale_after = true\n",
    "stale-bad": "[orch]\nstale_after = \"soon\"\n",
    "protected-str": "[orch]\nprotected_branches = \"main\"\n",
    "forbid-ints": "[orch]\nforbid = [1, 2]\n",
    "forbid-bad-spec": "[orch]\nforbid = [\":(foo)x\"]\n",
    "gates-str": "[orch]\ngates = \"pytest\"\n",
    "root-int": "[orch]\nworktree_root = 3\n",
    "default-agent-int": "[orch]\ndefault_agent = 3\n",
    "land-not-table": "land = \"x\"\n",
    "land-strategy": "[land]\nstrategy = \"zip\"\n",
    "land-strategy-list": "[land]\nstrategy = [\"merge\"]\n",
    "land-push": "[land]\npush = \"yes\"\n",
    "land-remote": "[land]\nremote = 5\n",
    "land-gates": "[land]\npost_merge_gates = \"x\"\n",
    "land-timeout": "[land]\ngate_timeout = []\n",
    "agents-not-table": "agents = 3\n",
    "agent-not-table": "[agents]\nx = 3\n",
    "agent-argv-str": "[agents.x]\nargv = \"echo hi\"\n",
    "agent-argv-empty": "[agents.x]\nargv = []\n",
    "agent-env": "[agents.x]\nargv = [\"echo\"]\nenv = 3\n",
    "agent-env-val": "[agents.x]\nargv = [\"echo\"]\nenv = { A = 1 }\n",
    "agent-attempts": "[agents.x]\nargv = [\"echo\"]\nmax_attempts = \"x\"\n",
    "agent-runtime": "[agents.x]\nargv = [\"echo\"]\nmax_runtime = \"forever\"\n",
    "agent-breaker": "[agents.x]\nargv = [\"echo\"]\nbreaker = \"x\"\n",
    "agent-breaker-val": "[agents.x]\nargv = [\"echo\"]\nbreaker = { failures = \"x\" }\n",
    "packages-str": "packages = \"x\"\n",
    "package-no-name": "[[packages]]\ntasks = []\n",
    "package-name-int": "[[packages]]\nname = 3\n",
    "package-tasks-str": "[[packages]]\nname = \"p\"\ntasks = \"x\"\n",
    "package-task-int": "[[packages]]\nname = \"p\"\ntasks = [3]\n",
    "package-task-bad-id": "[[packages]]\nname = \"p\"\n[[packages.tasks]]\nid = \"../x\"\n"
                           "title = \"t\"\n",
    "package-task-no-title": "[[packages]]\nname = \"p\"\n[[packages.tasks]]\nid = \"a\"\n",
    "package-task-deps": "[[packages]]\nname = \"p\"\n[[packages.tasks]]\nid = \"a\"\n"
                         "title = \"t\"\ndepends_on = \"b\"\n",
    "package-dup": "[[packages]]\nname = \"p\"\n[[packages.tasks]]\nid = \"a\"\ntitle = \"t\"\n"
                   "[[packages.tasks]]\nid = \"a\"\ntitle = \"t\"\n",
    "sync-not-table": "sync = 3\n",
    "sync-remote": "[sync]\nremote = 3\nauto = true\n",
    "sync-auto": "[sync]\nauto = \"yes\"\n",
    "dispatch-not-table": "dispatch = 3\n",
    "not-utf8": "\udcff",
}

TOML_COMMANDS: list[tuple[str, ...]] = [
    ("status",),
    ("show", "t1"),
    ("start", "t2", "--title", "x"),
    ("run", "t1"),
    ("land", "t1"),
    ("next",),
    ("plan", "list"),
    ("verify",),
    ("accept", "t1"),
    ("heartbeat", "--once"),
    ("dispatch",),
    ("sync",),
]


@pytest.mark.parametrize("name", list(BAD_TOMLS))
def test_malformed_orch_toml(started: Repo, name: str) -> None:
    """Every command either works (the bad key is not its business) or refuses cleanly."""
    path = started.path / "orch.toml"
    original = path.read_text()
    body = BAD_TOMLS[name]
    if name == "not-utf8":
        path.write_bytes(b"[orch]\nmain_branch = \"\xff\"\n")
    else:
        path.write_text(original + "\n" + body if body.startswith("[") and
                        not body.startswith("[orch]") else body)
    for command in TOML_COMMANDS:
        tip = ledger_tip(started)
        result = started.orch(*command)
        text = result.out + result.err
        assert "Traceback" not in text, (command, text)
        assert result.code != 3, (command, result.err)
        assert crash_logs(started) == [], result.err
        if result.code != 0:
            assert_refused(started, result, tip)


# --- paths, revs, files -------------------------------------------------------


@pytest.mark.parametrize("args", [
    ("verify", "nope..main"),
    ("verify", "main..nope"),
    ("verify", "nope"),
    ("verify", "--", "-x"),
    ("verify", "main...."),
    ("verify", "HEAD:README.md"),  # a blob: rev-list walked it as 0 commits, "ok"
    ("verify", "main..HEAD^{tree}"),
    ("verify", "a\x00b"),  # NUL: subprocess raised ValueError (exit 3)
    ("start", "t3", "--title", "x", "--base", "a\x00"),
    ("accept", "a\nb"),  # accept/reject looked up orch/<id> before checking the id
    ("start", "t3", "--title", "x", "--base", "nope"),
    ("start", "t3", "--title", "x", "--base", "-x"),
    ("start", "t3", "--title", "x", "--base", "HEAD^{tree}"),
    ("start", "t3", "--title", "x", "--allow", ":(foo)x"),
    ("start", "t3", "--title", "x", "--allow", ""),
    ("start", "t3", "--title", "x", "--forbid", "a\nb"),
    ("start", "t3", "--title", "line\nbreak"),
    ("start", "t3", "--title", ""),
    ("start", "t3", "--title", "x", "--agent", "nope"),
    ("run", "t1", "--agent", "nope"),
    ("logs", "t1", "--attempt", "0"),
    ("logs", "t1", "--attempt", "-3"),
    ("heartbeat", "--once", "--interval", "soon"),
    ("heartbeat", "--interval", "0"),
    ("dispatch", "bogus"),
    ("sync", "nope"),
    ("sync", "-x"),
    ("sync", "--", "--upload-pack=x"),
    ("review", "t1", "--gate-timeout", "-1"),
    ("plan", "add", "../x", "--title", "x"),
    ("hooks", "bogus"),
    ("bogus",),
])
def test_bad_arguments(started: Repo, args: tuple[str, ...]) -> None:
    refused(started, *args)


@pytest.mark.parametrize("kind", ["missing", "dir", "unreadable", "not-json", "array",
                                  "binary", "empty"])
def test_review_import_bad_file(started: Repo, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "verdict.json"
    if kind == "dir":
        path.mkdir()
    elif kind == "unreadable":
        path.write_text('{"verdict": "pass"}')
        path.chmod(0)
    elif kind == "not-json":
        path.write_text("{nope")
    elif kind == "array":
        path.write_text("[1, 2]")
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe\x00")
    elif kind == "empty":
        path.write_text("")
    try:
        refused(started, "review-import", "t1", "--file", str(path))
    finally:
        if path.exists():
            path.chmod(0o644)


def test_status_out_is_a_file(started: Repo, tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("x")
    refused(started, "status", "--write", "--out", str(target))
    assert target.read_text() == "x"


def test_status_out_cannot_be_created(started: Repo) -> None:
    refused(started, "status", "--write", "--out", "/proc/no-such-dir")


def test_review_pack_is_a_file(started: Repo, tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("x")
    refused(started, "review", "t1", "--pack", str(target))


# --- real processes -------------------------------------------------------------


def test_dash_c_nonexistent_directory(repo: Repo, tmp_path: Path) -> None:
    result = repo.orch_proc("-C", str(tmp_path / "nowhere"), "status")
    assert_refused(repo, result)


def test_outside_a_repository(repo: Repo, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    result = repo.orch_proc("status", cwd=outside)
    assert result.code == 1 and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [
    ("show", "../x"),
    ("land", "t1"),
    ("start", "a\x01b", "--title", "x"),
    ("verify", "nope"),
])
def test_as_a_real_process(started: Repo, args: tuple[str, ...]) -> None:
    tip = ledger_tip(started)
    assert_refused(started, started.orch_proc(*args), tip)


# --- a corrupt ledger ref -------------------------------------------------------


@pytest.mark.parametrize("kind", ["blob", "tree", "tag"])
@pytest.mark.parametrize("args", [
    ("status",),
    ("show", "t1"),
    ("start", "t2", "--title", "x"),
    ("accept", "t1"),
    ("handoff", "--task", "t1"),
    ("heartbeat", "--once"),
])
def test_ledger_ref_points_at_a_non_commit(started: Repo, kind: str,
                                           args: tuple[str, ...]) -> None:
    if kind == "blob":
        target = started.git("hash-object", "-w", "--stdin", input="junk\n")
    elif kind == "tree":
        target = started.rev("HEAD^{tree}")
    else:
        started.git("tag", "-a", "-m", "x", "v1", "HEAD")
        target = started.rev("v1")
    started.git("update-ref", "refs/orch/ledger", target)
    refused(started, *args)
    assert ledger_tip(started) == target


def test_ledger_ref_points_at_a_missing_object(started: Repo) -> None:
    ref = started.path / ".git" / "refs" / "orch" / "ledger"
    started.git("pack-refs", "--all")
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text("1" * 40 + "\n")
    for args in (("status",), ("show", "t1"), ("start", "t2", "--title", "x")):
        refused(started, *args)
    assert ref.read_text().strip() == "1" * 40


def test_a_bug_logs_its_crash_in_the_dash_c_repository(repo: Repo, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 3 writes the traceback under the repo given by -C, not the process cwd's."""
    import git_orch.commands.status as status_command

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(status_command, "collect", boom)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = repo.orch("status")
    assert result.code == 3 and "Traceback" not in result.err
    logs = crash_logs(repo)
    assert len(logs) == 1 and str(logs[0]) in result.err
    assert "RuntimeError: boom" in logs[0].read_text()


@pytest.mark.parametrize(
    "preset",
    [
        'argv = ["agent"]\nmax_attempts = 100000',
        'argv = ["agent"]\nbackoff = 1e400',
        'argv = ["agent"]\nmax_runtime = "99999d"',
        'argv = ["agent"]\nenv = { "A=B" = "x" }',
        'argv = ["agent"]\nenv = { "" = "x" }',
    ],
)
def test_unbounded_or_malformed_agent_presets_are_refused_when_read(
    repo: Repo, preset: str
) -> None:
    repo.start("t1")
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write(f"\n[agents.bad]\n{preset}\n")
    result = repo.orch("run", "t1", "--agent", "bad")
    assert result.code == 1 and "agents.bad" in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "run-started" not in repo.orch_ok("show", "t1").out


@pytest.mark.parametrize("value", ["nan", "inf", "0", "1e9"])
def test_gate_timeout_out_of_range_is_refused(repo: Repo, value: str) -> None:
    repo.start("t1")
    result = repo.orch("review", "t1", "--gate-timeout", value)
    assert result.code == 1 and "--gate-timeout" in result.err
