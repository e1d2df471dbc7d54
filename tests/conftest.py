"""Hermetic real-git fixtures: no user or system config, fixed identities.

`orch(...)` runs the CLI in-process (fast); `orch_proc(...)` runs it as a real
process (`python -m git_orch`), for exit codes, races and hooks.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from git_orch.cli import main as cli_main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        import json

        return json.loads(self.out)


@pytest.fixture(autouse=True, scope="session")
def hermetic_git(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[init]\n\tdefaultBranch = main\n"
        "[protocol \"file\"]\n\tallow = always\n"
        "[advice]\n\tdetachedHead = false\n"
    )
    env = {
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_AUTHOR_NAME": "Ada Tester",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Tester",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C.UTF-8",
    }
    # ORCH_TASK marks a worker's process (lead-only commands refuse): a test run by
    # a supervised agent must not inherit it.
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_NOTES_REF", "EDITOR",
                "ORCH_TASK"):
        os.environ.pop(key, None)
    os.environ.update(env)


def git(*args: str, cwd: Path, check: bool = True, input: str | None = None) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, input=input, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def orch(*args: str, cwd: Path) -> Result:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(["-C", str(cwd), *args])
    return Result(code, out.getvalue(), err.getvalue())


def orch_proc(*args: str, cwd: Path, env: dict[str, str] | None = None,
              timeout: float = 60) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "git_orch", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def ledger_note(repo: Repo, rev: str) -> str:
    """The ledger note on rev, read with plain git as refs-schema.md shows."""
    proc = subprocess.run(
        ["git", "log", "-1", "--format=%N", rev], cwd=repo.path, capture_output=True, text=True,
        errors="surrogateescape",
        env={**os.environ, "GIT_NOTES_REF": "refs/orch/ledger"}, check=True,
    )
    return proc.stdout.strip()


class Repo:
    """A repository with one commit on main, and helpers bound to it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str, cwd: Path | None = None, check: bool = True,
            input: str | None = None) -> str:
        return git(*args, cwd=cwd or self.path, check=check, input=input)

    def orch(self, *args: str, cwd: Path | None = None) -> Result:
        return orch(*args, cwd=cwd or self.path)

    def orch_ok(self, *args: str, cwd: Path | None = None) -> Result:
        result = self.orch(*args, cwd=cwd)
        assert result.code == 0, f"git orch {' '.join(args)} -> {result.code}: {result.err}"
        return result

    def orch_proc(self, *args: str, cwd: Path | None = None, **kw: object) -> Result:
        return orch_proc(*args, cwd=cwd or self.path, **kw)  # type: ignore[arg-type]

    def write(self, rel: str, text: str, cwd: Path | None = None) -> Path:
        path = (cwd or self.path) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def commit_all(self, message: str, cwd: Path | None = None) -> str:
        self.git("add", "-A", cwd=cwd)
        self.git("commit", "-q", "-m", message, cwd=cwd)
        return self.git("rev-parse", "HEAD", cwd=cwd)

    def rev(self, rev: str) -> str:
        return self.git("rev-parse", rev)

    def worktree(self, task_id: str) -> Path:
        return self.path.parent / f"{self.path.name}.orch" / task_id

    def start(self, task_id: str, *extra: str) -> Path:
        self.orch_ok("start", task_id, "--title", f"task {task_id}", *extra)
        return self.worktree(task_id)

    def status(self) -> dict[str, dict[str, object]]:
        data = self.orch_ok("status", "--json").json()
        assert isinstance(data, dict)
        return {t["id"]: t for t in data["tasks"]}


def make_repo(path: Path) -> Repo:
    path.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=path)
    repo = Repo(path)
    repo.write("README.md", "hello\n")
    repo.write("src/app.py", "print('app')\n")
    repo.write("docs/guide.md", "guide\n")
    repo.commit_all("initial")
    return repo


def set_isolation(repo: Repo, isolation: str) -> None:
    """Change the `isolation` init wrote into orch.toml (not committed)."""
    toml = repo.path / "orch.toml"
    text = toml.read_text()
    assert 'isolation = "clone"' in text  # what init writes for a new repository
    toml.write_text(text.replace('isolation = "clone"', f'isolation = "{isolation}"'))


def initialised_repo(path: Path, isolation: str) -> Repo:
    """git orch init done, orch.toml set to `isolation` and committed."""
    r = make_repo(path)
    r.orch_ok("init")
    set_isolation(r, isolation)
    r.commit_all("Add git-orch policy")
    return r


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A fresh repo, orch.toml committed, worktree isolation (the suite's long-standing
    mode; clone_repo and any_repo cover clone workspaces)."""
    return initialised_repo(tmp_path / "repo", "worktree")


@pytest.fixture
def clone_repo(tmp_path: Path) -> Repo:
    """A fresh repo whose tasks get clone workspaces (what init writes)."""
    return initialised_repo(tmp_path / "repo", "clone")


@pytest.fixture(params=["worktree", "clone"])
def any_repo(request: pytest.FixtureRequest, tmp_path: Path) -> Repo:
    """The same test in both isolation modes."""
    return initialised_repo(tmp_path / "repo", str(request.param))


@pytest.fixture
def plain_repo(tmp_path: Path) -> Repo:
    """A fresh repo without git orch init."""
    return make_repo(tmp_path / "repo")


@pytest.fixture
def remote(tmp_path: Path, repo: Repo) -> Path:
    """A bare remote `origin` that has main pushed to it."""
    bare = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    repo.git("remote", "add", "origin", str(bare))
    repo.git("push", "-q", "origin", "main")
    return bare


def bwrap_unusable() -> str | None:
    """Why bubblewrap cannot run here (the reason a bwrap test is skipped), or None."""
    import shutil

    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    proc = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-pid", "true"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return f"bubblewrap cannot run here: {proc.stderr.strip()[:200]}"
    return None
