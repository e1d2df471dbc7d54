"""Ledger damage: a rewound, replaced or deleted ledger ref, and a stale ref lock.

The ledger only ever grows, so every tip this machine saw must stay an
ancestor of the current one. Each machine remembers the last tip it saw in
its runtime folder (`ledger-tip`); a ledger that no longer descends from it
lost events, and is reported with the recovery command until
`git orch ledger recover` puts them back by union. A tip whose tree is not a
notes tree (say a main commit) is refused for writes and reported the same way.

A `refs/orch/ledger.lock` left by a killed git makes every write fail; once
it is older than a minute, every command names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pygit2

from git_orch.errors import OrchError
from git_orch.landing.merge import merge_trees
from git_orch.record.ledger import (
    HEX40,
    LEDGER_REF,
    RefUpdate,
    is_ledger_commit,
    remember_tip,
    remembered_tip,
    stale_lock,
    update_refs,
)
from git_orch.repo import OrchRepo, peel

MAX_LOST_TIPS = 32


def recover_hint() -> str:
    return "git orch ledger recover restores the lost events (by union)"


def check_shape(orepo: OrchRepo, tip: pygit2.Oid | None) -> None:
    """Refuse to write on top of a tip that is not a ledger commit."""
    if tip is not None and not is_ledger_commit(orepo.pygit, tip):
        raise OrchError(
            f"{LEDGER_REF} points at {str(tip)[:12]}, which is not a ledger commit (its tree "
            f"holds files, not notes): nothing written; {recover_hint()}"
        )


def findings(orepo: OrchRepo) -> list[str]:
    """What is wrong with the ledger ref, as lines with the fix; [] when it is sound.

    A sound tip that descends from the remembered one becomes the remembered one.
    """
    repo = orepo.pygit
    current = orepo.ref_target(LEDGER_REF)
    seen = remembered_tip(orepo)
    found: list[str] = []
    if current is not None and not is_ledger_commit(repo, current):
        found.append(f"{LEDGER_REF} points at {str(current)[:12]}, which is not a ledger "
                     f"commit: events written since are not in it; {recover_hint()}")
    elif seen is not None and str(current) != seen and seen in repo:
        if current is None:
            found.append(f"{LEDGER_REF} is gone (this machine last saw {seen[:12]}): "
                         f"{recover_hint()}")
        elif not repo.descendant_of(current, seen):
            found.append(f"{LEDGER_REF} was rewound or replaced: it no longer contains "
                         f"{seen[:12]}, the tip this machine last saw; {recover_hint()}")
    if not found and current is not None and str(current) != seen:
        remember_tip(orepo, str(current))
    lock = stale_lock(orepo)
    if lock is not None:
        found.append(lock)
    return found


# --- recover ---------------------------------------------------------------------


@dataclass
class Recovery:
    tip: str | None
    restored_from: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"tip": self.tip, "restored_from": self.restored_from,
                "warnings": self.warnings}


def _reflog_tips(orepo: OrchRepo) -> list[str]:
    path = orepo.common_dir / "logs" / LEDGER_REF
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        return []
    tips: list[str] = []
    for line in lines:
        fields = line.split(b" ", 2)
        if len(fields) >= 2:
            tips.extend(f.decode("ascii", "replace") for f in fields[:2])
    return tips


def lost_tips(orepo: OrchRepo) -> list[str]:
    """Ledger commits this machine knew (reflog, remembered tip) the current tip lacks."""
    repo = orepo.pygit
    current = orepo.ref_target(LEDGER_REF)
    base = current if current is not None and is_ledger_commit(repo, current) else None
    seen = [*_reflog_tips(orepo), remembered_tip(orepo) or ""]
    candidates = []
    for tip in dict.fromkeys(reversed(seen)):  # newest first
        if not HEX40.fullmatch(tip) or tip == "0" * 40 or not is_ledger_commit(repo, tip):
            continue
        if base is not None and (str(base) == tip or repo.descendant_of(base, tip)):
            continue
        candidates.append(tip)
    # Keep the heads: a lost tip inside another lost tip adds nothing.
    heads = [t for t in candidates
             if not any(o != t and repo.descendant_of(o, t) for o in candidates)]
    return heads[:MAX_LOST_TIPS]


def recover(orepo: OrchRepo) -> Recovery:
    """Merge every lost ledger tip back into the ledger (union of event lines)."""
    repo = orepo.pygit
    current = orepo.ref_target(LEDGER_REF)
    ours = current if current is not None and is_ledger_commit(repo, current) else None
    lost = lost_tips(orepo)
    result = Recovery(str(current) if current is not None else None)
    if not lost and ours is not None and str(current) == str(ours):
        remember_tip(orepo, str(ours))
        return result
    tree = peel(repo, ours, pygit2.Commit).tree if ours is not None else None
    for tip in lost:
        theirs = peel(repo, tip, pygit2.Commit).tree
        merged = merge_trees(repo, tree, theirs, f"lost tip {tip[:12]}")
        result.warnings.extend(merged.warnings)
        if merged.tree is not None:
            tree = peel(repo, merged.tree, pygit2.Tree)
        result.restored_from.append(tip)
    if tree is None:
        tree = peel(repo, repo.TreeBuilder().write(), pygit2.Tree)
    parents = ([ours] if ours is not None else []) + [pygit2.Oid(hex=t) for t in lost]
    sig = orepo.signature
    commit = repo.create_commit(None, sig, sig, "git-orch: recover lost ledger events",
                                tree.id, parents)
    ok, err = update_refs(orepo, [RefUpdate(LEDGER_REF, str(commit),
                                            str(current) if current is not None else None)])
    if not ok:
        raise OrchError(f"could not write {LEDGER_REF}: {err}; run git orch ledger recover "
                        "again")
    remember_tip(orepo, str(commit))
    result.tip = str(commit)
    return result
