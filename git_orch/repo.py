"""Find the repository git-orch works on, from any of its worktrees.

Objects are read and written at the COMMON git dir (libgit2 in a linked
worktree silently overwrites refs it was asked to create, and every worktree
must see one ledger). pygit2 is imported only by the code that uses it: the
import alone costs ~50 ms, and the frequent commands (a ledger write, show)
go through `objects` and plain git instead.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from git_orch.errors import OrchError
from git_orch.gitcmd import GitError, git, run_git
from git_orch.objects import HEX40, Objects

if TYPE_CHECKING:
    import pygit2

_Obj = TypeVar("_Obj")
# Per-worktree refs: their files are not in the common dir.
_WORKTREE_REFS = ("bisect", "worktree", "rewritten")


class Worktree(NamedTuple):  # a NamedTuple: a third of a frozen dataclass's import cost
    """One entry of `git worktree list`."""

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
        asks = ["rev-parse", "--path-format=absolute", "--git-common-dir", "--git-dir",
                "--is-bare-repository", "--is-inside-work-tree"]
        # One process in a worktree; --show-toplevel fails outside one, and
        # the call without it then says why.
        proc = run_git([*asks, "--show-toplevel"], cwd, check=False)
        if proc.returncode != 0:
            proc = run_git(asks, cwd, check=False)
        if proc.returncode != 0:
            raise OrchError(f"not a git repository: {cwd} (run git orch inside a repository)")
        lines = proc.stdout.splitlines()
        common, gitdir, bare, inside = lines[:4]
        if bare == "true" or inside != "true" or len(lines) < 5:
            raise OrchError(
                f"{cwd} is a bare repository or a git dir: run git orch in a worktree"
            )
        self.common_dir = Path(common)
        self.git_dir = Path(gitdir)
        self.toplevel = Path(lines[4])

    @cached_property
    def pygit(self) -> pygit2.Repository:
        """libgit2 on exactly the common dir: no upward search, no `<dir>/.git` probe.

        An agent sandbox (codex's bubblewrap) may mount an empty `.git` inside
        the common dir; libgit2 would open that first and find no repository.
        """
        import pygit2

        flags = (pygit2.enums.RepositoryOpenFlag.NO_SEARCH
                 | pygit2.enums.RepositoryOpenFlag.NO_DOTGIT)
        return pygit2.Repository(str(self.common_dir), flags)

    @cached_property
    def objects(self) -> Objects:
        """Objects read through one `git cat-file --batch`, written in-process."""
        return Objects(self.common_dir)

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
        """The first worktree git lists is the main one.

        git names it after the common dir (`<main>/.git` gives `<main>`) unless
        core.bare says it is bare, so it is worked out without `git worktree list`
        (~2 ms a command) while no list was read: in the main worktree (whose
        config cannot say bare: git would have found no worktree), and in a
        linked one from `own_config`, which a worker's commands read anyway.
        """
        if "worktrees" not in self.__dict__:
            if self.git_dir == self.common_dir:
                return self._named_after_common_dir()
            if not _maybe_true(self.own_config.get("core.bare")):
                return self._named_after_common_dir()
        trees = self.worktrees
        return trees[0].path if trees else self.toplevel

    def _named_after_common_dir(self) -> Path:
        """The main worktree's path as `git worktree list` gives it for a non-bare main."""
        common = self.common_dir  # absolute and real, as git resolves it
        return common.parent if common.name == ".git" else common

    def checked_out_branch(self) -> str | None:
        """The branch this worktree has checked out (full name), read from its HEAD
        file: no process. None when detached, or when HEAD is not a plain file
        naming a branch (another ref store): ask `worktrees` then."""
        try:
            text = (self.git_dir / "HEAD").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if text.startswith("ref: refs/heads/") and text.count("\n") == 1 \
                and text.endswith("\n"):
            return text[len("ref: "):-1]
        return None

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
        return self.own_config.get("orch.role") == "worker"

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
        if cwd is None:
            return self.own_config.get("orch.task")
        return self.config_get("orch.task", cwd)

    @cached_property
    def own_config(self) -> dict[str, str]:
        """user.name, user.email, orch.role, orch.task and core.bare of this worktree,
        as `git config --get` gives them: read once, in one process, when first asked."""
        keys = r"^(user\.(name|email)|orch\.(role|task)|core\.bare)$"
        proc = run_git(["config", "-z", "--get-regexp", keys], self.toplevel, check=False)
        found: dict[str, str] = {}
        for item in proc.stdout.split("\0"):
            key, _, value = item.partition("\n")
            if key:
                found[key] = value  # the last one counts, as for `git config --get`
        return found

    def refs_under(self, prefix: str) -> dict[str, str]:
        """Name below `prefix` -> object id, for every ref under it (one git call)."""
        out = self.git_common(["for-each-ref", "--format=%(objectname) %(refname)", prefix])
        found: dict[str, str] = {}
        for line in out.splitlines():
            oid, _, name = line.partition(" ")
            found[name[len(prefix) :]] = oid
        return found

    def ref_oid(self, name: str) -> str | None:
        """The object id ref `name` (a full name) resolves to, None when there is none.

        Exact (never a guess at what a short name means) and without libgit2.
        A loose ref file holds the newest value (git reads it before
        packed-refs and replaces it whole), so the ledger tip, rewritten on
        every write, costs no process; anything else (packed, symbolic,
        another ref store) is `git for-each-ref`'s to answer.
        """
        parts = name.split("/")
        if (len(parts) > 2 and parts[0] == "refs" and parts[1] not in _WORKTREE_REFS
                and all(part and not part.startswith(".") for part in parts)):
            try:
                text = (self.common_dir / name).read_bytes()
            except FileNotFoundError:
                packed = self._packed_ref(name)
                if packed != "ask git":
                    return packed
                text = b""
            except (OSError, ValueError):
                text = b""
            if len(text) == 41 and text.endswith(b"\n") and HEX40.fullmatch(text[:40].decode()):
                return text[:40].decode()
        out = self.git_common(["for-each-ref", "--format=%(objectname) %(refname)", name])
        for line in out.splitlines():
            oid, _, found = line.partition(" ")
            if found == name:
                return oid
        return None

    def _packed_ref(self, name: str) -> str | None:
        """A ref with no loose file: its line in packed-refs, None when it has none,
        "ask git" when anything is unusual (another ref store, a peeled or odd line).

        git reads a ref the same way, the loose file first: `pack-refs` writes
        packed-refs before it deletes the loose files, so no ref is missed between."""
        if (self.common_dir / "reftable").exists():
            return "ask git"
        try:
            data = (self.common_dir / "packed-refs").read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            return "ask git"
        end = data.find(b" " + name.encode() + b"\n")
        if end < 0:
            return None
        line = data[data.rfind(b"\n", 0, end) + 1 : end]
        oid = line.decode("ascii", "replace")
        return oid if HEX40.fullmatch(oid) else "ask git"

    def commit_id(self, rev: str) -> str:
        """A user-given revision's commit id, or a clear refusal (no libgit2).

        A full branch name pointing at a commit is read from its ref file (no
        process); anything else is git's to resolve."""
        if rev.startswith("-"):
            raise OrchError(f"bad revision {rev!r}: must not start with '-'")
        oid = self.ref_oid(rev) if rev.startswith("refs/heads/") else None
        found = self.objects.read(oid) if oid is not None else None
        if oid is not None and found is not None and found[0] == "commit":
            return oid
        try:
            return git(["rev-parse", "--verify", "--quiet", "--end-of-options",
                        f"{rev}^{{commit}}"], self.toplevel)
        except GitError:
            unborn = run_git(["rev-parse", "--verify", "--quiet", "HEAD"], self.toplevel,
                             check=False).returncode != 0
            if unborn and not self.refs_under("refs/heads/"):
                raise OrchError(
                    f"this repository has no commits yet, so there is no {rev!r}: "
                    "commit something first (git commit)") from None
            raise OrchError(f"bad revision {rev!r}: not a commit in this repository") from None

    def ref_target(self, name: str) -> pygit2.Oid | None:
        import pygit2

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
        import pygit2

        return peel(self.pygit, self.commit_id(rev), pygit2.Commit)

    def _who(self, what: str, default: str) -> str:
        return (os.environ.get(f"GIT_COMMITTER_{what.upper()}")
                or self.own_config.get(f"user.{what}") or default)

    @cached_property
    def actor(self) -> str:
        name, email = self._who("name", "unknown"), self._who("email", "")
        return f"{name} <{email}>" if email else name

    @cached_property
    def ident(self) -> tuple[str, str]:
        """(name, email) that git-orch's own commits are signed with."""
        return self._who("name", "git-orch"), self._who("email", "git-orch@localhost")

    @cached_property
    def signature(self) -> pygit2.Signature:
        import pygit2

        return pygit2.Signature(*self.ident)


def _maybe_true(value: str | None) -> bool:
    """A config value git may read as true (a key without a value is true); unset is
    false. Anything but a plain false counts, so a doubt asks git itself."""
    if value is None:
        return False
    return value.strip().lower() not in ("false", "no", "off", "0")


def hostname() -> str:
    import socket  # ~1.5 ms: only the commands that record a host load it

    return socket.gethostname()


def __getattr__(name: str) -> object:
    """`git_orch.repo.socket`, loaded when first asked for (as hostname() does)."""
    if name == "socket":
        import socket

        return socket
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    import pygit2

    found = raw_object(repo, oid)
    if found is None:
        return peel(repo, oid, pygit2.Blob).data
    kind, data = found
    if kind != pygit2.GIT_OBJECT_BLOB:
        raise OrchError(f"object {str(oid)[:12]} is not a blob")
    return data


def raw_object(repo: pygit2.Repository, oid: str | pygit2.Oid) -> tuple[int, bytes] | None:
    """(type code, data) of the object with the full id `oid`, straight from the object
    database: a cold status reads 20k objects, and an object wrapper each costs a third
    more. None when `oid` is not a full id (a prefix goes through repo[] as before)."""
    import pygit2

    if not isinstance(oid, pygit2.Oid) and not HEX40.fullmatch(oid):
        return None
    try:
        kind, data = repo.odb.read(oid)
    except (KeyError, ValueError):
        raise OrchError(f"object {str(oid)[:12]} is missing from the repository") from None
    return kind, data
