"""Package-close review: one outside review of a whole roadmap package's change.

Per-task review sees each piece alone; the seams between them show only in
the package's combined change. A package is **closed** when every task of it
(the roadmap's `[[packages.tasks]]` and every started task whose contract
names the package) has ended and at least one landed. Its change runs from
the contract base of its first-created task to the landing commit of its last
task (the landing that contains all the others).

`git orch review --package X --pack DIR` writes the pack;
`git orch review-import --package X --file VERDICT.json` records the verdict
as a `package-reviewed` event in the loop-wide log (the note on the empty
tree, like dispatch). With `[review] package_pack = true`, status says
"package X closed: review pack due" until a verdict for the package's current
landing is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from git_orch import dispatch, roadmap
from git_orch.config import Policy, load_policy
from git_orch.errors import OrchError
from git_orch.gitcmd import run_git
from git_orch.notify import notify
from git_orch.record import ledger
from git_orch.record.contract import Contract, read_contract
from git_orch.record.ids import task_ref
from git_orch.record.ledger import Event, EventLog
from git_orch.record.state import ENDED, StateFacts, TaskState
from git_orch.repo import OrchRepo
from git_orch.roadmap import LANDED
from git_orch.workspace import limits

EVENT = "package-reviewed"
PACK_FILES = ("combined.patch", "changed-files.txt", "tasks.md", "package.json",
              "reviewer-prompt.md")


@dataclass
class PackageTask:
    contract: Contract
    state: TaskState


@dataclass
class PackageChange:
    name: str
    base: str
    head: str
    tasks: list[PackageTask] = field(default_factory=list)


def package_pack_due_enabled(policy: Policy) -> bool:
    section = policy.raw.get("review", {})
    value = section.get("package_pack", False) if isinstance(section, dict) else False
    if not isinstance(value, bool):
        raise OrchError("orch.toml: [review] package_pack must be true or false")
    return value


def _recorded(orepo: OrchRepo) -> dict[str, PackageTask]:
    return {i: PackageTask(o.contract, o.state) for i, o in limits.recorded(orepo).items()}


def _contract_package(orepo: OrchRepo, task_id: str) -> str | None:
    """The package the task's contract names (None when it names none or is unreadable)."""
    oid = orepo.ref_target(task_ref(task_id))
    try:
        contract = read_contract(orepo.pygit, oid) if oid is not None else None
    except OrchError:
        return None
    return contract.package if contract is not None else None


def _is_ancestor(orepo: OrchRepo, older: str, newer: str) -> bool:
    return run_git(["merge-base", "--is-ancestor", older, newer], orepo.toplevel,
                   check=False).returncode == 0


class _Row(NamedTuple):
    """What the closed-package check reads of a task (from a full read or a digest)."""

    package: str | None
    base: str
    state: str
    created_at: str | None
    merged_commit: str | None


def _rows(recorded: dict[str, PackageTask]) -> dict[str, _Row]:
    return {i: _Row(t.contract.package, t.contract.base, t.state.state, t.state.created_at,
                    t.state.merged_commit) for i, t in recorded.items()}


def _closed(orepo: OrchRepo, policy: Policy, name: str,
            rows: dict[str, _Row]) -> tuple[str, str, list[str]] | None:
    """(base, head, task ids in creation order) if the package is closed; None when it is
    open or nothing of it landed."""
    planned = next((p for p in roadmap.load(policy) if p.name == name), None)
    ids = {t.id for t in planned.tasks} if planned else set()
    ids |= {i for i, r in rows.items() if r.package == name}
    if not ids or any(i not in rows or rows[i].state not in ENDED for i in ids):
        return None
    order = sorted(ids, key=lambda i: (rows[i].created_at or "", i))
    landings = [rows[i].merged_commit for i in order
                if rows[i].state in LANDED and rows[i].merged_commit]
    if not landings:
        return None
    head = landings[0]
    for commit in landings[1:]:
        if commit and head and _is_ancestor(orepo, head, commit):
            head = commit
    return rows[order[0]].base, str(head), order


def closed_change(orepo: OrchRepo, policy: Policy, name: str,
                  recorded: dict[str, PackageTask] | None = None) -> PackageChange | None:
    """The package's combined change if it is closed (None: open, or nothing landed)."""
    recorded = _recorded(orepo) if recorded is None else recorded
    found = _closed(orepo, policy, name, _rows(recorded))
    if found is None:
        return None
    base, head, order = found
    return PackageChange(name, base, head, [recorded[i] for i in order])


def package_names(policy: Policy, packages: Iterable[str | None]) -> list[str]:
    names = [p.name for p in roadmap.load(policy)]
    names += sorted({p for p in packages if p} - set(names))
    return names


def reviewed(log: EventLog, name: str, head: str) -> Event | None:
    """The latest recorded verdict on this package at this landing."""
    found = [e for e in log.events if e.get("type") == EVENT and e.get("package") == name
             and e.get("head") == head]
    return found[-1] if found else None


class Due(NamedTuple):
    name: str
    base: str
    head: str
    tasks: list[str]


class TaskFacts(StateFacts, Protocol):
    """What `due` reads of each task beyond StateFacts: status's digests have it."""

    @property
    def package(self) -> str | None: ...
    @property
    def base(self) -> str: ...
    @property
    def created_at(self) -> str | None: ...


def due(orepo: OrchRepo, tasks: Iterable[TaskFacts]) -> list[Due]:
    """Closed packages with no verdict for their current landing (when package_pack is
    on), from what status already read of every task: at 10k tasks it must not read
    them all again."""
    policy = load_policy(orepo)
    if not package_pack_due_enabled(policy):
        return []
    rows = {t.task_id: _Row(t.package, t.base, t.state, t.created_at, t.merged_commit)
            for t in tasks}
    log = dispatch.loop_log(orepo)
    found = []
    for name in package_names(policy, (r.package for r in rows.values())):
        closed = _closed(orepo, policy, name, rows)
        if closed is not None and reviewed(log, name, closed[1]) is None:
            found.append(Due(name, *closed))
    return found


def notify_if_closed(orepo: OrchRepo, task_id: str) -> PackageChange | None:
    """After a landing: tell a person when it closed the task's package. Every task is
    read only when the landed one has a package (land must not read 10,000 tasks
    for a task that belongs to none)."""
    policy = load_policy(orepo)
    planned = roadmap.find_task(roadmap.load(policy), task_id)
    name = planned.package if planned else _contract_package(orepo, task_id)
    if not name:
        return None
    change = closed_change(orepo, policy, name)
    if change is not None:
        notify(orepo, "package-closed", None, package=name, base=change.base, head=change.head,
               tasks=[t.contract.task_id for t in change.tasks])
    return change


def require_closed(orepo: OrchRepo, name: str) -> PackageChange:
    policy = load_policy(orepo)
    change = closed_change(orepo, policy, name)
    if change is None:
        raise OrchError(f"package {name!r} is not closed: every task of it must have ended "
                        "and one landed (git orch status)")
    return change


# --- the pack ------------------------------------------------------------------


def _task_md(orepo: OrchRepo, task: PackageTask) -> list[str]:
    st, contract = task.state, task.contract
    lines = [f"## {contract.task_id}: {contract.title}", "",
             f"- state: {st.state}; landed as `{st.merged_commit or '-'}`",
             f"- allowed: {', '.join(f'`{a}`' for a in contract.allow) or 'everything'}"]
    lines += [f"- gate: `{gate}`" for gate in contract.gates]
    lines += ["", f"Hand-off: {st.summary or '(none)'}"]
    lines += [f"- risk: {risk}" for risk in st.risks]
    review = st.review or {}
    head, base = review.get("head"), review.get("base")
    lines += ["", f"Latest review: {review.get('verdict', '(none)')}"]
    from git_orch.agent.rework import note_findings, render_finding  # writing a pack only

    findings = note_findings(orepo, review) if review else None
    lines += [f"- {render_finding(f)}" for f in findings or []]
    if isinstance(head, str) and isinstance(base, str):
        out = run_git(["log", "--format=%h %s%n%(trailers:key=Orch-Evidence,key=Orch-Gate,"
                       "key=Orch-Artifact)", f"{base}..{head}", "--"], orepo.toplevel,
                      check=False).stdout
        lines += ["", "Commits and their evidence:", "", "```", out.strip(), "```"]
    return lines + [""]


def _prompt(change: PackageChange) -> str:
    from git_orch.judge.reviewpack import reply_format  # status imports this module: keep it light

    ids = ", ".join(t.contract.task_id for t in change.tasks)
    return f"""# Review request: package {change.name}

Every task of this package has ended ({ids}). Each was reviewed on its own;
review the package as a whole: do the pieces fit, is anything missing
between them, do the claims of each task still hold in the combined change?

- `combined.patch`: from `{change.base[:12]}` (the first task's base) to
  `{change.head[:12]}` (the last landing).
- `changed-files.txt`: every changed path.
- `tasks.md`: each task's contract, hand-off, review findings and evidence.
- `package.json`: the same as data.

{reply_format("package", change.name, change.head)}"""


def write_pack(orepo: OrchRepo, change: PackageChange, folder: Path) -> list[Path]:
    patch = run_git(["diff", "-M", "--no-ext-diff", "--no-color", change.base, change.head,
                     "--"], orepo.toplevel).stdout
    names = run_git(["diff", "-M", "--name-status", "--no-ext-diff", change.base, change.head,
                     "--"], orepo.toplevel).stdout
    tasks_md = [f"# Package {change.name}", ""]
    for task in change.tasks:
        tasks_md += _task_md(orepo, task)
    data = {"schema": 1, "package": change.name, "base": change.base, "head": change.head,
            "tasks": [{"id": t.contract.task_id, "title": t.contract.title,
                       "state": t.state.state, "landed": t.state.merged_commit,
                       "summary": t.state.summary, "risks": t.state.risks,
                       "review": (t.state.review or {}).get("verdict")} for t in change.tasks]}
    files = {"combined.patch": patch, "changed-files.txt": names,
             "tasks.md": "\n".join(tasks_md) + "\n",
             "package.json": json.dumps(data, indent=2, sort_keys=True) + "\n",
             "reviewer-prompt.md": _prompt(change)}
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in PACK_FILES:
            path = folder / name
            path.write_text(files[name], encoding="utf-8", errors="surrogateescape")
            written.append(path)
    except OSError as exc:
        raise OrchError(f"cannot write the package pack in {folder}: "
                        f"{exc.strerror or exc}") from None
    return written


# --- the verdict ---------------------------------------------------------------


def import_verdict(orepo: OrchRepo, name: str, file: Path) -> Event:
    """Validate an outside verdict on a closed package and record it (loop-wide log)."""
    from git_orch.judge.reviewpack import parse_verdict

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise OrchError(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        doc: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise OrchError(f"{file}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or "task" in doc or not isinstance(doc.get("package"), str):
        raise OrchError(f"{file}: a package verdict is a JSON object with a \"package\" "
                        "string (and no \"task\")")
    package = doc.pop("package")
    doc["task"] = package  # the rest of the schema is a task verdict's: validate it the same
    checked = parse_verdict(json.dumps(doc).encode(), str(file))
    if package != name:
        raise OrchError(f"{file}: verdict is for package {package!r}, not {name!r}")
    change = require_closed(orepo, name)
    if checked["head"] != change.head:
        raise OrchError(f"{file}: verdict is for {checked['head'][:12]} but package {name} "
                        f"landed at {change.head[:12]}: make a new pack")
    from git_orch.init import create_empty_ledger

    create_empty_ledger(orepo)
    target = dispatch.loop_target(orepo)
    event: Event = {"type": EVENT, "package": name, "base": change.base, "head": change.head,
                    "verdict": checked["verdict"], "findings": checked["findings"][:200],
                    "summary": checked.get("summary"), "tasks": [t.contract.task_id
                                                                for t in change.tasks],
                    "reviewer": f"{checked['reviewer']} (imported by {orepo.actor})"}
    return ledger.append(orepo, target, lambda _log: [dict(event)],
                         message=f"git-orch: package {name} reviewed")[0]
