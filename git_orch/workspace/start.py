"""`git orch start`: record a bounded task, then give it a branch and a workspace.

Order matters for recovery: the contract and its `created` event are written
first, in one transaction, so any worktree that exists afterwards belongs to a
recorded task. A failure during setup is recorded (`setup-failed`) and leaves
the task in pending-setup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from git_orch.config import load_policy
from git_orch.errors import OrchError
from git_orch.init import create_empty_ledger, enable_worktree_config
from git_orch.judge.pathspecs import check_pathspec
from git_orch.record import ledger
from git_orch.record.contract import Contract, check_single_line, write_contract
from git_orch.record.ids import check_task_id, task_branch, task_ref
from git_orch.record.state import ACTIVE
from git_orch.record.tasks import transition
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
    if orepo.ref_target(task_ref(task_id)) is not None:
        raise OrchError(f"task {task_id!r} already exists (git orch show {task_id})")
    branch = task_branch(task_id)
    if orepo.ref_target(f"refs/heads/{branch}") is not None:
        raise OrchError(f"branch {branch} already exists; delete it or pick another task id")
    if path is not None and path.exists():
        raise OrchError(f"worktree path {path} already exists; move it or pick another task id")


def build_contract(orepo: OrchRepo, req: StartRequest) -> Contract:
    policy = load_policy(orepo)
    base = orepo.resolve_commit(req.base or policy.main_branch)
    forbid = list(dict.fromkeys([*req.forbid, *policy.forbid]))
    return Contract(
        task_id=req.task_id,
        title=check_single_line("--title", req.title),
        base=str(base.id),
        body=req.body,
        package=check_single_line("--package", req.package) if req.package else None,
        allow=[check_pathspec(spec) for spec in req.allow],
        forbid=[check_pathspec(spec) for spec in forbid],
        gates=[check_single_line("--gate", gate) for gate in req.gates],
    )


def switch_hooks_on(orepo: OrchRepo, ws: workspaces.Workspace, contract: Contract) -> None:
    """The worker hooks of a workspace: a worktree's are deployed in the lead's git
    dir, a clone's in its own (nothing in a clone points back at the lead)."""
    workspaces.mark(orepo, ws)
    owner = orepo if ws.mode == workspaces.WORKTREE else OrchRepo(ws.path)
    workerhooks.install(owner, ws.path, contract.task_id, contract.allow, contract.forbid)


def make_workspace(orepo: OrchRepo, contract: Contract, mode: str, path: Path
                   ) -> workspaces.Workspace:
    ws = workspaces.create(orepo, contract, mode, path)
    switch_hooks_on(orepo, ws, contract)
    return ws


def start(orepo: OrchRepo, req: StartRequest) -> StartResult:
    task_id = check_task_id(req.task_id)
    policy = load_policy(orepo)
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
    oid = write_contract(orepo.pygit, contract, orepo.signature)

    def task_ref_update() -> list[ledger.RefUpdate]:
        return [ledger.RefUpdate(task_ref(task_id), oid, None)]

    def created(log: ledger.EventLog) -> list[ledger.Event]:
        if orepo.ref_target(task_ref(task_id)) is not None:
            raise OrchError(f"task {task_id!r} already exists (git orch show {task_id})")
        created = {"type": "created", "task": task_id, "contract": oid, "host": hostname()}
        return [created, {**overridden, "task": task_id}] if overridden else [created]

    ledger.append(orepo, oid, created, extra_refs=task_ref_update, message=f"git-orch: {task_id}")
    branch = task_branch(task_id)
    ws = None
    try:
        orepo.git_common(["update-ref", "-m", ledger.reflog_message(task_id),
                          f"refs/heads/{branch}", contract.base, ledger.ZERO_OID])
        if path is not None:
            ws = make_workspace(orepo, contract, mode, path)
    except (OrchError, OSError) as exc:
        transition(orepo, task_id, {"type": "setup-failed", "error": str(exc)})
        raise OrchError(
            f"task {task_id} recorded but setup failed: {exc} "
            f"(state pending-setup; see git orch show {task_id})"
        ) from None
    transition(
        orepo,
        task_id,
        {
            "type": "activated",
            "branch": branch,
            "worktree": str(path) if path else None,
            "isolation": mode if path else None,
            "head": contract.base,
            "host": hostname(),
        },
    )
    if ws is not None:
        workspaces.share_ledger(orepo, ws)
    return StartResult(task_id, oid, contract.base, branch, path, ACTIVE,
                       mode if path else None)
