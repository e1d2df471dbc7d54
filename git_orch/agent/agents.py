"""Agent presets from orch.toml (`[agents.NAME]`): how to launch one agent CLI.

An agent is launched from an argv list, never through a shell. Placeholders
such as `{worktree}` are substituted inside each argv element on its own, so a
task title or a path with spaces or quotes can never become extra arguments.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from git_orch.agent import sandbox
from git_orch.agent.budget import Budget, parse_budget
from git_orch.config import CONFIG_NAME, Policy
from git_orch.errors import OrchError

# Every placeholder an argv element or env value may use.
PLACEHOLDERS = (
    "envelope",  # the task envelope file (Markdown), outside the worktree
    "worktree",  # the task's worktree
    "task",  # the task id
    "handoff_file",  # where the agent writes its closing summary
    "attempt",  # the attempt number (1, 2, ...)
    "run_dir",  # <common dir>/orch/runs/<id>
    "git_dir",  # the workspace's own git dir (a linked worktree's: <.git>/worktrees/<name>)
    "git_common_dir",  # the workspace's common git dir: commits are written there
    "python",  # the Python running git-orch (for python -m ... agents)
)
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
_SECONDS = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


MAX_SECONDS = 7 * 86400.0  # no agent setting needs longer; a typo must not hang a run
MAX_ATTEMPTS = 20


def parse_seconds(value: object, what: str) -> float:
    """A duration as seconds: a number, or text like "90s", "30m", "1.5h", "0.2s"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _SECONDS.fullmatch(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise OrchError(f"{what}: bad duration {value!r} (use e.g. 90s, 30m, 2h)")
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_SECONDS:
        raise OrchError(f"{what}: duration must be between 0 and 7 days")
    return seconds


@dataclass
class Breaker:
    """Open after `failures` failed runs within `window` seconds; refuse for `cooldown`."""

    failures: int = 3
    window: float = 1800.0
    cooldown: float = 900.0


@dataclass
class AgentPreset:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    max_runtime: float = 1500.0
    max_attempts: int = 1
    backoff: float = 10.0
    backoff_max: float = 300.0
    kill_grace: float = 5.0
    breaker: Breaker = field(default_factory=Breaker)
    budget: Budget | None = None  # per task run by this preset (see agent/budget.py)
    sandbox: str | None = None  # "bwrap", "none", or None: chosen per workspace (sandbox.py)
    network: bool = True

    def backoff_before(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1 = the first retry)."""
        return float(min(self.backoff * (2 ** max(0, retry - 1)), self.backoff_max))

    def argv_for(self, values: Mapping[str, str]) -> list[str]:
        return [expand(part, values) for part in self.argv]

    def env_for(self, values: Mapping[str, str]) -> dict[str, str]:
        return {key: expand(value, values) for key, value in self.env.items()}


def expand(template: str, values: Mapping[str, str]) -> str:
    """Replace the known `{name}` placeholders; leave any other text (braces too) alone."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


_NAME_IN_BRACES = re.compile(r"\{([a-z_]+)\}")


def _check_placeholders(text: str, where: str) -> None:
    """Catch typos like {worktre}: a braced lowercase name must be a placeholder."""
    for name in _NAME_IN_BRACES.findall(text):
        if name not in PLACEHOLDERS:
            raise OrchError(f"{where}: unknown placeholder {{{name}}} (known: "
                            + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS) + ")")


def _int(table: Mapping[str, Any], key: str, default: int, where: str, minimum: int,
         maximum: int = 1000) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise OrchError(f"{where}.{key} must be an integer from {minimum} to {maximum}")
    return value


def _bool(table: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise OrchError(f"{where}.{key} must be true or false")
    return value


def _sandbox(table: Mapping[str, Any], where: str) -> str | None:
    value = table.get("sandbox")
    if value is not None and value not in sandbox.MODES:
        raise OrchError(f"{where}.sandbox must be " + " or ".join(f'"{m}"' for m in sandbox.MODES)
                        + " (unset: bwrap for clone workspaces when bubblewrap is installed)")
    return None if value is None else str(value)


def parse_preset(name: str, table: object) -> AgentPreset:
    where = f"{CONFIG_NAME} [agents.{name}]"
    if not isinstance(table, Mapping):
        raise OrchError(f"{where} must be a table")
    argv = table.get("argv")
    if (
        not isinstance(argv, list)
        or not argv
        or not all(isinstance(a, str) and a and "\0" not in a for a in argv)
    ):
        raise OrchError(f"{where}.argv must be a non-empty list of non-empty strings (no NUL)")
    for part in argv:
        _check_placeholders(part, f"{where}.argv")
    env = table.get("env", {})
    if not isinstance(env, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise OrchError(f"{where}.env must be a table of strings")
    for key, value in env.items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise OrchError(f"{where}.env: bad variable {key!r} (no '=' or NUL; not empty)")
        _check_placeholders(value, f"{where}.env")
    raw_breaker = table.get("breaker", {})
    if not isinstance(raw_breaker, Mapping):
        raise OrchError(f"{where}.breaker must be a table")
    breaker = Breaker(
        failures=_int(raw_breaker, "failures", 3, f"{where}.breaker", 1),
        window=parse_seconds(raw_breaker.get("window", "30m"), f"{where}.breaker.window"),
        cooldown=parse_seconds(raw_breaker.get("cooldown", "15m"), f"{where}.breaker.cooldown"),
    )
    preset = AgentPreset(
        name=name,
        argv=[str(a) for a in argv],
        env={str(k): str(v) for k, v in env.items()},
        max_runtime=parse_seconds(table.get("max_runtime", "25m"), f"{where}.max_runtime"),
        max_attempts=_int(table, "max_attempts", 1, where, 1, MAX_ATTEMPTS),
        backoff=parse_seconds(table.get("backoff", "10s"), f"{where}.backoff"),
        backoff_max=parse_seconds(table.get("backoff_max", "5m"), f"{where}.backoff_max"),
        kill_grace=parse_seconds(table.get("kill_grace", "5s"), f"{where}.kill_grace"),
        breaker=breaker,
        budget=parse_budget(table.get("budget"), f"{where}.budget"),
        sandbox=_sandbox(table, where),
        network=_bool(table, "network", True, where),
    )
    if preset.max_runtime <= 0:
        raise OrchError(f"{where}.max_runtime must be more than 0")
    return preset


PROMPT = ("Read the task envelope {envelope} and do exactly what it says: commit with the "
          "trailers it names, then run git orch handoff --summary with what you did.")

# Presets shipped with git-orch, proven against the CLI versions in docs/agents.md.
# An `[agents.NAME]` table of the same name in orch.toml replaces one whole.
BUILTIN: dict[str, dict[str, Any]] = {
    "codex": {
        # exec: no prompts. workspace-write: commands run in codex's bubblewrap
        # sandbox, writable only in the worktree and the git dirs its commits
        # need (codex mounts a worktree's git dir read-only unless it is named).
        # Not a login shell: /etc/profile would reset PATH and lose git-orch.
        # --json: usage per turn on stdout (the supervisor reads it from the log).
        "argv": ["codex", "exec", "--json", "--sandbox", "workspace-write",
                 "-c", "allow_login_shell=false", "--cd", "{worktree}",
                 "--add-dir", "{git_common_dir}", "--add-dir", "{git_dir}",
                 "--output-last-message", "{handoff_file}", PROMPT],
        "max_runtime": "45m",
        "sandbox": "none",  # its own sandbox; bwrap inside bwrap cannot set up namespaces
    },
    "claude": {
        # -p: no prompts. acceptEdits plus every Bash command: it may edit the
        # worktree and run any gate; it will not write under .git, so the
        # handoff file comes from `git orch handoff --summary`. stream-json:
        # the closing `result` line carries total_cost_usd and usage.
        "argv": ["claude", "-p", PROMPT, "--output-format", "stream-json", "--verbose",
                 "--permission-mode", "acceptEdits", "--allowedTools", "Bash"],
        "max_runtime": "45m",
        "sandbox": "none",  # it writes its state under ~/.claude; isolate it by clone
    },
}


def presets(policy: Policy) -> dict[str, AgentPreset]:
    """The built-in presets, then every `[agents.NAME]` table (validated; same name wins)."""
    section = policy.raw.get("agents", {})
    if not isinstance(section, Mapping):
        raise OrchError(f"{CONFIG_NAME}: [agents] must be a table of agent presets")
    tables: dict[str, object] = {**BUILTIN, **section}
    return {str(name): parse_preset(str(name), table) for name, table in tables.items()}


def default_agent(policy: Policy) -> str | None:
    """`[orch].default_agent`, else the only `[agents.NAME]` preset when there is one."""
    section = policy.raw.get("orch", {})
    name = section.get("default_agent") if isinstance(section, Mapping) else None
    if isinstance(name, str) and name:
        return name
    configured = policy.raw.get("agents", {})
    if isinstance(configured, Mapping) and len(configured) == 1:
        only = str(next(iter(configured)))
        presets(policy)  # a broken table is refused here, not at launch
        return only
    return None


def get_preset(policy: Policy, name: str) -> AgentPreset:
    found = presets(policy)
    if name not in found:
        known = ", ".join(sorted(found)) or "none: add an [agents.NAME] table to orch.toml"
        raise OrchError(f"no agent preset {name!r} in {CONFIG_NAME} (known: {known})")
    return found[name]


def placeholder_values(**values: str) -> dict[str, str]:
    values.setdefault("python", sys.executable)
    return values
