"""Review findings: rule ids, severities and the verdict they add up to.

A `reject` finding fails review; a `concern` needs a person to accept with
`--override`; `info` is shown and recorded but does not change the verdict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

REJECT = "reject"
CONCERN = "concern"
INFO = "info"
SEVERITIES = (REJECT, CONCERN, INFO)
VERDICTS = ("pass", "concerns", "reject")

# rule id -> (severity, what it means). refs-schema.md lists the same table.
RULES: dict[str, tuple[str, str]] = {
    "outside-allow": (REJECT, "a changed path matches no Orch-Allow pathspec"),
    "forbidden": (REJECT, "a changed path matches an Orch-Forbid pathspec"),
    "mode-change": (CONCERN, "a file's mode changed (chmod, or file <-> symlink)"),
    "symlink": (CONCERN, "a symbolic link was added, changed or removed"),
    "submodule": (CONCERN, "a submodule (gitlink) was added, changed or removed"),
    "binary": (CONCERN, "a binary file changed (not reviewable as text)"),
    "whitespace": (CONCERN, "git diff --check reports a whitespace error"),
    "no-commits": (REJECT, "the branch has no commits since its base"),
    "merge-commit": (REJECT, "the worker's range contains a merge commit"),
    "no-task-trailer": (REJECT, "a commit has no Orch-Task trailer"),
    "other-task": (REJECT, "a commit's Orch-Task names another task"),
    "unknown-task": (REJECT, "verify: Orch-Task names no task in refs/orch/tasks"),
    "not-landed": (REJECT, "verify --require-landed: a task's commit did not enter through "
                   "its landing (no accepted head contains it, or no landing commit)"),
    "unsigned-commit": (REJECT, "verify, other_commits = signed: a commit without Orch-Task "
                        "fails git verify-commit"),
    "trailer-case": (CONCERN, "an Orch-* trailer key is written in another case"),
    "evidence-malformed": (REJECT, "Orch-Evidence is not '<label>: <claim>' with a known label"),
    "no-evidence": (CONCERN, "no commit in the range carries Orch-Evidence"),
    "direct-no-artifact": (REJECT, "a direct claim's commit has no Orch-Artifact"),
    "artifact-missing": (REJECT, "an Orch-Artifact is neither a URL nor a file in the tree"),
    "overclaim": (REJECT, "a claim says more than its label (or a re-run gate failed)"),
    "evidence-blocked": (CONCERN, "a blocked claim: only a person can accept it (--override)"),
    "gate-unclaimed": (REJECT, "a contract gate is claimed by no commit"),
    "gate-malformed": (REJECT, "an Orch-Gate command cannot be split into argv"),
    "gate-not-in-policy": (CONCERN, "a claimed gate is not in orch.toml [orch] gates: not run"),
    "gate-failed": (REJECT, "a claimed gate failed when re-run in a clean worktree"),
    "head-moved": (INFO, "the branch moved since the worker's handoff"),
    "docs-stale": (CONCERN, "code mapped in [review] docs changed but its docs did not"),
}


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    path: str | None = None
    commit: str | None = None

    @property
    def severity(self) -> str:
        return RULES[self.rule][0]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "path": self.path,
            "commit": self.commit,
        }

    def render(self) -> str:
        where = self.path or (self.commit[:12] if self.commit else "")
        where = f" {where}:" if where else ""
        return f"{self.severity:<7} {self.rule}:{where} {self.message}"


def verdict_of(severities: Iterable[str]) -> str:
    seen = set(severities)
    if REJECT in seen:
        return "reject"
    if CONCERN in seen:
        return "concerns"
    return "pass"


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    found = Counter(f.severity for f in findings)
    return {severity: found.get(severity, 0) for severity in SEVERITIES}
