"""The task envelope: everything an agent needs to do one task, in one Markdown file.

It is written to the runtime folder (`<common>/orch/runs/<id>/envelope.md`),
never into the worktree, so it cannot end up in the task's diff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from git_orch.agent.rework import Rework
from git_orch.record.contract import Contract
from git_orch.sanitize import clean


@dataclass
class Briefing:
    """What one attempt needs beyond the contract: the context pack from the
    roadmap, the rework a review asked for, and where the last attempt stopped."""

    non_goals: list[str] = field(default_factory=list)
    pointers: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    rework: Rework | None = None
    checkpoint: str | None = None  # Markdown digest of the previous attempt


def _items(values: list[str], empty: str) -> str:
    return "\n".join(f"- `{v}`" for v in values) if values else f"- {empty}"


def _bullets(values: list[str]) -> str:
    return "\n".join(f"- {clean(v)}" for v in values)


def _rework(rework: Rework) -> str:
    why = (f"a reviewer's verdict was {rework.verdict}" if rework.verdict
           else "a person sent it back")
    parts = [f"## Rework\n\nThe previous hand-off was sent back ({why}). Fix this first, "
             "on top of the commits already on the branch, then hand off again."]
    if rework.reason:
        parts.append(f"Reviewer's reason: {rework.reason}")
    if rework.findings:
        parts.append("Review findings:\n" + _bullets(rework.findings))
    if rework.summary:
        risks = f"\nRisks you named: {'; '.join(rework.risks)}" if rework.risks else ""
        parts.append(f"Your previous hand-off said: {rework.summary}{risks}")
    return "\n\n".join(parts) + "\n\n"


def _context(brief: Briefing) -> str:
    parts = []
    if brief.non_goals:
        parts.append("## Non-goals\n\nDo not do these, even if they look related:\n"
                     + _bullets(brief.non_goals))
    if brief.pointers:
        parts.append("## Pointers\n\nRead these first:\n" + _bullets(brief.pointers))
    if brief.decisions:
        parts.append("## Decisions already made\n\nBuild on these; do not reopen them:\n"
                     + _bullets(brief.decisions))
    return "".join(f"{part}\n\n" for part in parts)


def render(contract: Contract, worktree: Path | None, handoff_file: Path,
           main_branch: str, brief: Briefing | None = None) -> str:
    """The envelope text: rework and the last attempt's checkpoint come first."""
    task = contract.task_id
    brief = brief or Briefing()
    rework = _rework(brief.rework) if brief.rework else ""
    if brief.checkpoint:
        rework += f"## Where the previous attempt stopped\n\n{brief.checkpoint.strip()}\n\n"
    context = _context(brief)
    body = contract.body.strip() or "(no further description)"
    where = str(worktree) if worktree else "(no worktree: check out the branch yourself)"
    clone = worktree is not None and (worktree / ".git").is_dir()
    kind = (" (your own clone, with no remote: commit and hand off here; the lead "
            "collects your work)") if clone else ""
    return f"""\
# Task {task}: {contract.title}

{rework}## Goal

{body}

Worktree: `{where}`{kind}
Branch: `orch/{task}` (based on `{contract.base[:12]}`; the main branch is `{main_branch}`)

{context}## Contract

You may change only these paths (gitignore-style patterns):
{_items(contract.allow, "anything not forbidden below")}

You must not change:
{_items(contract.forbid, "nothing is forbidden beyond the rules below")}

Gates (checks you must run and claim as evidence):
{_items(contract.gates, "none named; still run the project's tests that cover your change")}

## Rules

1. Commit only on your branch `orch/{task}`, in this worktree. Never merge,
   rebase onto, push or delete any branch; never touch another worktree.
   You are a worker: never start other workers, and never review, accept,
   land or abandon a task (`git orch start`, `run`, `accept`, `land` refuse here).
2. Every commit message ends with trailers:
   `Orch-Task: {task}` and, for each claim you make,
   `Orch-Evidence: <label>: <claim>` where the label says how you know:
   - `direct`: observed on the real target; add `Orch-Artifact: <path-or-url>`;
   - `proxy`: useful but indirect evidence;
   - `local`: a local check (test, build) a reviewer can re-run on your commit;
   - `blocked`: not proven, and why.
   Be honest: a claim stronger than its evidence fails review; `blocked` does not.
   Name each gate you ran with `Orch-Gate: <command>`.
3. Leave no uncommitted changes behind.
4. You are the only worker on this task: do not start other workers, agents
   or tasks (no `git orch start`, `run` or `next`, no sub-agents).
5. Finish with exactly one of:
   - `git orch handoff --summary "<what you did>" [--risk "<residual risk>"]`
   - `git orch block --reason "<what you need from a person>"`

## Output

Before you exit, write a short summary (what changed, how it was checked, what
is left) to this file:

    {handoff_file}

If you cannot write there, `git orch handoff --summary` writes your summary to
it for you.

Exit with status 0 when you handed off or blocked; anything else counts as a
failed attempt.
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
