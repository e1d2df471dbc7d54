"""`git orch status`: what needs a person, what runs, what landed, from git itself.

The ledger says what was decided; the repository says what is true now
(branch heads, commits since base, worktrees). Status reads both and derives
flags, and never writes the ledger.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pygit2

from git_orch import dispatch
from git_orch.agent import breaker, budget, runlog
from git_orch.config import Policy, load_policy
from git_orch.errors import OrchError
from git_orch.judge import packagereview
from git_orch.judge.verdicts import summary_of
from git_orch.landing import watch
from git_orch.record import damage, ledger
from git_orch.record.contract import Contract, read_contract
from git_orch.record.ids import task_branch
from git_orch.record.state import (
    ACTIVE,
    TaskState,
    fold,
)
from git_orch.record.summary_cache import Summary, SummaryCache
from git_orch.repo import OrchRepo, blob_bytes
from git_orch.report import trust
from git_orch.sanitize import clean
from git_orch.workspace import reconcile, tamper, workerhooks

STATUS_SCHEMA = 1
STALE = reconcile.STALE
CLEANUP = reconcile.CLEANUP
CONFLICT = reconcile.CONFLICT
LEDGER_PROBLEM = reconcile.LEDGER_PROBLEM
DIRTY = reconcile.DIRTY
ORPHAN = reconcile.ORPHAN
RUN_DEAD = runlog.RUN_DEAD
RUN_UNVERIFIED = runlog.RUN_UNVERIFIED
RUNNING_STATES = reconcile.RUNNING_STATES
BYPASS = tamper.BYPASS


@dataclass
class TaskView:
    contract: Contract
    state: TaskState
    problems: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    head: str | None = None
    commits: int | None = None
    last_activity: float | None = None
    worktree_present: bool = False
    dirty: bool = False

    @property
    def task_id(self) -> str:
        return self.contract.task_id

    def to_json(self) -> dict[str, Any]:
        st = self.state
        return {
            "id": self.task_id,
            "title": self.contract.title,
            "state": st.state,
            "flags": self.flags,
            "package": self.contract.package,
            "branch": task_branch(self.task_id),
            "worktree": st.worktree,
            # "worktree" isolation is advisory: the worker can write the lead's git dir.
            "isolation": st.isolation,
            # What collect dropped or refused, hooks refused, review contradicted.
            "misalignments": [{k: clean(str(m.get(k)))[:200] for k in ("what", "source", "at")}
                              for m in st.misalignments],
            "worktree_present": self.worktree_present,
            "dirty": self.dirty,
            "host": st.host,
            "base": self.contract.base,
            "contract": self.contract.commit,
            "head": self.head,
            "handed_off_head": st.head if st.state != ACTIVE else None,
            "accepted_head": st.accepted_head,
            "commits": self.commits,
            "last_activity": _iso(self.last_activity),
            "created": st.created_at,
            "updated": st.updated_at,
            "summary": st.summary,
            "risks": st.risks,
            "reason": st.reason,
            "error": st.error,
            "review": _review_json(st.review),
            "verdicts": [summary_of(r) for r in st.reviews if r.get("head") == self.head],
            "runs": len([r for r in st.runs if r.get("type") == "run-started"]),
            "run": runlog.latest_run_json(st),
            "agent_said": runlog.agent_said(st),
            "spend": budget.task_spend(st).to_json(),
            "conflicts": st.conflicts,
            "problems": self.problems,
        }


def _review_json(review: dict[str, Any] | None) -> dict[str, Any] | None:
    if review is None:
        return None
    return {k: review.get(k) for k in ("head", "verdict", "at", "actor")}


_iso = reconcile.iso


@dataclass
class Overview:
    tasks: list[TaskView]
    problems: list[str]
    ledger_tip: str | None
    policy: Policy
    orphans: list[reconcile.Orphan] = field(default_factory=list)
    heartbeat: reconcile.HeartbeatInfo | None = None
    agents: dict[str, breaker.BreakerState] = field(default_factory=dict)
    dispatch: dict[str, Any] = field(default_factory=dict)
    target: list[watch.TargetFinding] = field(default_factory=list)
    tampering: list[tamper.Finding] = field(default_factory=list)
    damage: list[str] = field(default_factory=list)  # a rewound/replaced ledger, stale lock
    trust: list[trust.TrustRow] = field(default_factory=list)
    packages_due: list[dict[str, Any]] = field(default_factory=list)  # closed, no verdict
    now: float = field(default_factory=time.time)  # every output's "now": one clock read

    @property
    def repository_needs_you(self) -> list[tamper.Finding]:
        """Findings no task can be blamed for: the person looks at the repository."""
        return [f for f in self.tampering if f.task is None]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": STATUS_SCHEMA,
            "ledger": self.ledger_tip,
            "main_branch": self.policy.main_branch,
            "tasks": [t.to_json() for t in self.tasks],
            "problems": self.problems,
            "orphans": [o.to_json() for o in self.orphans],
            "heartbeat": self.heartbeat.to_json() if self.heartbeat else None,
            "agents": {name: b.to_json() for name, b in self.agents.items()},
            "dispatch": self.dispatch,
            "tampering": [f.to_json() for f in self.tampering],
            "spend": {name: spend.to_json() for name, spend in self.package_spend().items()},
            "target": [f.to_json() for f in self.target],
            "ledger_damage": self.damage,
            "trust": [row.to_json() for row in self.trust],
            "packages_due": self.packages_due,
        }

    def package_spend(self) -> dict[str, budget.Spend]:
        """What agent runs cost per roadmap package (tasks with a package only)."""
        return budget.package_spend((v.contract.package, v.state) for v in self.tasks)


def collect(orepo: OrchRepo, only: str | None = None) -> Overview:
    """Read refs, contracts and the ledger into task views with derived flags."""
    policy = load_policy(orepo)
    repo = orepo.pygit
    refs = ledger.task_refs(orepo)
    all_ids = set(refs)
    if only is not None:
        if only not in refs:
            raise OrchError(f"no task {only!r} (git orch status lists the tasks)")
        refs = {only: refs[only]}
    snap = ledger.snapshot(orepo)
    notes = snap.notes()
    facts = reconcile.gather(orepo, policy)
    cache = SummaryCache(orepo.runtime_dir)
    problems: list[str] = []
    views: list[TaskView] = []
    now = time.time()
    for task_id, oid in sorted(refs.items()):
        try:
            summary = _summary(repo, cache, task_id, str(oid), notes.get(str(oid)))
        except OrchError as exc:
            problems.append(f"refs/orch/tasks/{task_id}: {exc}; skipped")
            continue
        view = TaskView(summary.contract, summary.state, problems=list(summary.problems))
        if summary.skipped_versions:
            view.problems.append(
                f"{summary.skipped_versions} event(s) of an unknown version skipped "
                "(newer git-orch?)"
            )
        derived = reconcile.derive(
            orepo, summary.contract, view.state, view.problems, facts, policy, now
        )
        view.head = derived.head
        view.commits = derived.commits
        view.last_activity = derived.last_activity
        view.worktree_present = derived.worktree_present
        view.dirty = derived.dirty
        view.flags = derived.flags
        if runlog.dead_attempt(orepo, view.state) is not None:
            view.flags.append(RUN_DEAD)
        elif runlog.unverified_attempt(orepo, view.state) is not None:
            view.flags.append(RUN_UNVERIFIED)
        views.append(view)
        if view.problems:
            problems.extend(f"task {task_id}: {p}" for p in view.problems)
    cache.save()
    tip = str(snap.tip) if snap.tip is not None else None
    orphans: list[reconcile.Orphan] = []
    target: list[watch.TargetFinding] = []
    if only is None:
        states = {v.task_id: v.state for v in views}
        # A task whose contract could not be read still owns its branch.
        states.update({i: TaskState(i) for i in all_ids - set(states)})
        orphans = reconcile.find_orphans(orepo, facts, states, policy)
        target = watch.watch(orepo, policy, {v.task_id: v.state for v in views},
                             [v.contract.base for v in views])
    tampering = workerhooks.findings(orepo)
    blamed = {f.task for f in tampering if f.task is not None}
    for view in views:
        if view.task_id in blamed:
            view.flags.append(BYPASS)
    heartbeat = reconcile.read_heartbeat(facts.runtime_dir)
    try:
        breakers = breaker.breakers(policy, [v.state for v in views], now)
    except OrchError as exc:
        problems.append(f"agent presets: {exc}")
        breakers = {}
    found = damage.findings(orepo)
    lock = ledger.stale_lock(orepo)
    try:
        rows = trust.trust_rows([v.state for v in views], trust.last_runs(policy))
    except OrchError as exc:
        problems.append(f"trust: {exc}")
        rows = []
    return Overview(
        views, problems, tip, policy, orphans, heartbeat, breakers, dispatch.current(orepo),
        target=target, tampering=tampering, damage=found + ([lock] if lock else []),
        trust=rows, packages_due=_packages_due(orepo, problems) if only is None else [],
        now=now,
    )


def _packages_due(orepo: OrchRepo, problems: list[str]) -> list[dict[str, Any]]:
    """Closed roadmap packages whose review pack is due ([review] package_pack)."""
    try:
        return [{"package": c.name, "base": c.base, "head": c.head,
                 "tasks": [t.contract.task_id for t in c.tasks]} for c in packagereview.due(orepo)]
    except OrchError as exc:
        problems.append(f"package review: {exc}")
        return []


def _summary(
    repo: pygit2.Repository,
    cache: SummaryCache,
    task_id: str,
    contract_id: str,
    blob: pygit2.Oid | None,
) -> Summary:
    """Contract + folded log of one task, from the cache when the objects are known."""
    key = f"{contract_id}:{blob}"
    cached = cache.get(key)
    if cached is not None and cached.contract.task_id == task_id:
        return cached
    contract = read_contract(repo, contract_id)
    if contract.task_id != task_id:
        raise OrchError(f"contract names task {contract.task_id!r}, not {task_id!r}")
    data = blob_bytes(repo, blob) if blob is not None else b""
    log = ledger.parse_log(data, f"{ledger.LEDGER_REF} note for task {task_id}")
    summary = Summary(contract, fold(task_id, log.events), log.problems, log.skipped_versions)
    cache.put(key, summary)
    return summary
