"""`git orch start`: record a bounded task, then give it a branch and a workspace.

Order matters for recovery: the contract and its `created` event are written
first, in one transaction, so any worktree that exists afterwards belongs to a
recorded task. A failure during setup is recorded (`setup-failed`) and leaves
the task in pending-setup; running `start` again with the same id (or
`heartbeat --repair`) finishes the setup from wherever it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from git_orch.config import load_policy
from git_orch.errors import OrchError
from git_orch.gitcmd import run_git
from git_orch.init import create_empty_ledger, enable_worktree_config
from git_orch.judge.pathspecs import check_pathspec
from git_orch.record import ledger
from git_orch.record.contract import Contract, check_single_line, write_contract
from git_orch.record.ids import check_task_id, task_branch, task_ref
from git_orch.record.state import ACTIVE, PENDING
from git_orch.record.tasks import Task, load_task, transition
from git_orch.repo import OrchRepo, hostname
from git_orch.workspace import limits, workerhooks, workspaces


@dataclass
class StartRequest:
    task_id: str
    title: str
    body: str = ""
    package: str | None = None
    base: str | None = None
    allow: list[str] = field(default_factory=list)
    forbid: list[str] = field(default_factory=list)
    gates: list[str] = field(default_factory=list)
    worktree: bool = True
    isolation: str | None = None  # --isolation; None: orch.toml's (see workspaces.py)
    force_reason: str | None = None  # go past max_active / write-set overlap (recorded)


@dataclass
class StartResult:
    task_id: str
    contract: str
    base: str
    branch: str
    worktree: Path | None
    state: str
    isolation: str | None = None


def _refuse_existing(orepo: OrchRepo, task_id: str, path: Path | None) -> None:
    if orepo.ref_oid(task_ref(task_id)) is not None:
        raise OrchError(f"task {task_id!r} already exists (git orch show {task_id})")
    branch = task_branch(task_id)
    if orepo.ref_oid(f"refs/heads/{branch}") is not None:
        raise OrchError(f"branch {branch} already exists; delete it or pick another task id")
    if path is not None and path.exists():
        raise OrchError(f"worktree path {path} already exists; move it or pick another task id")


def build_contract(orepo: OrchRepo, req: StartRequest) -> Contract:
    policy = load_policy(orepo)
    base = orepo.commit_id(req.base or policy.main_branch)
    forbid = list(dict.fromkeys([*req.forbid, *policy.forbid]))
    return Contract(
        task_id=req.task_id,
        title=check_single_line("--title", req.title),
        base=base,
        body=req.body,
        package=check_single_line("--package", req.package) if req.package else None,
        allow=[check_pathspec(spec) for spec in req.allow],
        forbid=[check_pathspec(spec) for spec in forbid],
        gates=[check_single_line("--gate", gate) for gate in req.gates],
    )


def switch_hooks_on(orepo: OrchRepo, ws: workspaces.Workspace, contract: Contract) -> None:
    """Mark the workspace as the task's and switch its worker hooks on: a worktree's
    are deployed in the lead's git dir, a clone's in its own (nothing in a clone
    points back at the lead)."""
    common = orepo.common_dir if ws.mode == workspaces.WORKTREE else ws.path / ".git"
    workerhooks.install(common, ws.path, contract.task_id, contract.allow, contract.forbid,
                        mark=True)


def make_workspace(orepo: OrchRepo, contract: Contract, mode: str, path: Path
                   ) -> workspaces.Workspace:
    ws = workspaces.create(orepo, contract, mode, path)
    switch_hooks_on(orepo, ws, contract)
    return ws


def start(orepo: OrchRepo, req: StartRequest) -> StartResult:
    task_id = check_task_id(req.task_id)
    policy = load_policy(orepo)
    if orepo.ref_oid(task_ref(task_id)) is not None:
        task = load_task(orepo, task_id)
        if task.state.state == PENDING and task.state.host in (None, hostname()):
            return finish_setup(orepo, task)  # a start that was killed: resume it
    mode = workspaces.isolation_mode(policy, req.isolation)
    path = workspaces.path_for(orepo, policy, task_id) if req.worktree else None
    contract = build_contract(orepo, req)
    _refuse_existing(orepo, task_id, path)
    overridden = limits.check("start", task_id,
                              limits.start_breaches(orepo, policy, task_id, contract.allow),
                              req.force_reason)
    if mode == workspaces.WORKTREE:
        enable_worktree_config(orepo)
    create_empty_ledger(orepo)
    oid = write_contract(orepo.objects, contract, orepo.ident)

    def task_ref_update() -> list[ledger.RefUpdate]:
        return [ledger.RefUpdate(task_ref(task_id), oid, None)]

    def created(log: ledger.EventLog) -> list[ledger.Event]:
        if orepo.ref_oid(task_ref(task_id)) is not None:
            raise OrchError(f"task {task_id!r} already exists (git orch show {task_id})")
        created = {"type": "created", "task": task_id, "contract": oid, "host": hostname(),
                   "worktree": path is not None, "isolation": mode}
        return [created, {**overridden, "task": task_id}] if overridden else [created]

    ledger.append(orepo, oid, created, extra_refs=task_ref_update, message=f"git-orch: {task_id}")
    return finish_setup(orepo, load_task(orepo, task_id))


def _created(task: Task) -> ledger.Event:
    return next((e for e in task.log.events if e.get("type") == "created"), {})


def finish_setup(orepo: OrchRepo, task: Task) -> StartResult:
    """Give a recorded pending-setup task its branch and workspace, then record activated.

    Every step checks what is already there, so a start killed at any point
    (or one whose setup failed) is finished by running it again: by `start`
    with the same id, or by `heartbeat --repair`. The workspace mode and
    whether there is one at all come from the `created` event (older logs: a
    workspace, in this repository's mode); its path is always the one start
    chooses here, never one read from the ledger. A worktree whose checkout did
    not finish is finished, never adopted as it is.
    """
    task_id, contract = task.task_id, task.contract
    policy = load_policy(orepo)
    created = _created(task)
    wanted = created.get("worktree") is not False
    path = workspaces.path_for(orepo, policy, task_id) if wanted else None
    mode = created.get("isolation")
    if mode not in workspaces.MODES:  # an older log: the workspace there, else the policy's
        found = workspaces.locate(orepo, task_id, str(path), orepo.worktrees) if path else None
        mode = found.mode if found is not None else workspaces.isolation_mode(policy)
    branch = task_branch(task_id)
    ws = None
    try:
        if orepo.ref_oid(f"refs/heads/{branch}") is None:
            orepo.git_common(["update-ref", "-m", ledger.reflog_message(task_id),
                              f"refs/heads/{branch}", contract.base, ledger.ZERO_OID])
        if path is not None:
            ws = _finish_workspace(orepo, contract, str(mode), path)
            switch_hooks_on(orepo, ws, contract)
    except (OrchError, OSError) as exc:
        transition(orepo, task_id, {"type": "setup-failed", "error": str(exc)})
        raise OrchError(
            f"task {task_id} recorded but setup failed: {exc} "
            f"(state pending-setup; see git orch show {task_id})"
        ) from None
    head = orepo.ref_oid(f"refs/heads/{branch}")
    transition(
        orepo,
        task_id,
        {
            "type": "activated",
            "branch": branch,
            "worktree": str(path) if path else None,
            "isolation": mode if path else None,
            "head": str(head) if head is not None else contract.base,
            "host": hostname(),
        },
    )
    if ws is not None:
        workspaces.share_ledger(orepo, ws)
    return StartResult(task_id, str(contract.commit), contract.base, branch, path, ACTIVE,
                       str(mode) if path else None)


def _finish_workspace(orepo: OrchRepo, contract: Contract, mode: str, path: Path
                      ) -> workspaces.Workspace:
    """The task's complete workspace at `path`, whatever a killed start left there."""
    task_id = contract.task_id
    if mode == workspaces.CLONE:
        # A clone is renamed into place only once complete (workspaces.create).
        if workspaces.is_clone_of(path, task_id):
            return workspaces.Workspace(task_id, path, mode)
        _refuse_occupied(path)
        return workspaces.create(orepo, contract, mode, path)
    branch = task_branch(task_id)
    tree = next((t for t in orepo.worktrees if t.branch == f"refs/heads/{branch}"), None)
    if tree is not None and tree.path != path:
        raise OrchError(f"{branch} is checked out in {tree.path}, not {path}")
    if tree is not None and not (path / ".git").is_file():
        run_git(["worktree", "prune"], orepo.main_worktree, check=False)
        tree = None
    if tree is None:
        _refuse_occupied(path)
        return workspaces.create(orepo, contract, mode, path)
    # `git worktree add` was killed during its checkout: the index and files are
    # partial (every file a staged deletion) and the worktree stays locked.
    run_git(["worktree", "unlock", str(path)], orepo.main_worktree, check=False)
    if run_git(["diff-index", "--quiet", "HEAD", "--"], path, check=False).returncode != 0:
        orepo.git(["reset", "--hard", "--quiet", "HEAD"], cwd=path)
    return workspaces.Workspace(task_id, path, mode)


def _refuse_occupied(path: Path) -> None:
    """An empty folder may go (git made it, then was killed); anything else is a person's."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise OrchError(f"workspace path {path} already exists; move it away, then run "
                        "the command again")
    if path.exists():
        path.rmdir()
