"""The one status model every output renders: terminal, JSON, status.md, status.html.

Sections, in order: what needs you (report.needs), what runs (a live agent
run, nothing else), what is open (live tasks waiting on nobody here), what
ended recently, packages, dispatch (mode, agent breakers, and why `next`
starts nothing), heartbeat, problems. Each output shows the same sections
with the same counts, because each reads them from one Board. A Board is
built from an Overview alone (no git, no clock), so the whole status is a
pure function of what collect() read: refs, ledger, workspaces and its `now`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from git_orch import roadmap
from git_orch.agent import budget, runlog
from git_orch.errors import OrchError
from git_orch.record.state import ABANDONED, ACCEPTED, BLOCKED, ENDED, REJECTED, UNREVIEWED
from git_orch.record.summary_cache import SummaryCache
from git_orch.report import needs, settled, trust
from git_orch.report.needs import NeedsItem, cmd, live_run
from git_orch.report.settled import RECENT_ENDED, encode
from git_orch.report.status import Overview, TaskView
from git_orch.workspace import reconcile


@dataclass
class PackageRow:
    name: str
    total: int = 0
    landed: int = 0
    running: int = 0
    waiting: int = 0
    abandoned: int = 0

    @property
    def counted(self) -> int:
        """Tasks that can still land: abandoned ones are out of the count."""
        return self.total - self.abandoned

    @property
    def percent(self) -> int:
        return round(100 * self.landed / self.counted) if self.counted else 100

    @property
    def progress(self) -> str:
        """`landed/counted (percent%)`, both on the same base."""
        extra = f", {self.abandoned} abandoned" if self.abandoned else ""
        return f"{self.landed}/{self.counted} landed ({self.percent}%{extra})"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "total": self.total, "landed": self.landed,
                "running": self.running, "waiting": self.waiting, "abandoned": self.abandoned,
                "percent": self.percent}


@dataclass
class Card:
    """What every output says about one task."""

    view: TaskView
    next: str  # the command to run next for this task

    @property
    def task_id(self) -> str:
        return self.view.task_id

    @property
    def agent(self) -> str | None:
        run = runlog.latest_run_json(self.view.state)
        return str(run["agent"]) if run else None

    @property
    def outcome(self) -> str | None:
        """How the latest agent run went: running, or its outcome and reason."""
        run = runlog.latest_run_json(self.view.state)
        if run is None:
            return None
        if run["running"]:
            return f"running (attempt {run['attempt']}, since {run['started']})"
        reason = f": {run['reason']}" if run["reason"] else ""
        return f"{run['outcome']}{reason}"

    @property
    def workspace(self) -> str:
        """Where the task's worktree is, and whether it is there (on this machine)."""
        path = self.view.state.worktree
        if not path:
            return "-"
        if self.view.worktree_present:
            return path
        gone = reconcile.ORPHAN in self.view.flags  # recorded here, and vanished
        return f"{path} ({'gone' if gone else 'not on this machine'})"

    @property
    def spend(self) -> str | None:
        """What the task's agent runs reported spending, when they reported anything."""
        spent = budget.task_spend(self.view.state)
        return spent.text() if spent.tokens or spent.priced else None

    @property
    def sandbox_note(self) -> str | None:
        """Why a running agent has no sandbox, when it has none."""
        run = runlog.latest_run_json(self.view.state)
        if run is None or not run["running"] or run.get("sandbox") != "none":
            return None
        return f"no sandbox: {run.get('sandbox_why')}"

    @property
    def reason(self) -> str | None:
        """The person's (or worker's) reason, only while the state it explains lasts."""
        st = self.view.state
        return st.reason if st.state in (BLOCKED, REJECTED, ABANDONED) else None

    def to_json(self) -> dict[str, Any]:
        return {**self.view.to_json(), "reason": self.reason, "next": self.next,
                "agent": self.agent, "last_outcome": self.outcome,
                "live_run": live_run(self.view)}


def _next_command(view: TaskView, first_fix: dict[str | None, str]) -> str:
    """The first fix that needs a person, else what the task's state calls for."""
    fix = first_fix.get(view.task_id)
    if fix is not None:
        return fix
    state = view.state.state
    if live_run(view):
        return cmd("git", "orch", "logs", view.task_id, "-f")
    if state == UNREVIEWED:
        return cmd("git", "orch", "review", view.task_id, "--rerun-gates")
    if state == ACCEPTED:
        return cmd("git", "orch", "land", view.task_id)
    if state == BLOCKED:
        return cmd("git", "orch", "unblock", view.task_id)
    if state not in ENDED and view.worktree_present and view.state.worktree:
        return cmd("cd", view.state.worktree)  # a person or agent works there
    return cmd("git", "orch", "show", view.task_id)


@dataclass
class Board:
    overview: Overview
    needs: list[NeedsItem]
    running: list[Card]
    open: list[Card]
    ended: list[Card]  # most recent first, at most RECENT_ENDED
    ended_total: int
    packages: list[PackageRow]
    cards: dict[str, Card]
    next_reasons: list[str] = field(default_factory=list)
    next_task: str | None = None
    whole: bool = True  # False for `status ID`: one task, no loop-wide sections
    encoded: dict[str, bytes] = field(default_factory=dict)  # task id -> its compact JSON
    generated_at: int | None = None  # where compact_json wrote the "generated" time

    def repeatable(self) -> bool:
        """Whether this board depends only on what report/repeat.py watches: no task
        workspace or orphan (a worker's files), no open agent run (a process), no
        tampering or ledger finding (status keeps its own records of those)."""
        ov = self.overview
        return self.whole and not (
            ov.tampering or ov.damage or ov.orphans
            or any(v.worktree_present or runlog.open_attempt(v.state) is not None
                   for v in ov.tasks))

    @property
    def now(self) -> float:
        return self.overview.now

    @property
    def needs_tasks(self) -> list[str]:
        """Known tasks with at least one item, in the order they first appear."""
        return list(dict.fromkeys(i.task for i in self.needs if i.task in self.cards))

    @property
    def loop_needs(self) -> list[NeedsItem]:
        """Items about no known task: the repository, the loop, a task status cannot read."""
        return [i for i in self.needs if i.task not in self.cards]

    @property
    def spend(self) -> dict[str, str]:
        """Package -> what its agents spent, for packages that reported any spend."""
        return {name: s.text() for name, s in sorted(self.overview.package_spend().items())
                if s.tokens or s.priced}

    @property
    def advisory(self) -> list[str]:
        """Live tasks in a worktree of this repository: their isolation is advisory only."""
        return [v.task_id for v in self.overview.tasks
                if v.state.isolation == "worktree" and v.state.state not in ENDED]

    @property
    def trust(self) -> list[str]:
        """Who misbehaved lately, worst first (report/trust.py); empty when nobody did."""
        return trust.render_lines(self.overview.trust)

    @property
    def attention(self) -> list[Card]:
        """The tasks that need you, run, or are open: each once, in that order."""
        ids = [*self.needs_tasks, *(c.task_id for c in self.running),
               *(c.task_id for c in self.open)]
        return [self.cards[i] for i in dict.fromkeys(ids)]

    @property
    def breakers(self) -> dict[str, dict[str, Any]]:
        """Agent breakers that are not closed (open, or half-open: one trial run)."""
        return {n: b.to_json() for n, b in self.overview.agents.items() if b.state != "closed"}

    def counts(self) -> dict[str, int]:
        return {"needs_you": len(self.needs), "running": len(self.running),
                "open": len(self.open), "ended": self.ended_total,
                "tasks": len(self.overview.digests), "advisory_isolation": len(self.advisory)}

    def summary(self) -> str:
        c = self.counts()
        return (f"{c['needs_you']} need you ({len(self.needs_tasks)} task(s)), "
                f"{c['running']} running, {c['open']} open, {c['ended']} ended")

    def dispatch_json(self) -> dict[str, Any]:
        return {**self.overview.dispatch, "breakers": self.breakers,
                "next": {"task": self.next_task, "reasons": self.next_reasons}}

    def to_json(self) -> dict[str, Any]:
        index = self.overview.index
        return {**self._top_json(), "tasks": [
            self.cards[d.task_id].to_json() if index is None or d.task_id not in
            self.overview.settled else json.loads(index.must_text(d.task_id)[1:])
            for d in self.overview.digests]}

    def _top_json(self) -> dict[str, Any]:
        return {
            **self.overview.top_json(),
            "generated": reconcile.iso(self.now),
            "counts": self.counts(),
            "needs_you": [i.to_json() for i in self.needs],
            "sections": {"running": [c.task_id for c in self.running],
                         "open": [c.task_id for c in self.open],
                         "ended": [c.task_id for c in self.ended]},
            "packages": [p.to_json() for p in self.packages],
            "dispatch": self.dispatch_json(),
        }

    def text_of(self, card: Card) -> bytes:
        """A card's compact JSON, encoded once per run (remember_settled needs it too)."""
        found = self.encoded.get(card.task_id)
        if found is None:
            found = self.encoded[card.task_id] = encode(card.to_json())
        return found

    def compact_json(self) -> Iterator[bytes | memoryview]:
        """The compact text of to_json() in pieces, byte for byte: a settled task's
        object as status last encoded it, the others encoded now. Pieces, not one
        string: at 10k tasks the text is megabytes and every copy adds to peak memory.
        A random mark holds the place of the tasks: no ledger text can forge it."""
        mark, clock = uuid.uuid4().hex, uuid.uuid4().hex
        head, _, tail = encode({**self._top_json(), "generated": clock, "tasks": mark}
                               ).partition(f'"{mark}"'.encode())
        before, found, after = head.partition(f'"{clock}"'.encode())
        stamp = f'"{reconcile.iso(self.now)}"'.encode()
        self.generated_at = len(before) + 1 if found else None
        yield before + stamp + after + b"[" if found else head + b"["
        pieces = self._task_pieces()
        first = next(pieces, b",")
        yield memoryview(first)[1:]  # every piece starts with its comma: not the first
        yield from pieces
        yield b"]" + tail

    def _task_pieces(self) -> Iterator[bytes]:
        """`,{task}` for every task in id order, settled neighbours read together."""
        settled, index = self.overview.settled, self.overview.index
        run: list[str] = []
        for d in self.overview.digests:
            if index is not None and d.task_id in settled:
                run.append(d.task_id)
                continue
            if run and index is not None:
                yield from index.texts(run)
                run = []
            yield b"," + self.text_of(self.cards[d.task_id])
        if run and index is not None:
            yield from index.texts(run)


def _packages(overview: Overview) -> list[PackageRow]:
    running = {v.task_id for v in overview.tasks if live_run(v)}  # settled ones never run
    rows: dict[str, PackageRow] = {}
    for task in overview.digests:
        name = task.package or "(no package)"
        row = rows.setdefault(name, PackageRow(name))
        row.total += 1
        state = task.state
        if state in roadmap.LANDED:
            row.landed += 1
        elif state == ABANDONED:
            row.abandoned += 1
        elif task.task_id in running:
            row.running += 1
        else:
            row.waiting += 1
    return [rows[k] for k in sorted(rows)]


def _next(overview: Overview) -> tuple[str | None, list[str]]:
    """What `git orch next` would say, from the same overview."""
    try:
        rec = roadmap.recommend_from(overview.policy, overview.dispatch, overview.tasks,
                                     {i: e.digest.state for i, e in overview.settled.items()})
    except OrchError as exc:
        return None, [f"the roadmap cannot be read: {exc}"]
    return (rec.task.id if rec.task else None), rec.reasons


def build(overview: Overview, whole: bool = True) -> Board:
    """The Board of an overview; whole=False when it holds only the tasks asked for."""
    items = needs.needs_you(overview)
    with_items = {i.task for i in items}
    first_fix: dict[str | None, str] = {}
    for item in items:
        first_fix.setdefault(item.task, item.fix)
    cards = {v.task_id: Card(v, _next_command(v, first_fix)) for v in overview.tasks}
    running = [cards[v.task_id] for v in overview.tasks if live_run(v)]
    open_ = [cards[v.task_id] for v in overview.tasks
             if v.state.state not in ENDED and not live_run(v) and v.task_id not in with_items]
    ended = [cards[v.task_id] for v in overview.tasks if v.state.state in ENDED]
    ended.sort(key=lambda c: c.view.state.activity_at or c.view.state.updated_at or "",
               reverse=True)
    next_task, reasons = _next(overview) if whole else (None, [])
    return Board(overview, items, running, open_, ended[:RECENT_ENDED],
                 len(ended) + len(overview.settled), _packages(overview) if whole else [],
                 cards, reasons, next_task, whole)


def remember_settled(board: Board) -> None:
    """Keep in the settled index every task this status found quiet (report/settled.py),
    and nothing else: a task that changed, or is gone, leaves it."""
    index = board.overview.index
    if index is None:
        return
    with_items = {i.task for i in board.needs}
    keep = set(board.overview.settled)
    digests = {d.task_id: d for d in board.overview.digests}  # collect's, of the same views
    for view in board.overview.tasks:
        if settled.quiet(view.state, view.flags, view.problems, view.task_id in with_items,
                         runlog.open_attempt(view.state) is not None, board.now):
            card = board.cards[view.task_id]
            index.put(view.task_id, settled.Settled(
                SummaryCache.key_of(view.contract.commit or "", view.note or None),
                digests[view.task_id]), board.text_of(card))
            keep.add(view.task_id)
    index.keep_only(keep)
    index.save()
