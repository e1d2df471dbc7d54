"""Launch and watch agent processes: `git orch run`, `stop`, `logs`.

`run` writes the task envelope and starts a small supervisor
(`python -m git_orch.agent.supervise`) in its own session. The supervisor spawns the
agent (argv only, in a new session of its own so its whole process group can be
killed), records `run-started` and `run-ended` in the task's log, enforces
`max_runtime`, retries with backoff and stops when the agent's circuit breaker
opens. Logs and scratch files live in `<common>/orch/runs/<id>/`, which is
per machine and never the truth: the ledger is.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from git_orch import roadmap
from git_orch.agent import agents, budget, checkpoint, envelope, rework
from git_orch.agent.breaker import check_breaker
from git_orch.agent.procs import kill_group, supervisor_alive
from git_orch.agent.runlog import (
    DEAD,
    STOPPED,
    Attempt,
    attempts,
    dead_attempt,
    local_run,
    open_attempt,
    record_ended,
    unverified_attempt,
)
from git_orch.agent.runlog import dead_runs as dead_runs  # the heartbeat calls runner.dead_runs
from git_orch.agent.runlog import run_dir as run_dir
from git_orch.config import Policy, load_policy
from git_orch.errors import OrchError
from git_orch.gitcmd import clean_env
from git_orch.record import ledger
from git_orch.record.ledger import Event
from git_orch.record.state import TaskState
from git_orch.record.tasks import Task, load_task, record
from git_orch.repo import OrchRepo, hostname
from git_orch.workspace import limits
from git_orch.workspace.start import StartRequest, StartResult
from git_orch.workspace.start import start as start_task

READY_TIMEOUT = 60.0


# --- paths -------------------------------------------------------------------


def log_path(orepo: OrchRepo, task_id: str, attempt: int) -> Path:
    return run_dir(orepo, task_id) / f"attempt-{attempt}.log"


def handoff_path(orepo: OrchRepo, task_id: str, attempt: int) -> Path:
    return run_dir(orepo, task_id) / f"handoff-{attempt}.md"


def envelope_path(orepo: OrchRepo, task_id: str, attempt: int | None = None) -> Path:
    """The envelope of one attempt (kept: what that worker saw), or the latest one."""
    name = "envelope.md" if attempt is None else f"envelope-{attempt}.md"
    return run_dir(orepo, task_id) / name


def supervisor_file(orepo: OrchRepo, task_id: str) -> Path:
    return run_dir(orepo, task_id) / "supervisor.json"


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
    planned = roadmap.find_task(roadmap.load(policy), task_id)
    if planned is not None and planned.agent:
        return planned.agent
    fallback = agents.default_agent(policy)
    if fallback is None:
        raise OrchError("which agent? pass --agent NAME (presets are [agents.NAME] in orch.toml)")
    return fallback


def close_dead(orepo: OrchRepo, att: Attempt, grace: float = 2.0) -> Event | None:
    """Record the end of a run whose supervisor died, killing what is left of its agent.

    The group killed is the one this machine's supervisor recorded, never the
    ledger's `pgid` (which any remote could have written).
    """
    local = local_run(orepo, att)
    if local is not None:
        kill_group(local.pgid, grace)
    return record_ended(orepo, att.task_id, att.run_id, att.number, {
        "agent": att.agent, "host": hostname(), "ok": False, "outcome": DEAD,
        "reason": f"supervisor (pid {att.supervisor_pid}) was gone; run recorded as dead",
        "exit_code": None,
    })


def prepare(orepo: OrchRepo, task_id: str, agent: str | None,
            force_reason: str | None = None) -> agents.AgentPreset:
    """Check that the task can run now, with which agent (the supervisor re-checks).

    Past `max_active` running agents or onto a write set a running agent may
    touch only with a force reason, recorded before the run starts."""
    policy = load_policy(orepo)
    task = load_task(orepo, task_id)
    st = task.state
    if not rework.runnable(st):
        raise OrchError(
            f"task {task_id} is {st.state}: an agent runs only on active tasks and tasks "
            "sent back (rejected, or a review with concerns)"
        )
    rework.check_rounds(policy, st, rework.rework_for(orepo, task))
    att = open_attempt(st)
    if att is not None:
        if dead_attempt(orepo, st) is not None:
            close_dead(orepo, att)
        elif unverified_attempt(orepo, st) is not None:
            raise OrchError(_unverified(task_id, att))
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
    check_budget(orepo, policy, preset, task_id, st, task.contract.package)
    overridden = limits.check("run", task_id,
                              limits.run_breaches(orepo, policy, task_id, task.contract.allow),
                              force_reason)
    if overridden is not None:
        record(orepo, task_id, lambda _state: [overridden])
    run_dir(orepo, task_id).mkdir(parents=True, exist_ok=True)
    return preset


def check_budget(orepo: OrchRepo, policy: Policy, preset: agents.AgentPreset | None,
                 task_id: str, state: TaskState | None, package: str | None) -> None:
    """Refuse a run (or retry) once the task or its package has spent its budget."""

    def package_states() -> Iterator[tuple[str | None, TaskState]]:
        for other in ledger.task_refs(orepo):
            try:
                found = load_task(orepo, other)
            except OrchError:
                continue  # status reports unreadable tasks; they spent nothing we can count
            yield found.contract.package, found.state

    budget.check(policy, task_id, state, package, package_states(),
                 preset.budget if preset is not None else None)


@dataclass
class WrittenEnvelope:
    """An attempt's envelope: the file the agent reads (envelope.md), the copy kept
    for that attempt, its sha256, and the rework round it answers."""

    path: Path
    kept: Path
    sha256: str
    rework: str | None


def briefing(orepo: OrchRepo, policy: Policy, task: Task) -> envelope.Briefing:
    """The context pack from the roadmap, the rework asked for, the last checkpoint."""
    planned = roadmap.find_task(roadmap.load(policy), task.task_id)
    return envelope.Briefing(
        non_goals=planned.non_goals if planned else [],
        pointers=planned.pointers if planned else [],
        decisions=planned.decisions if planned else [],
        rework=rework.rework_for(orepo, task),
        checkpoint=checkpoint.digest(orepo, task, lambda n: (log_path(orepo, task.task_id, n),
                                                              handoff_path(orepo, task.task_id,
                                                                           n))),
    )


def write_envelope(orepo: OrchRepo, task_id: str, attempt: int) -> WrittenEnvelope:
    """The envelope for one attempt (it names that attempt's handoff file), kept as
    envelope-<attempt>.md, with envelope.md a copy of the latest."""
    policy = load_policy(orepo)
    task = load_task(orepo, task_id)
    worktree = Path(task.state.worktree) if task.state.worktree else None
    brief = briefing(orepo, policy, task)
    text = envelope.render(task.contract, worktree, handoff_path(orepo, task_id, attempt),
                           policy.main_branch, brief)
    kept = envelope.write(envelope_path(orepo, task_id, attempt), text)
    path = envelope.write(envelope_path(orepo, task_id), text)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return WrittenEnvelope(path, kept, digest, brief.rework.key if brief.rework else None)


def run(orepo: OrchRepo, task_id: str, agent: str | None = None, *, wait: bool = False,
        timeout: float | None = None, force_reason: str | None = None) -> RunResult:
    """Start a supervised agent run for a task; with wait, block until it is over."""
    preset = prepare(orepo, task_id, agent, force_reason)
    folder = run_dir(orepo, task_id)
    run_id = ledger.new_event_id()[:12]
    read_fd, write_fd = os.pipe()
    argv = [sys.executable, "-m", "git_orch.agent.supervise", "--repo", str(orepo.main_worktree),
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
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass  # still busy; its log says what it does
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


def stop(orepo: OrchRepo, task_id: str, grace: float = 5.0, force: bool = False) -> list[Event]:
    """Stop a task's run: the supervisor kills the agent's group and records `stopped`.

    A run on another host can only be killed there; with force, its end is
    recorded here (outcome dead) for a machine that is gone for good.
    """
    st = load_task(orepo, task_id).state
    att = open_attempt(st)
    if att is not None and att.host != hostname():
        if not force:
            raise OrchError(f"task {task_id} runs on {att.host}: stop it there "
                            "(or --force if that machine is gone: records the end, kills nothing)")
        event = record_ended(orepo, task_id, att.run_id, att.number, {
            "agent": att.agent, "host": hostname(), "ok": False, "outcome": DEAD,
            "reason": f"closed from {hostname()} by {orepo.actor}; the run was on {att.host}",
            "exit_code": None,
        })
        return [event] if event else []
    local = local_run(orepo, att) if att is not None else None
    if att is not None and local is None:
        if not force:
            raise OrchError(_unverified(task_id, att))
        event = record_ended(orepo, task_id, att.run_id, att.number, {
            "agent": att.agent, "host": hostname(), "ok": False, "outcome": DEAD,
            "reason": f"closed by {orepo.actor}: this machine has no record of starting it",
            "exit_code": None,
        })
        return [event] if event else []
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
    kill_group(local.pgid if local is not None else None, grace)
    event = record_ended(orepo, task_id, att.run_id, att.number, {
        "agent": att.agent, "host": hostname(), "ok": False, "outcome": STOPPED,
        "reason": f"stopped by {orepo.actor}", "exit_code": None,
    })
    if event is not None:
        return [event]
    st = load_task(orepo, task_id).state
    return [a.ended for a in attempts(st)
            if a.run_id == att.run_id and a.number == att.number and a.ended]


def _unverified(task_id: str, att: Attempt) -> str:
    return (f"task {task_id} has an open run {att.run_id} (attempt {att.number}) that names "
            "this machine, but this machine has no record of starting it (a ledger event from "
            f"elsewhere?): nothing killed; git orch stop {task_id} --force records its end")


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
        preset = agents.get_preset(policy, agent)
        check_breaker(orepo, policy, preset)
        check_budget(orepo, policy, preset, req.task_id, None, req.package)
    started = start_task(orepo, req)
    if not agent:
        return started, None
    try:
        return started, run(orepo, req.task_id, agent, wait=wait, force_reason=req.force_reason)
    except OrchError as exc:  # the task stands; say so beside why the agent did not run
        raise OrchError(f"started {req.task_id} (branch {started.branch}), but {exc}") from None
