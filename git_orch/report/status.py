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
from git_orch.record.state import ACTIVE, StateFacts, TaskState, fold
from git_orch.record.summary_cache import Summary, SummaryCache
from git_orch.repo import OrchRepo, blob_bytes
from git_orch.report import trust
from git_orch.report.settled import (
    RECENT_ENDED,
    Settled,
    SettledIndex,
    TaskDigest,
    digest,
)
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
    note: str = ""  # the note blob the state was folded from ("" when none)

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
    # Every readable task (tasks and settled), in id order: what the sums add up.
    digests: list[TaskDigest] = field(default_factory=list)
    settled: dict[str, Settled] = field(default_factory=dict)  # not in tasks: not read again
    index: SettledIndex | None = None  # where status remembers settled tasks (fast reads)

    @property
    def repository_needs_you(self) -> list[tamper.Finding]:
        """Findings no task can be blamed for: the person looks at the repository."""
        return [f for f in self.tampering if f.task is None]

    def to_json(self) -> dict[str, Any]:
        return {**self.top_json(), "tasks": [t.to_json() for t in self.tasks]}

    def top_json(self) -> dict[str, Any]:
        """Everything but the tasks (the board prints those, one card each)."""
        return {
            "schema": STATUS_SCHEMA,
            "ledger": self.ledger_tip,
            "main_branch": self.policy.main_branch,
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
        return budget.package_spend((d.package, d) for d in self.digests)


def collect(orepo: OrchRepo, only: str | None = None, *, fast: bool = False) -> Overview:
    """Read refs, contracts and the ledger into task views with derived flags.

    With fast=True (status of the whole loop), ended tasks that were quiet when
    last seen and whose objects and surroundings did not change come from the
    settled index (report/settled.py) instead of being read again."""
    policy = load_policy(orepo)
    refs = all_refs = ledger.task_refs(orepo)
    all_ids = set(refs)
    if only is not None:
        if only not in refs:
            raise OrchError(f"no task {only!r} (git orch status lists the tasks)")
        refs = {only: refs[only]}
    snap = ledger.snapshot(orepo)
    notes = snap.notes()
    facts = reconcile.gather(orepo, policy)
    tampering = workerhooks.findings(orepo)
    blamed = {f.task for f in tampering if f.task is not None}
    index = SettledIndex(orepo.runtime_dir) if fast and only is None else None
    reader = _Reader(orepo, policy, notes, facts, SummaryCache(orepo.runtime_dir))
    settled: dict[str, Settled] = {}
    for task_id, oid in sorted(refs.items()):
        key = SummaryCache.key_of(str(oid), notes.get(str(oid)))
        entry = index.get(task_id, key) if index is not None else None
        if entry is not None and task_id not in facts.heads and task_id not in blamed \
                and reconcile.present_workspace(task_id, entry.digest.worktree, facts) is None:
            settled[task_id] = entry
        else:
            reader.read(task_id, oid)
    # The most recently ended are shown as cards in every output: read them in full.
    for task_id in _most_recent(settled):
        reader.read(task_id, refs[task_id])
        del settled[task_id]
    digests = _digests(reader.views, settled)
    orphans: list[reconcile.Orphan] = []
    target: list[watch.TargetFinding] = []
    if only is None:
        states: dict[str, StateFacts] = {d.task_id: d for d in digests}
        # A task whose contract could not be read still owns its branch.
        states.update({i: TaskState(i) for i in all_ids - set(states)})
        orphans = reconcile.find_orphans(orepo, facts, states, policy)
        target = watch.watch(orepo, policy, {d.task_id: d for d in digests},
                             [d.base for d in digests])
        named = {f.task or f.landed_by or "" for f in target} & set(settled)
        for task_id in sorted(named):  # a finding names it: its card changes
            reader.read(task_id, refs[task_id])
            del settled[task_id]
    views = sorted(reader.views, key=lambda v: v.task_id)
    reader.cache.save({SummaryCache.key_of(str(oid), notes.get(str(oid)))
                       for oid in all_refs.values()})
    problems = reader.problems
    for view in views:
        if view.task_id in blamed:
            view.flags.append(BYPASS)
    heartbeat = reconcile.read_heartbeat(facts.runtime_dir)
    try:
        breakers = breaker.breakers(policy, digests, reader.now)
    except OrchError as exc:
        problems.append(f"agent presets: {exc}")
        breakers = {}
    found = damage.findings(orepo)
    lock = ledger.stale_lock(orepo)
    try:
        rows = trust.trust_rows(digests, trust.last_runs(policy))
    except OrchError as exc:
        problems.append(f"trust: {exc}")
        rows = []
    tip = str(snap.tip) if snap.tip is not None else None
    return Overview(
        views, problems, tip, policy, orphans, heartbeat, breakers, dispatch.current(orepo),
        target=target, tampering=tampering, damage=found + ([lock] if lock else []),
        trust=rows, packages_due=_packages_due(orepo, digests, problems) if only is None else [],
        now=reader.now, digests=digests, settled=settled, index=index,
    )


def _most_recent(settled: dict[str, Settled]) -> list[str]:
    """The settled tasks the board's "recently ended" may show: ordered as it orders."""
    order = sorted(settled, key=lambda i: settled[i].digest.ended_at, reverse=True)
    return order[:RECENT_ENDED]


def _digests(views: list[TaskView], settled: dict[str, Settled]) -> list[TaskDigest]:
    """Every readable task's digest, in task id order (sums and ties come out the same)."""
    found = {v.task_id: digest(v.state, v.contract.package, v.contract.base) for v in views}
    found.update((i, e.digest) for i, e in settled.items())
    return [found[i] for i in sorted(found)]


class _Reader:
    """Reads tasks in full: contract, folded log (summary cache), derived flags."""

    def __init__(self, orepo: OrchRepo, policy: Policy, notes: dict[str, pygit2.Oid],
                 facts: reconcile.RepoFacts, cache: SummaryCache) -> None:
        self.orepo, self.policy, self.notes, self.facts, self.cache = (
            orepo, policy, notes, facts, cache)
        self.views: list[TaskView] = []
        self.problems: list[str] = []
        self.now = time.time()

    def read(self, task_id: str, oid: pygit2.Oid) -> None:
        blob = self.notes.get(str(oid))
        try:
            summary = _summary(self.orepo.pygit, self.cache, task_id, str(oid), blob)
        except OrchError as exc:
            self.problems.append(f"refs/orch/tasks/{task_id}: {exc}; skipped")
            return
        view = TaskView(summary.contract, summary.state, problems=list(summary.problems),
                        note=str(blob) if blob is not None else "")
        if summary.skipped_versions:
            view.problems.append(
                f"{summary.skipped_versions} event(s) of an unknown version skipped "
                "(newer git-orch?)"
            )
        derived = reconcile.derive(self.orepo, summary.contract, view.state, view.problems,
                                   self.facts, self.policy, self.now)
        view.head = derived.head
        view.commits = derived.commits
        view.last_activity = derived.last_activity
        view.worktree_present = derived.worktree_present
        view.dirty = derived.dirty
        view.flags = derived.flags
        if runlog.dead_attempt(self.orepo, view.state) is not None:
            view.flags.append(RUN_DEAD)
        elif runlog.unverified_attempt(self.orepo, view.state) is not None:
            view.flags.append(RUN_UNVERIFIED)
        self.views.append(view)
        if view.problems:
            self.problems.extend(f"task {task_id}: {p}" for p in view.problems)


def _packages_due(orepo: OrchRepo, digests: list[TaskDigest],
                  problems: list[str]) -> list[dict[str, Any]]:
    """Closed roadmap packages whose review pack is due ([review] package_pack)."""
    try:
        return [{"package": d.name, "base": d.base, "head": d.head, "tasks": d.tasks}
                for d in packagereview.due(orepo, digests)]
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
    key = SummaryCache.key_of(contract_id, blob)
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
