"""The roadmap in orch.toml and `git orch next`: what to start, or why nothing.

Layout (file order is the order of work):

    [[packages]]
    name = "auth"
    [[packages.tasks]]
    id = "login-form"
    title = "Login form posts to /session"
    allow = ["src/auth/**"]
    forbid = []
    gates = ["pytest tests/auth"]
    depends_on = []
    agent = "codex"

`next` stays in the current package (the first one not closed) until every
task in it has ended, never starts work whose write set may overlap a live
task's, starts a task only when its dependencies have landed, respects
`max_active`, and starts nothing while dispatch is drain or paused. When it
recommends nothing it says why. Spare capacity alone is never a reason to
start work outside the current package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from git_orch import dispatch
from git_orch.config import CONFIG_NAME, Policy, config_path, parse_policy
from git_orch.errors import OrchError
from git_orch.judge.pathspecs import check_pathspec
from git_orch.record import ledger
from git_orch.record.contract import check_single_line
from git_orch.record.ids import check_task_id
from git_orch.record.state import CLEANED, ENDED, MERGED, PUSHED, WORKING
from git_orch.repo import OrchRepo

if TYPE_CHECKING:  # status imports the runner, which imports this module
    from git_orch.report.status import TaskView

LANDED = frozenset({MERGED, PUSHED, CLEANED})
_LIST_KEYS = ("allow", "forbid", "gates", "depends_on")
# The context pack the envelope renders: what not to do, where to look, what is settled.
CONTEXT_KEYS = ("non_goals", "pointers", "decisions")


@dataclass
class PlannedTask:
    id: str
    title: str
    package: str
    body: str = ""
    allow: list[str] = field(default_factory=list)
    forbid: list[str] = field(default_factory=list)
    gates: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    agent: str | None = None
    non_goals: list[str] = field(default_factory=list)
    pointers: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "package": self.package, "body": self.body,
                "allow": self.allow, "forbid": self.forbid, "gates": self.gates,
                "depends_on": self.depends_on, "agent": self.agent,
                "non_goals": self.non_goals, "pointers": self.pointers,
                "decisions": self.decisions}


@dataclass
class Package:
    name: str
    tasks: list[PlannedTask] = field(default_factory=list)


def _strings(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OrchError(f"{where}.{key} must be a list of strings")
    return [str(v) for v in value]


def _task(table: object, package: str, where: str) -> PlannedTask:
    if not isinstance(table, Mapping):
        raise OrchError(f"{where} must be a table")
    task_id = table.get("id")
    title = table.get("title")
    if not isinstance(task_id, str) or not isinstance(title, str):
        raise OrchError(f"{where} needs id and title strings")
    agent = table.get("agent")
    body = table.get("body", "")
    if agent is not None and not isinstance(agent, str):
        raise OrchError(f"{where}.agent must be a string")
    if not isinstance(body, str):
        raise OrchError(f"{where}.body must be a string")
    lists = {key: _strings(table, key, where) for key in _LIST_KEYS}
    for key in CONTEXT_KEYS:
        lists[key] = [check_single_line(f"{where}.{key}", v) for v in _strings(table, key, where)]
    try:
        check_task_id(task_id)
    except OrchError as exc:  # orch.toml is data here: a refusal, not a usage error
        raise OrchError(f"{where}: {exc}") from None
    return PlannedTask(id=task_id, title=check_single_line("title", title),
                       package=package, body=body, agent=agent or None, **lists)


def load(policy: Policy) -> list[Package]:
    """The `[[packages]]` roadmap, validated (duplicate task ids are refused)."""
    raw = policy.raw.get("packages", [])
    if not isinstance(raw, list):
        raise OrchError(f"{CONFIG_NAME}: packages must be an array of tables ([[packages]])")
    packages: list[Package] = []
    seen: set[str] = set()
    for number, table in enumerate(raw, start=1):
        where = f"{CONFIG_NAME} [[packages]] #{number}"
        if not isinstance(table, Mapping) or not isinstance(table.get("name"), str):
            raise OrchError(f"{where} needs a name")
        package = Package(str(table["name"]))
        tasks = table.get("tasks", [])
        if not isinstance(tasks, list):
            raise OrchError(f"{where}.tasks must be an array of tables ([[packages.tasks]])")
        for index, item in enumerate(tasks, start=1):
            task = _task(item, package.name, f"{where} task #{index}")
            if task.id in seen:
                raise OrchError(f"{CONFIG_NAME}: task {task.id!r} is planned twice")
            seen.add(task.id)
            package.tasks.append(task)
        packages.append(package)
    return packages


def find_task(packages: list[Package], task_id: str) -> PlannedTask | None:
    for package in packages:
        for task in package.tasks:
            if task.id == task_id:
                return task
    return None


# --- plan add ---------------------------------------------------------------


def plan_add(orepo: OrchRepo, task: PlannedTask) -> None:
    """Append a task to its package (created at the end if new), keeping comments."""
    path = config_path(orepo)
    if not path.exists():
        raise OrchError(f"no {CONFIG_NAME} in {orepo.main_worktree}: run git orch init first")
    text = path.read_text(encoding="utf-8")
    packages = load(parse_policy(text, str(path)))
    check_task_id(task.id)
    check_single_line("--title", task.title)
    check_single_line("--package", task.package)
    for spec in (*task.allow, *task.forbid):
        check_pathspec(spec)
    for gate in task.gates:
        check_single_line("--gate", gate)
    for key, option in zip(CONTEXT_KEYS, ("--non-goal", "--pointer", "--decision"), strict=True):
        for value in getattr(task, key):
            check_single_line(option, value)
    if find_task(packages, task.id) is not None:
        raise OrchError(f"task {task.id!r} is already in the roadmap")
    # Packages are worked in order, so a dependency must come from this package
    # or an earlier one: a later one would never start while this one is open.
    names = [p.name for p in packages]
    upto = names.index(task.package) + 1 if task.package in names else len(names)
    earlier = {t.id for p in packages[:upto] for t in p.tasks}
    later = {t.id for p in packages[upto:] for t in p.tasks}
    recorded = set(ledger.task_refs(orepo))
    for dep in task.depends_on:
        if dep in later and dep not in recorded:
            raise OrchError(f"--depends-on {dep}: it is in a later package, which cannot "
                            f"start while {task.package} is open")
        if dep not in earlier | later | recorded:
            raise OrchError(f"--depends-on {dep}: no such task in the roadmap or the ledger")
    import tomlkit  # only `plan add` edits the roadmap: other commands skip its import
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import AoT

    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise OrchError(f"{path}: not valid TOML: {exc}") from None
    if "packages" not in doc:
        if not text.endswith("\n\n"):
            doc.add(tomlkit.nl())  # a blank line between what was there and the roadmap
        doc.append("packages", tomlkit.aot())
    aot = doc["packages"]
    if not isinstance(aot, AoT):
        raise OrchError(f"{path}: write packages as [[packages]] tables to let plan add edit it")
    target = next((p for p in aot if p.get("name") == task.package), None)
    if target is None:
        target = tomlkit.table()
        target["name"] = task.package
        aot.append(target)
    if "tasks" not in target:
        target.append("tasks", tomlkit.aot())
    if not isinstance(target["tasks"], AoT):
        raise OrchError(f"{path}: write the tasks of package {task.package} as "
                        "[[packages.tasks]] tables to let plan add edit them")
    entry = tomlkit.table()
    entry["id"] = task.id
    entry["title"] = task.title
    if task.body:
        entry["body"] = task.body
    for key in (*_LIST_KEYS, *CONTEXT_KEYS):
        values = getattr(task, key)
        if values:
            entry[key] = values
    if task.agent:
        entry["agent"] = task.agent
    target["tasks"].append(entry)
    new_text = tomlkit.dumps(doc)
    load(parse_policy(new_text, str(path)))  # never write a roadmap we could not read
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(new_text, encoding="utf-8")
    tmp.replace(path)


# --- write-set overlap --------------------------------------------------------

_GLOB = re.compile(r"[*?\[\\]")


def literal_prefix(pattern: str) -> str:
    """The path text every match starts with ('' when it may match anywhere)."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    if not anchored:
        return ""  # like .gitignore, a slash-less pattern matches at any depth
    body = pattern.lstrip("/")
    found = _GLOB.search(body)
    return body[: found.start()] if found else body


def patterns_overlap(a: str, b: str) -> bool:
    """Conservative: two patterns overlap unless their literal prefixes diverge."""
    pa, pb = literal_prefix(a), literal_prefix(b)
    return pa.startswith(pb) or pb.startswith(pa)


def write_sets_overlap(a: list[str], b: list[str]) -> bool:
    """No allow list means everything, which overlaps anything."""
    if not a or not b:
        return True
    return any(patterns_overlap(x, y) for x in a for y in b)


# --- next -----------------------------------------------------------------------


def _clash(task: PlannedTask, live: Sequence[TaskView]) -> str | None:
    """Why `task` may write where a live task may (start's strict rule: a task
    without allow may write anywhere, so it overlaps every other), or None."""
    if not live:
        return None
    if not task.allow:
        return (f"{task.id}: declares no allow, so it may write anywhere and may overlap live "
                f"task(s) {', '.join(v.task_id for v in live)}; give it allow in the roadmap "
                f"({CONFIG_NAME})")
    reasons = []
    unbounded = [v.task_id for v in live if not v.contract.allow]
    if unbounded:
        reasons.append(f"live task(s) {', '.join(unbounded)} declare no allow, so they may "
                       "write anywhere")
    clash = [v.task_id for v in live
             if v.contract.allow and write_sets_overlap(task.allow, v.contract.allow)]
    if clash:
        reasons.append(f"its write set may overlap live task(s) {', '.join(clash)}")
    return f"{task.id}: {'; '.join(reasons)}" if reasons else None



@dataclass
class Recommendation:
    task: PlannedTask | None
    package: str | None
    reasons: list[str]
    dispatch: dict[str, Any]
    started: bool = False
    run: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task.to_json() if self.task else None, "package": self.package,
                "reasons": self.reasons, "dispatch": self.dispatch, "started": self.started,
                "run": self.run}


def recommend(orepo: OrchRepo) -> Recommendation:
    from git_orch.report.status import collect  # status imports runner, which imports us lazily

    overview = collect(orepo)
    return recommend_from(overview.policy, overview.dispatch, overview.tasks)


def recommend_from(policy: Policy, mode: dict[str, Any], tasks: Sequence[TaskView],
                   settled: Mapping[str, str] | None = None) -> Recommendation:
    """The next task, or why none, from what status already read (nothing is read here).

    `settled` maps the ended tasks status did not read in full to their state."""
    packages = load(policy)
    if mode["mode"] != dispatch.ACTIVE:
        note = f" ({mode['note']})" if mode.get("note") else ""
        return Recommendation(None, None, [
            f"dispatch is {mode['mode']}{note}: nothing new starts "
            f"(git orch dispatch active to resume)"], mode)
    if not any(p.tasks for p in packages):
        return Recommendation(None, None, [
            "the roadmap is empty: add tasks with git orch plan add"], mode)
    views = {v.task_id: v for v in tasks}
    live = [v for v in views.values() if v.state.state not in ENDED]
    states = {**(settled or {}), **{i: v.state.state for i, v in views.items()}}

    def ended(task_id: str) -> bool:
        return states.get(task_id) in ENDED

    current = next((p for p in packages if not all(ended(t.id) for t in p.tasks)), None)
    if current is None:
        return Recommendation(None, None, [
            "every roadmap package is closed: nothing to do (add work with git orch plan add)"],
            mode)
    candidates = [t for t in current.tasks if t.id not in states]
    if not candidates:
        waiting = [t.id for t in current.tasks if not ended(t.id)]
        return Recommendation(None, current.name, [
            f"package {current.name} is still open: waiting for {', '.join(waiting)} to end; "
            "spare slots are not a reason to start work outside it"], mode)
    working = [v for v in live if v.state.state in WORKING]  # what start counts
    if len(working) >= policy.max_active:
        return Recommendation(None, current.name, [
            f"all {policy.max_active} worker slots are taken by tasks being worked: "
            f"{', '.join(v.task_id for v in working)}"], mode)
    reasons = []
    for task in candidates:
        unmet = [d for d in task.depends_on if states.get(d) not in LANDED]
        if unmet:
            shown = ", ".join(f"{d} ({states.get(d, 'not started')})" for d in unmet)
            reasons.append(f"{task.id}: waits for {shown} to land")
            continue
        clash = _clash(task, live)
        if clash:
            reasons.append(clash)
            continue
        return Recommendation(task, current.name, [], mode)
    reasons.append(f"staying in package {current.name} until it is closed: spare slots are "
                   "not a reason to start unrelated work")
    return Recommendation(None, current.name, reasons, mode)
