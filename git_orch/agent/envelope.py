"""The task envelope: everything an agent needs to do one task, in one Markdown file.

It is written to the runtime folder (`<common>/orch/runs/<id>/envelope.md`),
never into the worktree, so it cannot end up in the task's diff.
"""

from __future__ import annotations

from pathlib import Path

from git_orch.record.contract import Contract


def _items(values: list[str], empty: str) -> str:
    return "\n".join(f"- `{v}`" for v in values) if values else f"- {empty}"


def render(contract: Contract, worktree: Path | None, handoff_file: Path,
           main_branch: str, feedback: list[str] | None = None) -> str:
    """The envelope text; `feedback` (review findings of a rejected task) comes first."""
    task = contract.task_id
    rework = ""
    if feedback:
        lines = "\n".join(f"- {item}" for item in feedback)
        rework = (f"## Rework\n\nA reviewer rejected the previous hand-off. Fix this first, "
                  f"on top of the commits already on the branch:\n{lines}\n\n")
    body = contract.body.strip() or "(no further description)"
    where = str(worktree) if worktree else "(no worktree: check out the branch yourself)"
    return f"""\
# Task {task}: {contract.title}

{rework}## Goal

{body}

Worktree: `{where}`
Branch: `orch/{task}` (based on `{contract.base[:12]}`; the main branch is `{main_branch}`)

## Contract

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
4. Finish with exactly one of:
   - `git orch handoff --summary "<what you did>" [--risk "<residual risk>"]`
   - `git orch block --reason "<what you need from a person>"`

## Output

Before you exit, write a short summary (what changed, how it was checked, what
is left) to this file:

    {handoff_file}

Exit with status 0 when you handed off or blocked; anything else counts as a
failed attempt.
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
