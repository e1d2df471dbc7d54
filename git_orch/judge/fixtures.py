"""Eval fixtures: failures once caught, kept in git and replayed against today's rules.

`git orch fixture add ID` stores a task whose review did not pass as a commit
at `refs/orch/fixtures/<name>`: its tree holds `fixture.json` (the task's
contract, the reviewed range, the rules that caught it, a note), and its
parents are the offending head and the contract commit, so every object the
replay needs stays reachable as long as the fixture ref exists.

`git orch eval` replays each fixture's range under its stored contract
through the same review rules `git orch review` uses, with the current
orch.toml, and fails when a rule that once caught the failure no longer
does: a regression test for the orchestration policy itself. Fixture refs are
not synced; push them like any ref (`git push origin 'refs/orch/fixtures/*'`)
for CI to fetch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pygit2

from git_orch.config import load_policy
from git_orch.errors import OrchError
from git_orch.judge.findings import RULES
from git_orch.judge.review import range_findings
from git_orch.record.contract import check_single_line, read_contract
from git_orch.record.ledger import HEX40, ZERO_OID, EventLog
from git_orch.record.state import TaskState
from git_orch.record.tasks import Task, contract_oid, load_task
from git_orch.record.timefmt import iso
from git_orch.repo import OrchRepo, blob_bytes, peel

PREFIX = "refs/orch/fixtures/"
FILE_NAME = "fixture.json"
CAUGHT_BY = ("reject", "concern")  # severities that mean "caught"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_FIXTURE_BYTES = 256 * 1024


@dataclass
class Fixture:
    name: str
    task: str
    contract: str
    base: str
    head: str
    expected: list[str]
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"schema": 1, "name": self.name, "task": self.task, "contract": self.contract,
                "base": self.base, "head": self.head, "expected": self.expected,
                "note": self.note}


@dataclass
class Replay:
    fixture: Fixture
    found: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def missing(self) -> list[str]:
        return [rule for rule in self.fixture.expected if rule not in self.found]

    @property
    def ok(self) -> bool:
        return self.error is None and not self.missing

    def to_json(self) -> dict[str, Any]:
        return {"name": self.fixture.name, "task": self.fixture.task, "ok": self.ok,
                "expected": self.fixture.expected, "found": self.found,
                "missing": self.missing, "error": self.error}


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or ".." in name or name.endswith(".lock"):
        raise OrchError(f"fixture name {name!r}: use letters, digits, '.', '_' and '-' "
                        "(at most 64, starting with a letter or digit)")
    return name


def add(orepo: OrchRepo, task_id: str, name: str | None, note: str | None) -> Fixture:
    """Store the task's latest not-passing review as a fixture (refused if it passed)."""
    task = load_task(orepo, task_id)
    review = task.state.review or {}
    head, base = review.get("head"), review.get("base")
    if not isinstance(head, str) or not isinstance(base, str):
        raise OrchError(f"task {task_id} has no review to keep (git orch review {task_id})")
    rules = review.get("findings", {}).get("rules") if isinstance(review.get("findings"),
                                                                  dict) else None
    if review.get("verdict") == "pass" or not isinstance(rules, list):
        raise OrchError(f"the latest review of {task_id} passed: nothing was caught to keep")
    expected = sorted(_caught_rules(orepo, review)
                      or {r for r in rules if r in RULES and RULES[r][0] in CAUGHT_BY})
    contract = task.contract.commit or contract_oid(orepo, task_id)
    fixture = Fixture(check_name(name or task_id), task_id, contract, base, head,
                      expected, check_single_line("--note", note) if note else None)
    ref = PREFIX + fixture.name
    if orepo.ref_target(ref) is not None:
        raise OrchError(f"fixture {fixture.name} exists ({ref}); pick another --name")
    repo = orepo.pygit
    data = json.dumps({**fixture.to_json(), "created": iso(), "by": orepo.actor},
                      indent=2, sort_keys=True) + "\n"
    builder = repo.TreeBuilder()
    builder.insert(FILE_NAME, repo.create_blob(data.encode()), pygit2.enums.FileMode.BLOB)
    message = f"git-orch fixture {fixture.name}: task {task_id}\n"
    commit = repo.create_commit(None, orepo.signature, orepo.signature, message,
                                builder.write(), [pygit2.Oid(hex=head),
                                                  pygit2.Oid(hex=contract)])
    orepo.git_common(["update-ref", ref, str(commit), ZERO_OID])
    return fixture


def _caught_rules(orepo: OrchRepo, review: dict[str, Any]) -> set[str]:
    """Rules of the review's reject and concern findings (from the note on its head)."""
    from git_orch.agent.rework import note_findings

    full = note_findings(orepo, review) or []
    return {str(f["rule"]) for f in full if f.get("severity") in CAUGHT_BY}


def load_all(orepo: OrchRepo) -> tuple[list[Fixture], list[str]]:
    """Every fixture, and one problem line per fixture ref that cannot be read."""
    found, problems = [], []
    for name, oid in sorted(orepo.refs_under(PREFIX).items()):
        try:
            found.append(_read(orepo, name, oid))
        except OrchError as exc:
            problems.append(f"{PREFIX}{name}: {exc}")
    return found, problems


def _read(orepo: OrchRepo, name: str, oid: str) -> Fixture:
    try:
        commit = peel(orepo.pygit, oid, pygit2.Commit)
        entry = commit.tree[FILE_NAME]
    except (KeyError, ValueError, OrchError):
        raise OrchError(f"not a fixture commit (no {FILE_NAME})") from None
    data = blob_bytes(orepo.pygit, entry.id)
    if len(data) > MAX_FIXTURE_BYTES:
        raise OrchError(f"{FILE_NAME} is over {MAX_FIXTURE_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise OrchError(f"{FILE_NAME} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema") != 1:
        raise OrchError(f"{FILE_NAME} must be an object with schema 1")
    for key in ("contract", "base", "head"):
        if not isinstance(doc.get(key), str) or not HEX40.fullmatch(doc[key]):
            raise OrchError(f"{FILE_NAME}: {key} must be a 40-hex commit id")
    expected = doc.get("expected")
    if not isinstance(expected, list) or not all(isinstance(r, str) for r in expected):
        raise OrchError(f"{FILE_NAME}: expected must be a list of rule ids")
    note = doc.get("note")
    return Fixture(name, str(doc.get("task")), doc["contract"], doc["base"], doc["head"],
                   expected, note if isinstance(note, str) else None)


def replay(orepo: OrchRepo, fixture: Fixture) -> Replay:
    """Run today's review rules over the fixture's range under its stored contract."""
    result = Replay(fixture)
    try:
        contract = read_contract(orepo.pygit, fixture.contract)
        task = Task(contract, EventLog(), TaskState(contract.task_id))
        findings, _, _ = range_findings(orepo, task, fixture.base, fixture.head,
                                        load_policy(orepo))
    except (OrchError, KeyError, ValueError) as exc:
        result.error = str(exc)
        return result
    result.found = sorted({f.rule for f in findings if f.severity in CAUGHT_BY})
    return result


def run_eval(orepo: OrchRepo) -> tuple[list[Replay], list[str]]:
    fixtures, problems = load_all(orepo)
    return [replay(orepo, f) for f in fixtures], problems
