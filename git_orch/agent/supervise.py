"""The run supervisor: `python -m git_orch.agent.supervise` (started by `git orch run`).

It lives in its own session, holds a per-task lock, and for each attempt:
writes the envelope, spawns the agent (argv, no shell, a new session so the
agent's whole process group can be killed), records `run-started`, waits with
the `max_runtime` deadline, kills the group on timeout or stop, judges the
attempt and records `run-ended`. Failed attempts are retried with backoff up
to `max_attempts` unless the agent's circuit breaker opened.

It reports the first attempt to the `git orch run` that started it through
an inherited pipe (`--ready-fd`): `started <attempt> <pid>` or `error <why>`.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import IO, Any

from git_orch.agent import agents, breaker, procs, rework, runlog, runner, sandbox, usage
from git_orch.config import load_policy
from git_orch.errors import OrchError
from git_orch.gitcmd import clean_env, run_git
from git_orch.notify import notify
from git_orch.record.ledger import Event
from git_orch.record.tasks import load_task
from git_orch.repo import OrchRepo, hostname
from git_orch.workspace import refusals, workspaces
from git_orch.workspace.collect import collect_quietly


class Supervisor:
    def __init__(self, orepo: OrchRepo, task_id: str, agent: str, run_id: str,
                 ready: IO[str] | None) -> None:
        self.orepo = orepo
        self.task_id = task_id
        self.run_id = run_id
        self.preset = agents.get_preset(load_policy(orepo), agent)
        self.ready = ready
        self.stop_requested = False
        self.open: tuple[Event, int] | None = None  # run-started event and attempt number
        self.last_ended: dict[str, Any] | None = None  # run-ended fields of the latest attempt

    # -- reporting to `git orch run` --------------------------------------------

    def report(self, line: str) -> None:
        if self.ready is None:
            return
        try:
            self.ready.write(line + "\n")
            self.ready.close()
        except OSError:
            pass
        self.ready = None

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True

    def sleep(self, seconds: float) -> bool:
        """Sleep unless a stop comes first; False when stopped."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.stop_requested:
                return False
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return not self.stop_requested

    # -- the attempts ----------------------------------------------------------

    def loop(self) -> int:
        try:
            self.attempts()
        finally:
            self.tell_a_person()
        return 0

    def tell_a_person(self) -> None:
        """Notify about how the run ended, once, after its last attempt (never when stopped)."""
        last = self.last_ended
        if last is None or self.stop_requested:
            return
        outcome = last.get("outcome")
        kind = {runlog.SUCCEEDED: "handoff", runlog.BLOCKED_OUT: "blocked"}.get(
            str(outcome), "run-failed" if outcome in runlog.BREAKER_OUTCOMES else None)
        if kind is not None:
            notify(self.orepo, kind, self.task_id, run=self.run_id, agent=self.preset.name,
                   attempt=last.get("attempt"), outcome=outcome, reason=last.get("reason"))

    def attempts(self) -> None:
        for retry in range(self.preset.max_attempts):
            if retry and not self.sleep(self.preset.backoff_before(retry)):
                break
            state = load_task(self.orepo, self.task_id).state
            if not rework.runnable(state):
                self.report(f"error task {self.task_id} is {state.state}")
                print(f"task is {state.state}: no (further) attempt", flush=True)
                break
            if retry:
                policy = load_policy(self.orepo)
                found = breaker.breakers(policy, runlog.all_states(self.orepo))
                if found[self.preset.name].state == "open":
                    print(f"agent {self.preset.name}: breaker open; not retrying", flush=True)
                    break
                try:
                    task = load_task(self.orepo, self.task_id)
                    runner.check_budget(self.orepo, policy, self.preset, self.task_id,
                                        task.state, task.contract.package)
                except OrchError as exc:
                    print(f"not retrying: {exc}", flush=True)
                    break
            attempt = 1 + sum(1 for e in state.runs if e.get("type") == "run-started")
            ended = self.attempt(attempt, Path(state.worktree or "."))
            outcome = ended.get("outcome")
            # A command that cannot start will not start on the next try either.
            if (self.stop_requested or outcome not in runlog.BREAKER_OUTCOMES
                    or outcome == runlog.LAUNCH_FAILED):
                break

    def attempt(self, attempt: int, worktree: Path) -> dict[str, Any]:
        orepo, task_id = self.orepo, self.task_id
        handoff = runner.handoff_path(orepo, task_id, attempt)
        handoff.unlink(missing_ok=True)
        clone = workspaces.is_clone_of(worktree, task_id)
        if clone and attempt > 1:  # a timed-out attempt's commits, for the checkpoint
            for line in collect_quietly(orepo, task_id):
                print(line, flush=True)
        written = runner.write_envelope(orepo, task_id, attempt)
        env_file = written.path
        git_dir, common_dir = workspace_git_dirs(worktree)
        # A clone's ledger copy follows the lead's before each attempt; the lead pulls.
        if clone:
            workspaces.share_ledger(orepo, workspaces.Workspace(task_id, worktree,
                                                                workspaces.CLONE))
        values = agents.placeholder_values(
            envelope=str(env_file), worktree=str(worktree), task=task_id,
            handoff_file=str(handoff), attempt=str(attempt),
            run_dir=str(runner.run_dir(orepo, task_id)), git_dir=str(git_dir),
            git_common_dir=str(common_dir),
        )
        argv = self.preset.argv_for(values)
        env = clean_env({
            **self.preset.env_for(values),
            "ORCH_TASK": task_id, "ORCH_RUN": self.run_id, "ORCH_ATTEMPT": str(attempt),
            "ORCH_ENVELOPE": str(env_file), "ORCH_HANDOFF_FILE": str(handoff),
            "ORCH_WORKTREE": str(worktree),
        })
        bindir = Path(sys.executable).parent
        if (bindir / "git-orch").exists():  # so `git orch ...` works inside the agent
            env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
        log = runner.log_path(orepo, task_id, attempt)
        linked = linked_worktree(orepo, worktree)
        choice = sandbox.choose(self.preset.sandbox, sandbox.bwrap_path() is not None,
                                clone=not linked)
        fields: dict[str, Any] = {
            "run": self.run_id, "attempt": attempt, "agent": self.preset.name,
            "host": hostname(), "supervisor_pid": os.getpid(), "started": runlog.iso(),
            "log": str(log), "command": argv[0], "max_runtime": self.preset.max_runtime,
            "sandbox": choice.mode, "sandbox_why": choice.why,
            "envelope": str(written.kept), "envelope_sha256": written.sha256,
        }
        if written.rework is not None:
            fields["rework"] = written.rework
        since = load_task(orepo, task_id).log.max_lamport
        with open(log, "wb") as out:
            out.write(f"git-orch: sandbox {choice.mode} ({choice.why})\n".encode())
            out.flush()
            problem = launch_problem(argv[0], env.get("PATH", ""), worktree)
            if problem is not None:  # also when a sandbox wrapper would be the one to fail
                return self.launch_failed(attempt, fields, out, problem)
            try:
                launch = self.sandboxed(argv, choice, worktree, handoff, linked)
                proc = subprocess.Popen(  # noqa: S603 - argv list from the preset, no shell
                    launch, cwd=worktree, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, env=env, start_new_session=True,
                )
            except OSError as exc:
                return self.launch_failed(attempt, fields, out, launch_error(argv[0], worktree,
                                                                              exc))
            except OrchError as exc:
                return self.launch_failed(attempt, fields, out, str(exc))
            # The local record first: whenever the ledger shows this attempt, this
            # machine can tell it is its own (and which group to kill).
            runlog.write_local_run(orepo, task_id, {
                "run": self.run_id, "attempt": attempt, "supervisor_pid": os.getpid(),
                "pid": proc.pid, "pgid": proc.pid,
            })
            started = runlog.record_started(orepo, task_id, {**fields, "pid": proc.pid,
                                                             "pgid": proc.pid})
            self.open = (started, attempt)
            self.report(f"started {attempt} {proc.pid}")
            how = self.watch(proc)
        # Whatever the agent left running in its group goes with it.
        procs.kill_group(proc.pid, self.preset.kill_grace)
        code = proc.returncode
        if how == runlog.TIMEOUT:
            verdict = {"ok": False, "outcome": runlog.TIMEOUT, "exit_code": code,
                       "reason": f"timed out after {self.preset.max_runtime:g}s; "
                                 "process group killed"}
        elif how == runlog.STOPPED:
            verdict = {"ok": False, "outcome": runlog.STOPPED, "exit_code": code,
                       "reason": "stopped (git orch stop or signal to the supervisor)"}
        else:
            if clone:  # the handoff is in the workspace until the lead pulls it
                for line in collect_quietly(orepo, task_id):
                    print(line, flush=True)
            verdict = runlog.judge(orepo, task_id, since, code, handoff)
        spent = usage.read_usage(log)
        if spent is not None:
            verdict["usage"] = spent
        said = runlog.read_handoff_text(handoff)
        if said:
            verdict["handoff_text"] = said
        if code is not None and code < 0:
            verdict["exit_code"], verdict["signal"] = None, -code
        try:
            refusals.collect(orepo, task_id, str(worktree))
        except (OrchError, OSError) as exc:
            print(f"could not collect hook refusals: {exc}", flush=True)
        return self.end(started, attempt, verdict)

    def sandboxed(self, argv: list[str], choice: sandbox.Choice, worktree: Path,
                  handoff: Path, linked: bool) -> list[str]:
        """The agent's argv, wrapped in bubblewrap when the choice says so.

        The handoff file is created empty so it can be bound writable on its
        own (the rest of the run folder, with the supervisor's files, stays
        read-only); an empty file does not count as a handoff."""
        if choice.mode == sandbox.NONE:
            return argv
        bwrap = sandbox.bwrap_path()
        if bwrap is None:
            raise OrchError("sandbox = \"bwrap\" but bubblewrap is not installed "
                            "(apt-get install bubblewrap, or sandbox = \"none\")")
        handoff.touch()
        writable = [handoff]
        if linked:
            writable.append(self.orepo.common_dir)  # a linked worktree commits there
        readable = sandbox.visible(argv, [self.orepo.common_dir, Path(sys.prefix)])
        return sandbox.wrap(argv, bwrap=bwrap, workspace=worktree, readable=readable,
                            writable=writable, network=self.preset.network)

    def launch_failed(self, attempt: int, fields: dict[str, Any], log: IO[bytes],
                      reason: str) -> dict[str, Any]:
        """The agent never ran: say so in its log, the ledger and to `git orch run`."""
        log.write(f"git-orch: launch failed: {reason}\n".encode())
        started = runlog.record_started(self.orepo, self.task_id,
                                        {**fields, "pid": None, "pgid": None})
        self.report(f"error launch failed: {reason}")
        return self.end(started, attempt, {"ok": False, "outcome": runlog.LAUNCH_FAILED,
                                           "exit_code": None, "reason": reason})

    def watch(self, proc: subprocess.Popen[bytes]) -> str:
        deadline = time.monotonic() + self.preset.max_runtime
        while True:
            try:
                proc.wait(timeout=0.1)
                return "exited"
            except subprocess.TimeoutExpired:
                pass
            over = time.monotonic() > deadline
            if self.stop_requested or over:
                procs.kill_group(proc.pid, self.preset.kill_grace,
                                  exited=lambda: proc.poll() is not None)
                proc.wait()
                return runlog.STOPPED if self.stop_requested else runlog.TIMEOUT

    def end(self, started: Event, attempt: int, verdict: dict[str, Any]) -> dict[str, Any]:
        fields = {"agent": self.preset.name, "host": hostname(), **verdict}
        runlog.record_ended(self.orepo, self.task_id, self.run_id, attempt, fields)
        self.last_ended = {**fields, "attempt": attempt}
        self.open = None
        try:
            policy = load_policy(self.orepo)
            breaker.save_breakers(self.orepo,
                                 breaker.breakers(policy, runlog.all_states(self.orepo)))
        except (OrchError, OSError) as exc:
            print(f"could not save breaker cache: {exc}", flush=True)
        print(f"attempt {attempt}: {verdict.get('outcome')} {verdict.get('reason') or ''}",
              flush=True)
        return fields


def workspace_git_dirs(worktree: Path) -> tuple[Path, Path]:
    """The workspace's own git dir and the common dir its commits are written to.

    A linked worktree: `<lead .git>/worktrees/<name>` and the lead's `.git`
    (objects and refs are shared). A clone: its own `.git`, twice; never the
    lead's, which an agent in a clone must not be able to write.
    """
    fallback = (worktree / ".git", worktree / ".git")
    if not worktree.is_dir():
        return fallback
    proc = run_git(["rev-parse", "--path-format=absolute", "--absolute-git-dir",
                    "--git-common-dir"], worktree, check=False)
    found = proc.stdout.split("\n")
    if proc.returncode != 0 or len(found) < 2 or not found[0] or not found[1]:
        return fallback
    return Path(found[0]), Path(found[1])


def linked_worktree(orepo: OrchRepo, worktree: Path) -> bool:
    """Whether the workspace is a linked worktree of the lead's repository, as the
    lead's own git dir says (never the workspace's `.git`, which the agent of an
    earlier attempt could have replaced to get the lead's git dir bound writable)."""
    try:
        target = worktree.resolve()
        return any(t.path.resolve() == target for t in orepo.worktrees
                   if t.path != orepo.main_worktree)
    except OSError:
        return False


def launch_problem(command: str, path: str, cwd: Path) -> str | None:
    """Why argv[0] cannot be launched from cwd with this PATH, checked before the
    launch so the answer is the same with or without a sandbox wrapper around it."""
    if not cwd.is_dir():
        return f"cannot launch {command}: working directory {cwd} does not exist"
    if "/" not in command:
        if shutil.which(command, path=path) is None:
            return f"cannot launch {command}: command not found (not on PATH)"
        return None
    target = cwd / command
    if not target.exists():
        return f"cannot launch {command}: command not found (no such file)"
    if target.is_dir() or not os.access(target, os.X_OK):
        return f"cannot launch {command}: not executable"
    return None


def launch_error(command: str, cwd: Path, exc: OSError) -> str:
    """Why Popen failed, in words: a missing command, a missing folder, no permission."""
    why = exc.strerror or str(exc)
    if not cwd.is_dir():
        return f"cannot launch {command}: working directory {cwd} does not exist"
    if isinstance(exc, FileNotFoundError):
        return f"cannot launch {command}: command not found (not on PATH or no such file)"
    if isinstance(exc, PermissionError):
        return f"cannot launch {command}: not executable ({why})"
    return f"cannot launch {command}: {why}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m git_orch.agent.supervise")
    parser.add_argument("--repo", required=True)
    parser.add_argument("--task", required=True)
    parser.add_argument("--agent", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--ready-fd", type=int)
    args = parser.parse_args(argv)
    ready = os.fdopen(args.ready_fd, "w") if args.ready_fd is not None else None
    sup: Supervisor | None = None
    try:
        orepo = OrchRepo(args.repo)
        folder = runner.run_dir(orepo, args.task)
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / "supervisor.lock", "w")  # noqa: SIM115 - held for our lifetime
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OrchError(f"another supervisor is running for task {args.task}") from None
        info = {"pid": os.getpid(), "run": args.run, "agent": args.agent, "host": hostname(),
                "started": runlog.iso()}
        runner.supervisor_file(orepo, args.task).write_text(json.dumps(info))
        sup = Supervisor(orepo, args.task, args.agent, args.run, ready)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, sup.on_signal)
        return sup.loop()
    except OrchError as exc:
        print(f"supervisor: {exc}", flush=True)
        _fail(sup, ready, str(exc))
        return 1
    except Exception as exc:  # noqa: BLE001 - record what we can, keep the traceback
        traceback.print_exc()
        _fail(sup, ready, f"supervisor error: {type(exc).__name__}: {exc}")
        return 3


def _fail(sup: Supervisor | None, ready: IO[str] | None, why: str) -> None:
    if sup is not None and sup.open is not None:
        started, attempt = sup.open
        try:
            sup.end(started, attempt, {"ok": False, "outcome": runlog.FAILED,
                                       "exit_code": None, "reason": why})
        except Exception:  # noqa: BLE001 - nothing more we can do; the run shows as dead
            traceback.print_exc()
    if sup is not None:
        sup.report(f"error {why}")
    elif ready is not None:
        try:
            ready.write(f"error {why}\n")
            ready.close()
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
