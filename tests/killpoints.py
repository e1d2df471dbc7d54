"""The kill-point harness: SIGKILL git-orch right before or after its k-th write.

A `git` shim first on PATH counts the git calls the git-orch process itself
makes (not those of hooks or of git's own children) in a counter file and
logs them; git-orch's libgit2 writes count in the same file through
`git_orch.record.killpoint`. Both are aimed at one process only: the harness
execs git-orch from a shell whose pid it exports first.

A scenario is built once, copied aside, and restored to the same absolute
paths before every run (worktree links are absolute), so each kill point
costs one killed process plus the recovery, not a new setup.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from conftest import Repo, Result, orch

SHIM = """#!/bin/sh
if [ "$PPID" = "$GIT_ORCH_KILLPOINT_PID" ] && [ -n "$GIT_ORCH_KILLPOINT_COUNTER" ]; then
  n=$(( $(cat "$GIT_ORCH_KILLPOINT_COUNTER") + 1 ))
  echo "$n" > "$GIT_ORCH_KILLPOINT_COUNTER"
  printf '%s git %s\\n' "$n" "$*" >> "$GIT_ORCH_KILLPOINT_COUNTER.log"
  if [ "$n" = "$GIT_ORCH_KILLPOINT_AT" ] && [ "$GIT_ORCH_KILLPOINT_WHEN" = before ]; then
    kill -9 "$PPID"; exit 137
  fi
  "{real}" "$@"; rc=$?
  if [ "$n" = "$GIT_ORCH_KILLPOINT_AT" ] && [ "$GIT_ORCH_KILLPOINT_WHEN" = after ]; then
    kill -9 "$PPID"
  fi
  exit $rc
fi
exec "{real}" "$@"
"""

# git subcommands that change something: killing before a read is the same as
# killing after the write before it, so only writes are kill points.
WRITES = frozenset({"update-ref", "worktree", "read-tree", "push", "fetch", "config", "reset",
                    "checkout", "branch", "notes"})
_GLOBAL_WITH_VALUE = frozenset({"--git-dir", "-C", "-c", "--work-tree"})


def subcommand(argv: list[str]) -> str:
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _GLOBAL_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return ""


@dataclass
class Call:
    number: int
    kind: str  # "git" or "libgit2"
    text: str

    @property
    def writes(self) -> bool:
        if self.kind == "libgit2":
            return True
        argv = self.text.split()
        sub = subcommand(argv)
        if sub == "config":
            return "--get" not in argv and "--get-all" not in argv
        if sub == "read-tree":
            return "-n" not in argv
        if sub == "worktree":
            return "list" not in argv
        return sub in WRITES


class Harness:
    def __init__(self, root: Path, work: Path) -> None:
        self.root = root  # everything of the scenario lives here
        self.pristine = work / "pristine"
        self.bin = work / "bin"
        self.counter = work / "counter"
        self.bin.mkdir(parents=True, exist_ok=True)
        real = shutil.which("git")
        assert real is not None
        shim = self.bin / "git"
        shim.write_text(SHIM.replace("{real}", real))
        shim.chmod(0o755)

    def save(self) -> None:
        shutil.copytree(self.root, self.pristine, symlinks=True)

    def restore(self) -> None:
        shutil.rmtree(self.root)
        shutil.copytree(self.pristine, self.root, symlinks=True)

    def run(self, args: list[str], cwd: Path, at: int = 0, when: str = "before") -> Result:
        """git orch ARGS as a real process, killed at call `at` (0: never)."""
        self.counter.write_text("0\n")
        log = Path(f"{self.counter}.log")
        log.unlink(missing_ok=True)
        env = {**os.environ, "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
               "GIT_ORCH_KILLPOINT_COUNTER": str(self.counter),
               "GIT_ORCH_KILLPOINT_AT": str(at), "GIT_ORCH_KILLPOINT_WHEN": when}
        proc = subprocess.run(
            ["sh", "-c", 'export GIT_ORCH_KILLPOINT_PID=$$; exec "$0" "$@"',
             sys.executable, "-m", "git_orch", *args],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def calls(self) -> list[Call]:
        found = []
        for line in Path(f"{self.counter}.log").read_text().splitlines():
            number, kind, text = (line.split(" ", 2) + [""])[:3]
            found.append(Call(int(number), kind, text))
        return found

    def kill_points(self, args: list[str], cwd: Path) -> list[Call]:
        """Run once uninterrupted; the write calls it made are the kill points."""
        result = self.run(args, cwd)
        assert result.code == 0, result.err
        points = [c for c in self.calls() if c.writes]
        assert points, self.calls()
        return points


# --- what "the same end state" means --------------------------------------------


def event_log(repo: Repo) -> dict[str, list[dict[str, object]]]:
    """Every task's events, read from the ledger with plain git."""
    out: dict[str, list[dict[str, object]]] = {}
    refs = repo.git("for-each-ref", "--format=%(refname:strip=3) %(objectname)",
                    "refs/orch/tasks/")
    for line in refs.splitlines():
        task_id, oid = line.split()
        note = repo.git("notes", "--ref=refs/orch/ledger", "show", oid, check=False)
        out[task_id] = [json.loads(x) for x in note.splitlines() if x.strip()]
    return out


def event_ids(repo: Repo) -> set[str]:
    return {str(e["id"]) for events in event_log(repo).values() for e in events}


def _tree_and_parents(repo: Repo, rev: str, cwd: Path | None = None) -> str | None:
    out = repo.git("rev-parse", "--verify", "--quiet", f"{rev}^{{tree}}", cwd=cwd, check=False)
    if not out:
        return None
    parents = repo.git("rev-list", "--parents", "-n1", rev, cwd=cwd).split()
    return f"{out} parents={len(parents) - 1}"


def locks(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.lock")
                  if not p.name.startswith("supervisor"))


def end_state(repo: Repo, remote: Path | None) -> dict[str, object]:
    """What a person would check after the command: tasks, refs, checkouts, remote."""
    status = orch("status", "--json", cwd=repo.path)
    assert status.code == 0, status.err
    data = status.json()
    assert isinstance(data, dict)
    tasks = {t["id"]: (t["state"], sorted(f for f in t["flags"] if f != "stale-needs-inspection"),
                       t["worktree_present"]) for t in data["tasks"]}
    events = {tid: sorted(Counter(str(e["type"]) for e in evs if e["type"] != "flagged").items())
              for tid, evs in event_log(repo).items()}
    refs = repo.git("for-each-ref", "--format=%(refname)", "refs/heads", "refs/orch/tasks",
                    "refs/orch/archive").splitlines()
    worktrees = sorted(p.relative_to(repo.path.parent).as_posix()
                       for p in (repo.path.parent / f"{repo.path.name}.orch").glob("*"))
    state: dict[str, object] = {
        "tasks": tasks, "events": events, "refs": refs, "worktrees": worktrees,
        "main": _tree_and_parents(repo, "refs/heads/main"),
        "checkout": repo.git("status", "--porcelain"),
        "locks": locks(repo.path.parent),
        "orphans": data["orphans"],
    }
    if remote is not None:
        state["remote_main"] = _tree_and_parents(repo, "main", cwd=remote)
    return state


def check_push_records(repo: Repo, remote: Path | None) -> None:
    """Nothing recorded as pushed is missing from the remote."""
    if remote is None:
        return
    for task_id, events in event_log(repo).items():
        for event in events:
            if event["type"] == "pushed":
                merged = [e for e in events if e["type"] == "merged"][-1]
                remote_main = repo.git("rev-parse", "main", cwd=remote)
                proc = subprocess.run(["git", "merge-base", "--is-ancestor",
                                       str(merged["commit"]), remote_main], cwd=repo.path,
                                      check=False)
                assert proc.returncode == 0, f"{task_id}: recorded as pushed, not on the remote"
