"""Verdicts add up: every review of the head being accepted counts, none replaces another.

git-orch's own review must exist for that head; imported verdicts (review
packs) and further reviews are recorded beside it. The verdicts on the head
add up: any `reject` rejects, any `concerns` needs a person's
`accept --override --reason`, and `[review] required_external = N` in
orch.toml asks for N imported `pass` verdicts from distinct reviewers. A
verdict on an older head does not count: the code it judged is not the code
being accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from git_orch.config import CONFIG_NAME, Policy
from git_orch.errors import OrchError
from git_orch.record.ledger import Event
from git_orch.record.state import TaskState

OWN = "git-orch"
IMPORTED = "import"
MAX_REQUIRED_EXTERNAL = 10


def required_external(policy: Policy) -> int:
    """`[review] required_external` of orch.toml (0 when absent), checked."""
    section = policy.raw.get("review", {})
    if not isinstance(section, dict):
        raise OrchError(f"{CONFIG_NAME}: [review] must be a table")
    value = section.get("required_external", 0)
    if isinstance(value, bool) or not isinstance(value, int) or not (
            0 <= value <= MAX_REQUIRED_EXTERNAL):
        raise OrchError(f"{CONFIG_NAME}: [review].required_external must be an integer "
                        f"from 0 to {MAX_REQUIRED_EXTERNAL}")
    return value


def source_of(event: Event) -> str:
    """Events written before reviews had a source were git-orch's own."""
    return IMPORTED if event.get("source") == IMPORTED else OWN


def rules_of(event: Event) -> list[str]:
    findings = event.get("findings")
    rules = findings.get("rules") if isinstance(findings, dict) else None
    return [str(r) for r in rules] if isinstance(rules, list) else []


def summary_of(event: Event) -> dict[str, Any]:
    """One verdict as show, status and the accepted event list it."""
    return {"review": event.get("id"), "source": source_of(event),
            "reviewer": event.get("reviewer") or event.get("actor"),
            "verdict": event.get("verdict"), "rules": rules_of(event), "at": event.get("at")}


@dataclass
class Tally:
    """The verdicts on one head and what they add up to."""

    head: str
    verdicts: list[Event] = field(default_factory=list)
    required_external: int = 0

    @property
    def own(self) -> list[Event]:
        return [v for v in self.verdicts if source_of(v) == OWN]

    @property
    def external_passes(self) -> list[str]:
        """Distinct reviewers whose imported verdict on this head is pass."""
        found = [str(v.get("reviewer")) for v in self.verdicts
                 if source_of(v) == IMPORTED and v.get("verdict") == "pass"]
        return list(dict.fromkeys(found))

    def with_verdict(self, verdict: str) -> list[Event]:
        return [v for v in self.verdicts if v.get("verdict") == verdict]

    @property
    def verdict(self) -> str:
        """reject, concerns, pass; `incomplete` when a required review is missing."""
        if any(v.get("verdict") not in ("pass", "concerns") for v in self.verdicts):
            return "reject"  # reject, or anything unknown, rejects
        if self.with_verdict("concerns"):
            return "concerns"
        if not self.own or len(self.external_passes) < self.required_external:
            return "incomplete"
        return "pass"

    @property
    def rules(self) -> list[str]:
        return sorted({r for v in self.verdicts if v.get("verdict") != "pass"
                       for r in rules_of(v)})

    def to_json(self) -> dict[str, Any]:
        return {"head": self.head, "verdict": self.verdict,
                "required_external": self.required_external,
                "external_passes": self.external_passes,
                "verdicts": [summary_of(v) for v in self.verdicts]}


def tally(state: TaskState, head: str, required: int = 0) -> Tally:
    """The verdicts recorded on head, oldest first."""
    return Tally(head, [r for r in state.reviews if r.get("head") == head], required)


def _who(events: list[Event]) -> str:
    return ", ".join(f"{source_of(v)} review by {v.get('reviewer') or v.get('actor') or '?'}"
                     for v in events)


def refusal(task_id: str, state: TaskState, found: Tally, override: str | None) -> str | None:
    """Why accept must refuse (the message names the rule), or None."""
    if not state.reviews:
        return f"review-missing: task {task_id} has no review: run git orch review {task_id}"
    if not found.own:
        older = str(state.reviews[-1].get("head"))
        return (f"review-stale: the review of {task_id} is stale: it reviewed {older[:12]}, "
                f"the branch is now at {found.head[:12]}; run git orch review {task_id} again"
                if not found.verdicts else
                f"review-own-missing: {task_id} at {found.head[:12]} has verdicts "
                f"({_who(found.verdicts)}) but not git-orch's own review: run "
                f"git orch review {task_id}")
    rejecting = found.with_verdict("reject") or [
        v for v in found.verdicts if v.get("verdict") not in ("pass", "concerns")]
    if rejecting:
        return (f"verdict-reject: the review of {task_id} says reject "
                f"({', '.join(found.rules) or '-'}) from {_who(rejecting)}: a reject is not "
                f"overridden; git orch reject {task_id} --reason ... sends it back")
    missing = found.required_external - len(found.external_passes)
    if missing > 0:
        return (f"external-review-missing: {task_id} needs {found.required_external} imported "
                f"pass verdicts on {found.head[:12]} ([review] required_external), has "
                f"{len(found.external_passes)}: git orch review {task_id} --pack DIR, then "
                f"git orch review-import {task_id} --file VERDICT.json")
    concerned = found.with_verdict("concerns")
    if concerned and override is None:
        return (f"verdict-concerns: the review of {task_id} says concerns "
                f"({', '.join(found.rules) or '-'}) from {_who(concerned)}: accept only with "
                "--override --reason REASON")
    return None
