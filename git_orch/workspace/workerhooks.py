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

LIBRARY = "orch-common.sh"
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
    files = {LIBRARY: package.joinpath(LIBRARY).read_bytes()}
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
    folder = hooks_dir(orepo)
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


def install(
    orepo: OrchRepo, worktree: Path, task_id: str, allow: Sequence[str], forbid: Sequence[str]
) -> Path:
    """Cache the task's rules in the worktree's config and switch its hooks on."""
    marker = run_git(["config", "--worktree", "--get", "orch.task"], worktree, check=False)
    if marker.stdout.strip() != task_id:
        raise OrchError(f"{worktree} is not the worktree of task {task_id} (orch.task unset)")
    repo_dir, _ = repo_hooks(worktree, orepo.common_dir)
    folder = deploy(orepo, [n for n in PASSED if _is_hook(repo_dir / n)])
    _unset_rules(worktree)
    values: dict[str, list[str]] = {}
    for key, patterns in (("allow", allow), ("forbid", forbid)):
        for index, pattern in enumerate(patterns):
            values.setdefault(f"orch.{key}", []).append(pattern)
            for spec in to_git_pathspecs(pattern):
                values.setdefault(f"orch.{key}Pathspec", []).append(f"{index} {spec}")
    for key, items in values.items():
        for value in items:
            _config(worktree, "--add", key, value)
    # Automatic gc packs refs, which a worker's reference-transaction hook refuses
    # to prune; leave maintenance to the main worktree.
    _config(worktree, "maintenance.auto", "false")
    _config(worktree, "core.hooksPath", str(folder))
    _write_cache(worktree, task_id, values)
    return folder


def _write_cache(worktree: Path, task_id: str, values: dict[str, list[str]]) -> None:
    """$GIT_DIR/orch-hooks.sh: the settings orch_load would read, as sh assignments.

    Written last, so it is newer than the config it mirrors; the hooks fall back
    to `git config` as soon as any config file is newer than it."""
    _, raw_hooks_path = repo_hooks(worktree, Path("."))

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
    _write_atomic(cache_path(worktree), text.encode())


def cache_path(worktree: Path) -> Path:
    gitdir = run_git(["rev-parse", "--path-format=absolute", "--git-dir"], worktree).stdout
    return Path(gitdir.strip()) / "orch-hooks.sh"


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
    cache_path(worktree).unlink(missing_ok=True)


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
    if not chosen:
        return common_dir / "hooks", ""
    path = Path(chosen).expanduser()
    return (path if path.is_absolute() else worktree / path), chosen


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
