"""`git orch collect`: the lead pulls a clone workspace's branch and ledger events.

The worker never writes into the lead's repository. The lead fetches, from
its own repository with git's executable config pinned off, the workspace's
`orch/<id>` and `refs/orch/ledger` into `refs/orch-collect/<id>/fetched-*`
(outside refs/orch/, so sync never sends them). Then, in ONE compare-and-swap
transaction, it moves `refs/heads/orch/<id>`, the ledger, and the
`refs/orch-collect/<id>/head|ledger` refs that say what has been taken in.
A collect killed at any point is simply run again.

Provenance rule: from a worker, only that task's worker events are taken
(`handoff`, `blocked`, `note`), and a handoff only when its `head` is the
branch tip that was fetched and taken. Every other new event is dropped and
recorded once, as a `misalignment` (source `dropped-worker-event`); a
rewrite of orch/<id> that drops a handed-off head is refused and recorded
(source `rewritten-handoff`). Taken
events keep their id and content but get a Lamport value after the lead's
log (the worker's copy of the ledger may be behind the lead's), and enter the
lead's ledger through sync's hostile-input merge (landing/merge.py).

A source is any git URL: the workspace's path here, or a remote's URL for a
workspace on another machine (its tips are then read with `git ls-remote`
instead of libgit2; the rest is the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from git_orch.config import load_policy
from git_orch.errors import OrchError
from git_orch.gitcmd import pinned_options, run_git
from git_orch.record import ledger
from git_orch.record.ids import task_branch
from git_orch.record.ledger import LEDGER_REF, Event, RefUpdate
from git_orch.record.misalignment import misalignment_event
from git_orch.record.state import ACTIVE, ENDED, TaskState
from git_orch.record.tasks import contract_oid, load_task, record
from git_orch.repo import OrchRepo, peel
from git_orch.sanitize import clean
from git_orch.workspace import workspaces
from git_orch.workspace.roles import in_worker_context

if TYPE_CHECKING:
    import pygit2

COLLECT_PREFIX = "refs/orch-collect/"
WORKER_EVENTS = frozenset({"handoff", "blocked", "note"})
WRITE_ATTEMPTS = 20


@dataclass
class Collected:
    task: str
    source: str
    changed: bool = False  # False: the tips were those taken last time; nothing fetched
    head_before: str | None = None
    head_after: str | None = None
    branch: str = "unchanged"  # unchanged | created | fast-forward | forced | refused
    taken: list[str] = field(default_factory=list)  # event ids taken into the lead's ledger
    dropped: list[str] = field(default_factory=list)  # event ids dropped (misalignments)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def collect_ref(task_id: str, name: str) -> str:
    return f"{COLLECT_PREFIX}{task_id}/{name}"


TAKEN = ("head", "ledger")
FETCHED = ("fetched-head", "fetched-ledger")


def collect_refs(orepo: OrchRepo, task_id: str, names: tuple[str, ...]) -> dict[str, str]:
    """Name -> object id of the task's refs/orch-collect/<id>/NAME refs that exist (read
    from the ref files: every name collect writes is known, so no listing is needed)."""
    found = {}
    for name in names:
        oid = orepo.ref_oid(collect_ref(task_id, name))
        if oid is not None:
            found[name] = oid
    return found


def read_tips(source: str, task_id: str, no_hooks: Path) -> dict[str, str]:
    """The source's orch/<id> and ledger tips ("head", "ledger"); absent ones left out.

    A local workspace is read with libgit2 (no process, nothing of its config run);
    a URL with `git ls-remote`, pinned."""
    import pygit2  # only this path needs libgit2 (~50 ms to import)

    wanted = {f"refs/heads/{task_branch(task_id)}": "head", LEDGER_REF: "ledger"}
    path = Path(source)
    if path.is_dir():
        try:
            repo = pygit2.Repository(source, pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
        except pygit2.GitError:
            raise OrchError(f"{clean(source)} is not a git repository") from None
        found: dict[str, str] = {}
        for ref, key in wanted.items():
            try:
                target = repo.references.get(ref)
                oid = target.resolve().target if target is not None else None
            except (pygit2.GitError, ValueError, KeyError):
                oid = None
            if isinstance(oid, pygit2.Oid):
                found[key] = str(oid)
        return found
    proc = run_git([*pinned_options(no_hooks), "ls-remote", "--end-of-options", source,
                    *wanted], check=False)
    if proc.returncode != 0:
        raise OrchError(f"cannot read {clean(source)}: {_reason(proc.stderr)}")
    found = {}
    for line in proc.stdout.splitlines():
        oid, _, ref = line.partition("\t")
        if ref in wanted and ledger.HEX40.fullmatch(oid):
            found[wanted[ref]] = oid
    return found


def _reason(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    return clean(lines[-1]) if lines else "unknown error"


def fetch(orepo: OrchRepo, source: str, task_id: str, tips: dict[str, str]) -> None:
    """Fetch the source's tips into refs/orch-collect/<id>/fetched-* (nothing else moves:
    no tags, no FETCH_HEAD, no other ref), git pinned: the source's config is not run."""
    names = {"head": f"refs/heads/{task_branch(task_id)}", "ledger": LEDGER_REF}
    specs = [f"+{names[key]}:{collect_ref(task_id, 'fetched-' + key)}" for key in sorted(tips)]
    proc = run_git(
        ["--git-dir", str(orepo.common_dir), *pinned_options(orepo.no_hooks_dir), "fetch",
         "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules",
         "--end-of-options", source, *specs],
        orepo.common_dir,
        check=False,
    )
    if proc.returncode != 0:
        raise OrchError(f"cannot fetch from {clean(source)}: {_reason(proc.stderr)}")


def _is_ancestor(repo: pygit2.Repository, old: str, new: str) -> bool:
    return old == new or repo.descendant_of(new, old)


def _branch_move(repo: pygit2.Repository, st: TaskState, old: str | None, new: str
                 ) -> tuple[str, str | None]:
    """How the lead's orch/<id> may follow the worker's: (kind, misalignment or None).

    A rewrite is taken until the task is handed off; after that, a tip that no
    longer contains the handed-off head is refused (the reviewed work would vanish)."""
    if old == new:
        return "unchanged", None
    if old is None:
        return "created", None
    if _is_ancestor(repo, old, new):
        return "fast-forward", None
    if st.state != ACTIVE and st.head is not None and not _is_ancestor(repo, st.head, new):
        return "refused", (f"rewrote orch/{st.task_id} to {new[:12]}, dropping the handed-off "
                           f"head {st.head[:12]}")
    return "forced", None


def _worker_events(repo: pygit2.Repository, ledger_tip: str, contract: str) -> ledger.EventLog:
    """The task's log in the worker's ledger copy, parsed by the ledger's own reader."""
    import pygit2  # only this path needs libgit2 (~50 ms to import)

    snap = ledger.Snapshot(repo, pygit2.Oid(hex=ledger_tip))
    return snap.log(contract)


def _judge(event: Event, task_id: str, tip: str | None) -> str | None:
    """Why a new worker event is dropped, or None when it is taken."""
    kind = event.get("type")
    if kind not in WORKER_EVENTS:
        return f"a worker may not record {clean(str(kind))[:40]!r} events"
    if event.get("task", task_id) != task_id:
        return f"names task {clean(str(event.get('task')))[:40]!r}"
    if kind == "handoff" and event.get("head") != tip:
        return (f"hands off {clean(str(event.get('head')))[:12]}, not the collected tip "
                f"{(tip or 'none')[:12]}")
    return None


def _already_dropped(st: TaskState) -> set[str]:
    return {str(m.get("event")) for m in st.misalignments
            if m.get("source") == "dropped-worker-event" and m.get("event")}


def _already_refused(st: TaskState) -> set[str]:
    return {str(m.get("rewrite_to")) for m in st.misalignments if m.get("rewrite_to")}


def collect_task(orepo: OrchRepo, task_id: str, source: str | None = None) -> Collected:
    """Collect one task from its clone workspace (or from `source`, any git URL)."""
    task = load_task(orepo, task_id)
    st = task.state
    if source is None:
        ws = workspaces.locate(orepo, task_id, st.worktree, [])
        if ws is None or ws.mode != workspaces.CLONE:
            raise OrchError(f"task {task_id} has no clone workspace on this machine "
                            "(pass --from URL for one elsewhere)")
        source = str(ws.path)
    result = Collected(task_id, source)
    if st.state in ENDED:
        result.warnings.append(f"task {task_id} is {st.state}: nothing is collected any more")
        return result
    tips = read_tips(source, task_id, orepo.no_hooks_dir)
    taken = collect_refs(orepo, task_id, TAKEN)
    if all(taken.get(key) == tips.get(key) for key in ("head", "ledger")):
        head = orepo.ref_target(f"refs/heads/{task_branch(task_id)}")
        result.head_before = result.head_after = str(head) if head is not None else None
        return result
    result.changed = True
    fetch(orepo, source, task_id, tips)
    # Judge exactly what was fetched: the worker may have moved on since read_tips.
    fetched = collect_refs(orepo, task_id, FETCHED)
    tips = {key: fetched.get(f"fetched-{key}", oid) for key, oid in tips.items()}
    repo = orepo.pygit
    contract = contract_oid(orepo, task_id)
    branch_ref = f"refs/heads/{task_branch(task_id)}"
    for _attempt in range(WRITE_ATTEMPTS):
        if _take(orepo, repo, task_id, contract, branch_ref, tips, taken, result):
            return result
    raise ledger.LedgerBusy(f"collect {task_id}: the ledger kept moving; run it again")


def _take(orepo: OrchRepo, repo: pygit2.Repository, task_id: str, contract: str,
          branch_ref: str, tips: dict[str, str], taken: dict[str, str], result: Collected
          ) -> bool:
    """One compare-and-swap attempt; False when another writer moved a ref meanwhile."""
    import pygit2  # only this path needs libgit2 (~50 ms to import)

    st = load_task(orepo, task_id).state
    old_head = orepo.ref_target(branch_ref)
    result.head_before = str(old_head) if old_head is not None else None
    new_head = tips.get("head")
    kind, rewrite = ("unchanged", None)
    if new_head is not None and not isinstance(repo.get(new_head), pygit2.Commit):
        kind = "refused"
        result.warnings.append(f"orch/{task_id} in the workspace is not a commit "
                               f"({new_head[:12]}); not taken")
    elif new_head is not None:
        kind, rewrite = _branch_move(repo, st, result.head_before, new_head)
    tip = new_head if kind != "refused" else result.head_before
    result.branch = kind
    result.head_after = tip
    log = None
    if "ledger" in tips:
        try:
            log = _worker_events(repo, tips["ledger"], contract)
        except OrchError as exc:  # e.g. its refs/orch/ledger names a tree
            result.warnings.append(f"the workspace's ledger is unreadable ({clean(exc)}); "
                                   "no events taken")
    lead_log = ledger.snapshot(orepo).log(contract)
    known = {e["id"] for e in lead_log.events}
    accepted: list[Event] = []
    drops: list[Event] = []
    dropped_before = _already_dropped(st)
    if rewrite is not None and new_head not in _already_refused(st):
        drops.append(misalignment_event(rewrite, "rewritten-handoff",
                                        f"collect from {clean(result.source)}",
                                        rewrite_to=new_head))
    for event in log.events if log is not None else []:
        if event["id"] in known:
            continue
        why = _judge(event, task_id, tip)
        if why is None:
            accepted.append(event)
        elif event["id"] not in dropped_before:
            result.dropped.append(event["id"])
            drops.append(misalignment_event(
                f"{clean(str(event.get('type')))[:40]} event {clean(event['id'])[:16]}: {why}",
                "dropped-worker-event", f"collect from {clean(result.source)}",
                event=event["id"]))
    if log is not None:
        result.warnings.extend(clean(p) for p in log.problems)
    if drops:
        record(orepo, task_id, lambda _st: drops)
        lead_log = ledger.snapshot(orepo).log(contract)
    updates = _collected_refs(task_id, tips, taken)
    if kind in ("created", "fast-forward", "forced"):
        updates.append(RefUpdate(branch_ref, str(new_head), result.head_before))
    ledger_tip = orepo.ref_target(LEDGER_REF)
    if accepted:
        new_ledger = _merged_ledger(orepo, repo, contract, task_id, lead_log, accepted,
                                    ledger_tip, result)
        updates.append(RefUpdate(LEDGER_REF, str(new_ledger),
                                 str(ledger_tip) if ledger_tip is not None else None))
    ok, _err = ledger.update_refs(orepo, updates)
    if ok:
        result.taken = [e["id"] for e in accepted]
    return ok


def _collected_refs(task_id: str, tips: dict[str, str], taken: dict[str, str]
                    ) -> list[RefUpdate]:
    """Move refs/orch-collect/<id>/head|ledger to what this collect took in."""
    updates = []
    for key in ("head", "ledger"):
        new = tips.get(key)
        if new is not None and taken.get(key) != new:
            updates.append(RefUpdate(collect_ref(task_id, key), new, taken.get(key)))
    return updates


def _merged_ledger(orepo: OrchRepo, repo: pygit2.Repository, contract: str, task_id: str,
                   lead_log: ledger.EventLog, accepted: list[Event],
                   ledger_tip: pygit2.Oid | None, result: Collected) -> pygit2.Oid:
    """A ledger commit on top of the lead's with the taken events, merged by sync's
    hostile-input path (size caps, line checks, task-name checks)."""
    import pygit2  # only this path needs libgit2 (~50 ms to import)

    from git_orch.landing.merge import merge_trees

    clock = lead_log.max_lamport
    lines = b""
    for event in sorted(accepted, key=lambda e: (e["lamport"], e["id"])):
        clock += 1
        lines += ledger.encode_event({**event, "lamport": clock})
    theirs = ledger.put_note(repo, None, contract, repo.create_blob(lines))
    ours = ledger.Snapshot(repo, ledger_tip).tree
    where = f"worker ledger of {task_id}"
    merged = merge_trees(repo, ours, peel(repo, theirs, pygit2.Tree), where, {contract: task_id})
    result.warnings.extend(merged.warnings)
    assert merged.tree is not None
    sig = orepo.signature
    parents = [ledger_tip] if ledger_tip is not None else []
    return repo.create_commit(None, sig, sig, f"git-orch: collect {task_id}", merged.tree,
                              parents)


def collect_all(orepo: OrchRepo, *, quiet: bool = False) -> tuple[list[Collected], list[str]]:
    """Collect every live task whose clone workspace is here; errors become lines.

    Starts from the workspace folders (one directory listing), so a repository
    without clones pays nothing. `quiet` (the implicit collect) does nothing in a
    worker context: a worker's own copy is not the lead's to pull into."""
    results: list[Collected] = []
    errors: list[str] = []
    clones = workspaces.find_clones(orepo, load_policy(orepo))
    if not clones or (quiet and in_worker_context(orepo)):
        return results, errors
    tasks = ledger.task_refs(orepo)
    for path, ws in sorted(clones.items()):
        if ws.task_id not in tasks:
            continue  # status reports it as an orphan workspace
        try:
            st = load_task(orepo, ws.task_id).state
            if st.state not in ENDED and st.worktree == path:
                results.append(collect_task(orepo, ws.task_id))
        except OrchError as exc:
            errors.append(f"collect {ws.task_id}: {exc}")
    return results, errors


def collect_quietly(orepo: OrchRepo, task_id: str | None = None) -> list[str]:
    """The implicit collect of status, review, accept, reject, heartbeat, land and
    abandon: it never fails them. Returns what went wrong, one line each."""
    if task_id is None:
        return collect_all(orepo, quiet=True)[1]
    try:
        st = load_task(orepo, task_id).state
    except OrchError:
        return []  # a bad id or an unreadable task: the command itself says so
    if st.state in ENDED or st.isolation != workspaces.CLONE or in_worker_context(orepo):
        return []
    try:
        collect_task(orepo, task_id)
    except OrchError as exc:
        return [f"collect {task_id}: {exc}"]
    return []


def collected_refs(orepo: OrchRepo, task_id: str) -> dict[str, str]:
    """Ref -> object id of refs/orch-collect/<id>/*, which cleanup deletes."""
    refs = collect_refs(orepo, task_id, TAKEN + FETCHED)
    return {collect_ref(task_id, name): oid for name, oid in refs.items()}
