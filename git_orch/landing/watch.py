"""The target branch is watched: it must only move by landings (and people's own work).

Every `merged` event records the tip its land produced. A recorded tip that is
no longer an ancestor of the target (local, or its remote-tracking copy) means
the target was rewritten: a force-push or a reset dropped landed work. A
commit on the target that carries `Orch-Task` but is reachable from no
landing tip did not enter through `git orch land` (a worker's
`git push origin HEAD:main`, a cherry-pick by hand): a bypass. Status and
heartbeat report both as needs-you; heartbeat and land record a bypass as a
`misalignment` (source `bypass`) on the task it names; land refuses a
rewritten target without `--override --reason`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from git_orch.config import Policy
from git_orch.errors import OrchError
from git_orch.gitcmd import run_git
from git_orch.judge.trailers import parse_trailers, values
from git_orch.objects import commit_parts
from git_orch.record import ledger
from git_orch.record.contract import load_contract
from git_orch.record.misalignment import record_misalignment
from git_orch.record.state import StateFacts, TaskState, fold
from git_orch.repo import OrchRepo

SCAN_LIMIT = 5000  # commits since the newest landing looked at for Orch-Task trailers
REWRITTEN = "target-rewritten"
BYPASS = "target-bypass"


@dataclass(frozen=True)
class TargetFinding:
    rule: str
    ref: str
    commit: str
    task: str | None = None  # bypass: the task the commit names
    landed_by: str | None = None  # rewritten: the task whose landing tip was dropped

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "ref": self.ref, "commit": self.commit, "task": self.task,
                "landed_by": self.landed_by}

    def render(self) -> str:
        if self.rule == REWRITTEN:
            return (f"{REWRITTEN}: {self.ref} no longer contains {self.commit[:12]}, the tip "
                    f"landing {self.landed_by} produced (force-push or reset?)")
        return (f"{BYPASS}: {self.ref} has {self.commit[:12]} with Orch-Task {self.task}, "
                "which entered without git orch land")


def _remote(policy: Policy) -> str:
    section = policy.raw.get("land", {})
    remote = section.get("remote", "origin") if isinstance(section, dict) else "origin"
    return remote if isinstance(remote, str) and remote and "/" not in remote else "origin"


def watched_refs(orepo: OrchRepo, policy: Policy) -> tuple[str | None, str | None]:
    """Tips of the target and of its remote-tracking copy (None when absent)."""
    target = policy.main_branch
    return (orepo.ref_oid(f"refs/heads/{target}"),
            orepo.ref_oid(f"refs/remotes/{_remote(policy)}/{target}"))


def landed_tips(orepo: OrchRepo, states: Iterable[StateFacts], target: str
                ) -> dict[str, StateFacts]:
    """Tip each land onto target produced -> its task, for tips this clone has."""
    landed = [(st.merged_commit, st) for st in states
              if st.merged_commit and st.merged_target in (None, target)]
    have = orepo.objects.have(commit for commit, _ in landed)  # ledger text is hostile
    return {commit: st for commit, st in landed if commit in have}


def _is_ancestor(orepo: OrchRepo, older: str, newer: str) -> bool:
    return run_git(["merge-base", "--is-ancestor", older, newer], orepo.toplevel,
                   check=False).returncode == 0


def _missing(orepo: OrchRepo, tip: str, tips: Iterable[str]) -> list[str]:
    """The tips that `tip` does not contain, in one walk."""
    wanted = sorted(tips)
    if not wanted:
        return []
    proc = run_git(["rev-list", *wanted, "--not", tip, "--"], orepo.toplevel, check=False)
    return sorted(set(proc.stdout.split()) & set(wanted))


def rewritten(orepo: OrchRepo, ref: str, tip: str, tips: dict[str, StateFacts],
              upstream: str | None, *, is_remote: bool = False) -> list[TargetFinding]:
    """Landing tips the ref no longer contains.

    A ref merely behind a landing tip is not rewritten when the work is still
    to come: the local target behind a tip its remote-tracking copy has (land
    ran on another clone: pull), or the remote-tracking copy behind a tip never
    pushed. Anything else (a reset, a force-push) is.
    """
    found = []
    for oid in _missing(orepo, tip, tips):
        if _is_ancestor(orepo, tip, oid):
            st = tips[oid]
            if upstream is not None and _is_ancestor(orepo, oid, upstream):
                continue  # local target behind its remote: not yet pulled
            if is_remote and not st.pushed:
                continue  # landed here, not pushed yet
        found.append(TargetFinding(REWRITTEN, ref, oid, landed_by=tips[oid].task_id))
    return found


def bypasses(orepo: OrchRepo, ref: str, tip: str, exclude: Iterable[str]) -> list[TargetFinding]:
    """Commits on ref, reachable from no landing tip or task base, naming a task."""

    proc = run_git(["rev-list", f"--max-count={SCAN_LIMIT}", tip, "--not",
                    *sorted(set(exclude)), "--"], orepo.toplevel, check=False)
    found: list[TargetFinding] = []
    for oid in proc.stdout.split():
        commit = orepo.objects.read(oid)
        if commit is None or commit[0] != "commit":
            continue
        message = commit_parts(commit[1])[1].decode("utf-8", "surrogateescape")
        for name in dict.fromkeys(values(parse_trailers(message), "Orch-Task")):
            found.append(TargetFinding(BYPASS, ref, oid, task=name))
    return found


def watch(orepo: OrchRepo, policy: Policy, states: Mapping[str, StateFacts],
          bases: Iterable[str]) -> list[TargetFinding]:
    """Everything wrong with the target branch, for status and heartbeat."""
    tips = landed_tips(orepo, states.values(), policy.main_branch)
    exclude = [*tips, *orepo.objects.have(bases)]  # sorted and deduplicated by bypasses
    found: list[TargetFinding] = []
    if not exclude:
        return found  # no task has a base here yet: nothing can have bypassed a landing
    local, remote = watched_refs(orepo, policy)
    target = policy.main_branch
    if local is not None:
        found += rewritten(orepo, target, local, tips, remote)
        found += bypasses(orepo, target, local, exclude)
    if remote is not None:
        ref = f"{_remote(policy)}/{target}"
        found += rewritten(orepo, ref, remote, tips, None, is_remote=True)
        found += [f for f in bypasses(orepo, ref, remote, exclude)
                  if not any(f.commit == g.commit for g in found)]
    return found


def target_states(orepo: OrchRepo) -> tuple[dict[str, TaskState], list[str]]:
    """Every task's state and contract base, straight from the ledger (for land)."""
    objs = orepo.objects
    tip = orepo.ref_oid(ledger.LEDGER_REF)
    root = ledger.root_tree(objs, tip) if tip is not None else None
    notes = dict(ledger.iter_notes_in(objs, root.values())) if root is not None else {}
    states: dict[str, TaskState] = {}
    bases: list[str] = []
    for task_id, oid in orepo.refs_under(ledger.TASKS_PREFIX).items():
        try:
            bases.append(load_contract(objs, oid).base)
        except OrchError:
            continue  # an unreadable contract: status reports it
        blob = notes.get(oid)
        data = objs.read_kind(blob, "blob") if blob is not None else b""
        states[task_id] = fold(task_id, ledger.parse_log(data).events)
    return states, bases


def record_bypasses(orepo: OrchRepo, found: list[TargetFinding],
                    states: dict[str, TaskState]) -> list[TargetFinding]:
    """A `misalignment` (source bypass) on each named, existing task, once per commit."""
    recorded = []
    for finding in found:
        st = states.get(finding.task or "")
        if finding.rule != BYPASS or st is None:
            continue
        if any(m.get("source") == "bypass" and m.get("commit") == finding.commit
               for m in st.misalignments):
            continue
        record_misalignment(orepo, st.task_id, f"{finding.commit[:12]} reached "
                            f"{finding.ref} without git orch land", "bypass",
                            finding.render(), commit=finding.commit, ref=finding.ref)
        st.misalignments.append({"source": "bypass", "commit": finding.commit})
        recorded.append(finding)
    return recorded


def refuse_rewritten(found: list[TargetFinding], override: str | None) -> None:
    """land's check: a rewritten target needs a person's --override --reason."""
    dropped = [f for f in found if f.rule == REWRITTEN]
    if dropped and override is None:
        raise OrchError(f"{dropped[0].render()}: landing on it would build on the rewrite; "
                        "fix the target, or land with --override --reason REASON; "
                        "nothing changed")
