"""Policy from orch.toml at the root of the main worktree (committed with the code).

Reading uses the standard library's tomllib (fast, on every command); edits
go through tomlkit so a person's comments and layout survive. Missing keys
take the defaults below; a malformed file is refused clearly.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

from git_orch.errors import OrchError
from git_orch.objects import commit_parts
from git_orch.repo import OrchRepo

CONFIG_NAME = "orch.toml"
MAX_CONFIG_BYTES = 1024 * 1024

TEMPLATE = """\
# orch.toml: the policy of this repository's git-orch loop.
# Commit this file: review, land and CI read the committed version.
# Edit freely; git-orch keeps your comments when it changes this file.

[orch]
# The branch accepted work lands on.
main_branch = "{main_branch}"
# Where task workspaces go. Empty: a sibling folder "<repo>.orch/<task id>".
worktree_root = ""
# How a worker is kept apart from this repository. "clone": its own repository
# (objects borrowed read-only), whose work `git orch collect` pulls in.
# "worktree": a linked worktree sharing this git dir, which the worker can
# write: advisory isolation, for trusted agents only. Without this key: worktree.
isolation = "clone"
# How many tasks may be live at once (start, run and next respect it;
# start --force --reason goes past it, recorded).
max_active = 3
# A task with no activity (commit, file change, run log) for this long is
# flagged stale-needs-inspection. Units: s, m, h, d.
stale_after = "2h"
# Branches no worker may touch (workers may only move their own orch/<id>).
protected_branches = ["{main_branch}"]
# Paths every task is forbidden to change, on top of its own --forbid.
forbid = ["orch.toml", ".github/workflows/**"]
# Gate commands review may run (argv split on spaces, never a shell).
# A task's gate runs on review only if it is listed here.
gates = []
# Agent used by `git orch run` when neither --agent nor the roadmap names one.
# default_agent = "codex"

# How `git orch land` finishes accepted work (uncomment to change).
# [land]
# merge (a merge commit), squash (one commit) or ff (fast-forward only)
# strategy = "merge"
# Push the main branch and refs/orch together (atomically) after merging.
# push = false
# remote = "origin"
# Checks run on the merge result, in a scratch worktree, before the main
# branch moves (argv split like a shell, never run by one).
# post_merge_gates = []
# gate_timeout = "10m"

# Agent presets: how `git orch run ID --agent NAME` launches an agent CLI.
# Built in: codex and claude (see docs/agents.md for what they run and the CLI
# versions they were proven with); an [agents.codex] table here replaces that
# preset whole. argv is a list, never run through a shell; these placeholders
# are replaced inside each element: {{envelope}} (task envelope file),
# {{worktree}}, {{task}}, {{handoff_file}} (where the agent writes its summary;
# `git orch handoff --summary` writes it if the agent does not), {{attempt}},
# {{run_dir}}, {{git_dir}} (the workspace's own git dir), {{git_common_dir}} (the
# workspace's common git dir, where its commits go), {{python}}.
# Optional keys (defaults): env (a table), max_runtime ("25m"), max_attempts (1),
# backoff ("10s", doubled per retry up to backoff_max "5m"), kill_grace ("5s":
# SIGTERM to SIGKILL), and breaker, an inline table: failures (3) failed runs
# within window ("30m") open it for cooldown ("15m"). See docs/agents.md.
#
# [agents.codex]
# argv = ["codex", "exec", "--json", "--sandbox", "workspace-write",
#         "-c", "allow_login_shell=false", "--cd", "{{worktree}}",
#         "--add-dir", "{{git_common_dir}}", "--add-dir", "{{git_dir}}",
#         "--output-last-message", "{{handoff_file}}",
#         "Read the task envelope {{envelope}} and do exactly what it says."]
# max_runtime = "45m"
# max_attempts = 2
#
# [agents.custom]
# argv = ["./scripts/my-agent", "--task", "{{task}}", "--prompt-file", "{{envelope}}"]
# env = {{ MY_AGENT_MODE = "batch" }}
#
# The stand-in agent shipped with git-orch plays a scenario file (no API key):
# [agents.standin]
# argv = ["{{python}}", "-m", "git_orch.agent.standin", "--scenario", "scenario.toml",
#         "--worktree", "{{worktree}}", "--handoff-file", "{{handoff_file}}"]
# max_runtime = "2m"

# The roadmap: packages of tasks in the order of work (git orch plan add, next).
# [[packages]]
# name = "auth"
# [[packages.tasks]]
# id = "login-form"
# title = "Login form posts to /session"
# allow = ["src/auth/**"]
# gates = ["pytest tests/auth"]
# depends_on = []
# agent = "codex"
"""


class Policy:
    """The checked [orch] table, and the whole document for the other sections.

    A plain class: defining a dataclass costs ~0.7 ms a process, and every
    command (handoff and block too, for [sync] and [notify]) loads this module.
    """

    def __init__(
        self,
        main_branch: str = "main",
        worktree_root: str = "",
        max_active: int = 3,
        stale_after_seconds: int = 7200,
        protected_branches: list[str] | None = None,
        forbid: list[str] | None = None,
        gates: list[str] | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        self.main_branch = main_branch
        self.worktree_root = worktree_root
        self.max_active = max_active
        self.stale_after_seconds = stale_after_seconds
        self.protected_branches = ["main"] if protected_branches is None else protected_branches
        self.forbid = [] if forbid is None else forbid
        self.gates = [] if gates is None else gates
        self.raw = {} if raw is None else raw  # whole document, for later sections


_DURATION = re.compile(r"\s*(\d{1,12})\s*([smhd]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | int) -> int:
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _DURATION.fullmatch(str(text))
    if not match:
        raise OrchError(f"bad duration {text!r}: use a number with s, m, h or d (e.g. 2h)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def config_path(orepo: OrchRepo) -> Path:
    return orepo.main_worktree / CONFIG_NAME


def _typed(section: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = section.get(key, default)
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise OrchError(f"{CONFIG_NAME}: [orch].{key} must be a list of strings")
        return [str(v) for v in value]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise OrchError(f"{CONFIG_NAME}: [orch].{key} must be an integer")
    if kind is str and not isinstance(value, str):
        raise OrchError(f"{CONFIG_NAME}: [orch].{key} must be a string")
    return value


def parse_policy(text: str, where: str = CONFIG_NAME) -> Policy:
    return _policy(_toml(text, where), where)


def _toml(text: str, where: str) -> dict[str, Any]:
    import tomllib  # ~4 ms a process: loaded only when no cached parse fits

    try:
        return tomllib.loads(text)
    except RecursionError:
        raise OrchError(f"{where}: not valid TOML: nested too deeply") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer of thousands of digits
        raise OrchError(f"{where}: not valid TOML: {exc}") from None


def _policy(doc: dict[str, Any], where: str) -> Policy:
    section = doc.get("orch", {})
    if not isinstance(section, dict):
        raise OrchError(f"{where}: [orch] must be a table")
    default = Policy()
    main_branch = _typed(section, "main_branch", str, default.main_branch)
    return Policy(
        main_branch=main_branch,
        worktree_root=_typed(section, "worktree_root", str, ""),
        max_active=_typed(section, "max_active", int, default.max_active),
        stale_after_seconds=parse_duration(section.get("stale_after", "2h")),
        protected_branches=_typed(section, "protected_branches", list, [main_branch]),
        forbid=_typed(section, "forbid", list, []),
        gates=_typed(section, "gates", list, []),
        raw=doc,
    )


def load_policy(orepo: OrchRepo) -> Policy:
    """The working copy of orch.toml in the main worktree, or defaults.

    The parsed file is kept in the runtime folder (POLICY_CACHE) under the
    file's identity, size and times, so most commands need no TOML parser;
    every check on the values is still made on each load.
    """
    path = config_path(orepo)
    if not path.exists():
        policy = Policy()
        policy.main_branch = default_main_branch(orepo)
        policy.protected_branches = [policy.main_branch]
        return policy
    where = str(path)
    cache = orepo.common_dir / "orch" / POLICY_CACHE
    doc = _cached_doc(cache, where, path)
    if doc is None:
        text, info = _read_config(path)
        doc = _toml(text, where)
        _cache_doc(cache, where, info, doc)
    return _policy(doc, where)


POLICY_CACHE = "policy-cache.json"
# A file changed this recently may change again without its times moving (they
# advance in clock ticks): it is not cached, as git treats a "racily clean" file.
RACY_NS = 3 * 10**9


def _stat_key(info: os.stat_result) -> list[int]:
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def _cached_doc(cache: Path, where: str, path: Path) -> dict[str, Any] | None:
    """The cached parse of `path`, if it was made from the file as it is now."""
    try:
        entry = json.loads(cache.read_bytes())
        key = _stat_key(os.stat(path))
    except (OSError, ValueError):
        return None
    if isinstance(entry, dict) and entry.get("path") == where and entry.get("stat") == key \
            and isinstance(entry.get("doc"), dict):
        return dict(entry["doc"])
    return None


def _cache_doc(cache: Path, where: str, info: os.stat_result, doc: dict[str, Any]) -> None:
    """Keep a parse for the next command; skipped when it cannot be kept exactly."""
    if time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) < RACY_NS:
        return
    try:
        text = json.dumps({"path": where, "stat": _stat_key(info), "doc": doc})
    except (TypeError, ValueError):  # a TOML date or time: JSON has none
        return
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
    try:
        cache.parent.mkdir(exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, cache)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only runtime folder: parse next time


def auto_sync(orepo: OrchRepo) -> bool:
    """orch.toml `[sync] auto = true`: commands that take --sync sync by default."""
    section = load_policy(orepo).raw.get("sync", {})
    return isinstance(section, dict) and section.get("auto") is True


def syncs_by_default(orepo: OrchRepo) -> bool:
    """Whether a command that takes --sync syncs without it: `[sync] auto`, but never in a
    clone workspace, which has no remote (the lead collects its work)."""
    return auto_sync(orepo) and not orepo.is_clone_workspace


def read_config_file(path: Path) -> str:
    """The text of a regular file of at most MAX_CONFIG_BYTES, or a one-line refusal.

    Opened without blocking and checked on the open descriptor, so a FIFO
    cannot hang a command and a symlink to /dev/zero cannot exhaust memory.
    """
    return _read_config(path)[0]


def _read_config(path: Path) -> tuple[str, os.stat_result]:
    """read_config_file, with the file's stat as it was read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise OrchError(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OrchError(f"{path} is not a regular file: refusing to read it")
        data = handle.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise OrchError(f"{path} is over {MAX_CONFIG_BYTES} bytes: refusing to read it")
    try:
        return data.decode("utf-8"), info
    except UnicodeDecodeError:
        raise OrchError(f"{path} is not UTF-8") from None


def committed_policy(orepo: OrchRepo, rev: str) -> Policy | None:
    """orch.toml as committed at rev (what review trusts for gates), if any.

    Read through git_orch.objects (loose files, one `cat-file --batch`): land and
    heartbeat need no libgit2 for it."""
    try:
        commit = orepo.commit_id(rev)
    except OrchError:
        return None
    objs = orepo.objects
    headers, _ = commit_parts(objs.read_kind(commit, "commit"))
    entry = objs.tree(headers.get("tree", [""])[0]).get(CONFIG_NAME)
    if entry is None:
        return None
    data = objs.read_kind(entry.oid, "blob") if entry.kind == "blob" else None
    if data is None or len(data) > MAX_CONFIG_BYTES:
        raise OrchError(f"{CONFIG_NAME} at {rev} is not a file of at most {MAX_CONFIG_BYTES} "
                        "bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise OrchError(f"{CONFIG_NAME} at {rev} is not UTF-8") from None
    return parse_policy(text, f"{CONFIG_NAME} at {rev}")


def default_main_branch(orepo: OrchRepo) -> str:
    """The branch checked out in the main worktree, else init.defaultBranch, else main."""
    for tree in orepo.worktrees[:1]:
        if tree.branch and tree.branch.startswith("refs/heads/"):
            return tree.branch[len("refs/heads/") :]
    return orepo.config_get("init.defaultBranch") or "main"


def worktree_root(orepo: OrchRepo, policy: Policy) -> Path:
    if policy.worktree_root:
        root = Path(policy.worktree_root).expanduser()
        return root if root.is_absolute() else orepo.main_worktree / root
    main = orepo.main_worktree
    return main.parent / f"{main.name}.orch"
