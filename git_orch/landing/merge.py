"""Merge two ledgers (notes commits) by the union of their event lines.

Notes only ever grow, so there is no three-way merge: a note present on one
side is taken as is, a note on both sides becomes `merge_logs(ours, theirs)`.
Incoming notes are checked first; what cannot be merged safely (a blob over
the size cap, an entry that is not a blob) is skipped with a warning that
names the ref and the object. Lines a reader would skip are kept, and
reported.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pygit2

from git_orch.errors import OrchError
from git_orch.record import ledger, timefmt
from git_orch.record.ids import task_branch
from git_orch.record.ledger import HEX2, HEX40, find_note, iter_notes, merge_logs, parse_log
from git_orch.repo import peel
from git_orch.sanitize import clean


@dataclass
class TreeMerge:
    """The merged notes tree and what happened on the way."""

    tree: pygit2.Oid | None  # None when only checking (fast-forward)
    taken: int = 0  # notes new to us, taken as they were
    merged: int = 0  # notes on both sides, merged line by line
    skipped: int = 0  # incoming notes refused
    warnings: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # annotated ids whose note changes


def incoming_notes(
    repo: pygit2.Repository, ours: pygit2.Tree | None, theirs: pygit2.Tree
) -> Iterator[tuple[str, pygit2.Oid, pygit2.Oid | None]]:
    """(annotated hex, their blob, our blob or None) for each note that differs.

    Subtrees with the same id on both sides are not opened: a sync that
    brings 1,000 notes reads about 1,000 notes, not the whole ledger.
    """
    for entry in theirs:
        name = entry.name
        if name is None:
            continue
        if ours is not None and name in ours and ours[name].id == entry.id:
            continue
        if entry.type_str == "tree" and HEX2.fullmatch(name):
            notes: Iterator[tuple[str, pygit2.Oid]] = iter_notes(
                repo, peel(repo, entry.id, pygit2.Tree), name
            )
        elif entry.type_str == "blob" and HEX40.fullmatch(name):
            notes = iter([(name, entry.id)])
        else:
            continue
        for hexid, blob in notes:
            mine = find_note(repo, ours, hexid) if ours is not None else None
            if mine != blob:
                yield hexid, blob, mine


def _blob(repo: pygit2.Repository, oid: pygit2.Oid) -> pygit2.Blob | None:
    try:
        obj = repo[oid]
    except (KeyError, ValueError):
        return None
    return obj if isinstance(obj, pygit2.Blob) else None


def merge_trees(
    repo: pygit2.Repository,
    ours: pygit2.Tree | None,
    theirs: pygit2.Tree,
    where: str,
    contracts: Mapping[str, str] | None = None,
    *,
    check_only: bool = False,
) -> TreeMerge:
    """Our notes tree plus every acceptable incoming note (2/38 fanout kept).

    `where` names the incoming ref in warnings; `contracts` maps contract
    commit ids to task ids, to report events filed under the wrong task.
    With `check_only` (theirs already contains ours) notes are only checked.
    """
    contracts = contracts or {}
    result = TreeMerge(tree=None)
    changes: dict[str, pygit2.Oid] = {}
    for hexid, blob_id, mine in incoming_notes(repo, ours, theirs):
        label = f"{where} note on {hexid[:12]}"
        blob = _blob(repo, blob_id)
        if blob is None:
            result.skipped += 1
            result.warnings.append(f"{label}: note {str(blob_id)[:12]} is missing; skipped")
            continue
        if blob.size > ledger.MAX_NOTE_BYTES:
            result.skipped += 1
            result.warnings.append(
                f"{label}: note {str(blob_id)[:12]} is {blob.size} bytes, over the "
                f"{ledger.MAX_NOTE_BYTES} byte cap; skipped"
            )
            continue
        data = blob.data
        _report_lines(repo, hexid, data, label, contracts, result.warnings)
        new = blob_id
        result.touched.append(hexid)
        if check_only:
            result.taken += mine is None
            result.merged += mine is not None
            continue
        if mine is not None:
            ours_blob = _blob(repo, mine)
            if ours_blob is None or ours_blob.size > ledger.MAX_NOTE_BYTES:
                result.skipped += 1
                result.warnings.append(f"{label}: our note is unreadable or too big; kept ours")
                continue
            merged = merge_logs(ours_blob.data, data)
            if merged == ours_blob.data:
                continue
            new = blob_id if merged == data else repo.create_blob(merged)
            result.merged += 1
        else:
            result.taken += 1
        changes[hexid] = new
    if not check_only:
        result.tree = put_notes(repo, ours, changes)
    return result


def put_notes(
    repo: pygit2.Repository, tree: pygit2.Tree | None, notes: Mapping[str, pygit2.Oid]
) -> pygit2.Oid:
    """Write many notes at once: one write per touched 2/38 subtree, one for the root.

    Flat notes are moved into the fanout; a subtree with deeper fanout (2/2/36,
    written by git itself for huge note sets) falls back to one put_note each.
    """
    groups: dict[str, dict[str, pygit2.Oid]] = {}
    for hexid, blob in notes.items():
        groups.setdefault(hexid[:2], {})[hexid[2:]] = blob
    root = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
    slow: dict[str, pygit2.Oid] = {}
    for head, entries in sorted(groups.items()):
        sub = None
        if tree is not None and head in tree and tree[head].type_str == "tree":
            sub = peel(repo, tree[head].id, pygit2.Tree)
            if any(e.name is not None and HEX2.fullmatch(e.name) for e in sub):
                slow.update({head + rest: blob for rest, blob in entries.items()})
                continue
        builder = repo.TreeBuilder(sub) if sub is not None else repo.TreeBuilder()
        for rest, blob in entries.items():
            if tree is not None and head + rest in tree:
                root.remove(head + rest)
            builder.insert(rest, blob, pygit2.GIT_FILEMODE_BLOB)
        root.insert(head, builder.write(), pygit2.GIT_FILEMODE_TREE)
    new_root = root.write()
    for hexid, blob in slow.items():
        new_root = ledger.put_note(repo, peel(repo, new_root, pygit2.Tree), hexid, blob)
    return new_root


def _report_lines(
    repo: pygit2.Repository,
    hexid: str,
    data: bytes,
    label: str,
    contracts: Mapping[str, str],
    warnings: list[str],
) -> None:
    """Say what readers will skip in an incoming note; the lines themselves are kept."""
    log = parse_log(data, label)
    warnings.extend(clean(p) for p in log.problems)
    if log.skipped_versions:
        warnings.append(
            f"{label}: {log.skipped_versions} event(s) of an unknown version kept, not read"
        )
    task_id = contracts.get(hexid)
    if task_id is None:
        known = set(contracts.values())
        ours = all(event.get("task") in known for event in log.events)
        # A review note on a task's worker commit: expected until its branch is fetched.
        if log.events and hexid not in repo and not ours:
            warnings.append(
                f"{label}: annotates {hexid[:12]}, which this repository does not have "
                "(yet: e.g. a review note on an unfetched worker commit); kept"
            )
        return
    now = time.time()
    for event in log.events:
        shown = clean(str(event["id"]))[:16]
        stamp = timefmt.parse_iso(event.get("at"))
        if stamp is not None and timefmt.plausible(stamp, now) is None:
            warnings.append(
                f"{label}: event {shown} is dated {clean(str(event.get('at')))[:40]}, in the "
                "future (a wrong clock or a forgery); kept, never counted as activity"
            )
        named = event.get("task", task_id)
        if named != task_id:
            warnings.append(
                f"{label}: event {shown} names task "
                f"'{clean(str(named))[:40]}', not {task_id}; kept, ignored by status"
            )
        elif event.get("type") == "activated":
            why = _odd_place(task_id, event.get("branch"), event.get("worktree"))
            if why:
                warnings.append(f"{label}: event {shown}: {why}; git orch never acts on it")


def _odd_place(task_id: str, branch: object, worktree: object) -> str | None:
    """Branch and worktree in an `activated` event are claims, not paths to act on."""
    if branch is not None and branch != task_branch(task_id):
        return f"branch '{clean(branch)[:60]}' is not {task_branch(task_id)}"
    if worktree is None:
        return None
    path = str(worktree)
    if not isinstance(worktree, str) or not path.startswith("/") or clean(path) != path or (
        ".." in path.split("/")
    ):
        return f"worktree '{clean(path)[:80]}' is not a plain absolute path"
    return None


def check_commit(repo: pygit2.Repository, oid: pygit2.Oid, what: str) -> pygit2.Commit:
    try:
        return peel(repo, oid, pygit2.Commit)
    except OrchError:
        raise OrchError(f"{what} ({str(oid)[:12]}) is not a commit; refusing to merge") from None
