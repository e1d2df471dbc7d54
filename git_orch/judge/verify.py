"""`git orch verify RANGE`: the CI gate for commits that reach a shared branch.

Hooks can be skipped; CI cannot. Every non-merge commit in the range that
names a task with `Orch-Task` must name one known in refs/orch/tasks/*,
change only what that task's contract allows, and carry well-formed evidence
trailers. With `--require-landed` (or `[verify] require_landed = true`) it
must also have entered through git-orch: reachable from a head the ledger
records as accepted for its task, with that task's landing commit in the
range. Commits without `Orch-Task` (a person's own work, like the orch.toml
commit init asks for) follow `[verify] other_commits`: allow (default),
signed (`git verify-commit` must succeed, e.g. against
gpg.ssh.allowedSignersFile) or deny. The `[verify]` table is read as
committed at the range's excluded end (the branch being protected), so a
commit in the range cannot relax it. The workflow fetches refs/orch/* first
(contrib/ has a GitHub Action, a GitLab job and a pre-commit hook entry).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pygit2

from git_orch.config import CONFIG_NAME, Policy, committed_policy, load_policy
from git_orch.errors import OrchError
from git_orch.gitcmd import run_git
from git_orch.judge.changes import diff_changes
from git_orch.judge.checks import contract_matcher, scope_findings, trailer_findings
from git_orch.judge.findings import Finding
from git_orch.judge.trailers import commit_message, parse_trailers, values
from git_orch.record import ledger
from git_orch.record.contract import Contract, read_contract
from git_orch.record.ledger import HEX40
from git_orch.record.tasks import load_task
from git_orch.repo import OrchRepo, peel

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# Honest and well-formed, so not a CI failure: a person accepted it on review.
NOT_FOR_CI = frozenset({"evidence-blocked"})
OTHER_COMMITS = ("allow", "signed", "deny")


@dataclass(frozen=True)
class VerifyPolicy:
    require_landed: bool = False
    other_commits: str = "allow"


def verify_policy(policy: Policy) -> VerifyPolicy:
    """The `[verify]` table of orch.toml, checked."""
    section = policy.raw.get("verify", {})
    if not isinstance(section, dict):
        raise OrchError(f"{CONFIG_NAME}: [verify] must be a table")
    required = section.get("require_landed", False)
    if not isinstance(required, bool):
        raise OrchError(f"{CONFIG_NAME}: [verify].require_landed must be true or false")
    other = section.get("other_commits", "allow")
    if other not in OTHER_COMMITS:
        raise OrchError(f"{CONFIG_NAME}: [verify].other_commits must be one of "
                        f"{', '.join(OTHER_COMMITS)}")
    return VerifyPolicy(required, str(other))


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


def _endpoints(orepo: OrchRepo, rev_range: str) -> list[str]:
    """The range's endpoints as rev-parse gives them (excluded ones start with ^);
    refuses one naming a tree or blob: rev-list walks it as zero commits (a false ok)."""
    proc = run_git(["rev-parse", "--end-of-options", rev_range], orepo.toplevel, check=False)
    found: list[str] = []
    for line in proc.stdout.split():
        if line.startswith("-"):  # an older git echoes --end-of-options
            continue
        oid = line.lstrip("^")
        obj = orepo.pygit.get(oid)
        while isinstance(obj, pygit2.Tag):
            obj = orepo.pygit.get(obj.target)
        if not isinstance(obj, pygit2.Commit):
            raise OrchError(f"bad range {rev_range!r}: it names {oid[:12]}, not a commit")
        found.append(f"^{obj.id}" if line.startswith("^") else str(obj.id))
    return found


def range_policy(orepo: OrchRepo, endpoints: list[str]) -> VerifyPolicy:
    """[verify] as committed at the first excluded endpoint, else in the working copy."""
    for end in endpoints:
        if end.startswith("^"):
            committed = committed_policy(orepo, end[1:])
            return verify_policy(committed) if committed is not None else VerifyPolicy()
    return verify_policy(load_policy(orepo))


@dataclass
class _Landings:
    """What the ledger says entered the target for one task."""

    accepted: set[str]  # every commit reachable from an accepted head, since the base
    landed: set[str]  # landing commits (merged events) that are inside the range


def _landings(orepo: OrchRepo, name: str, in_range: set[str]) -> _Landings:
    task = load_task(orepo, name)
    # Ledger text is hostile: only full object ids this clone has reach git's argv.
    heads = {str(e["head"]) for e in task.log.events
             if e.get("type") == "accepted" and isinstance(e.get("head"), str)
             and HEX40.fullmatch(e["head"]) and orepo.pygit.get(e["head"]) is not None}
    merged = {str(e["commit"]) for e in task.log.events
              if e.get("type") == "merged" and isinstance(e.get("commit"), str)
              and e.get("head") in heads}
    reachable: set[str] = set()
    if heads:
        proc = run_git(["rev-list", *sorted(heads), "--not", task.contract.base, "--"],
                       orepo.toplevel, check=False)
        reachable = set(proc.stdout.split())
    return _Landings(reachable, merged & in_range)


def _landed_finding(oid: str, name: str, found: _Landings) -> Finding | None:
    if oid in found.landed:
        return None  # the landing commit itself (a squash)
    if oid not in found.accepted:
        return Finding("not-landed", f"carries Orch-Task {name} but no head the ledger "
                       f"records as accepted for {name} contains it", commit=oid)
    if not found.landed:
        return Finding("not-landed", f"task {name}'s work entered this range without its "
                       "landing commit (git orch land records it in a merged event)",
                       commit=oid)
    return None


def _signed(orepo: OrchRepo, oid: str) -> bool:
    return run_git(["verify-commit", oid], orepo.toplevel, check=False).returncode == 0


def _other_commit(orepo: OrchRepo, oid: str, rule: str) -> Finding | None:
    """A commit without Orch-Task under [verify] other_commits."""
    if rule == "deny":
        return Finding("no-task-trailer", "commit has no Orch-Task trailer "
                       "([verify] other_commits = deny)", commit=oid)
    if rule == "signed" and not _signed(orepo, oid):
        return Finding("unsigned-commit", "commit has no Orch-Task trailer and git "
                       "verify-commit does not accept its signature ([verify] "
                       "other_commits = signed)", commit=oid)
    return None


def verify(orepo: OrchRepo, rev_range: str, *, require_landed: bool = False) -> Verification:
    if not rev_range or rev_range.startswith("-"):
        raise OrchError(f"bad range {rev_range!r}: give a revision range like origin/main..HEAD")
    proc = run_git(["rev-list", "--no-merges", "--reverse", "--end-of-options", rev_range,
                    "--"], orepo.toplevel, check=False)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise OrchError(f"bad range {rev_range!r}: {lines[-1] if lines else 'git refused it'}")
    vp = range_policy(orepo, _endpoints(orepo, rev_range))
    require_landed = require_landed or vp.require_landed
    result = Verification(rev_range, proc.stdout.split())
    known = ledger.task_refs(orepo)
    contracts: dict[str, Contract] = {}
    landings: dict[str, _Landings] = {}
    in_range: set[str] | None = None
    for oid in result.commits:
        commit = peel(orepo.pygit, oid, pygit2.Commit)
        trailers = parse_trailers(commit_message(commit))
        names = list(dict.fromkeys(values(trailers, "Orch-Task")))
        found = trailer_findings(oid, trailers, commit.tree, None)
        result.findings += [f for f in found if f.rule not in NOT_FOR_CI
                            and f.rule != "no-task-trailer"]
        other = _other_commit(orepo, oid, vp.other_commits) if not names else None
        if other is not None:
            result.findings.append(other)
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
            if not require_landed:
                continue
            if in_range is None:
                listed = run_git(["rev-list", "--end-of-options", rev_range, "--"],
                                 orepo.toplevel)
                in_range = set(listed.stdout.split())
            if name not in landings:
                landings[name] = _landings(orepo, name, in_range)
            missing = _landed_finding(oid, name, landings[name])
            if missing is not None:
                result.findings.append(missing)
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
    commits, findings = len(result.commits), len(result.findings)
    return (f"git orch verify {result.rev_range}: {commits} commit{'' if commits == 1 else 's'}, "
            f"{findings} finding{'' if findings == 1 else 's'}: {verdict}")
