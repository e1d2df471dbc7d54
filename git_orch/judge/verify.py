"""`git orch verify RANGE`: the CI gate for commits that reach a shared branch.

Hooks can be skipped; CI cannot. Every non-merge commit in the range must name
a task known in refs/orch/tasks/* with `Orch-Task`, change only what that
task's contract allows, and carry well-formed evidence trailers. The
workflow fetches refs/orch/* first (contrib/ has a GitHub Action, a GitLab
job and a pre-commit hook entry).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pygit2

from git_orch.errors import OrchError
from git_orch.gitcmd import run_git
from git_orch.judge.changes import diff_changes
from git_orch.judge.checks import contract_matcher, scope_findings, trailer_findings
from git_orch.judge.findings import Finding
from git_orch.judge.trailers import commit_message, parse_trailers, values
from git_orch.record import ledger
from git_orch.record.contract import Contract, read_contract
from git_orch.repo import OrchRepo, peel

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# Honest and well-formed, so not a CI failure: a person accepted it on review.
NOT_FOR_CI = frozenset({"evidence-blocked"})


@dataclass
class Verification:
    rev_range: str
    commits: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {"schema": 1, "range": self.rev_range, "commits": len(self.commits),
                "ok": self.ok, "findings": [f.to_json() for f in self.findings]}


def default_range() -> str:
    """The range a pre-push hook checks: pre-commit's refs, else the upstream's."""
    start, end = os.environ.get("PRE_COMMIT_FROM_REF"), os.environ.get("PRE_COMMIT_TO_REF")
    if start and end:
        return f"{start}..{end}"
    return "@{upstream}..HEAD"


def _check_endpoints(orepo: OrchRepo, rev_range: str) -> None:
    """Refuse a range naming a tree or blob: rev-list walks it as zero commits (a false ok)."""
    proc = run_git(["rev-parse", "--end-of-options", rev_range], orepo.toplevel, check=False)
    for line in proc.stdout.split():
        if line.startswith("-"):  # an older git echoes --end-of-options
            continue
        oid = line.lstrip("^")
        obj = orepo.pygit.get(oid)
        while isinstance(obj, pygit2.Tag):
            obj = orepo.pygit.get(obj.target)
        if not isinstance(obj, pygit2.Commit):
            raise OrchError(f"bad range {rev_range!r}: it names {oid[:12]}, not a commit")


def verify(orepo: OrchRepo, rev_range: str) -> Verification:
    if not rev_range or rev_range.startswith("-"):
        raise OrchError(f"bad range {rev_range!r}: give a revision range like origin/main..HEAD")
    proc = run_git(["rev-list", "--no-merges", "--reverse", "--end-of-options", rev_range,
                    "--"], orepo.toplevel, check=False)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise OrchError(f"bad range {rev_range!r}: {lines[-1] if lines else 'git refused it'}")
    _check_endpoints(orepo, rev_range)
    result = Verification(rev_range, proc.stdout.split())
    known = ledger.task_refs(orepo)
    contracts: dict[str, Contract] = {}
    for oid in result.commits:
        commit = peel(orepo.pygit, oid, pygit2.Commit)
        trailers = parse_trailers(commit_message(commit))
        found = trailer_findings(oid, trailers, commit.tree, None)
        result.findings += [f for f in found if f.rule not in NOT_FOR_CI]
        names = list(dict.fromkeys(values(trailers, "Orch-Task")))
        if len(names) > 1:
            result.findings.append(Finding("other-task", f"commit names several tasks: "
                                           f"{', '.join(names)}", commit=oid))
        for name in names:
            if name not in known:
                result.findings.append(Finding("unknown-task", f"Orch-Task {name!r} is not a "
                                               "task in refs/orch/tasks/ (fetch refs/orch/*?)",
                                               commit=oid))
                continue
            if name not in contracts:
                contracts[name] = read_contract(orepo.pygit, known[name])
            contract = contracts[name]
            parent = str(commit.parent_ids[0]) if commit.parent_ids else EMPTY_TREE
            changes = diff_changes(orepo, parent, oid)
            result.findings += scope_findings(changes, contract_matcher(contract.allow, name),
                                              contract_matcher(contract.forbid, name),
                                              commit=oid)
    return result


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(result: Verification) -> str:
    """GitHub workflow commands: one `::error` annotation per finding."""
    lines = []
    for f in result.findings:
        props = [f"title={_escape_property(f'git-orch {f.rule}')}"]
        if f.path:
            props.insert(0, f"file={_escape_property(f.path)}")
        where = f" (commit {f.commit[:12]})" if f.commit else ""
        lines.append(f"::error {','.join(props)}::{_escape_data(f.message + where)}")
    lines.append(_summary(result))
    return "\n".join(lines)


def render_text(result: Verification) -> str:
    lines = [f.render() for f in result.findings]
    lines.append(_summary(result))
    return "\n".join(lines)


def _summary(result: Verification) -> str:
    verdict = "ok" if result.ok else "FAILED"
    return (f"git orch verify {result.rev_range}: {len(result.commits)} commits, "
            f"{len(result.findings)} findings: {verdict}")
