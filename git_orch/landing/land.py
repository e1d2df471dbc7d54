"""`git orch land` and `git orch abandon`: finish a task, step by step, resumably.

Land merges an accepted task into the main branch without checking anything
out: `git merge-tree --write-tree` computes the result, `git commit-tree`
makes the commit, and the target ref moves in the SAME `update-ref`
transaction as the task's `merged` event (compare-and-swap on both). So the
merge works whether or not the target is checked out, and a crash can never
leave a merge without its event or the reverse. A worktree that has the
target checked out (clean) is then moved along with `read-tree -m -u`.

Each step (merged, pushed, cleaned) is an event; running `land` again after a
failure or a kill continues with the steps that remain.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from git_orch.config import CONFIG_NAME, Policy, committed_policy, load_policy, parse_duration
from git_orch.errors import OrchError
from git_orch.gitcmd import GitError, clean_env, run_git
from git_orch.landing import watch
from git_orch.objects import commit_parts
from git_orch.record import ledger
from git_orch.record.ids import task_branch
from git_orch.record.ledger import Event, EventLog, RefUpdate
from git_orch.record.state import (
    ABANDONED,
    ACCEPTED,
    CLEANED,
    ENDED,
    MERGED,
    PUSHED,
    UNREVIEWED,
    TaskState,
    fold,
)
from git_orch.record.tasks import Task, contract_oid, load_task, record, transition
from git_orch.repo import OrchRepo, Worktree
from git_orch.workspace import workspaces
from git_orch.workspace.collect import COLLECT_PREFIX, collected_refs
from git_orch.workspace.reconcile import ARCHIVE_PREFIX

STRATEGIES = ("merge", "squash", "ff")


@dataclass
class LandPolicy:
    strategy: str = "merge"
    push: bool = False
    remote: str = "origin"
    post_merge_gates: list[str] = field(default_factory=list)
    gate_timeout: int = 600


def land_policy(policy: Policy) -> LandPolicy:
    """The `[land]` table of orch.toml, checked."""
    section = policy.raw.get("land", {})
    if not isinstance(section, dict):
        raise OrchError(f"{CONFIG_NAME}: [land] must be a table")
    default = LandPolicy()
    strategy = section.get("strategy", default.strategy)
    if strategy not in STRATEGIES:
        raise OrchError(f"{CONFIG_NAME}: [land].strategy must be one of {', '.join(STRATEGIES)}")
    push = section.get("push", default.push)
    if not isinstance(push, bool):
        raise OrchError(f"{CONFIG_NAME}: [land].push must be true or false")
    remote = section.get("remote", default.remote)
    if not isinstance(remote, str) or not remote or remote.startswith("-"):
        raise OrchError(f"{CONFIG_NAME}: [land].remote must be a remote name")
    gates = section.get("post_merge_gates", [])
    if not isinstance(gates, list) or not all(isinstance(g, str) for g in gates):
        raise OrchError(f"{CONFIG_NAME}: [land].post_merge_gates must be a list of strings")
    timeout = parse_duration(section.get("gate_timeout", "10m"))
    return LandPolicy(str(strategy), push, remote, [str(g) for g in gates], timeout)


@dataclass
class LandResult:
    task_id: str
    target: str
    state: str
    strategy: str | None = None
    commit: str | None = None
    steps: list[str] = field(default_factory=list)  # what this run did, in order
    pushed: bool = False  # the target is on the remote (this run or an earlier one)
    remote: str = "origin"

    @property
    def push_line(self) -> str:
        """Always printed: whether the landed work is on the remote."""
        if self.pushed:
            return f"pushed to {self.remote}"
        return "not pushed (set [land] push = true or pass --push)"

    def to_json(self) -> dict[str, Any]:
        return {
            "pushed": self.pushed,
            "remote": self.remote,
            "task": self.task_id,
            "target": self.target,
            "state": self.state,
            "strategy": self.strategy,
            "commit": self.commit,
            "steps": self.steps,
        }


# --- repository helpers ------------------------------------------------------


def fresh_worktrees(orepo: OrchRepo) -> list[Worktree]:
    orepo.__dict__.pop("worktrees", None)  # drop the cached listing
    return orepo.worktrees


def _git_dir(orepo: OrchRepo, path: Path) -> Path | None:
    if path == orepo.toplevel:
        return orepo.git_dir  # the worktree this process works in: git said so already
    proc = run_git(["rev-parse", "--absolute-git-dir"], path, check=False)
    return Path(proc.stdout.strip()) if proc.returncode == 0 else None


def _operation_in_progress(gitdir: Path) -> str | None:
    for name, what in (
        ("MERGE_HEAD", "a merge"),
        ("rebase-merge", "a rebase"),
        ("rebase-apply", "a rebase or am"),
        ("CHERRY_PICK_HEAD", "a cherry-pick"),
        ("REVERT_HEAD", "a revert"),
    ):
        if (gitdir / name).exists():
            return what
    return None


def _rebasing_branch(gitdir: Path) -> str | None:
    for folder in ("rebase-merge", "rebase-apply"):
        try:
            return (gitdir / folder / "head-name").read_text(encoding="utf-8").strip()
        except OSError:
            continue
    return None


def target_worktree(orepo: OrchRepo, target: str,
                    trees: list[Worktree] | None = None) -> Worktree | None:
    """The worktree that has the target checked out; refuses when one is mid-operation.

    `trees`: a listing taken since the last change to worktrees or the target (else read)."""
    ref = f"refs/heads/{target}"
    found = None
    for tree in trees if trees is not None else fresh_worktrees(orepo):
        # Only a checkout of the target, or a detached HEAD (a rebase), can be busy with it.
        if not tree.path.is_dir() or (tree.branch is not None and tree.branch != ref):
            continue
        gitdir = _git_dir(orepo, tree.path)
        if gitdir is None:
            continue
        if tree.branch == ref or _rebasing_branch(gitdir) == ref:
            busy = _operation_in_progress(gitdir)
            if busy is not None:
                raise OrchError(
                    f"{busy} is in progress in {tree.path} (on {target}): finish or abort it "
                    "first (e.g. git merge --abort / git rebase --abort); nothing changed"
                )
            found = tree
    return found


def _refuse_dirty_target(tree: Worktree, target: str) -> None:
    proc = run_git(["status", "--porcelain", "--untracked-files=no"], tree.path, check=False)
    if proc.returncode != 0 or proc.stdout.strip():
        first = proc.stdout.splitlines()[0][3:] if proc.stdout.strip() else "status failed"
        raise OrchError(
            f"{target} is checked out in {tree.path} with uncommitted changes (e.g. {first}): "
            "commit or stash them there (or switch it to another branch); nothing changed"
        )


def is_ancestor(orepo: OrchRepo, older: str, newer: str) -> bool:
    proc = run_git(
        ["--git-dir", str(orepo.common_dir), "merge-base", "--is-ancestor", older, newer],
        orepo.common_dir,
        check=False,
    )
    return proc.returncode == 0


def last_event(log: EventLog, kind: str) -> Event | None:
    found = [e for e in log.events if e.get("type") == kind]
    return found[-1] if found else None


# --- the merge -----------------------------------------------------------------


def _message(task: Task, strategy: str, head: str, orepo: OrchRepo) -> str:
    st = task.state
    verdict = "accepted"
    if st.review and isinstance(st.review.get("verdict"), str):
        verdict = " ".join(str(st.review["verdict"]).split()) or "accepted"
    if st.override:
        verdict += f" (accepted with override: {' '.join(st.override.split())})"
    title = task.contract.title
    summary = (st.summary or "").strip()
    parts = [
        f"Merge {task_branch(task.task_id)}: {title}" if strategy == "merge" else title,
    ]
    if summary:
        parts.append(summary)
    if strategy == "squash":
        log = orepo.git_common(
            ["log", "--format=- %h %s", "--no-decorate", f"{task.contract.base}..{head}"]
        )
        parts.append(f"Squashed commits of {task_branch(task.task_id)}:\n{log}")
    parts.append(
        f"Orch-Task: {task.task_id}\nOrch-Reviewed-Head: {head}\nOrch-Verdict: {verdict}"
    )
    return "\n\n".join(parts) + "\n"


def compute_merge(orepo: OrchRepo, task: Task, strategy: str, old: str, head: str) -> str:
    """The commit the target should move to; refuses on conflicts (nothing written but objects)."""
    if strategy == "ff":
        if not is_ancestor(orepo, old, head):
            raise OrchError(
                f"cannot fast-forward to {task_branch(task.task_id)}: the target has commits "
                "the task branch lacks (use --merge or --squash); nothing changed"
            )
        return head
    proc = run_git(
        ["--git-dir", str(orepo.common_dir), "merge-tree", "--write-tree", "--name-only",
         "--no-messages", old, head],
        orepo.common_dir,
        check=False,
    )
    lines = proc.stdout.splitlines()
    if proc.returncode == 1 and lines:
        paths = sorted({p for p in lines[1:] if p})
        shown = ", ".join(paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")
        raise OrchError(
            f"landing {task.task_id} conflicts in {shown}: nothing changed, the task stays "
            f"accepted; update {task_branch(task.task_id)} on the target and hand off again"
        )
    if proc.returncode != 0 or not lines:
        if "write-tree" in proc.stderr or "usage:" in proc.stderr:
            raise OrchError("land needs git 2.38 or newer (git merge-tree --write-tree)")
        raise GitError(["merge-tree"], proc.returncode, proc.stderr)
    tree = lines[0]
    parents = ["-p", old, "-p", head] if strategy == "merge" else ["-p", old]
    message = _message(task, strategy, head, orepo)
    env: dict[str, str] = {}
    if strategy == "squash":  # the squashed work keeps its author
        author = orepo.pygit[head].author
        env = {"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email}
    proc = run_git(["--git-dir", str(orepo.common_dir), "commit-tree", tree, *parents, "-F", "-"],
                   orepo.common_dir, input=message, env=env)
    return proc.stdout.strip()


def run_gates(
    orepo: OrchRepo, task_id: str, commit: str, gates: list[str], timeout: int
) -> str | None:
    """Run post-merge gates in a throw-away worktree of commit; the failing gate or None."""
    if not gates:
        return None
    logs = orepo.runtime_dir / "land"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{task_id}-gates.log"
    scratch = Path(tempfile.mkdtemp(prefix=f"gates-{task_id}-", dir=logs))
    path = scratch / "tree"
    orepo.git_common(["worktree", "add", "--detach", "--quiet", str(path), commit])
    failed: str | None = None
    try:
        with log_path.open("w", encoding="utf-8") as log:
            for gate in gates:
                argv = shlex.split(gate)
                log.write(f"$ {gate}\n")
                log.flush()
                try:
                    proc = subprocess.run(
                        argv, cwd=path, stdout=log, stderr=subprocess.STDOUT,
                        env=clean_env(), timeout=timeout, check=False,
                    )
                    code = proc.returncode
                except subprocess.TimeoutExpired:
                    log.write(f"timed out after {timeout}s\n")
                    code = -1
                except OSError as exc:
                    log.write(f"cannot run: {exc}\n")
                    code = -1
                log.write(f"exit {code}\n")
                if code != 0:
                    failed = gate
                    break
    finally:
        run_git(["--git-dir", str(orepo.common_dir), "worktree", "remove", "--force", str(path)],
                orepo.common_dir, check=False)
        run_git(["--git-dir", str(orepo.common_dir), "worktree", "prune"], orepo.common_dir,
                check=False)
        try:
            scratch.rmdir()
        except OSError:
            pass
    return failed


def read_tree(path: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """`git read-tree ARGS` in a checkout; when it refuses, once more after refreshing the
    index's stat data (a file touched but unchanged looks modified to read-tree)."""
    proc = run_git(["read-tree", *args], path, check=False)
    if proc.returncode != 0:
        run_git(["update-index", "-q", "--refresh"], path, check=False)
        proc = run_git(["read-tree", *args], path, check=False)
    return proc


def sync_worktree(tree: Worktree, previous: str, new: str) -> bool:
    """Move a clean checkout of the target from previous to new; False if it could not."""
    if previous == new:
        return True
    return read_tree(tree.path, ["-m", "-u", previous, new]).returncode == 0


def _stuck_checkout(orepo: OrchRepo, tree: Worktree, target: str, previous: str, task_id: str
                    ) -> OrchError:
    gitdir = _git_dir(orepo, tree.path)
    lock = gitdir / "index.lock" if gitdir is not None else None
    if lock is not None and lock.exists():
        return OrchError(
            f"{target} moved, but {tree.path} (where it is checked out) still has the files of "
            f"{previous[:12]}: {lock} is left from a killed git; if no git runs there, "
            f"rm {lock}, then git orch land {task_id} again"
        )
    return OrchError(
        f"{target} moved, but {tree.path} (where it is checked out) still has the files of "
        f"{previous[:12]}: see git status there, then git orch land {task_id} again (or "
        "git stash; git reset --hard HEAD to take the new files)"
    )


def refuse_stuck(orepo: OrchRepo, seen_tips: list[str | None], why: str) -> None:
    """Called on each attempt of a ledger write that moves other refs too: refuse
    when neither the ledger nor those refs moved, yet the transaction kept failing."""
    seen_tips.append(orepo.ref_oid(ledger.LEDGER_REF))
    if len(seen_tips) >= 3 and len(set(seen_tips[-3:])) == 1:
        raise OrchError(why)


def _merge(
    orepo: OrchRepo, task: Task, target: str, strategy: str, lp: LandPolicy, result: LandResult,
    push_to: str | None, trees: list[Worktree] | None = None,
) -> None:
    task_id = task.task_id
    st = task.state
    target_ref = f"refs/heads/{target}"
    old_oid = orepo.ref_oid(target_ref)
    if old_oid is None:
        raise OrchError(f"target branch {target} does not exist ([orch].main_branch)")
    head_oid = orepo.ref_oid(f"refs/heads/{task_branch(task_id)}")
    if head_oid is None:
        raise OrchError(f"branch {task_branch(task_id)} is missing: nothing to land")
    old, head = str(old_oid), str(head_oid)
    if st.accepted_head != head:
        raise OrchError(
            f"{task_branch(task_id)} moved since it was accepted (accepted "
            f"{(st.accepted_head or 'nothing')[:12]}, now {head[:12]}): review and accept "
            "the new head first; nothing changed"
        )
    checkout = target_worktree(orepo, target, trees)
    if checkout is not None:
        _refuse_dirty_target(checkout, target)  # git status refreshes the index as it goes
    if is_ancestor(orepo, head, old):
        new, contained = old, True  # already in the target (landed by hand): adopt it
    else:
        new, contained = compute_merge(orepo, task, strategy, old, head), False
    if checkout is not None and not contained:
        dry = read_tree(checkout.path, ["-m", "-u", "-n", old, new])
        if dry.returncode != 0:
            detail = GitError(["read-tree"], dry.returncode, dry.stderr)
            raise OrchError(
                f"cannot update {checkout.path} ({target} is checked out there): {detail}; "
                "move those files away; nothing changed"
            )
    if lp.post_merge_gates and not contained:
        failed = run_gates(orepo, task_id, new, lp.post_merge_gates, lp.gate_timeout)
        record(orepo, task_id, lambda _s: [{
            "type": "land-step", "step": "gates", "ok": failed is None, "commit": new,
            "failed": failed,
        }])
        if failed is not None:
            raise OrchError(
                f"post-merge gate failed: {failed!r} (log: {orepo.runtime_dir}/land/"
                f"{task_id}-gates.log); nothing merged or pushed, the task stays accepted"
            )
        result.steps.append("gates")

    def make(log: EventLog) -> list[Event]:
        now = fold(task_id, log.events)
        if now.state != ACCEPTED or now.accepted_head != head:
            raise OrchError(f"task {task_id} changed while landing ({now.state}); run land again")
        return [{
            "type": "merged", "task": task_id, "commit": new, "strategy": strategy,
            "target": target, "previous": old, "head": head, "contained": contained,
            "push": push_to,
        }]

    seen_tips: list[str | None] = []

    def move_target() -> list[RefUpdate]:
        if contained:
            return []
        current = orepo.ref_oid(target_ref)
        if current is None or str(current) != old:
            raise OrchError(f"{target} moved while landing {task_id}; nothing changed: run again")
        refuse_stuck(orepo, seen_tips, f"git refused to move {target} (a "
                     "reference-transaction hook?); nothing changed")
        return [RefUpdate(target_ref, new, old)]

    ledger.append(orepo, contract_oid(orepo, task_id), make, extra_refs=move_target,
                  message=f"git-orch: land {task_id}")
    result.commit, result.strategy = new, strategy
    result.steps.append("merged" if not contained else "merged (already contained)")
    if checkout is not None and not sync_worktree(checkout, old, new):
        raise _stuck_checkout(orepo, checkout, target, old, task_id)


def push_due(task: Task, lp: LandPolicy) -> str | None:
    """The remote a merged task must still be pushed to, or None.

    The merged event records where land was asked to push; a merge recorded
    before that field existed falls back to the committed [land] policy.
    """
    if task.state.state != MERGED:
        return None
    merged = last_event(task.log, "merged") or {}
    if "push" not in merged:
        return lp.remote if lp.push else None
    remote = merged.get("push")
    return remote if isinstance(remote, str) and remote else None


def resume_checkout(orepo: OrchRepo, task: Task) -> None:
    """Finish moving the target's checkout to a recorded merge, if a crash stopped it."""
    merged = last_event(task.log, "merged")
    if merged is not None and task.state.state in (MERGED, PUSHED, CLEANED):
        _resume_checkout(orepo, task.task_id, merged)


def _resume_checkout(orepo: OrchRepo, task_id: str, merged: Event,
                     trees: list[Worktree] | None = None) -> None:
    """After a crash between the ref move and the worktree update, finish the update."""
    target, previous, new = merged.get("target"), merged.get("previous"), merged.get("commit")
    if not (isinstance(target, str) and isinstance(previous, str) and isinstance(new, str)):
        return
    tree = target_worktree(orepo, target, trees)
    if tree is None or tree.head != new or previous == new:
        return
    index_at_previous = run_git(["diff-index", "--cached", "--quiet", previous], tree.path,
                                check=False).returncode == 0
    if index_at_previous and not run_git(["diff-index", "--cached", "--quiet", new], tree.path,
                                         check=False).returncode == 0:
        if not sync_worktree(tree, previous, new):
            raise _stuck_checkout(orepo, tree, target, previous, task_id)


# --- push ----------------------------------------------------------------------


def push_refspecs(target: str, task_id: str) -> list[str]:
    """What land publishes: the target, the ledger and this task's contract, never forced."""
    return [
        f"refs/heads/{target}:refs/heads/{target}",
        f"{ledger.LEDGER_REF}:{ledger.LEDGER_REF}",
        f"refs/orch/tasks/{task_id}:refs/orch/tasks/{task_id}",
    ]


def _push_failure(porcelain: str) -> str:
    """The refs the remote refused and why, from `git push --porcelain` (atomic noise dropped)."""
    refused = []
    for line in porcelain.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] == "!" and "atomic push failed" not in parts[2]:
            refused.append(f"{parts[1].rpartition(':')[2]} {parts[2]}")
    return "; ".join(refused)


def _push(orepo: OrchRepo, task_id: str, target: str, remote: str) -> None:
    if remote.startswith("-"):
        raise OrchError(f"bad remote name {remote!r}")
    if run_git(["remote", "get-url", remote], orepo.main_worktree, check=False).returncode != 0:
        raise OrchError(
            f"no remote {remote!r}: add it, set [land].remote, or land with --no-push "
            f"(task {task_id} is merged locally; git orch land {task_id} resumes)"
        )
    proc = run_git(["push", "--atomic", "--porcelain", remote, *push_refspecs(target, task_id)],
                   orepo.main_worktree, check=False)
    if proc.returncode != 0:
        why = _push_failure(proc.stdout) or GitError(["push"], proc.returncode, proc.stderr).args[0]
        raise OrchError(
            f"push to {remote} failed, nothing was sent (atomic): {why}; {target} is merged "
            f"locally (state merged): fix that (e.g. sync the ledger), then git orch land "
            f"{task_id} again"
        )
    transition(orepo, task_id, {"type": "pushed", "remote": remote, "target": target})


# --- cleanup ---------------------------------------------------------------------


def _contains(orepo: OrchRepo, target: str, commit: str) -> bool:
    """Whether the target branch contains commit; its tip or a parent of it (what land
    just made) is known without running git."""
    tip = orepo.ref_oid(f"refs/heads/{target}")
    if tip is None:
        return False
    top = orepo.objects.read(tip)
    parents = commit_parts(top[1])[0].get("parent", []) if top and top[0] == "commit" else []
    if tip == commit or commit in parents:
        return True
    return is_ancestor(orepo, commit, tip)


def _archive(orepo: OrchRepo, task_id: str, head: str) -> None:
    ref = f"{ARCHIVE_PREFIX}{task_id}"
    current = orepo.ref_oid(ref)
    if current is not None and str(current) == head:
        return
    if current is not None:
        raise OrchError(f"{ref} already points at {str(current)[:12]}, not {head[:12]}; refusing")
    ok, err = ledger.update_refs(orepo, [RefUpdate(ref, head, None)], f"archive {task_id}")
    if not ok:
        raise OrchError(f"could not write {ref}: {err}")


def cleanup(
    orepo: OrchRepo, task_id: str, target: str | None, *, force: bool = False,
    record_event: bool = True, trees: list[Worktree] | None = None,
) -> list[str]:
    """Remove the task's worktree and branch, keeping its commits reachable; record cleaned.

    `trees`: a listing of the worktrees taken since they last changed (else read)."""
    done: list[str] = []
    branch = task_branch(task_id)
    recorded = load_task(orepo, task_id).state.worktree
    ws = workspaces.locate(orepo, task_id, recorded,
                           trees if trees is not None else fresh_worktrees(orepo))
    if ws is not None and ws.path == orepo.main_worktree:
        raise OrchError(
            f"{branch} is checked out in the main worktree {ws.path}: switch it to another "
            "branch, then run the command again"
        )
    if ws is not None and ws.mode == workspaces.WORKTREE and ws.exists() \
            and not (ws.path / ".git").exists():
        # `git worktree remove` was killed half-way: it had checked the tree clean
        # and deleted its .git file; what is left is the rest of a checkout of
        # commits that are safe on the branch.
        shutil.rmtree(ws.path)
        orepo.git(["worktree", "prune"], cwd=orepo.main_worktree)
        done.append(f"removed what was left of worktree {ws.path}")
    elif ws is not None and ws.exists():
        if not force:
            workspaces.refuse_dirty(ws, "save or discard them, then run the command again "
                                        f"(the task's commits are safe on {branch})")
        done.append(workspaces.remove(orepo, ws, force=force))
    elif ws is not None:
        orepo.git(["worktree", "prune"], cwd=orepo.main_worktree)
        done.append(f"pruned missing worktree {ws.path}")
    deletes = collected_refs(orepo, task_id)
    forgets = [f"deleted {COLLECT_PREFIX}{task_id}/"] if deletes else []
    head = orepo.ref_oid(f"refs/heads/{branch}")
    if head is not None:
        reachable = target is not None and _contains(orepo, target, head)
        if not reachable:
            _archive(orepo, task_id, head)
            done.append(f"kept {head[:12]} as {ARCHIVE_PREFIX}{task_id}")
        deletes[f"refs/heads/{branch}"] = head
        forgets.append(f"deleted branch {branch}")
    where = str(ws.path) if ws is not None else None
    # The branch and what collect kept of it go in one transaction: with the
    # cleaned event when it is recorded (one git process less).
    if not record_event:
        if deletes:
            orepo.git_common(["update-ref", "--stdin"],
                             input="".join(f"delete {ref} {oid}\n" for ref, oid in deletes.items()))
        return done + forgets

    seen_tips: list[str | None] = []

    def delete_refs() -> list[RefUpdate]:
        for ref, oid in deletes.items():
            if orepo.ref_oid(ref) != oid:
                raise OrchError(f"{ref} moved while cleaning up {task_id}; nothing deleted: "
                                "run the command again")
        refuse_stuck(orepo, seen_tips, f"git refused to delete {', '.join(deletes)} (a "
                     "reference-transaction hook?); run the command again")
        return [RefUpdate(ref, ledger.ZERO_OID, oid) for ref, oid in deletes.items()]

    transition(orepo, task_id, {"type": "cleaned", "worktree": where, "branch_head": head},
               extra_refs=delete_refs)
    return done + forgets


# --- the commands ----------------------------------------------------------------


def _refuse_state(task_id: str, st: TaskState) -> None:
    if st.state == UNREVIEWED:
        raise OrchError(f"task {task_id} is completed-unreviewed: review and accept it first")
    if st.state == ABANDONED:
        why = st.reason or "no reason"
        raise OrchError(f"task {task_id} was abandoned ({why}): nothing to land")
    raise OrchError(f"task {task_id} is {st.state}: only an accepted task can land")


NOT_PUSHED = "not pushed (set [land] push = true or pass --push)"


def land(
    orepo: OrchRepo,
    task_id: str,
    *,
    strategy: str | None = None,
    push: bool | None = None,
    keep_worktree: bool = False,
    override: str | None = None,
    worktrees: list[Worktree] | None = None,
) -> LandResult:
    """Land task_id; override is a person's reason to land on a rewritten target.

    `worktrees`: the caller's listing, if taken since worktrees last changed. One
    listing serves the whole run (only land's own merge moves a checkout's HEAD,
    which nothing after it reads), but for after gates or a push, which take time."""
    if override is not None and not override.strip():
        raise OrchError("--override needs a reason: --override --reason REASON")
    policy = load_policy(orepo)
    # [land] is read as committed on the target, like review's gates: an
    # uncommitted edit cannot change what land runs or where it pushes.
    committed = committed_policy(orepo, f"refs/heads/{policy.main_branch}")
    lp = land_policy(committed or policy)
    strategy = strategy or lp.strategy
    do_push = lp.push if push is None else push
    task = load_task(orepo, task_id)
    result = LandResult(task_id, policy.main_branch, task.state.state, remote=lp.remote)
    trees = worktrees if worktrees is not None else fresh_worktrees(orepo)
    merged_now = task.state.state == ACCEPTED
    if merged_now:
        _check_target(orepo, policy, task_id, override)
        _merge(orepo, task, policy.main_branch, strategy, lp, result,
               lp.remote if do_push else None, trees)
        task = load_task(orepo, task_id)
    elif task.state.state not in (MERGED, PUSHED, CLEANED):
        _refuse_state(task_id, task.state)
    merged = last_event(task.log, "merged") or {}
    target = merged.get("target") if isinstance(merged.get("target"), str) else None
    result.target = target or result.target
    result.commit = result.commit or merged.get("commit")
    result.strategy = result.strategy or merged.get("strategy")
    if task.state.state == MERGED:
        if not merged_now:  # _merge moved the checkout along, or refused
            _resume_checkout(orepo, task_id, merged, trees)
        remote = push_due(task, lp) if push is None else (lp.remote if push else None)
        if remote is not None:
            _push(orepo, task_id, result.target, remote)
            result.steps.append(f"pushed to {remote}")
        else:
            result.steps.append(NOT_PUSHED)
    task = load_task(orepo, task_id)
    if not task.state.cleaned and not keep_worktree:
        if any(step == "gates" or step.startswith("pushed to") for step in result.steps):
            trees = fresh_worktrees(orepo)  # time passed: worktrees may have changed meanwhile
        result.steps.extend(cleanup(orepo, task_id, result.target, trees=trees))
        result.steps.append("cleaned")
    task = load_task(orepo, task_id)
    result.state = task.state.state
    result.pushed = any(e.get("type") == "pushed" for e in task.log.events)
    return result


def _check_target(orepo: OrchRepo, policy: Policy, task_id: str, override: str | None) -> None:
    """Before merging: record bypasses seen on the target, refuse a rewritten one."""
    states, bases = watch.target_states(orepo)
    found = watch.watch(orepo, policy, states, bases)
    watch.record_bypasses(orepo, found, states)
    watch.refuse_rewritten(found, override)
    if override is not None and found:
        record(orepo, task_id, lambda _s: [{
            "type": "land-step", "step": "target-check", "ok": False,
            "override": " ".join(override.split()), "findings": [f.to_json() for f in found],
        }])


@dataclass
class AbandonResult:
    task_id: str
    head: str | None
    archive: str | None
    steps: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task_id, "head": self.head, "archive": self.archive,
                "steps": self.steps, "state": ABANDONED}


def abandon(orepo: OrchRepo, task_id: str, reason: str, *, discard: bool = False) -> AbandonResult:
    """Stop a task without merging; its commits stay reachable at refs/orch/archive/<id>."""
    reason = " ".join(reason.split())
    task = load_task(orepo, task_id)
    st = task.state
    steps: list[str] = []
    head_oid = orepo.ref_oid(f"refs/heads/{task_branch(task_id)}")
    head = str(head_oid) if head_oid is not None else None
    archive = f"{ARCHIVE_PREFIX}{task_id}"
    if st.state in ENDED and st.state != ABANDONED:
        raise OrchError(f"task {task_id} is {st.state}: it has landed; nothing to abandon")
    if st.state != ABANDONED:
        if not reason:
            raise OrchError("--reason must say why the task is abandoned")
        ws = workspaces.locate(orepo, task_id, st.worktree, fresh_worktrees(orepo))
        if ws is not None and not discard:
            workspaces.refuse_dirty(ws, "commit them (they will be archived) or pass "
                                        "--discard-changes; nothing changed")

        def make(log: EventLog) -> list[Event]:
            now = fold(task_id, log.events)
            if not now.can("abandoned"):
                raise OrchError(f"task {task_id} is {now.state}: cannot abandon it now")
            return [{"type": "abandoned", "task": task_id, "reason": reason, "head": head,
                     "archive": archive if head else None}]

        def keep_head() -> list[RefUpdate]:
            if head is None or orepo.ref_oid(archive) is not None:
                return []
            return [RefUpdate(archive, head, None)]

        ledger.append(orepo, contract_oid(orepo, task_id), make, extra_refs=keep_head,
                      message=f"git-orch: abandon {task_id}")
        steps.append("abandoned")  # cleanup says where the head is kept
    elif st.cleaned:
        steps.append("already abandoned and cleaned")
        return AbandonResult(task_id, head, archive if orepo.ref_oid(archive) else None, steps)
    steps.extend(cleanup(orepo, task_id, None, force=discard))
    steps.append("cleaned")
    return AbandonResult(task_id, head, archive if orepo.ref_oid(archive) else None, steps)
