"""Find the repository git-orch works on, from any of its worktrees.

Ledger objects are written through a pygit2 handle opened at the COMMON git
dir: in a linked worktree libgit2 silently overwrites refs it was asked to
create, and every worktree must see one ledger.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import pygit2

from git_orch.errors import OrchError
from git_orch.gitcmd import GitError, git, run_git

_Obj = TypeVar("_Obj")
_OPEN_EXACTLY = (
    pygit2.enums.RepositoryOpenFlag.NO_SEARCH
    | pygit2.enums.RepositoryOpenFlag.NO_DOTGIT
)


@dataclass(frozen=True)
class Worktree:
    path: Path
    head: str | None
    branch: str | None  # full ref name, e.g. refs/heads/orch/t1
    locked: bool = False
    prunable: bool = False


class OrchRepo:
    """A non-bare repository seen from one of its worktrees."""

    def __init__(self, start: str | Path | None = None) -> None:
        cwd = Path(start) if start is not None else Path.cwd()
        if not cwd.is_dir():
            raise OrchError(f"not a directory: {cwd}")
        proc = run_git(
            [
                "rev-parse",
                "--path-format=absolute",
                "--git-common-dir",
                "--git-dir",
                "--is-bare-repository",
                "--is-inside-work-tree",
            ],
            cwd,
            check=False,
        )
        if proc.returncode != 0:
            raise OrchError(f"not a git repository: {cwd} (run git orch inside a repository)")
        common, gitdir, bare, inside = proc.stdout.splitlines()[:4]
        if bare == "true" or inside != "true":
            raise OrchError(
                f"{cwd} is a bare repository or a git dir: run git orch in a worktree"
            )
        self.common_dir = Path(common)
        self.git_dir = Path(gitdir)
        self.toplevel = Path(git(["rev-parse", "--show-toplevel"], cwd))

    @cached_property
    def pygit(self) -> pygit2.Repository:
        """libgit2 on exactly the common dir: no upward search, no `<dir>/.git` probe.

        An agent sandbox (codex's bubblewrap) may mount an empty `.git` inside
        the common dir; libgit2 would open that first and find no repository.
        """
        return pygit2.Repository(str(self.common_dir), _OPEN_EXACTLY)

    def git(self, args: list[str], cwd: Path | None = None) -> str:
        """git in this worktree (or in cwd, another worktree of this repo)."""
        return git(args, cwd or self.toplevel)

    def git_common(self, args: list[str], *, input: str | None = None) -> str:
        """git against the common dir: per-worktree hooks and config are not in force."""
        return git(["--git-dir", str(self.common_dir), *args], self.common_dir, input=input)

    @cached_property
    def worktrees(self) -> list[Worktree]:
        out = self.git(["worktree", "list", "--porcelain", "-z"])
        result: list[Worktree] = []
        fields: dict[str, str] = {}
        for item in out.split("\0"):
            if item:
                key, _, value = item.partition(" ")
                fields[key] = value
                continue
            if "worktree" in fields and "bare" not in fields:
                result.append(
                    Worktree(
                        path=Path(fields["worktree"]),
                        head=fields.get("HEAD"),
                        branch=fields.get("branch"),
                        locked="locked" in fields,
                        prunable="prunable" in fields,
                    )
                )
            fields = {}
        return result

    @property
    def main_worktree(self) -> Path:
        """The first worktree git lists is the main one."""
        trees = self.worktrees
        return trees[0].path if trees else self.toplevel

    def worktree_for_branch(self, branch: str) -> Worktree | None:
        ref = branch if branch.startswith("refs/") else f"refs/heads/{branch}"
        for tree in self.worktrees:
            if tree.branch == ref:
                return tree
        return None

    @cached_property
    def runtime_dir(self) -> Path:
        """Per-machine scratch space; never the source of truth."""
        path = self.common_dir / "orch"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @cached_property
    def is_clone_workspace(self) -> bool:
        """A worker's clone (its own git dir, `orch.role=worker`), read by libgit2."""
        if self.git_dir != self.common_dir:
            return False
        try:
            return self.pygit.config["orch.role"] == "worker"
        except (KeyError, pygit2.GitError, ValueError):
            return False

    @cached_property
    def no_hooks_dir(self) -> Path:
        """An empty folder, for `-c core.hooksPath=` when git must run no hook at all."""
        path = self.runtime_dir / "no-hooks"
        path.mkdir(exist_ok=True)
        return path

    def config_get(self, key: str, cwd: Path | None = None) -> str | None:
        proc = run_git(["config", "--get", key], cwd or self.toplevel, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def worker_task(self, cwd: Path | None = None) -> str | None:
        """The task id when cwd (default: this worktree) is a worker worktree."""
        return self.config_get("orch.task", cwd)

    def refs_under(self, prefix: str) -> dict[str, str]:
        """Name below `prefix` -> object id, for every ref under it (one git call)."""
        out = self.git_common(["for-each-ref", "--format=%(objectname) %(refname)", prefix])
        found: dict[str, str] = {}
        for line in out.splitlines():
            oid, _, name = line.partition(" ")
            found[name[len(prefix) :]] = oid
        return found

    def ref_target(self, name: str) -> pygit2.Oid | None:
        try:
            ref = self.pygit.references.get(name)
        except (ValueError, pygit2.GitError):
            return None
        if ref is None:
            return None
        target = ref.resolve().target
        return target if isinstance(target, pygit2.Oid) else None

    def resolve_commit(self, rev: str) -> pygit2.Commit:
        """A user-given revision as a commit, or a clear refusal."""
        if rev.startswith("-"):
            raise OrchError(f"bad revision {rev!r}: must not start with '-'")
        try:
            oid = git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
                      self.toplevel)
        except GitError:
            if self.pygit.head_is_unborn and not self.refs_under("refs/heads/"):
                raise OrchError(
                    f"this repository has no commits yet, so there is no {rev!r}: "
                    "commit something first (git commit)") from None
            raise OrchError(f"bad revision {rev!r}: not a commit in this repository") from None
        return peel(self.pygit, oid, pygit2.Commit)

    @cached_property
    def actor(self) -> str:
        name = os.environ.get("GIT_COMMITTER_NAME") or self.config_get("user.name") or "unknown"
        email = os.environ.get("GIT_COMMITTER_EMAIL") or self.config_get("user.email") or ""
        return f"{name} <{email}>" if email else name

    @cached_property
    def signature(self) -> pygit2.Signature:
        name = os.environ.get("GIT_COMMITTER_NAME") or self.config_get("user.name") or "git-orch"
        email = (
            os.environ.get("GIT_COMMITTER_EMAIL")
            or self.config_get("user.email")
            or "git-orch@localhost"
        )
        return pygit2.Signature(name, email)


def hostname() -> str:
    return socket.gethostname()


def peel(repo: pygit2.Repository, oid: str | pygit2.Oid, kind: type[_Obj]) -> _Obj:
    """The object `oid` as `kind` (Commit, Tree, Blob), or a clear refusal."""
    try:
        obj = repo[oid]
    except (KeyError, ValueError):
        raise OrchError(f"object {str(oid)[:12]} is missing from the repository") from None
    if not isinstance(obj, kind):
        raise OrchError(f"object {str(oid)[:12]} is not a {kind.__name__.lower()}")
    return obj


def blob_bytes(repo: pygit2.Repository, oid: str | pygit2.Oid) -> bytes:
    return peel(repo, oid, pygit2.Blob).data
