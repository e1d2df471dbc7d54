"""Worktree mode: make the attacks on the shared git dir visible.

Linked worktrees share one git dir that every worker can write, so a worker
can switch every worker's hooks off (`git config --unset
extensions.worktreeConfig`), point its own `core.hooksPath` elsewhere, or
plant a program the lead's git will run (`core.fsmonitor`, a filter or
credential helper, a file in `.git/hooks/`). Nothing here can prevent that
(clone workspaces in a sandbox do); it finds it, so `status`, `heartbeat`,
`hooks status` and `land` can say so.

Two kinds of checks:
- against what git-orch itself installs: `extensions.worktreeConfig` on
  while workers exist, each worker's `core.hooksPath` naming git-orch's hooks
  folder, that folder holding exactly the packaged hooks;
- against what git-orch saw last (a fingerprint in the runtime folder,
  `tamper.json`): the repository's hook files and the config keys that make
  git run a program. The first look records the fingerprint; `git orch hooks
  install` (run by the person after looking) records it again.

Everything is read from files (config with libgit2, hooks by hash), never by
running git in a way that could execute what is being checked. Findings in a
worker's own `config.worktree` are attributed to its task; the rest are
repository-level. In worktree mode the fingerprint file is writable by the
workers too: this is detection for the careless attacker, and docs say so.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from git_orch.judge.trailers import commit_message, parse_trailers, values
from git_orch.repo import OrchRepo

DISARMED = "hooks-disarmed"
FSMONITOR = "fsmonitor"
HOOKS_CHANGED = "hooks-changed"
CONFIG_CHANGED = "config-changed"
BYPASS = "bypass"  # the task flag for a finding attributed to it
STATE_FILE = "tamper.json"
REFS_CHANGED = "refs-changed"
FINGERPRINT_DAMAGED = "fingerprint-damaged"
TARGET_MOVED = "target-moved"
SCAN_LIMIT = 1000  # new target commits looked at per scan
LEDGER_REF = "refs/orch/ledger"
TASKS_PREFIX = "refs/orch/tasks/"
TAGS_PREFIX = "refs/tags/"
FSMONITOR_KEY = "core.fsmonitor"
HOOKS_PATH_KEY = "core.hookspath"
# Config keys (lower-cased as libgit2 lists them) whose value makes git run a
# program, redirect where hooks come from, or pull in more config.
_EXECUTABLE = re.compile(
    r"core\.(fsmonitor|hookspath|sshcommand|pager|editor|askpass|gitproxy"
    r"|alternaterefscommand)"
    r"|diff\.external|diff\..+\.(command|textconv)|merge\..+\.driver"
    r"|filter\..+\.(clean|smudge|process)|credential\.(.+\.)?helper"
    r"|gpg\.(.+\.)?program|sequence\.editor|uploadpack\.packobjectshook"
    r"|remote\..+\.(uploadpack|receivepack)|include\.path|includeif\..+\.path"
)
_BOOLEAN = {"", "true", "false", "yes", "no", "on", "off", "1", "0"}


@dataclass(frozen=True)
class Finding:
    kind: str
    what: str  # one line for a person
    fix: str  # what to run after looking
    task: str | None = None  # the worker it is attributed to, if any

    @property
    def key(self) -> str:
        return f"{self.kind}\t{self.task or ''}\t{self.what}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "what": self.what, "fix": self.fix, "task": self.task}


@dataclass
class Worker:
    """A worker worktree, read from its admin folder `<common>/worktrees/NAME`."""

    task: str
    path: Path
    config: list[tuple[str, str]]

    def values(self, key: str) -> list[str]:
        return [v for k, v in self.config if k == key]


@dataclass
class Known:
    """What git-orch saw last (`<runtime>/tamper.json`)."""

    hook_files: dict[str, str] = field(default_factory=dict)
    config: dict[str, list[str]] = field(default_factory=dict)
    recorded: list[str] = field(default_factory=list)  # finding keys already in the ledger
    hooks_off: list[str] = field(default_factory=list)  # tasks whose hooks the lead turned off
    ledger_tip: str | None = None  # the ledger only grows: this must stay its ancestor
    task_refs: list[str] = field(default_factory=list)  # contracts are never deleted
    tags: dict[str, str] = field(default_factory=dict)
    target_tip: str | None = None  # the main branch as last seen

    def to_json(self) -> dict[str, Any]:
        return {"hook_files": self.hook_files, "config": self.config,
                "recorded": self.recorded, "hooks_off": self.hooks_off,
                "ledger_tip": self.ledger_tip, "task_refs": self.task_refs, "tags": self.tags,
                "target_tip": self.target_tip}


def _config_entries(path: Path) -> list[tuple[str, str]]:
    """(lower-cased key, value) of one config file and the files it includes."""
    import pygit2  # only this path needs libgit2 (~50 ms to import)

    if not path.is_file():
        return []
    try:
        return [(e.name.lower(), e.value or "") for e in pygit2.Config(str(path))]
    except (pygit2.GitError, OSError, ValueError):
        return [("", f"unreadable config {path}")]


def workers(orepo: OrchRepo) -> list[Worker]:
    """Every linked worktree whose own config names a task (`orch.task`), found
    from the files, so it works even when the worktree config is switched off."""
    found = []
    admin_root = orepo.common_dir / "worktrees"
    if not admin_root.is_dir():
        return []
    for admin in sorted(admin_root.iterdir()):
        config = _config_entries(admin / "config.worktree")
        tasks = [v for k, v in config if k == "orch.task"]
        try:
            path = Path((admin / "gitdir").read_text().strip()).parent
        except OSError:
            continue
        if tasks and path.is_dir():
            found.append(Worker(tasks[-1], path, config))
    return found


def _worktree_config_on(entries: list[tuple[str, str]]) -> bool:
    values = [v for k, v in entries if k == "extensions.worktreeconfig"]
    return bool(values) and values[-1].lower() in ("true", "yes", "on", "1")


def _is_program(value: str) -> bool:
    """core.fsmonitor names a program unless it is a boolean (true = git's own daemon)."""
    return value.strip().lower() not in _BOOLEAN


def executable_config(entries: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in entries:
        if _EXECUTABLE.fullmatch(key):
            found.setdefault(key, []).append(value)
    return found


def lead_hooks_dir(orepo: OrchRepo, entries: list[tuple[str, str]]) -> Path:
    """Where the lead's git looks for hooks: the common core.hooksPath, else <common>/hooks."""
    values = [v for k, v in entries if k == HOOKS_PATH_KEY]
    if not values or not values[-1]:
        return orepo.common_dir / "hooks"
    path = Path(values[-1]).expanduser()
    return path if path.is_absolute() else orepo.main_worktree / path


def hook_files(folder: Path) -> dict[str, str]:
    """File name -> "x:<sha256>" (executable) or "-:<sha256>", for every file there."""
    found: dict[str, str] = {}
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return found
    for path in entries:
        try:
            if path.name.startswith(".") or not path.is_file():  # git runs no dotfile hook
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            continue
        found[path.name] = f"{'x' if os.access(path, os.X_OK) else '-'}:{digest}"
    return found


def _state_path(orepo: OrchRepo) -> Path:
    return orepo.runtime_dir / STATE_FILE


def load_known(orepo: OrchRepo) -> Known | None:
    """The fingerprint on record; None when there is none or it is not exactly
    the shape git-orch writes (anything else counts as damaged)."""
    try:
        data = json.loads(_state_path(orepo).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None

    def strings(value: object) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)

    def table(value: object, check: Callable[[object], bool]) -> bool:
        return isinstance(value, dict) and all(check(v) for v in value.values())

    def oid(value: object) -> bool:
        return value is None or isinstance(value, str)

    def text(value: object) -> bool:
        return isinstance(value, str)

    fields: dict[str, Callable[[object], bool]] = {
        "hook_files": lambda v: table(v, text), "config": lambda v: table(v, strings),
        "tags": lambda v: table(v, text), "task_refs": strings, "recorded": strings,
        "hooks_off": strings, "ledger_tip": oid, "target_tip": oid,
    }
    defaults = Known().to_json()
    if not all(check(data.get(name, defaults[name])) for name, check in fields.items()):
        return None
    return Known(**{name: data[name] for name in fields if name in data})


def damaged(orepo: OrchRepo) -> bool:
    """The fingerprint is there but unreadable: damaged (by a worker, perhaps)."""
    return _state_path(orepo).exists() and load_known(orepo) is None


def save_known(orepo: OrchRepo, known: Known, *, force: bool = False) -> None:
    """Write the fingerprint. A damaged one is only replaced by `force` (the
    person's `hooks install`): until then it stays reported. If the place is
    unusable (a folder there), the findings still stand, only the memory is lost."""
    path = _state_path(orepo)
    if not force and damaged(orepo):
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(known.to_json(), handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current(orepo: OrchRepo, previous: Known | None = None, target: str | None = None
            ) -> Known:
    """The fingerprint of what is there now (keeping the bookkeeping of `previous`);
    `target` names the main branch (unset: its tip is taken at the next scan)."""
    entries = _config_entries(orepo.common_dir / "config")
    refs = _watched_refs(orepo)
    tip = orepo.ref_target(f"refs/heads/{target}") if target else None
    known = Known(target_tip=str(tip) if tip is not None else None,
                  hook_files=hook_files(lead_hooks_dir(orepo, entries)),
                  config=executable_config(entries),
                  ledger_tip=refs.get(LEDGER_REF),
                  task_refs=sorted(n[len(TASKS_PREFIX):] for n in refs
                                   if n.startswith(TASKS_PREFIX)),
                  tags={n[len(TAGS_PREFIX):]: oid for n, oid in refs.items()
                        if n.startswith(TAGS_PREFIX)})
    if previous is not None:
        known.recorded, known.hooks_off = previous.recorded, previous.hooks_off
    return known


def _watched_refs(orepo: OrchRepo) -> dict[str, str]:
    """Ref name -> oid for the ledger, the task contracts and the tags, read in
    process with libgit2 (status runs this on every call: no git process)."""
    import pygit2  # only this path needs libgit2 (~50 ms to import)

    found: dict[str, str] = {}
    for ref in orepo.pygit.references.iterator():
        name = ref.name
        if name == LEDGER_REF or name.startswith((TASKS_PREFIX, TAGS_PREFIX)):
            try:
                found[name] = str(ref.resolve().target)
            except (pygit2.GitError, KeyError):
                continue
    return found


def first_look(orepo: OrchRepo) -> Known:
    """The fingerprint on record, taken now if there is none. A program in
    core.fsmonitor is left out of a first fingerprint: it is reported until
    the person has looked (git orch hooks install)."""
    known = load_known(orepo)
    if known is None:
        known = current(orepo)
        known.config.pop(FSMONITOR_KEY, None)
        save_known(orepo, known)
    return known


def accept(orepo: OrchRepo, target: str) -> Known:
    """Record what is there now as what the lead knows (after looking)."""
    known = current(orepo, load_known(orepo), target)
    save_known(orepo, known, force=True)
    return known


def mark_hooks_off(orepo: OrchRepo, tasks: Iterable[str], off: bool) -> None:
    """Remember that the lead switched these workers' hooks off (or on again), so
    `hooks uninstall` is not reported as an attack."""
    known = first_look(orepo)
    names = set(known.hooks_off)
    names = names | set(tasks) if off else names - set(tasks)
    known.hooks_off = sorted(names)
    save_known(orepo, known)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    out = []
    for name in sorted({*before, *after}):
        if name not in before:
            out.append(f"{name} (new)")
        elif name not in after:
            out.append(f"{name} (removed)")
        elif before[name] != after[name]:
            out.append(f"{name} (changed)")
    return out


def _reaches(orepo: OrchRepo, tip: str | None, oid: str) -> bool:
    """Whether commit (or tag of a commit) `oid` is `tip` or one of its ancestors."""
    import pygit2  # only this path needs libgit2 (~50 ms to import)

    if tip is None:
        return False
    repo = orepo.pygit
    try:
        obj = repo.get(oid)
        if obj is None:
            return False
        commit = obj.peel(pygit2.Commit).id
        return str(commit) == tip or bool(repo.descendant_of(tip, commit))
    except (pygit2.GitError, KeyError, ValueError, AttributeError):
        return False


def _refs(orepo: OrchRepo, known: Known, now: Known, target: str) -> list[Finding]:
    """The ledger rewound, contracts deleted, tags moved or put on unlanded work.

    What is fine (the ledger grew, a new task, a tag on the target's history)
    is taken into `known` as it is seen; what is not stays reported until the
    person has looked (git orch hooks install)."""
    found = []
    if known.ledger_tip is not None and now.ledger_tip != known.ledger_tip and not (
            now.ledger_tip is not None and _reaches(orepo, now.ledger_tip, known.ledger_tip)):
        found.append(Finding(
            REFS_CHANGED, f"{LEDGER_REF} was rewritten or deleted: {known.ledger_tip[:12]}, "
            "seen before, is no longer in its history (the ledger only grows)",
            f"check git log {LEDGER_REF}, then git orch hooks install"))
    else:
        known.ledger_tip = now.ledger_tip
    if gone := sorted(set(known.task_refs) - set(now.task_refs)):
        found.append(Finding(
            REFS_CHANGED, f"task contracts deleted: {', '.join(gone)} ({TASKS_PREFIX}*)",
            "git orch sync can fetch them back from the remote; then git orch hooks install"))
    known.task_refs = sorted(set(known.task_refs) | set(now.task_refs))
    target_tip = orepo.ref_target(f"refs/heads/{target}")
    tip = str(target_tip) if target_tip is not None else None
    odd = []
    for name in sorted({*known.tags, *now.tags}):
        was, is_now = known.tags.get(name), now.tags.get(name)
        if was == is_now:
            continue
        if was is None and is_now is not None and _reaches(orepo, tip, is_now):
            known.tags[name] = is_now  # a new tag on landed history: the lead's release
            continue
        how = "new, on unlanded work" if was is None else "moved" if is_now else "deleted"
        odd.append(f"{name} ({how})")
    if odd:
        found.append(Finding(
            REFS_CHANGED, f"tags changed since git-orch last looked: {', '.join(odd)}",
            "check git tag -l, then git orch hooks install"))
    return found


def _untasked(orepo: OrchRepo, tip: str, seen: str, upstream: str | None) -> list[str]:
    """Commits on `tip` since `seen` (and not from the remote's copy of the target)
    that carry no Orch-Task trailer: "<short oid> <subject>" each."""
    import pygit2  # only this path needs libgit2 (~50 ms to import)

    repo = orepo.pygit
    try:
        walker = repo.walk(tip, pygit2.enums.SortMode.TOPOLOGICAL)
        for hidden in (seen, upstream):
            if hidden is not None and repo.get(hidden) is not None:
                walker.hide(hidden)
        found = []
        for count, commit in enumerate(walker):
            if count >= SCAN_LIMIT:
                break
            if not values(parse_trailers(commit_message(commit)), "Orch-Task"):
                found.append(f"{str(commit.id)[:12]} {commit.message.splitlines()[0][:60]}"
                             if commit.message.strip() else str(commit.id)[:12])
        return found
    except (pygit2.GitError, KeyError, ValueError):
        return []


def _target(orepo: OrchRepo, known: Known, target: str, linked_workers: bool
            ) -> list[Finding]:
    """The target gained commits without Orch-Task, not through a landing, while
    linked worktrees (which can write it) exist: a worker's `git --git-dir=<common>
    commit`, say. Commits naming a task are the target watch's (landing/watch.py)."""
    tip_oid = orepo.ref_target(f"refs/heads/{target}")
    tip = str(tip_oid) if tip_oid is not None else None
    if tip is None or tip == known.target_tip:
        return []
    if known.target_tip is None or not linked_workers:
        known.target_tip = tip
        return []
    upstream = None
    for remote in orepo.pygit.remotes:
        oid = orepo.ref_target(f"refs/remotes/{remote.name}/{target}")
        upstream = str(oid) if oid is not None else upstream
    found = _untasked(orepo, tip, known.target_tip, upstream)
    if not found:
        known.target_tip = tip
        return []
    shown = "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
    return [Finding(
        TARGET_MOVED, f"{target} gained {len(found)} commit(s) without Orch-Task, not through "
        f"git orch land, while worktree workers can write it: {shown}",
        f"if they are yours: git orch hooks install; if not: reset {target} and check the "
        "workers")]


def scan(orepo: OrchRepo, hooks_folder: Path, packaged: dict[str, bytes],
         target: str) -> list[Finding]:
    """Every sign of tampering, worst first. `hooks_folder` and `packaged` are
    git-orch's worker hooks folder and what it should hold (workerhooks.py);
    `target` is the main branch (a tag on its history is never news)."""
    known = first_look(orepo)
    seen = json.dumps(known.to_json(), sort_keys=True)
    entries = _config_entries(orepo.common_dir / "config")
    found: list[Finding] = []
    if damaged(orepo):
        found.append(Finding(
            FINGERPRINT_DAMAGED, f"{_state_path(orepo)}, git-orch's record of what it saw, is "
            "damaged: changes made before now cannot be told apart",
            "remove it if it is not a file, check hooks and config, then git orch hooks install"))
    ws = workers(orepo)
    if ws and not _worktree_config_on(entries):
        found.append(Finding(
            DISARMED, "extensions.worktreeConfig is off in the repository config: git ignores "
            "every worker's own config, so no worker hook runs", "git orch hooks install"))
    for worker in ws:
        paths = worker.values(HOOKS_PATH_KEY)
        if (worker.task not in known.hooks_off and _worktree_config_on(entries)
                and (not paths or paths[-1] != str(hooks_folder))):
            shown = paths[-1] if paths else "unset"
            found.append(Finding(
                DISARMED, f"hooks off in its worktree (core.hooksPath = {shown})",
                f"git orch hooks install --task {worker.task}", worker.task))
        for value in worker.values(FSMONITOR_KEY):
            if _is_program(value):
                found.append(Finding(
                    FSMONITOR, f"core.fsmonitor = {value} in its worktree config: git would "
                    "run that program for whoever reads the worktree",
                    f"git -C {worker.path} config --worktree --unset-all core.fsmonitor",
                    worker.task))
    now = current(orepo, known)
    fsmonitor = [v for v in now.config.get(FSMONITOR_KEY, []) if _is_program(v)]
    if fsmonitor and now.config.get(FSMONITOR_KEY) != known.config.get(FSMONITOR_KEY):
        found.append(Finding(
            FSMONITOR, f"core.fsmonitor = {fsmonitor[-1]} in the repository config: git runs "
            "that program for the lead's status, diff and commit",
            "git config --unset-all core.fsmonitor, then git orch hooks install"))
    before = {k: v for k, v in known.config.items() if k != FSMONITOR_KEY}
    after = {k: v for k, v in now.config.items() if k != FSMONITOR_KEY}
    moved = before.get(HOOKS_PATH_KEY) != after.get(HOOKS_PATH_KEY)
    if moved:
        was = (before.get(HOOKS_PATH_KEY) or ["unset"])[-1]
        is_now = (after.get(HOOKS_PATH_KEY) or ["unset"])[-1]
        found.append(Finding(
            DISARMED, f"core.hooksPath in the repository config changed ({was} -> {is_now}): "
            "the lead's commits and land run hooks from there",
            "check it, then git orch hooks install"))
    before.pop(HOOKS_PATH_KEY, None)
    after.pop(HOOKS_PATH_KEY, None)
    if changed := _changes(before, after):
        found.append(Finding(
            CONFIG_CHANGED, "config that makes git run a program changed since git-orch last "
            f"looked: {', '.join(changed)}",
            "check git config --list --show-origin, then git orch hooks install"))
    # Hook files are compared within one folder; a moved folder is reported above.
    if not moved and (changed := _changes(known.hook_files, now.hook_files)):
        folder = lead_hooks_dir(orepo, entries)
        found.append(Finding(
            HOOKS_CHANGED, f"hook files in {folder} changed since git-orch last looked: "
            f"{', '.join(changed)}", "check them, then git orch hooks install"))
    if hooks_folder.is_dir():
        ours = {name: f"x:{hashlib.sha256(data).hexdigest()}" for name, data in packaged.items()}
        there = hook_files(hooks_folder)
        odd = [f"{n} (not git-orch's)" for n in sorted(set(there) - set(ours))]
        odd += [f"{n} (changed)" for n in sorted(set(there) & set(ours)) if there[n] != ours[n]]
        if odd:
            found.append(Finding(
                HOOKS_CHANGED, f"git-orch's worker hooks in {hooks_folder} were altered: "
                f"{', '.join(odd)}", "git orch hooks install"))
    found += _refs(orepo, known, now, target)
    found += _target(orepo, known, target, bool(ws))
    if json.dumps(known.to_json(), sort_keys=True) != seen:
        save_known(orepo, known)
    return found


def new_for_ledger(orepo: OrchRepo, findings: list[Finding]) -> list[Finding]:
    """The attributed findings not recorded yet; remembers the current set, so a
    finding that goes away and comes back is recorded again."""
    known = first_look(orepo)
    attributed = [f for f in findings if f.task is not None]
    fresh = [f for f in attributed if f.key not in known.recorded]
    keys = sorted(f.key for f in attributed)
    if keys != known.recorded:
        known.recorded = keys
        save_known(orepo, known)
    return fresh
