"""`git orch review`: inspect the task branch itself, not the worker's sentence.

Review reads the commits between the base (merge-base of the branch head and
the main branch; the contract's base when they share none) and the head of
`orch/<id>`, and judges the change set (scope, kinds of change, whitespace),
each commit's trailers and the evidence as a whole. With --rerun-gates the
claimed gates that the committed orch.toml lists run again in a clean
worktree. The verdict is recorded twice: a `reviewed` event in the task's log
and the same verdict, with all findings, in the note on the reviewed head.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pygit2

from git_orch.config import Policy, committed_policy, load_policy
from git_orch.errors import OrchError
from git_orch.gitcmd import run_git
from git_orch.judge import evidence
from git_orch.judge.changes import Change, diff_changes
from git_orch.judge.checks import contract_matcher, kind_findings, scope_findings, trailer_findings
from git_orch.judge.docsdrift import docs_findings
from git_orch.judge.findings import SEVERITIES, Finding, counts, verdict_of
from git_orch.judge.gaterun import GateRun, run_gates
from git_orch.judge.trailers import Trailer, commit_message, parse_trailers
from git_orch.record import ledger
from git_orch.record.ids import task_branch
from git_orch.record.ledger import Event
from git_orch.record.state import ABANDONED, CLEANED, MERGED, PENDING, PUSHED
from git_orch.record.tasks import Task, contract_oid, load_task, record
from git_orch.repo import OrchRepo, peel

# A re-review of an accepted or rejected task is allowed (the head may have
# moved); ended tasks and tasks without a branch yet are not reviewable.
NOT_REVIEWABLE = frozenset({PENDING, MERGED, PUSHED, CLEANED, ABANDONED})
NOTE_FINDINGS_CAP = 200  # findings kept in the head note (a note line is capped at 64 KiB)
DEFAULT_GATE_TIMEOUT = 600.0
_CHECK_LINE = re.compile(r"(.+):(\d+): (.+)")


@dataclass
class CommitInfo:
    oid: str
    summary: str
    trailers: list[Trailer]
    merge: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.oid,
            "summary": self.summary,
            "merge": self.merge,
            "trailers": [[t.key, t.value] for t in self.trailers],
        }


@dataclass
class Review:
    task_id: str
    base: str
    head: str
    findings: list[Finding]
    changes: list[Change]
    commits: list[CommitInfo]
    gates: list[GateRun] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return verdict_of(f.severity for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "task": self.task_id,
            "base": self.base,
            "head": self.head,
            "verdict": self.verdict,
            "counts": counts(self.findings),
            "findings": [f.to_json() for f in self.findings],
            "changes": [c.to_json() for c in self.changes],
            "commits": [c.to_json() for c in self.commits],
            "gates": [g.to_json() for g in self.gates],
        }


def branch_head(orepo: OrchRepo, task_id: str) -> str:
    contract_oid(orepo, task_id)  # "no task 'x'", as every command says it
    head = orepo.ref_target(f"refs/heads/{task_branch(task_id)}")
    if head is None:
        raise OrchError(f"branch {task_branch(task_id)} is missing: nothing to review")
    return str(head)


def review_base(orepo: OrchRepo, head: str, main_branch: str, contract_base: str) -> str:
    """merge-base(head, main branch); the contract base when there is none."""
    proc = run_git(["merge-base", head, f"refs/heads/{main_branch}"], orepo.toplevel,
                   check=False)
    found = proc.stdout.strip()
    return found if proc.returncode == 0 and found else contract_base


def range_commits(orepo: OrchRepo, base: str, head: str) -> list[CommitInfo]:
    """Commits in base..head, oldest first, merges included (and flagged)."""
    out = run_git(["rev-list", "--reverse", "--topo-order", "--parents", f"{base}..{head}",
                   "--"], orepo.toplevel).stdout
    result = []
    for line in out.splitlines():
        oid, *parents = line.split()
        commit = peel(orepo.pygit, oid, pygit2.Commit)
        message = commit_message(commit)
        result.append(CommitInfo(oid, message.split("\n", 1)[0], parse_trailers(message),
                                 len(parents) > 1))
    return result


def whitespace_findings(orepo: OrchRepo, base: str, head: str) -> list[Finding]:
    """`git diff --check` lines: `path:line: message.` followed by the offending line."""
    proc = run_git(["diff", "--check", "--no-ext-diff", base, head, "--"], orepo.toplevel,
                   check=False)
    found = []
    for line in proc.stdout.splitlines():
        match = _CHECK_LINE.fullmatch(line)
        if match is None or line.startswith(("+", "-", " ")):
            continue  # the offending line itself, shown after each report
        path, number, message = match.groups()
        found.append(Finding("whitespace", f"line {number}: {message.rstrip('.')}", path=path))
    return found


def evidence_findings(task: Task, commits: list[CommitInfo], tree: pygit2.Tree) -> list[Finding]:
    found: list[Finding] = []
    task_id = task.task_id
    if not commits:
        found.append(Finding("no-commits", "the branch has no commits since its base"))
    for info in commits:
        if info.merge:
            found.append(Finding("merge-commit", f"merge commit {info.summary!r}: workers "
                                 "rebase, they do not merge", commit=info.oid))
            continue
        found.extend(trailer_findings(info.oid, info.trailers, tree, task_id))
    worker = [t for info in commits if not info.merge for t in info.trailers]
    if commits and not any(t.is_key(evidence.EVIDENCE_KEY) for t in worker):
        found.append(Finding("no-evidence", "no commit carries an Orch-Evidence claim"))
    for gate in task.contract.gates:
        if not evidence.gate_claims(gate, worker):
            found.append(Finding("gate-unclaimed", f"contract gate {gate!r} is claimed by no "
                                 "commit (Orch-Gate or an Orch-Evidence claim naming it)"))
    return found


def claimed_gates(task: Task, commits: list[CommitInfo]) -> list[str]:
    """Gates claimed as passed: contract gates claimed other than as blocked, and
    every Orch-Gate trailer, deduplicated by argv."""
    worker = [t for info in commits if not info.merge for t in info.trailers]
    found: list[str] = []
    for gate in task.contract.gates:
        if any(way != "blocked" for way in evidence.gate_claims(gate, worker)):
            found.append(gate)
    for trailer in worker:
        if trailer.is_key(evidence.GATE_KEY) and evidence.gate_argv(trailer.value):
            found.append(trailer.value)
    unique: list[str] = []
    for gate in found:
        if not any(evidence.same_gate(gate, seen) for seen in unique):
            unique.append(gate)
    return unique


def range_findings(orepo: OrchRepo, task: Task, base: str, head: str, policy: Policy
                   ) -> tuple[list[Finding], list[Change], list[CommitInfo]]:
    """Every rule about the change base..head under the task's contract and the policy
    (`git orch eval` replays stored failures through this same function)."""
    changes = diff_changes(orepo, base, head)
    commits = range_commits(orepo, base, head)
    tree = peel(orepo.pygit, head, pygit2.Commit).tree
    contract = task.contract
    findings = scope_findings(changes, contract_matcher(contract.allow, task.task_id),
                              contract_matcher(contract.forbid, task.task_id))
    findings += kind_findings(changes)
    findings += whitespace_findings(orepo, base, head)
    findings += evidence_findings(task, commits, tree)
    findings += docs_findings(policy, changes)
    return findings, changes, commits


def review(
    orepo: OrchRepo,
    task_id: str,
    *,
    rerun_gates: bool = False,
    gate_timeout: float = DEFAULT_GATE_TIMEOUT,
) -> Review:
    """Review the current head of orch/<id>; writes nothing."""
    task = load_task(orepo, task_id)
    if task.state.state in NOT_REVIEWABLE:
        raise OrchError(f"task {task_id} is {task.state.state}: nothing to review")
    head = branch_head(orepo, task_id)
    policy = load_policy(orepo)
    base = review_base(orepo, head, policy.main_branch, task.contract.base)
    findings, changes, commits = range_findings(orepo, task, base, head, policy)
    handed = [e.get("head") for e in task.log.events if e.get("type") == "handoff"]
    if handed and isinstance(handed[-1], str) and handed[-1] != head:
        findings.append(Finding("head-moved", f"handed off at {handed[-1][:12]}, "
                                f"branch now at {head[:12]}"))
    result = Review(task_id, base, head, findings, changes, commits)
    if rerun_gates:
        _rerun(orepo, task, result, policy.main_branch, gate_timeout)
    return result


def gates_not_in_policy(orepo: OrchRepo, gates: list[str]) -> tuple[list[str], list[str]]:
    """The gates review --rerun-gates would not run, and the committed policy's gates.

    Review runs only gates listed in [orch] gates of orch.toml as committed on
    the main branch; `start` warns about the others while they are cheap to fix.
    """
    policy = load_policy(orepo)
    committed = committed_policy(orepo, f"refs/heads/{policy.main_branch}")
    allowed = committed.gates if committed is not None else []
    missing = [g for g in gates if not any(evidence.same_gate(g, ok) for ok in allowed)]
    return missing, allowed


def _rerun(orepo: OrchRepo, task: Task, result: Review, main_branch: str,
           timeout: float) -> None:
    committed = committed_policy(orepo, f"refs/heads/{main_branch}")
    allowed = committed.gates if committed is not None else []
    runnable = []
    for gate in claimed_gates(task, result.commits):
        listed = [ok for ok in allowed if evidence.same_gate(gate, ok)]
        if listed:
            runnable.append(listed[0])  # run the policy's own text, never the claim's
        else:
            result.findings.append(Finding(
                "gate-not-in-policy",
                f"gate {gate!r} is not in [orch] gates of orch.toml on {main_branch}: not run"))
    result.gates = run_gates(orepo, result.head, runnable, timeout)
    for run in result.gates:
        if not run.passed:
            why = run.error or f"exit status {run.returncode}"
            tail = run.output_tail.strip().splitlines()[-1:] if run.output_tail.strip() else []
            detail = f" ({tail[0][:200]})" if tail else ""
            result.findings.append(Finding(
                "gate-failed", f"claimed gate {run.command!r} failed in a clean worktree "
                f"(the claim is an overclaim): {why}{detail}"))


def record_verdict(
    orepo: OrchRepo,
    task_id: str,
    *,
    head: str,
    base: str,
    verdict: str,
    findings: list[dict[str, Any]],
    source: str,
    reviewer: str,
    gates: list[dict[str, Any]] | None = None,
) -> Event:
    """Write a verdict: the `reviewed` event in the task's log (counts and rule
    ids), then the full verdict in the note on the reviewed head commit."""
    tally = {severity: 0 for severity in SEVERITIES}
    for finding in findings:
        tally[finding["severity"]] = tally.get(finding["severity"], 0) + 1
    fields: Event = {
        "type": "reviewed",
        "head": head,
        "base": base,
        "verdict": verdict,
        "findings": {"counts": tally, "rules": sorted({str(f["rule"]) for f in findings})},
        "reviewer": reviewer,
        "source": source,
    }
    event = record(orepo, task_id, lambda _state: [dict(fields)])[0]
    note: Event = {
        **fields,
        "task": task_id,
        "event": event["id"],
        "findings": findings[:NOTE_FINDINGS_CAP],
        "counts": tally,
        "truncated": max(0, len(findings) - NOTE_FINDINGS_CAP),
        "gates": gates or [],
    }
    ledger.append(orepo, head, lambda _log: [dict(note)], message=f"git-orch: review {task_id}")
    return event


def record_review(orepo: OrchRepo, result: Review) -> Event:
    return record_verdict(
        orepo,
        result.task_id,
        head=result.head,
        base=result.base,
        verdict=result.verdict,
        findings=[f.to_json() for f in result.findings],
        source="git-orch",
        reviewer=orepo.actor,
        gates=[{k: v for k, v in g.to_json().items() if k != "output_tail"}
               for g in result.gates],
    )
