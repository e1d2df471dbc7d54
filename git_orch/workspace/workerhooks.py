"""Install the worker guardrails (the POSIX sh hooks in git_orch.hooks).

The hooks are copied to `<common dir>/orch/hooks/` and switched on for one
worker worktree with `git config --worktree core.hooksPath`. A copy, not the
package folder: a moved or rebuilt virtualenv must not leave a worker with a
hooks path that no longer exists (git would then run no hooks at all), and the
hooks need no Python. The main worktree and the repository's own hooks are not
touched; the installed hooks run the repository's hook of the same name after
their own check passes.

The task's Orch-Allow / Orch-Forbid patterns are cached in the worktree's
config as git `:(glob)` pathspecs (gitglob.py), so the pre-commit hook only
asks git to match (no Python, no contract parsing per commit).
"""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from git_orch.config import load_policy
from git_orch.errors import OrchError
from git_orch.gitcmd import GitError, run_git
from git_orch.judge.gitglob import to_git_pathspecs, to_sh_rule
from git_orch.record.ids import task_branch
from git_orch.repo import OrchRepo
from git_orch.workspace import tamper, workspaces

# Sourced by the hooks: what every hook needs on every run, the rarely needed
# parts (reading the config with git, refusals), and pre-commit's path matching.
LIBRARIES = ("orch-common.sh", "orch-slow.sh", "orch-match.sh")
CHECKED = ("pre-commit", "commit-msg", "reference-transaction", "pre-push", "pre-merge-commit")
PASSTHROUGH = "passthrough"
# Every other hook git runs from core.hooksPath: installed as pass-throughs, so
# the repository's own hooks keep running in worker worktrees.
PASSED = (
    "applypatch-msg", "pre-applypatch", "post-applypatch", "prepare-commit-msg",
    "post-commit", "pre-rebase", "post-checkout", "post-merge", "pre-receive", "update",
    "proc-receive", "post-receive", "post-update", "push-to-checkout", "pre-auto-gc",
    "post-rewrite", "sendemail-validate", "post-index-change", "p4-changelist",
    "p4-prepare-changelist", "p4-post-changelist", "p4-pre-submit",
)
# Per-worktree config keys written here (orch.task is start's worker marker).
RULE_KEYS = ("orch.allow", "orch.forbid", "orch.allowPathspec", "orch.forbidPathspec")


def hooks_dir(orepo: OrchRepo) -> Path:
    return orepo.common_dir / "orch" / "hooks"


def packaged_hooks(passed: Sequence[str] = ()) -> dict[str, bytes]:
    """File name -> content: the library, the checked hooks, and pass-throughs
    for the hook names in `passed` (those the repository has its own hook for:
    a hook file that is absent costs git nothing, a pass-through costs a shell)."""
    package = resources.files("git_orch.hooks")
    files = {name: package.joinpath(name).read_bytes() for name in LIBRARIES}
    for name in CHECKED:
        files[name] = package.joinpath(name).read_bytes()
    passthrough = package.joinpath(PASSTHROUGH).read_bytes()
    for name in passed:
        files[name] = passthrough
    return files


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def deploy(orepo: OrchRepo, passed: Sequence[str] = ()) -> Path:
    """Make `<common>/orch/hooks/` hold the packaged hooks (rewrites only what differs).

    Pass-throughs are only ever added: the folder is shared by every worker."""
    return _deploy(orepo.common_dir, passed)


def _deploy(common_dir: Path, passed: Sequence[str]) -> Path:
    folder = common_dir / "orch" / "hooks"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in packaged_hooks(passed).items():
        path = folder / name
        try:
            current = path.read_bytes()
        except OSError:
            current = None
        if current != data or not os.access(path, os.X_OK):
            _write_atomic(path, data)
    return folder


def expected_hooks(orepo: OrchRepo) -> dict[str, bytes]:
    """What the hooks folder should hold: the packaged hooks, and a pass-through
    for each pass-through name that is there."""
    folder = hooks_dir(orepo)
    return packaged_hooks([n for n in PASSED if (folder / n).exists()])


def remove_foreign(orepo: OrchRepo) -> list[str]:
    """Delete files in the hooks folder that are not what git-orch put there (the
    folder is git-orch's own; a worker may have planted or replaced a hook in
    it). Run after deploy, which rewrote the hooks git-orch still needs."""
    folder = hooks_dir(orepo)
    expected = expected_hooks(orepo)
    removed = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.read_bytes() != expected.get(path.name):
            path.unlink()
            removed.append(path.name)
    return removed


def findings(orepo: OrchRepo) -> list[tamper.Finding]:
    """Signs that the guardrails were disarmed or a program planted (tamper.py)."""
    return tamper.scan(orepo, hooks_dir(orepo), expected_hooks(orepo),
                       load_policy(orepo).main_branch)


def deployed_current(orepo: OrchRepo) -> bool:
    """Whether the hooks folder holds exactly what this git-orch ships."""
    folder = hooks_dir(orepo)
    passed = [n for n in PASSED if (folder / n).exists()]
    for name, data in packaged_hooks(passed).items():
        path = folder / name
        try:
            if path.read_bytes() != data or not os.access(path, os.X_OK):
                return False
        except OSError:
            return False
    return True


def _config(worktree: Path, *args: str, check: bool = True) -> str:
    proc = run_git(["config", "--worktree", *args], worktree, check=False)
    # 5 = asked to unset a key that is not set: nothing to do.
    if check and proc.returncode not in (0, 5):
        raise GitError(["config", *args], proc.returncode, proc.stderr)
    return proc.stdout


def _get_all(worktree: Path, key: str) -> list[str]:
    out = run_git(["config", "--worktree", "--get-all", key], worktree, check=False).stdout
    return out.splitlines()


# Keys install sets besides the rules: single-valued, so replaced, never added to.
SWITCH_KEYS = ("maintenance.auto", "core.hooksPath")


def install(
    common_dir: Path, worktree: Path, task_id: str, allow: Sequence[str], forbid: Sequence[str],
    *, mark: bool = False,
) -> Path:
    """Cache the task's rules in the worktree's config and switch its hooks on.

    The hooks are deployed in `common_dir` (the worktree's repository: the lead's
    for a linked worktree, the clone's own). The worktree must be the task's
    (orch.task), unless `mark`: then it is made so (start). Two git calls, not
    one per key: the keys `git config --worktree` sees are listed once and only
    those there are unset, then every value is appended to that file in one
    write under git's own lock file (start pays this for every task)."""
    listing = _worktree_keys(worktree)
    present = listing.own
    values: dict[str, list[str]] = {}
    if present.get("orch.task") != [task_id]:
        if not mark:
            raise OrchError(f"{worktree} is not the worktree of task {task_id} "
                            "(orch.task unset)")
        values["orch.task"] = [task_id]
    repo_dir = _hooks_folder(worktree, common_dir, listing.repo_hooks)
    folder = _deploy(common_dir, [n for n in PASSED if _is_hook(repo_dir / n)])
    for key in (*values, *RULE_KEYS, *SWITCH_KEYS):
        if key.lower() in present:
            _config(worktree, "--unset-all", key)
    rules: dict[str, list[str]] = {}
    for key, patterns in (("allow", allow), ("forbid", forbid)):
        for index, pattern in enumerate(patterns):
            rules.setdefault(f"orch.{key}", []).append(pattern)
            for spec in to_git_pathspecs(pattern):
                rules.setdefault(f"orch.{key}Pathspec", []).append(f"{index} {spec}")
    git_dir = _git_dir(worktree)
    # Automatic gc packs refs, which a worker's reference-transaction hook refuses
    # to prune; leave maintenance to the main worktree.
    switches = {"maintenance.auto": ["false"], "core.hooksPath": [str(folder)]}
    own_file = git_dir / "config.worktree" if listing.extension else git_dir / "config"
    _append_config(own_file, {**values, **rules, **switches})
    _write_cache(git_dir / "orch-hooks.sh", task_id, rules, listing.repo_hooks)
    return folder


@dataclass
class _Listing:
    own: dict[str, list[str]]  # lower-case key -> values, in the file --worktree writes
    extension: bool  # extensions.worktreeConfig: that file is config.worktree, else config
    repo_hooks: str  # the raw core.hooksPath set elsewhere ("" = <common dir>/hooks)


def _worktree_keys(worktree: Path) -> _Listing:
    """The keys `git config --worktree` sees here (orch.*, the switches) and the
    repository's own core.hooksPath, in one call. Without extensions.worktreeConfig,
    --worktree means the repository's config (a clone workspace): its keys are the
    local ones."""
    pattern = r"^(orch\.|maintenance\.auto$|core\.hookspath$|extensions\.worktreeconfig$)"
    out = run_git(["config", "--show-scope", "-z", "--get-regexp", pattern], worktree,
                  check=False).stdout.split("\0")
    entries = []
    for scope, item in zip(out[0::2], out[1::2], strict=False):
        key, newline, value = item.partition("\n")
        entries.append((scope, key, value if newline else "true"))
    extension = any(scope == "local" and key == "extensions.worktreeconfig"
                    and value.lower() in ("true", "yes", "on", "1")
                    for scope, key, value in entries)
    own = "worktree" if extension else "local"
    found: dict[str, list[str]] = {}
    hooks = ""
    for scope, key, value in entries:
        if key == "extensions.worktreeconfig":
            continue
        if scope == own:
            found.setdefault(key, []).append(value)
        elif key == "core.hookspath" and scope != "worktree":
            hooks = value
    return _Listing(found, extension, hooks)


def _git_dir(worktree: Path) -> Path:
    out = run_git(["rev-parse", "--path-format=absolute", "--git-dir"], worktree).stdout
    return Path(out.strip())


def _config_value(value: str) -> str:
    """A value in git config syntax: quoted, so `;`, `#` and spaces stay literal."""
    if any(ch in value for ch in "\n\r\0"):
        raise OrchError(f"config value {value!r} contains a newline or NUL")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    return f'"{escaped}"'


def _append_config(path: Path, values: dict[str, list[str]]) -> None:
    """Append `values` (key -> values, in order) to a git config file in one write.

    Under `<file>.lock`, created exclusively and renamed over the file, as git
    itself writes config: a concurrent `git config` waits or fails, never
    interleaves. A kill leaves the old file (and a stale lock, as git would)."""
    text = ""
    for key, items in values.items():
        section, _, name = key.rpartition(".")
        text += f"[{section}]\n" + "".join(f"\t{name} = {_config_value(v)}\n" for v in items)
    lock = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise OrchError(f"{path} is locked ({lock} exists): another git is writing it") from None
    try:
        try:
            old = path.read_bytes()
        except FileNotFoundError:
            old = b""
        if old and not old.endswith(b"\n"):
            old += b"\n"
        with os.fdopen(fd, "wb") as handle:
            handle.write(old + text.encode("utf-8", "surrogateescape"))
        os.replace(lock, path)
    except BaseException:
        lock.unlink(missing_ok=True)
        raise


def _write_cache(path: Path, task_id: str, values: dict[str, list[str]],
                 raw_hooks_path: str) -> None:
    """$GIT_DIR/orch-hooks.sh: the settings orch_load would read, as sh assignments.

    Written last, so it is newer than the config it mirrors; the hooks read the
    config with git when a config file is not strictly older than it, and note
    when that read gave these same values (orch-common.sh orch_load)."""

    def lines(key: str) -> str:
        return "".join(f"{v}\n" for v in values.get(key, []))

    def sh_rules(key: str) -> str:
        """Lines `KIND<TAB>LITERAL<TAB>PATTERN`, only if every pattern is literal."""
        out = []
        for pattern in values.get(key, []):
            rule = to_sh_rule(pattern)
            if rule is None:
                return ""
            out.append(f"{rule[0]}\t{rule[1]}\t{pattern}\n")
        return "".join(out)

    assignments = {
        "orch_task": task_id,
        "orch_allow_sh": sh_rules("orch.allow"),
        "orch_forbid_sh": sh_rules("orch.forbid"),
        "orch_repo_hooks": raw_hooks_path,
        "orch_allow": lines("orch.allow"),
        "orch_forbid": lines("orch.forbid"),
        "orch_allow_specs": lines("orch.allowPathspec"),
        "orch_forbid_specs": lines("orch.forbidPathspec"),
    }
    text = "# written by git orch hooks install; a cache of this worktree's config\n"
    text += "".join(f"{k}={shlex.quote(v)}\n" for k, v in assignments.items())
    _write_atomic(path, text.encode())


# The hooks' cache of the config, and the two files with which a hook notes that
# it read the config after a change and found the cache still right.
CACHE_FILES = ("orch-hooks.sh", "orch-hooks.checked", "orch-hooks.confirmed")


def _is_hook(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _unset_rules(worktree: Path) -> None:
    for key in RULE_KEYS:
        _config(worktree, "--unset-all", key)


def uninstall(worktree: Path) -> None:
    """Switch the worker's hooks off; orch.task (the worker marker) stays."""
    _config(worktree, "--unset", "core.hooksPath")
    _config(worktree, "--unset", "maintenance.auto")
    _unset_rules(worktree)
    git_dir = _git_dir(worktree)
    for name in CACHE_FILES:
        (git_dir / name).unlink(missing_ok=True)


def repo_hooks(worktree: Path, common_dir: Path) -> tuple[Path, str]:
    """Where git would look for the repository's own hooks without ours, and the
    raw core.hooksPath value behind it ("" = the default <common dir>/hooks)."""
    out = run_git(["config", "--show-scope", "--get-all", "core.hooksPath"], worktree,
                  check=False).stdout
    chosen = ""
    for line in out.splitlines():
        scope, _, value = line.partition("\t")
        if scope != "worktree":
            chosen = value
    return _hooks_folder(worktree, common_dir, chosen), chosen


def _hooks_folder(worktree: Path, common_dir: Path, raw: str) -> Path:
    if not raw:
        return common_dir / "hooks"
    path = Path(raw).expanduser()
    return path if path.is_absolute() else worktree / path


@dataclass
class WorkerHooks:
    task: str
    worktree: Path
    installed: bool
    hooks_path: str | None
    allow: list[str] = field(default_factory=list)
    forbid: list[str] = field(default_factory=list)
    repo_hooks_dir: str = ""
    chained: list[str] = field(default_factory=list)
    unchained: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "worktree": str(self.worktree),
            "installed": self.installed,
            "hooks_path": self.hooks_path,
            "allow": self.allow,
            "forbid": self.forbid,
            "repo_hooks_dir": self.repo_hooks_dir,
            "chained": self.chained,
            "unchained": self.unchained,
        }


def inspect(orepo: OrchRepo, worktree: Path, task_id: str) -> WorkerHooks:
    paths = _get_all(worktree, "core.hooksPath")
    hooks_path = paths[-1] if paths else None
    repo_dir, _ = repo_hooks(worktree, orepo.common_dir)
    ours = hooks_dir(orepo)
    chained = [n for n in sorted({*CHECKED, *PASSED}) if _is_hook(repo_dir / n)]
    unchained = [n for n in chained if not _is_hook(ours / n)]
    return WorkerHooks(
        task=task_id,
        worktree=worktree,
        installed=hooks_path == str(hooks_dir(orepo)),
        hooks_path=hooks_path,
        allow=_get_all(worktree, "orch.allow"),
        forbid=_get_all(worktree, "orch.forbid"),
        repo_hooks_dir=str(repo_dir),
        chained=[n for n in chained if n not in unchained],
        unchained=unchained,
    )


def worker_worktrees(orepo: OrchRepo, task_id: str | None) -> list[tuple[str, Path]]:
    """(task, workspace) pairs: the named task, this worker, or every worker (linked
    worktrees and clone workspaces; hooks_owner says whose hooks folder serves each)."""
    if task_id is None:
        task_id = orepo.worker_task()
    clones = workspaces.find_clones(orepo, load_policy(orepo))
    if task_id is not None:
        tree = orepo.worktree_for_branch(task_branch(task_id))
        if tree is not None and tree.path.is_dir():
            return [(task_id, tree.path)]
        mine = [ws.path for ws in clones.values() if ws.task_id == task_id]
        if not mine:
            raise OrchError(f"task {task_id} has no worktree (git orch status {task_id})")
        return [(task_id, mine[0])]
    # Linked worktrees from their own config files: found even when a worker switched
    # extensions.worktreeConfig off (git would then not read them).
    found = [(w.task, w.path) for w in tamper.workers(orepo)]
    found.extend((ws.task_id, ws.path) for _, ws in sorted(clones.items()))
    return found


def hooks_owner(orepo: OrchRepo, workspace: Path) -> OrchRepo:
    """The repository whose hooks folder serves a workspace: a clone's own (nothing in
    it points back at the lead), a linked worktree's shared one."""
    if (workspace / ".git").is_dir() and workspace != orepo.toplevel:
        return OrchRepo(workspace)
    return orepo
