"""A worker's plain `handoff` and `block` run without click (git_orch/fastpath.py).

Each case builds the same situation twice, runs the command line once as the
console script runs it (`python -m git_orch`, which takes the fast path) and
once through the click CLI, and compares what a user sees: exit code, stdout,
stderr, the task's ledger, the run's handoff file and the notifier's payload.
The fast side runs under `-X importtime`, so each case also shows whether
click was imported: never for a plain form, always for the others, which
must print click's own usage errors and help.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import initialised_repo

CLICK_PATH = "import sys; from git_orch.cli import main; sys.exit(main())"
_IMPORT_LINE = re.compile(r"^import time:.*\n", re.MULTILINE)
_CLICK_IMPORTED = re.compile(r"^import time:.*\| +click$", re.MULTILINE)


class Side:
    """One of the two identical situations a case is run in."""

    def __init__(self, base: Path, setup: str) -> None:
        self.base = base
        self.repo = initialised_repo(base / "repo", "worktree")
        self.outside = base / "outside"
        self.outside.mkdir()
        if setup == "notify":
            script = base / "notifier.py"
            script.write_text("import sys\nopen(sys.argv[1], 'a').write(sys.stdin.read())\n")
            argv = [sys.executable, str(script), str(base / "notified.json")]
            with open(self.repo.path / "orch.toml", "a") as handle:
                handle.write(f"\n[notify]\nargv = {json.dumps(argv)}\n")
        self.worker = self.repo.start("t1", "--allow", "src/**")
        if setup != "fresh":
            self.repo.write("src/work.py", "x = 1\n", cwd=self.worker)
            self.repo.commit_all("Work", cwd=self.worker)
        if setup == "dirty":
            self.repo.write("src/left over.py", "y = 2\n", cwd=self.worker)
        if setup == "blocked":
            self.repo.orch_ok("block", "--reason", "first", cwd=self.worker)
        if setup == "two":
            self.repo.start("t2", "--allow", "docs/**")
        if setup == "auto-sync":  # after start, which would sync too
            with open(self.repo.path / "orch.toml", "a") as handle:
                handle.write("\n[sync]\nauto = true\n")
        if setup == "damaged-ledger":
            blob = self.repo.git("hash-object", "-w", "--stdin", input="not a commit")
            self.repo.git("update-ref", "refs/orch/ledger", blob)
        if setup == "undecodable-name":  # a worker names a file with bytes that are not UTF-8
            (self.worker / "src").mkdir(exist_ok=True)
            with open(os.fsencode(self.worker / "src") + b"/bad\xff.py", "w") as handle:
                handle.write("x\n")
        if setup == "stale-lock":
            lock = self.repo.path / ".git" / "refs" / "orch" / "ledger.lock"
            lock.write_text("")
            old = time.time() - 600
            os.utime(lock, (old, old))

    def place(self, text: str) -> str:
        return (text.replace("<worker>", str(self.worker)).replace("<main>", str(self.repo.path))
                .replace("<outside>", str(self.outside)).replace("<base>", str(self.base)))

    def run(self, python_args: list[str], args: list[str], cwd: str,
            env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *python_args, *[self.place(a) for a in args]],
            cwd=self.place(cwd), capture_output=True, text=True, errors="backslashreplace",
            check=False, timeout=60,
            env={**os.environ, **{k: self.place(v) for k, v in env.items()}})

    def seen(self, proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
        """What a user sees, with what differs between two runs of one case made alike:
        the temporary folder, object and event ids, times."""
        handoff_file = self.base / "handoff.md"
        notified = self.base / "notified.json"
        return {
            "code": proc.returncode,
            "out": self.alike(proc.stdout),
            "err": self.alike(_IMPORT_LINE.sub("", proc.stderr)),
            "ledger": self.alike(self.ledger()),
            "handoff file": handoff_file.read_text() if handoff_file.exists() else None,
            "notified": self.alike(notified.read_text()) if notified.exists() else None,
        }

    def ledger(self) -> str:
        """The task's ledger note as plain git shows it (or git's complaint)."""
        proc = subprocess.run(["git", "log", "-1", "--format=%N", "refs/orch/tasks/t1"],
                              cwd=self.repo.path, capture_output=True, text=True, check=False,
                              env={**os.environ, "GIT_NOTES_REF": "refs/orch/ledger"})
        return proc.stdout + proc.stderr

    def alike(self, text: str) -> str:
        text = text.replace(str(self.base), "<tmp>")
        text = re.sub(r'"id":"[0-9a-f]{32}"', '"id":"<id>"', text)
        text = re.sub(r"crash-[0-9-]+\.log", "crash-<when>.log", text)
        text = re.sub(r"\b[0-9a-f]{40}\b|\b[0-9a-f]{12}\b", "<oid>", text)
        return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<time>", text)


Case = tuple[str, list[str], str, dict[str, str]]  # setup, argv, cwd, env

# Forms the fast path answers: successes and refusals.
PLAIN: dict[str, Case] = {
    "handoff": ("work", ["handoff"], "<worker>", {}),
    "handoff-summary-risks": ("work", ["handoff", "--summary", "done it", "--risk", "r1",
                                       "--risk", "r 2"], "<worker>", {}),
    "handoff-equals-json": ("work", ["handoff", "--summary=done", "--risk=r=1", "--json"],
                            "<worker>", {}),
    "handoff-task-from-main": ("work", ["handoff", "--task", "t1", "--json"], "<main>", {}),
    "handoff-C-worker": ("work", ["-C", "<worker>", "handoff", "--summary", "x"], "<outside>",
                         {}),
    "block-C-main": ("work", ["-C", "<main>", "block", "--task=t1", "--reason", "why", "--json"],
                     "<outside>", {}),
    "block": ("work", ["block", "--reason", "need the password"], "<worker>", {}),
    "block-escapes": ("work", ["block", "--reason", "\x1b[31mred\x1b[0m text"], "<worker>", {}),
    "block-unicode-json": ("work", ["block", "--json", "--reason", "clé ☃ manquante"],
                           "<worker>", {}),
    "block-ascii-stream": ("work", ["block", "--reason", "clé"], "<worker>",
                           {"PYTHONIOENCODING": "ascii"}),
    "block-undecodable-reason": ("work", ["block", "--reason", "bad \udcff byte"], "<worker>",
                                 {}),
    "refused-dirty": ("dirty", ["handoff", "--summary", "x"], "<worker>", {}),
    "refused-no-commits": ("fresh", ["handoff"], "<worker>", {}),
    "refused-not-a-worker": ("work", ["handoff"], "<main>", {}),
    "refused-block-not-a-worker": ("work", ["block", "--reason", "r"], "<main>", {}),
    "refused-unknown-task": ("work", ["handoff", "--task", "nosuch"], "<worker>", {}),
    "refused-bad-task-id": ("work", ["block", "--task", "a/../b", "--reason", "r"], "<worker>",
                            {}),
    "refused-wrong-task": ("two", ["handoff", "--task", "t2"], "<worker>", {}),
    "refused-blank-reason": ("work", ["block", "--reason", "  "], "<worker>", {}),
    "refused-already-blocked": ("blocked", ["block", "--reason", "again"], "<worker>", {}),
    "handoff-when-blocked": ("blocked", ["handoff", "--json"], "<worker>", {}),
    "refused-damaged-ledger": ("damaged-ledger", ["block", "--reason", "r"], "<worker>", {}),
    "refused-undecodable-name": ("undecodable-name", ["handoff"], "<worker>", {}),
    "refused-stale-lock": ("stale-lock", ["block", "--reason", "r"], "<worker>", {}),
    "handoff-file": ("work", ["handoff", "--summary", "Did it", "--risk", "slow"], "<worker>",
                     {"ORCH_TASK": "t1", "ORCH_HANDOFF_FILE": "<base>/handoff.md"}),
    "handoff-file-unwritable": ("work", ["handoff", "--summary", "Did it"], "<worker>",
                                {"ORCH_TASK": "t1",
                                 "ORCH_HANDOFF_FILE": "<base>/missing/handoff.md"}),
    "notify-handoff": ("notify", ["handoff", "--summary", "s"], "<worker>", {}),
    "notify-block": ("notify", ["block", "--reason", "r"], "<worker>", {}),
    "no-notify-under-run": ("notify", ["block", "--reason", "r"], "<worker>", {"ORCH_RUN": "1"}),
}

# Forms left to click: usage errors, help, options only it handles, or a sync.
CLICK: dict[str, Case] = {
    "help": ("work", ["handoff", "--help"], "<worker>", {}),
    "short-help": ("work", ["block", "-h"], "<worker>", {}),
    "missing-reason": ("work", ["block"], "<worker>", {}),
    "missing-value": ("work", ["handoff", "--summary"], "<worker>", {}),
    "value-like-an-option": ("work", ["handoff", "--summary", "--json"], "<worker>", {}),
    "repeated": ("work", ["block", "--reason", "a", "--reason", "b"], "<worker>", {}),
    "repeated-json": ("work", ["handoff", "--json", "--json"], "<worker>", {}),
    "unknown-option": ("work", ["handoff", "--reason", "r"], "<worker>", {}),
    "json-with-value": ("work", ["handoff", "--json=yes"], "<worker>", {}),
    "positional": ("work", ["block", "t1", "--reason", "r"], "<worker>", {}),
    "no-sync": ("work", ["handoff", "--no-sync"], "<worker>", {}),
    "sync": ("work", ["block", "--sync", "--reason", "r"], "<worker>", {}),
    "auto-sync": ("auto-sync", ["block", "--reason", "r"], "<worker>", {}),
    "C-a-file": ("work", ["-C", "<main>/README.md", "handoff"], "<outside>", {}),
    "C-missing": ("work", ["-C", "<outside>/nowhere", "handoff"], "<outside>", {}),
    "not-a-repository": ("work", ["-C", "<outside>", "block", "--reason", "r"], "<outside>", {}),
    "option-after-command": ("work", ["handoff", "-C", "<main>"], "<worker>", {}),
    "double-dash": ("work", ["block", "--reason", "r", "--"], "<worker>", {}),
}


def both_ways(tmp_path: Path, case: Case) -> tuple[dict[str, object], dict[str, object], bool]:
    """What the console script and the click CLI show for one case, and whether the
    console script imported click."""
    setup, args, cwd, env = case
    fast_side, click_side = Side(tmp_path / "fast", setup), Side(tmp_path / "click", setup)
    fast = fast_side.run(["-X", "importtime", "-m", "git_orch"], args, cwd, env)
    slow = click_side.run(["-c", CLICK_PATH], args, cwd, env)
    return (fast_side.seen(fast), click_side.seen(slow),
            _CLICK_IMPORTED.search(fast.stderr) is not None)


@pytest.mark.parametrize("name", list(PLAIN))
def test_plain_forms_run_without_click_and_show_what_click_shows(
        tmp_path: Path, name: str) -> None:
    fast, slow, click_imported = both_ways(tmp_path, PLAIN[name])
    assert fast == slow
    assert not click_imported
    if name.startswith("refused"):
        assert fast["code"] in (1, 2), fast  # 2: a malformed task id
        assert str(fast["err"]).startswith(("git-orch: ", "warning: "))


@pytest.mark.parametrize("name", list(CLICK))
def test_other_forms_are_clicks(tmp_path: Path, name: str) -> None:
    fast, slow, click_imported = both_ways(tmp_path, CLICK[name])
    assert fast == slow
    assert click_imported


def test_what_users_see_in_some_cases(tmp_path: Path) -> None:
    """The comparisons above hold what they should: a spot check of each path's output."""
    def seen(name: str, cases: dict[str, Case]) -> dict[str, object]:
        return both_ways(tmp_path / name, cases[name])[0]

    done = seen("handoff-summary-risks", PLAIN)
    assert done["code"] == 0 and done["out"] == "handed off t1 at <oid>: awaiting review\n"
    assert '"risks":["r1","r 2"],"summary":"done it"' in str(done["ledger"])
    assert seen("block-escapes", PLAIN)["out"] == "blocked t1: red text\n"
    unicode = seen("block-unicode-json", PLAIN)
    assert json.loads(str(unicode["out"]))["reason"] == "clé ☃ manquante"
    dirty = seen("refused-dirty", PLAIN)
    assert dirty["err"] == ("git-orch: uncommitted changes in <tmp>/repo.orch/t1 "
                            "(e.g. src/left over.py): commit or remove them first\n")
    assert '"type":"handoff"' not in str(dirty["ledger"])
    assert seen("handoff-file", PLAIN)["handoff file"] == "Did it\n\nRisk: slow\n"
    assert json.loads(str(seen("notify-block", PLAIN)["notified"]))["kind"] == "blocked"
    undecodable = seen("refused-undecodable-name", PLAIN)  # was exit 3: git's answer crashed
    assert undecodable["code"] == 1 and "(e.g. src/bad\\udcff.py)" in str(undecodable["err"])
    assert seen("no-notify-under-run", PLAIN)["notified"] is None
    helped = seen("help", CLICK)
    assert helped["code"] == 0 and str(helped["out"]).startswith("Usage: git orch handoff")
    missing = seen("missing-reason", CLICK)
    assert missing["code"] == 2 and "Missing option '--reason'" in str(missing["err"])

