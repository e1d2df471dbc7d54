"""A task's workspace, in either isolation mode, behind one interface.

`clone` (the default for new repositories): `git clone --shared --no-checkout`
of the lead's repository, then `orch/<id>` checked out. The workspace has its
own `.git`; the only thing pointing back at the lead is the read-only
alternates file that lends it the lead's objects. The lead never runs git
there: it reads the workspace with libgit2 (no hooks, filters or fsmonitor)
and takes results with a pinned `git fetch` from its own repository (collect.py).

`worktree`: a linked worktree of the lead's repository. It shares the lead's git
dir, which the worker can write, so its hooks and marker are a courtesy to
honest agents (advisory). A repository whose orch.toml names no mode keeps this.

Status, heartbeat, land, abandon, hooks and the runner all find, test and
remove workspaces through this module.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from git_orch.config import CONFIG_NAME, Policy, worktree_root
from git_orch.errors import OrchError
from git_orch.gitcmd import pinned_options, run_git
from git_orch.record import ledger
from git_orch.record.contract import Contract
from git_orch.record.ids import task_branch, task_ref
from git_orch.record.ledger import LEDGER_REF
from git_orch.repo import OrchRepo, Worktree
from git_orch.workspace.roles import ROLE_KEY, TASK_KEY

if TYPE_CHECKING:
    import pygit2

CLONE = "clone"
WORKTREE = "worktree"
MODES = (CLONE, WORKTREE)
# What a repository whose orch.toml has no `isolation` key gets (today's behaviour).
UNSET_MODE = WORKTREE


@dataclass(frozen=True)
class Workspace:
    task_id: str
    path: Path
    mode: str

    def exists(self) -> bool:
        return self.path.is_dir()


def isolation_mode(policy: Policy, override: str | None = None) -> str:
    """--isolation, else orch.toml `[orch] isolation`, else worktree (see UNSET_MODE)."""
    section = policy.raw.get("orch", {})
    configured = section.get("isolation", UNSET_MODE) if isinstance(section, dict) else UNSET_MODE
    mode = override or configured
    if not isinstance(mode, str) or mode not in MODES:
        raise OrchError(f"{CONFIG_NAME}: [orch].isolation must be \"clone\" or \"worktree\", "
                        f"not {str(mode)[:40]!r}")
    return str(mode)


def path_for(orepo: OrchRepo, policy: Policy, task_id: str) -> Path:
    """Where start puts a task's workspace (either mode)."""
    return worktree_root(orepo, policy) / task_id


# --- reading a clone without running git there -----------------------------------


def open_clone(path: Path) -> pygit2.Repository | None:
    """The workspace's repository through libgit2, or None when it is not a clone."""
    if not (path / ".git").is_dir():
        return None  # decided before libgit2 is loaded (a start's new workspace path)
    import pygit2  # only this path needs libgit2 (~50 ms to import)

    try:
        return pygit2.Repository(str(path), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
    except pygit2.GitError:
        return None


def clone_task(path: Path) -> str | None:
    """The task a clone workspace says it belongs to (its orch.task), read by libgit2."""
    repo = open_clone(path)
    if repo is None:
        return None
    import pygit2  # open_clone loaded it

    try:
        value = repo.config[TASK_KEY]
    except (KeyError, pygit2.GitError, ValueError):
        return None
    return value if isinstance(value, str) else None


def is_clone_of(path: Path, task_id: str) -> bool:
    return clone_task(path) == task_id


def find_clones(orepo: OrchRepo, policy: Policy) -> dict[str, Workspace]:
    """Path -> clone workspace, for every folder under the workspace root that is one."""
    root = worktree_root(orepo, policy)
    found: dict[str, Workspace] = {}
    try:
        entries = list(os.scandir(root))
    except OSError:
        return found
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False) or entry.name.startswith("."):
            continue
        task = clone_task(Path(entry.path))
        if task is not None:
            found[entry.path] = Workspace(task, Path(entry.path), CLONE)
    return found


def locate(orepo: OrchRepo, task_id: str, recorded: str | None,
           worktrees: list[Worktree] | None = None) -> Workspace | None:
    """The task's workspace on this machine: its linked worktree, else the clone at its
    recorded path. Only a folder that is the task's clone counts, so a path read from
    the ledger never makes git-orch act on some other folder."""
    branch = f"refs/heads/{task_branch(task_id)}"
    for tree in worktrees if worktrees is not None else orepo.worktrees:
        if tree.branch == branch:
            return Workspace(task_id, tree.path, WORKTREE)
    if recorded and is_clone_of(Path(recorded), task_id):
        return Workspace(task_id, Path(recorded), CLONE)
    return None


def is_dirty(ws: Workspace) -> bool:
    """Uncommitted or untracked changes, read with libgit2 in either mode: git run there
    would obey config the worker can write (core.fsmonitor, filter drivers)."""
    import pygit2  # only this path needs libgit2 (~50 ms to import)

    try:
        repo = pygit2.Repository(str(ws.path), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
        flags = repo.status(untracked_files="normal")
    except pygit2.GitError:
        return True  # not readable as a repository: nothing says its files are safe to drop
    return any(flag != pygit2.enums.FileStatus.CURRENT for flag in flags.values())


# --- creating and removing ----------------------------------------------------------


def create(orepo: OrchRepo, contract: Contract, mode: str, path: Path) -> Workspace:
    """Make the task's workspace at `path` on branch orch/<id> (which must exist).

    A clone is built in a temporary sibling folder and renamed into place last,
    so a workspace at `path` is always complete; a killed start leaves only a
    `.<id>.tmp-*` folder, which the next create replaces.
    """
    task_id = contract.task_id
    branch = task_branch(task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == WORKTREE:
        # Marked as the task's worker (orch.task) when its hooks are switched on.
        orepo.git(["worktree", "add", "--quiet", str(path), branch], cwd=orepo.main_worktree)
        return Workspace(task_id, path, WORKTREE)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    # --shared: objects borrowed through alternates (never --local hardlinks, which
    # share inodes with the lead's objects); only the task's branch, no tags. The
    # clone is the task's worker from the start (orch.role, orch.task).
    run_git(["clone", "--quiet", "--shared", "--no-checkout", "--single-branch", "--no-tags",
             "--config", f"{ROLE_KEY}=worker", "--config", f"{TASK_KEY}={task_id}",
             "--branch", branch, "--end-of-options", str(orepo.common_dir), str(tmp)],
            orepo.main_worktree)
    try:
        _fill_clone(orepo, contract, tmp)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Workspace(task_id, path, CLONE)


def _fill_clone(orepo: OrchRepo, contract: Contract, tmp: Path) -> None:
    """Check out, give it the contract, and drop the `origin` remote: nothing in it
    names the lead's repository. Its ledger copy comes once the task is activated
    (share_ledger)."""
    task_id = contract.task_id

    def ws_git(*args: str, stdin: str | None = None) -> None:
        run_git(["--git-dir", str(tmp / ".git"), "--work-tree", str(tmp), *args], tmp,
                input=stdin)

    ws_git("checkout", "--quiet", task_branch(task_id))
    ws_git("remote", "remove", "origin")
    contract_oid = orepo.ref_oid(task_ref(task_id))
    # The objects come through the alternates.
    ws_git("update-ref", task_ref(task_id), str(contract_oid), "0" * 40)


def share_ledger(orepo: OrchRepo, ws: Workspace) -> bool:
    """Give a clone the lead's ledger when its own copy is missing, behind, or holds
    nothing of the task's that the lead has not taken in (so the worker sees the
    task's current state: a rejection, an unblock). Called at start and before each
    agent attempt, when no agent runs there; written with libgit2 (or git with its
    hooks pinned off), so no hook of the workspace runs. Returns whether the copy moved."""
    if ws.mode != CLONE:
        return False
    lead_tip = orepo.ref_oid(LEDGER_REF)
    contract = orepo.ref_oid(task_ref(ws.task_id))
    if lead_tip is None or contract is None or not (ws.path / ".git").is_dir():
        return False
    if _create_ledger_copy(orepo, ws.path, lead_tip):
        return True  # the clone had none (a new workspace): no libgit2 needed
    import pygit2  # only this path needs libgit2 (~50 ms to import)

    repo = open_clone(ws.path)
    if repo is None:
        return False
    try:
        current = repo.references.get(LEDGER_REF)
        if current is None:
            repo.references.create(LEDGER_REF, pygit2.Oid(hex=lead_tip))
            return True
        if str(current.target) == lead_tip:
            return False
        mine = pygit2.Oid(hex=str(current.target))
        behind = repo.descendant_of(lead_tip, mine)
        if not behind and not _all_taken(orepo, repo, mine, contract):
            return False  # collect has not taken the worker's events yet
        current.set_target(lead_tip)
    except (pygit2.GitError, KeyError, ValueError, OrchError):
        return False  # a workspace that cannot be read is reported by status
    return True


def _create_ledger_copy(orepo: OrchRepo, path: Path, tip: str) -> bool:
    """Create the clone's ledger ref at `tip` if it has none (False: it has one, or git
    failed). git runs with every program-running key of the clone pinned off."""
    proc = run_git(["--git-dir", str(path / ".git"), *pinned_options(orepo.no_hooks_dir),
                    "update-ref", LEDGER_REF, tip, "0" * 40], path, check=False)
    return proc.returncode == 0


def _all_taken(orepo: OrchRepo, repo: pygit2.Repository, tip: pygit2.Oid, contract: str
               ) -> bool:
    """Whether every event in the worker's log of its task is in the lead's (by id)."""
    theirs = ledger.Snapshot(repo, tip).log(contract).events
    ours = {e["id"] for e in ledger.snapshot(orepo).log(contract).events}
    return all(e["id"] in ours for e in theirs)


def remove(orepo: OrchRepo, ws: Workspace, *, force: bool = False) -> str:
    """Delete the workspace (refusing uncommitted work unless forced); say what was done."""
    if ws.mode == WORKTREE:
        args = ["worktree", "remove", *(["--force"] if force else []), str(ws.path)]
        orepo.git(args, cwd=orepo.main_worktree)
        return f"removed worktree {ws.path}"
    if not is_clone_of(ws.path, ws.task_id):
        raise OrchError(f"{ws.path} is not the workspace of task {ws.task_id}; left it")
    shutil.rmtree(ws.path)
    return f"removed workspace {ws.path}"


def refuse_dirty(ws: Workspace, advice: str) -> None:
    if ws.exists() and is_dirty(ws):
        kind = "worktree" if ws.mode == WORKTREE else "workspace"
        raise OrchError(f"{kind} {ws.path} has uncommitted changes: {advice}")
