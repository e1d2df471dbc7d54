"""Launch and watch agent processes: `git orch run`, `stop`, `logs`, dead runs, breakers.

`run` writes the task envelope and starts a small supervisor
(`python -m git_orch.supervise`) in its own session. The supervisor spawns the
agent (argv only, in a new session of its own so its whole process group can be
killed), records `run-started` and `run-ended` in the task's log, enforces
`max_runtime`, retries with backoff and stops when the agent's circuit breaker
opens. Logs and scratch files live in `<common>/orch/runs/<id>/`, which is
per machine and never the truth: the ledger is.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pygit2

from git_orch import agents, envelope, ledger
from git_orch.config import Policy, load_policy
from git_orch.errors import OrchError
from git_orch.gitcmd import clean_env
from git_orch.ids import task_branch
from git_orch.ledger import Event
from git_orch.repo import OrchRepo, blob_bytes, hostname
from git_orch.start import StartRequest, StartResult
from git_orch.start import start as start_task
from git_orch.state import ACTIVE, REJECTED, TaskState, fold
from git_orch.tasks import load_task, record

RUN_DEAD = "run-dead"
RUNNABLE = frozenset({ACTIVE, REJECTED})
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
READY_TIMEOUT = 60.0


# --- paths -------------------------------------------------------------------


def run_dir(orepo: OrchRepo, task_id: str) -> Path:
    return orepo.runtime_dir / "runs" / task_id


def log_path(orepo: OrchRepo, task_id: str, attempt: int) -> Path:
    return run_dir(orepo, task_id) / f"attempt-{attempt}.log"


def handoff_path(orepo: OrchRepo, task_id: str, attempt: int) -> Path:
    return run_dir(orepo, task_id) / f"handoff-{attempt}.md"


def envelope_path(orepo: OrchRepo, task_id: str) -> Path:
    return run_dir(orepo, task_id) / "envelope.md"


def supervisor_file(orepo: OrchRepo, task_id: str) -> Path:
    return run_dir(orepo, task_id) / "supervisor.json"


def iso(stamp: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if stamp is None else stamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


# --- processes ---------------------------------------------------------------


def pid_alive(pid: int | None) -> bool:
    """True if the process exists and is not a zombie (a killed child nobody reaped)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def supervisor_alive(pid: int | None, task_id: str | None = None) -> bool:
    """The pid is alive and (where /proc tells) still a git-orch supervisor (of task_id)."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    if task_id is not None and b"\0--task\0" + task_id.encode() + b"\0" not in cmdline:
        return False
    return b"git_orch.supervise" in cmdline


def group_alive(pgid: int | None) -> bool:
    if not isinstance(pgid, int) or isinstance(pgid, bool) or pgid <= 1:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int | None, grace: float, exited: Callable[[], bool] | None = None) -> None:
    """SIGTERM the whole process group, then SIGKILL what is left after `grace` seconds."""
    if not isinstance(pgid, int) or pgid <= 1:
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if (exited() if exited else True) and not _group_has_live(pgid):
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _group_has_live(pgid: int) -> bool:
    """True if a non-zombie process is in the group (zombies count as gone)."""
    if not group_alive(pgid):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


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
    """Pair run-started and run-ended events by (run, attempt), in start order."""
    found: dict[tuple[object, object], Attempt] = {}
    for event in state.runs:
        key = (event.get("run"), event.get("attempt"))
        if event.get("type") == "run-started":
            found.setdefault(key, Attempt(event))
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
            "reason": ended.get("reason")}


def open_attempt(state: TaskState) -> Attempt | None:
    """The latest attempt with no run-ended yet, if any."""
    for att in reversed(attempts(state)):
        if att.ended is None:
            return att
    return None


def dead_attempt(state: TaskState) -> Attempt | None:
    """An attempt that started on THIS host, never ended, and whose supervisor is gone."""
    att = open_attempt(state)
    if att is None or att.host != hostname():
        return None
    return None if supervisor_alive(att.supervisor_pid, att.task_id) else att


def _all_states(orepo: OrchRepo) -> list[TaskState]:
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
    for state in states if states is not None else _all_states(orepo):
        att = dead_attempt(state)
        if att is not None:
            found.append(att)
    return found


# --- circuit breakers ----------------------------------------------------------


@dataclass
class BreakerState:
    agent: str
    state: str = "closed"  # closed, open or half-open (one trial run allowed)
    failures: int = 0  # counted failures within the window since the last success
    threshold: int = 3
    until: float | None = None  # when an open breaker lets a trial run through

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "failures": self.failures, "threshold": self.threshold,
                "until": iso(self.until) if self.until else None}


def breaker_state(preset: agents.AgentPreset, ended: Iterable[Event],
                  now: float | None = None) -> BreakerState:
    """Derived from run-ended events: N counted failures inside the window open it."""
    now = time.time() if now is None else now
    mine = sorted(
        ((parse_iso(e.get("ended")) or 0.0, e) for e in ended if e.get("agent") == preset.name),
        key=lambda pair: pair[0],
    )
    failures: list[float] = []
    for stamp, event in mine:
        if event.get("outcome") == SUCCEEDED:
            failures = []
        elif event.get("outcome") in BREAKER_OUTCOMES:
            failures.append(stamp)
    recent = [f for f in failures if f >= now - preset.breaker.window]
    state = BreakerState(preset.name, failures=len(recent), threshold=preset.breaker.failures)
    if len(recent) >= preset.breaker.failures:
        until = recent[-1] + preset.breaker.cooldown
        state.state = "open" if now < until else "half-open"
        state.until = until
    return state


def breakers(policy: Policy, states: Iterable[TaskState],
             now: float | None = None) -> dict[str, BreakerState]:
    ended = [e for st in states for e in st.runs if e.get("type") == "run-ended"]
    return {name: breaker_state(p, ended, now) for name, p in agents.presets(policy).items()}


def save_breakers(orepo: OrchRepo, found: dict[str, BreakerState]) -> None:
    """Cache for other tools (heartbeat, dashboards); the ledger stays the truth."""
    path = orepo.runtime_dir / "breakers.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({k: v.to_json() for k, v in found.items()}, indent=2))
    tmp.replace(path)


def check_breaker(orepo: OrchRepo, policy: Policy, preset: agents.AgentPreset) -> BreakerState:
    found = breakers(policy, _all_states(orepo))
    save_breakers(orepo, found)
    state = found[preset.name]
    if state.state == "open":
        raise OrchError(
            f"agent {preset.name}: circuit breaker open after {state.failures} failed runs; "
            f"no new runs until {iso(state.until)} (git orch status shows breakers)"
        )
    return state


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


def _has_commits(orepo: OrchRepo, task_id: str, base: str) -> bool:
    head = orepo.ref_target(f"refs/heads/{task_branch(task_id)}")
    if head is None or str(head) == base:
        return False
    walker = orepo.pygit.walk(head)
    walker.hide(pygit2.Oid(hex=base))
    return next(iter(walker), None) is not None


def judge(orepo: OrchRepo, task_id: str, started: Event, exit_code: int | None,
          handoff_file: Path) -> dict[str, Any]:
    """The signals of a finished attempt and whether together they mean success."""
    task = load_task(orepo, task_id)
    after = [e for e in task.log.events if e["lamport"] > started.get("lamport", 0)]
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


# --- run -------------------------------------------------------------------------


@dataclass
class RunResult:
    """What `run` started (and, with wait, how every attempt ended)."""

    task_id: str
    run_id: str
    agent: str
    supervisor_pid: int
    attempt: int
    agent_pid: int | None
    log: Path
    ended: list[Event] = field(default_factory=list)
    ok: bool | None = None  # None: not waited for

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task_id, "run": self.run_id, "agent": self.agent,
                "supervisor_pid": self.supervisor_pid, "attempt": self.attempt,
                "pid": self.agent_pid, "log": str(self.log), "ok": self.ok,
                "attempts": self.ended}


def choose_agent(orepo: OrchRepo, policy: Policy, task_id: str, agent: str | None) -> str:
    """--agent, else the roadmap task's agent, else [orch].default_agent or the only preset."""
    if agent:
        return agent
    from git_orch import roadmap  # local: roadmap imports status, which imports us

    planned = roadmap.find_task(roadmap.load(policy), task_id)
    if planned is not None and planned.agent:
        return planned.agent
    fallback = agents.default_agent(policy)
    if fallback is None:
        raise OrchError("which agent? pass --agent NAME (presets are [agents.NAME] in orch.toml)")
    return fallback


def close_dead(orepo: OrchRepo, att: Attempt, grace: float = 2.0) -> Event | None:
    """Record the end of a run whose supervisor died, killing what is left of its agent."""
    kill_group(att.pgid, grace)
    return record_ended(orepo, att.task_id, att.run_id, att.number, {
        "agent": att.agent, "host": hostname(), "ok": False, "outcome": DEAD,
        "reason": f"supervisor (pid {att.supervisor_pid}) was gone; run recorded as dead",
        "exit_code": None,
    })


def prepare(orepo: OrchRepo, task_id: str, agent: str | None) -> agents.AgentPreset:
    """Check that the task can run now, with which agent (the supervisor re-checks)."""
    policy = load_policy(orepo)
    task = load_task(orepo, task_id)
    st = task.state
    if st.state not in RUNNABLE:
        raise OrchError(
            f"task {task_id} is {st.state}: an agent runs only on active or rejected tasks"
        )
    att = open_attempt(st)
    if att is not None:
        if dead_attempt(st) is not None:
            close_dead(orepo, att)
        else:
            where = "" if att.host == hostname() else f" on {att.host}"
            raise OrchError(
                f"task {task_id} already has a run going{where} (attempt {att.number}, "
                f"agent {att.agent}); git orch stop {task_id} first"
            )
    if not st.worktree or not Path(st.worktree).is_dir():
        raise OrchError(f"task {task_id} has no worktree on this machine: nothing to run in")
    preset = agents.get_preset(policy, choose_agent(orepo, policy, task_id, agent))
    check_breaker(orepo, policy, preset)
    run_dir(orepo, task_id).mkdir(parents=True, exist_ok=True)
    return preset


def write_envelope(orepo: OrchRepo, task_id: str, attempt: int) -> Path:
    """The envelope for one attempt (it names that attempt's handoff file)."""
    policy = load_policy(orepo)
    task = load_task(orepo, task_id)
    worktree = Path(task.state.worktree) if task.state.worktree else None
    text = envelope.render(task.contract, worktree, handoff_path(orepo, task_id, attempt),
                           policy.main_branch)
    return envelope.write(envelope_path(orepo, task_id), text)


def run(orepo: OrchRepo, task_id: str, agent: str | None = None, *, wait: bool = False,
        timeout: float | None = None) -> RunResult:
    """Start a supervised agent run for a task; with wait, block until it is over."""
    preset = prepare(orepo, task_id, agent)
    folder = run_dir(orepo, task_id)
    run_id = ledger.new_event_id()[:12]
    read_fd, write_fd = os.pipe()
    argv = [sys.executable, "-m", "git_orch.supervise", "--repo", str(orepo.main_worktree),
            "--task", task_id, "--agent", preset.name, "--run", run_id,
            "--ready-fd", str(write_fd)]
    with open(folder / "supervisor.log", "ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
            argv, cwd=folder, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=clean_env(), pass_fds=(write_fd,), start_new_session=True,
        )
    os.close(write_fd)
    try:
        line = _read_ready(read_fd)
    finally:
        os.close(read_fd)
    kind, _, rest = line.partition(" ")
    if kind != "started":
        proc.wait(timeout=10)
        detail = rest or f"exited before starting the agent (see {folder / 'supervisor.log'})"
        raise OrchError(f"run of {task_id} did not start: {detail}")
    attempt_text, _, pid_text = rest.partition(" ")
    result = RunResult(task_id, run_id, preset.name, proc.pid, int(attempt_text),
                       int(pid_text) if pid_text.isdigit() else None,
                       log_path(orepo, task_id, int(attempt_text)))
    if wait:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise OrchError(f"run of {task_id} still going after {timeout}s") from None
        finish(orepo, result)
    return result


def finish(orepo: OrchRepo, result: RunResult) -> RunResult:
    """Fill in how the run's attempts ended (after its supervisor exited)."""
    st = load_task(orepo, result.task_id).state
    mine = [a for a in attempts(st) if a.run_id == result.run_id]
    result.ended = [a.ended for a in mine if a.ended is not None]
    result.ok = bool(result.ended) and result.ended[-1].get("ok") is True
    return result


def _read_ready(fd: int) -> str:
    data = b""
    deadline = time.monotonic() + READY_TIMEOUT
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            return "error supervisor did not report within 60s"
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace").strip()


def wait(orepo: OrchRepo, task_id: str, timeout: float | None = None) -> None:
    """Block until no supervisor is running for the task (polling; works across processes)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while supervisor_alive(read_supervisor(orepo, task_id).get("pid"), task_id):
        if deadline is not None and time.monotonic() > deadline:
            raise OrchError(f"run of {task_id} still going after {timeout}s")
        time.sleep(0.1)


def read_supervisor(orepo: OrchRepo, task_id: str) -> dict[str, Any]:
    try:
        data = json.loads(supervisor_file(orepo, task_id).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# --- stop ------------------------------------------------------------------------


def stop(orepo: OrchRepo, task_id: str, grace: float = 5.0) -> list[Event]:
    """Stop a task's run: the supervisor kills the agent's group and records `stopped`."""
    st = load_task(orepo, task_id).state
    att = open_attempt(st)
    if att is not None and att.host != hostname():
        raise OrchError(f"task {task_id} runs on {att.host}: stop it there")
    sup = read_supervisor(orepo, task_id).get("pid")
    stopped_something = False
    if supervisor_alive(sup, task_id):
        assert isinstance(sup, int)
        os.kill(sup, signal.SIGTERM)
        stopped_something = True
        deadline = time.monotonic() + grace + 10
        while supervisor_alive(sup, task_id) and time.monotonic() < deadline:
            time.sleep(0.05)
    if att is None:
        if not stopped_something:
            raise OrchError(f"task {task_id} has no run going")
        return []
    kill_group(att.pgid, grace)
    event = record_ended(orepo, task_id, att.run_id, att.number, {
        "agent": att.agent, "host": hostname(), "ok": False, "outcome": STOPPED,
        "reason": f"stopped by {orepo.actor}", "exit_code": None,
    })
    if event is not None:
        return [event]
    st = load_task(orepo, task_id).state
    return [a.ended for a in attempts(st)
            if a.run_id == att.run_id and a.number == att.number and a.ended]


# --- logs ------------------------------------------------------------------------


def latest_attempt(orepo: OrchRepo, task_id: str) -> int | None:
    numbers = []
    for path in run_dir(orepo, task_id).glob("attempt-*.log"):
        middle = path.stem[len("attempt-"):]
        if middle.isdigit():
            numbers.append(int(middle))
    return max(numbers) if numbers else None


def logs(orepo: OrchRepo, task_id: str, write: Callable[[bytes], None],
         attempt: int | None = None, follow: bool = False, poll: float = 0.2) -> None:
    """Copy an attempt's log to `write`; with follow, keep going (and move to the
    next attempt) until the task's supervisor has exited."""
    load_task(orepo, task_id)  # refuse unknown ids clearly
    current = attempt or latest_attempt(orepo, task_id)
    if current is None:
        if not follow:
            raise OrchError(f"task {task_id} has no run logs on this machine")
        current = 1
    offset = 0
    while True:
        path = log_path(orepo, task_id, current)
        if path.exists():
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            if chunk:
                write(chunk)
                offset += len(chunk)
        elif not follow:
            raise OrchError(f"no log for attempt {current} of {task_id}")
        if not follow:
            return
        newest = latest_attempt(orepo, task_id)
        if attempt is None and newest is not None and newest > current:
            current, offset = newest, 0
            write(f"--- attempt {current} ---\n".encode())
            continue
        if not supervisor_alive(read_supervisor(orepo, task_id).get("pid"), task_id):
            final = log_path(orepo, task_id, current)
            if final.exists() and final.stat().st_size > offset:
                continue
            return
        time.sleep(poll)



def start_and_run(orepo: OrchRepo, req: StartRequest, agent: str | None, *,
                  wait: bool = False) -> tuple[StartResult, RunResult | None]:
    """`git orch start ... --agent NAME`: check the agent first, then start, then run."""
    if agent:
        policy = load_policy(orepo)
        check_breaker(orepo, policy, agents.get_preset(policy, agent))
    started = start_task(orepo, req)
    return started, (run(orepo, req.task_id, agent, wait=wait) if agent else None)
