"""Agent runs as the ledger records them: run-started/run-ended pairs per attempt.

Also how an attempt is judged after the agent exits, and which runs are dead
(started here, never ended, supervisor gone).

Trust: the ledger is shared, so a `run-started` event may come from any
machine (or be forged on a remote). Pids and process groups are therefore
never taken from it: the supervisor also writes a local record of each
attempt (`runs/<task>/attempt-<n>.json` in this machine's runtime folder),
and only that record ever drives a kill. An open run that claims this host
but has no local record is flagged `run-unverified` and never acted on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from git_orch.agent.procs import supervisor_alive
from git_orch.record import ledger
from git_orch.record.ids import task_branch
from git_orch.record.ledger import Event
from git_orch.record.state import ACTIVE, REJECTED, TaskState, fold
from git_orch.record.tasks import load_task, record
from git_orch.record.timefmt import iso as iso
from git_orch.record.timefmt import parse_iso as parse_iso
from git_orch.repo import OrchRepo, blob_bytes, hostname

RUN_DEAD = "run-dead"
RUN_UNVERIFIED = "run-unverified"
# Outcomes of an attempt (run-ended "outcome").
SUCCEEDED = "succeeded"
FAILED = "failed"
TIMEOUT = "timeout"
STOPPED = "stopped"
BLOCKED_OUT = "blocked"
DEAD = "dead"
LAUNCH_FAILED = "launch-failed"
# Outcomes that count against an agent's circuit breaker (the agent's fault).
BREAKER_OUTCOMES = frozenset({FAILED, TIMEOUT, LAUNCH_FAILED})


def run_dir(orepo: OrchRepo, task_id: str) -> Path:
    """Per-machine run files of a task: logs, envelope, supervisor state."""
    return orepo.runtime_dir / "runs" / task_id


def local_run_file(orepo: OrchRepo, task_id: str, attempt: int) -> Path:
    return run_dir(orepo, task_id) / f"attempt-{attempt}.json"


def write_local_run(orepo: OrchRepo, task_id: str, record_: dict[str, Any]) -> None:
    """The supervisor's own record of an attempt: the only source of pids to signal."""
    path = local_run_file(orepo, task_id, int(record_["attempt"]))
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(record_, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class LocalRun:
    """What this machine's supervisor wrote about one attempt it started."""

    supervisor_pid: int | None
    pgid: int | None


def _pid(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else None


def local_run(orepo: OrchRepo, att: Attempt) -> LocalRun | None:
    """This machine's record of the attempt, or None when it did not start it here."""
    try:
        data = json.loads(local_run_file(orepo, att.task_id, att.number).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("run") != att.run_id:
        return None
    return LocalRun(_pid(data.get("supervisor_pid")), _pid(data.get("pgid")))



# --- attempts as the ledger records them -------------------------------------


@dataclass
class Attempt:
    """One launch of an agent: its run-started event and, once over, its run-ended."""

    started: Event
    ended: Event | None = None

    @property
    def task_id(self) -> str:
        return str(self.started.get("task"))

    @property
    def run_id(self) -> str:
        return str(self.started.get("run"))

    @property
    def number(self) -> int:
        value = self.started.get("attempt")
        return value if isinstance(value, int) else 0

    @property
    def agent(self) -> str:
        return str(self.started.get("agent"))

    def _int(self, key: str) -> int | None:
        value = self.started.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def pid(self) -> int | None:
        return self._int("pid")

    @property
    def pgid(self) -> int | None:
        return self._int("pgid")

    @property
    def supervisor_pid(self) -> int | None:
        return self._int("supervisor_pid")

    @property
    def host(self) -> str | None:
        value = self.started.get("host")
        return value if isinstance(value, str) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task_id, "run": self.run_id, "attempt": self.number,
            "agent": self.agent, "pid": self.pid, "supervisor_pid": self.supervisor_pid,
            "host": self.host, "started": self.started.get("started"),
            "ended": self.ended,
        }


def attempts(state: TaskState) -> list[Attempt]:
    """Pair run-started and run-ended events by (run, attempt), in start order.

    A run-started without a string run id and host and an integer attempt is
    malformed (hand-written or from a buggy tool) and ignored, so it can never
    hold a task as "running" forever.
    """
    if not state.runs:
        return []  # most tasks never ran an agent: status asks this of each, often
    found: dict[tuple[object, object], Attempt] = {}
    for event in state.runs:
        key = (event.get("run"), event.get("attempt"))
        if not (isinstance(key[0], str) and isinstance(key[1], int)
                and not isinstance(key[1], bool)):
            continue  # malformed (and maybe unhashable, e.g. a list): never paired
        if event.get("type") == "run-started":
            if not isinstance(event.get("host"), str):
                continue
            found.setdefault(key, Attempt({**event, "task": state.task_id}))
        elif event.get("type") == "run-ended" and key in found and found[key].ended is None:
            found[key].ended = event
    return list(found.values())


def latest_run_json(state: TaskState) -> dict[str, Any] | None:
    """The task's latest attempt for status: who runs it and how it ended."""
    found = attempts(state)
    if not found:
        return None
    att = found[-1]
    ended = att.ended or {}
    return {"run": att.run_id, "attempt": att.number, "agent": att.agent, "host": att.host,
            "pid": att.pid, "started": att.started.get("started"),
            "running": att.ended is None, "outcome": ended.get("outcome"),
            "reason": ended.get("reason"), "sandbox": att.started.get("sandbox"),
            "sandbox_why": att.started.get("sandbox_why")}


# How a last attempt may end that leaves an active task waiting for a person.
NEEDS_A_PERSON = frozenset({FAILED, TIMEOUT, LAUNCH_FAILED, DEAD})


def failed_last_run(state: TaskState) -> str | None:
    """`run <outcome>` when the task's last attempt ended badly and nothing followed.

    Nobody else will notice: the task stays active with no agent on it. A
    handoff or a new run after the failure clears it.
    """
    if state.state not in (ACTIVE, REJECTED):
        return None
    found = attempts(state)
    if not found or found[-1].ended is None:
        return None
    outcome = found[-1].ended.get("outcome")
    return f"run {outcome}" if outcome in NEEDS_A_PERSON else None


def open_attempt(state: TaskState) -> Attempt | None:
    """The latest attempt with no run-ended yet, if any."""
    for att in reversed(attempts(state)):
        if att.ended is None:
            return att
    return None


def dead_attempt(orepo: OrchRepo, state: TaskState) -> Attempt | None:
    """An attempt this machine started, never ended, whose supervisor is gone."""
    att = open_attempt(state)
    if att is None or att.host != hostname():
        return None
    local = local_run(orepo, att)
    if local is None:
        return None
    return None if supervisor_alive(local.supervisor_pid, att.task_id) else att


def unverified_attempt(orepo: OrchRepo, state: TaskState) -> Attempt | None:
    """An open attempt that claims this host, which this machine has no record of starting."""
    att = open_attempt(state)
    if att is None or att.host != hostname() or local_run(orepo, att) is not None:
        return None
    return att


def all_states(orepo: OrchRepo) -> list[TaskState]:
    snap = ledger.snapshot(orepo)
    notes = snap.notes()
    states = []
    for task_id, oid in sorted(ledger.task_refs(orepo).items()):
        blob = notes.get(str(oid))
        data = blob_bytes(orepo.pygit, blob) if blob is not None else b""
        states.append(fold(task_id, ledger.parse_log(data).events))
    return states


def dead_runs(orepo: OrchRepo, states: Iterable[TaskState] | None = None) -> list[Attempt]:
    """Runs started on this host with no run-ended whose supervisor pid is gone.

    The supervisor was killed (SIGKILL, OOM, machine reboot) before it could
    record the end. `status` flags such tasks `run-dead`; `git orch stop ID`
    (or a new `git orch run ID`) records the end and kills leftover agent
    processes.
    """
    found = []
    for state in states if states is not None else all_states(orepo):
        att = dead_attempt(orepo, state)
        if att is not None:
            found.append(att)
    return found


# --- recording -----------------------------------------------------------------


def record_started(orepo: OrchRepo, task_id: str, fields: dict[str, Any]) -> Event:
    return record(orepo, task_id, lambda _st: [{"type": "run-started", **fields}])[0]


def record_ended(orepo: OrchRepo, task_id: str, run_id: str, attempt: int,
                 fields: dict[str, Any]) -> Event | None:
    """Record run-ended once per attempt (stop and the supervisor may race to it)."""

    def make(state: TaskState) -> list[Event]:
        for event in state.runs:
            if (event.get("type") == "run-ended" and event.get("run") == run_id
                    and event.get("attempt") == attempt):
                return []
        return [{"type": "run-ended", "run": run_id, "attempt": attempt, "ended": iso(),
                 **fields}]

    events = record(orepo, task_id, make)
    return events[0] if events else None


HANDOFF_TEXT_MAX = 3000  # characters of the handoff file kept in run-ended


def read_handoff_text(path: Path) -> str | None:
    """The start of the handoff file (what the agent said it did), for the ledger."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(HANDOFF_TEXT_MAX * 4)
    except OSError:
        return None
    text = data.decode("utf-8", "replace").strip()
    if len(text) > HANDOFF_TEXT_MAX:
        text = text[:HANDOFF_TEXT_MAX].rstrip() + "\n[... cut; the whole file is " \
            f"{path.name} in the run folder]"
    return text or None


def agent_said(state: TaskState) -> dict[str, Any] | None:
    """The latest attempt's handoff text: {"attempt", "agent", "text"}, if it left one."""
    for att in reversed(attempts(state)):
        text = (att.ended or {}).get("handoff_text")
        if isinstance(text, str) and text.strip():
            return {"attempt": att.number, "agent": att.agent, "text": text}
    return None


def _has_commits(orepo: OrchRepo, task_id: str, base: str) -> bool:
    import pygit2

    head = orepo.ref_target(f"refs/heads/{task_branch(task_id)}")
    if head is None or str(head) == base:
        return False
    walker = orepo.pygit.walk(head)
    walker.hide(pygit2.Oid(hex=base))
    return next(iter(walker), None) is not None


def judge(orepo: OrchRepo, task_id: str, since: int, exit_code: int | None,
          handoff_file: Path) -> dict[str, Any]:
    """The signals of a finished attempt and whether together they mean success.

    `since` is the log's largest lamport just before the agent was spawned: a
    fast agent may hand off before its run-started is even written.
    """
    task = load_task(orepo, task_id)
    after = [e for e in task.log.events if e["lamport"] > since]
    handed_off = any(e.get("type") == "handoff" for e in after)
    blocked = [e for e in after if e.get("type") == "blocked"]
    signals = {
        "exit_code": exit_code,
        "handoff_file": handoff_file.is_file() and handoff_file.stat().st_size > 0,
        "commits": _has_commits(orepo, task_id, task.contract.base),
        "handoff": handed_off,
    }
    missing = []
    if exit_code != 0:
        missing.append(f"exit code {exit_code}")
    if not handed_off:
        missing.append("git orch handoff was not called")
    if not signals["handoff_file"]:
        missing.append("no handoff file written")
    if not signals["commits"]:
        missing.append("no commits after base")
    if blocked and not handed_off:
        reason = blocked[-1].get("reason")
        return {**signals, "ok": False, "outcome": BLOCKED_OUT,
                "reason": f"agent blocked the task: {reason}"}
    if missing:
        return {**signals, "ok": False, "outcome": FAILED, "reason": "; ".join(missing)}
    return {**signals, "ok": True, "outcome": SUCCEEDED, "reason": None}
