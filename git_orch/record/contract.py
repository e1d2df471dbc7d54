"""The task contract: an immutable commit under refs/orch/tasks/<id>.

Its parent is the task's base and its tree the base tree (an empty change),
so `git log refs/orch/tasks/ID` shows the contract on top of its base. The
contract itself is the commit message's trailers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from git_orch.errors import OrchError
from git_orch.judge import trailers
from git_orch.objects import Objects, commit_parts
from git_orch.record import killpoint
from git_orch.record.ids import check_task_id
from git_orch.record.ledger import commit_bytes
from git_orch.repo import raw_object

if TYPE_CHECKING:
    import pygit2

CONTRACT_SCHEMA = "1"


class Contract:
    """A plain class (fields compared, as a dataclass's are): a dataclass costs
    ~0.4 ms a process to define, dataclasses itself ~0.6 ms to import."""

    def __init__(
        self,
        task_id: str,
        title: str,
        base: str,
        body: str = "",
        package: str | None = None,
        allow: list[str] | None = None,
        forbid: list[str] | None = None,
        gates: list[str] | None = None,
        commit: str | None = None,
    ) -> None:
        self.task_id = task_id
        self.title = title
        self.base = base
        self.body = body
        self.package = package
        self.allow = [] if allow is None else allow
        self.forbid = [] if forbid is None else forbid
        self.gates = [] if gates is None else gates
        self.commit = commit

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __repr__(self) -> str:
        return f"Contract({vars(self)})"

    def message(self) -> str:
        pairs = [("Orch-Task", self.task_id), ("Orch-Schema", CONTRACT_SCHEMA)]
        if self.package:
            pairs.append(("Orch-Package", self.package))
        pairs += [("Orch-Allow", spec) for spec in self.allow]
        pairs += [("Orch-Forbid", spec) for spec in self.forbid]
        pairs += [("Orch-Gate", gate) for gate in self.gates]
        body = f"{self.body.strip()}\n\n" if self.body.strip() else ""
        return f"{self.title}\n\n{body}{trailers.format_trailers(pairs)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.task_id,
            "title": self.title,
            "body": self.body,
            "package": self.package,
            "base": self.base,
            "allow": self.allow,
            "forbid": self.forbid,
            "gates": self.gates,
            "commit": self.commit,
        }


def check_single_line(what: str, value: str) -> str:
    if any(ch in value for ch in "\n\r\0"):
        raise OrchError(f"{what} must be a single line without NUL")
    if not value.strip():
        raise OrchError(f"{what} must not be empty")
    return value.strip()


def write_contract(objs: Objects, contract: Contract, ident: tuple[str, str]) -> str:
    """Create the contract commit (no ref yet), signed as `ident`, and return its id.

    Written as a loose object (git_orch.objects), as the ledger's commits are: no
    libgit2 import for `start`."""
    base = objs.read_kind(contract.base, "commit")
    tree = commit_parts(base)[0].get("tree", [""])[0]
    data = commit_bytes(tree, [contract.base], ident, contract.message())
    with killpoint.step("contract commit"):
        oid = objs.write("commit", data)
    contract.commit = oid
    return oid


def read_contract(repo: pygit2.Repository, commit_id: str | pygit2.Oid) -> Contract:
    """Parse a contract commit; refuse one that is not a well-formed contract."""
    import pygit2

    full_id = str(commit_id)
    try:
        found = raw_object(repo, commit_id)
        if found is None:  # not a full id: the object it names, if any
            commit = repo[commit_id]
            found, full_id = (commit.type, commit.read_raw()), str(commit.id)
    except (KeyError, ValueError, OrchError):
        raise OrchError(f"contract commit {commit_id} is missing") from None
    if found[0] != pygit2.GIT_OBJECT_COMMIT:
        raise OrchError(f"contract {commit_id} is not a commit")
    return parse_contract(full_id, found[1])


def load_contract(objs: Objects, commit_id: str) -> Contract:
    """read_contract without libgit2 (through one `git cat-file --batch`)."""
    found = objs.read(commit_id)
    if found is None:
        raise OrchError(f"contract commit {commit_id} is missing")
    if found[0] != "commit":
        raise OrchError(f"contract {commit_id} is not a commit")
    return parse_contract(commit_id, found[1])


def parse_contract(commit_id: str, raw: bytes) -> Contract:
    """The contract in a raw commit object; refused unless well-formed."""
    headers, raw_message = commit_parts(raw)
    # Our own bytes are UTF-8; the `encoding` header is never trusted.
    message = raw_message.decode("utf-8", "replace")
    found = trailers.by_key(trailers.parse_trailers(message))
    task_id = found.get("orch-task", [None])[0]
    if task_id is None:
        raise OrchError(f"contract {str(commit_id)[:12]} has no Orch-Task trailer")
    try:
        check_task_id(task_id)
    except OrchError as exc:  # data, not the command line: a refusal, not a usage error
        raise OrchError(f"contract {str(commit_id)[:12]}: {exc}") from None
    parents = headers.get("parent", [])
    if len(parents) != 1:
        raise OrchError(f"contract {str(commit_id)[:12]} must have exactly one parent")
    title, _, rest = message.partition("\n")
    block_start = rest.rfind("\n\nOrch-Task:")
    body = rest[:block_start].strip() if block_start > 0 else ""
    return Contract(
        task_id=task_id,
        title=title.strip(),
        base=parents[0],
        body=body,
        package=found.get("orch-package", [None])[0],
        allow=found.get("orch-allow", []),
        forbid=found.get("orch-forbid", []),
        gates=found.get("orch-gate", []),
        commit=commit_id,
    )
