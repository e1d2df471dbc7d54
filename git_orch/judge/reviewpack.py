"""Review packs for an outside reviewer, and importing that reviewer's verdict.

A pack is a folder a reviewer of another model family (or a person) can read
without git-orch: the patch, the changed files, the contract and claims, our
own findings, and a prompt that asks for a verdict as JSON. `review-import`
validates that JSON strictly (schema in refs-schema.md) and records it like
any review, against the head it names, which must still be the branch head.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from git_orch.agent.runlog import agent_said
from git_orch.config import load_policy
from git_orch.errors import OrchError
from git_orch.gitcmd import run_git
from git_orch.judge.findings import RULES, SEVERITIES, VERDICTS, verdict_of
from git_orch.judge.review import Review, branch_head, record_verdict, review_base
from git_orch.record.ledger import HEX40, Event
from git_orch.record.tasks import load_task
from git_orch.repo import OrchRepo

PACK_FILES = ("diff.patch", "changed-files.txt", "evidence.md", "findings.json",
              "reviewer-prompt.md")
MAX_VERDICT_BYTES = 1024 * 1024
MAX_FINDINGS = 1000
MAX_TEXT = 4000
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")

TOP_KEYS = {"schema": True, "task": True, "head": True, "verdict": True, "reviewer": True,
            "findings": True, "summary": False}
FINDING_KEYS = {"rule": True, "severity": True, "message": True, "path": False,
                "commit": False}


def write_pack(orepo: OrchRepo, result: Review, folder: Path) -> list[Path]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OrchError(f"cannot create the review pack folder {folder}: "
                        f"{exc.strerror or exc}") from None
    task = load_task(orepo, result.task_id)
    patch = run_git(["diff", "-M", "-C", "--no-ext-diff", "--no-color", result.base,
                     result.head, "--"], orepo.toplevel).stdout
    files = {
        "diff.patch": patch,
        "changed-files.txt": "".join(_change_line(c.to_json()) for c in result.changes),
        "evidence.md": _evidence_md(task.contract.to_json(), task.state.summary,
                                    task.state.risks, result, agent_said(task.state)),
        "findings.json": json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n",
        "reviewer-prompt.md": _prompt(result),
    }
    written = []
    try:
        for name in PACK_FILES:
            path = folder / name
            path.write_text(files[name], encoding="utf-8", errors="surrogateescape")
            written.append(path)
    except OSError as exc:
        raise OrchError(f"cannot write the review pack in {folder}: "
                        f"{exc.strerror or exc}") from None
    return written


def _change_line(change: dict[str, Any]) -> str:
    path = change["path"] if not change["old_path"] else f"{change['old_path']} -> {change['path']}"
    extra = "\tbinary" if change["binary"] else ""
    return f"{change['status']}\t{change['old_mode']}->{change['new_mode']}\t{path}{extra}\n"


def _evidence_md(contract: dict[str, Any], summary: str | None, risks: list[str],
                 result: Review, said: dict[str, Any] | None) -> str:
    lines = [f"# Task {result.task_id}: {contract['title']}", ""]
    if contract["body"]:
        lines += [contract["body"], ""]
    lines += [f"- base: `{result.base}`", f"- head: `{result.head}`"]
    lines += [f"- allowed: `{spec}`" for spec in contract["allow"]] or ["- allowed: everything"]
    lines += [f"- forbidden: `{spec}`" for spec in contract["forbid"]]
    lines += [f"- gate: `{gate}`" for gate in contract["gates"]]
    lines += ["", "## Worker's handoff", "", f"Summary: {summary or '(none)'}", ""]
    lines += [f"- risk: {risk}" for risk in risks]
    if said is not None:  # the agent's own closing words: a claim, not evidence
        lines += ["", f"## What the agent said (attempt {said['attempt']}, {said['agent']})",
                  "", "```text", said["text"].replace("```", "'''"), "```"]
    lines += ["", "## Commits and their trailers", ""]
    for info in result.commits:
        lines.append(f"### {info.oid[:12]} {info.summary}" + (" (merge)" if info.merge else ""))
        lines += [f"- `{t.key}: {t.value}`" for t in info.trailers] or ["- (no trailers)"]
        lines.append("")
    return "\n".join(lines) + "\n"


def reply_format(kind: str, name: str, head: str) -> str:
    """The verdict JSON a reviewer must answer with, for a task's or a package's pack
    (parse_verdict reads it back)."""
    return f"""Reply with ONLY this JSON (no prose around it):

```json
{{"schema": 1, "{kind}": "{name}", "head": "{head}",
 "verdict": "pass | concerns | reject", "reviewer": "<your name and model>",
 "summary": "<one paragraph>",
 "findings": [{{"rule": "<rule id>", "severity": "reject | concern | info",
   "message": "<what and why>", "path": "<file or null>", "commit": "<oid or null>"}}]}}
```

The verdict must follow from the findings: `reject` if any finding has
severity reject, else `concerns` if any has severity concern, else `pass`.
"""


def _prompt(result: Review) -> str:
    rules = "\n".join(f"- `{rule}` ({sev}): {what}" for rule, (sev, what) in RULES.items())
    return f"""# Review request: task {result.task_id}

You review one unit of work by an AI coding agent. Judge the change itself,
not the agent's description of it. Files in this folder:

- `diff.patch`: the change from base `{result.base[:12]}` to head `{result.head[:12]}`.
- `changed-files.txt`: status, modes and paths (binary files marked).
- `evidence.md`: the task contract (allowed/forbidden paths, gates), the
  worker's handoff and each commit's trailers (claims and their labels).
- `findings.json`: what git-orch's automatic review found ({result.verdict}).

Evidence labels: `direct` = observed on the real target (needs an artifact),
`proxy` = indirect, `local` = a local check, `blocked` = not proven. A claim
stronger than its label is an overclaim. Look for: changes outside the task,
claims the diff does not support, missing tests, risky or hidden changes.

{reply_format("task", result.task_id, result.head)}\
Rule ids are lowercase words joined by `-`; reuse these where they fit:

{rules}
"""


def _check_keys(obj: dict[str, Any], spec: dict[str, bool], where: str) -> None:
    unknown = sorted(set(obj) - set(spec))
    if unknown:
        raise OrchError(f"{where}: unknown key {unknown[0]!r}")
    for key, required in spec.items():
        if required and key not in obj:
            raise OrchError(f"{where}: missing key {key!r}")


def _text(value: object, where: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise OrchError(f"{where} must be a non-empty string")
    if len(value) > MAX_TEXT or "\0" in value:
        raise OrchError(f"{where} is too long or contains NUL")
    return value


def parse_verdict(data: bytes, where: str) -> dict[str, Any]:
    """Validate an outside reviewer's verdict; one clear error for the first problem."""
    if len(data) > MAX_VERDICT_BYTES:
        raise OrchError(f"{where}: over {MAX_VERDICT_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise OrchError(f"{where}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise OrchError(f"{where}: must be a JSON object")
    _check_keys(doc, TOP_KEYS, where)
    if doc["schema"] != 1 or isinstance(doc["schema"], bool):
        raise OrchError(f"{where}: schema must be 1")
    _text(doc["task"], f"{where}: task")
    if not isinstance(doc["head"], str) or not HEX40.fullmatch(doc["head"]):
        raise OrchError(f"{where}: head must be a full 40-hex commit id")
    if doc["verdict"] not in VERDICTS:
        raise OrchError(f"{where}: verdict must be one of {', '.join(VERDICTS)}")
    _text(doc["reviewer"], f"{where}: reviewer")
    if "summary" in doc:
        _text(doc["summary"], f"{where}: summary", empty=True)
    findings = doc["findings"]
    if not isinstance(findings, list) or len(findings) > MAX_FINDINGS:
        raise OrchError(f"{where}: findings must be a list of at most {MAX_FINDINGS}")
    clean = []
    for number, item in enumerate(findings, start=1):
        at = f"{where}: findings[{number}]"
        if not isinstance(item, dict):
            raise OrchError(f"{at} must be an object")
        _check_keys(item, FINDING_KEYS, at)
        if not isinstance(item["rule"], str) or not _RULE_ID.fullmatch(item["rule"]):
            raise OrchError(f"{at}: rule must be lowercase letters, digits and '-'")
        if item["severity"] not in SEVERITIES:
            raise OrchError(f"{at}: severity must be one of {', '.join(SEVERITIES)}")
        _text(item["message"], f"{at}: message")
        for key in ("path", "commit"):
            if item.get(key) is not None:
                _text(item[key], f"{at}: {key}")
        clean.append({"rule": item["rule"], "severity": item["severity"],
                      "message": item["message"], "path": item.get("path"),
                      "commit": item.get("commit")})
    implied = verdict_of(f["severity"] for f in clean)
    if doc["verdict"] != implied:
        raise OrchError(f"{where}: verdict {doc['verdict']!r} does not follow from the "
                        f"findings (their severities give {implied!r})")
    doc["findings"] = clean
    return doc


def import_verdict(orepo: OrchRepo, task_id: str, file: Path) -> Event:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise OrchError(f"cannot read {file}: {exc.strerror or exc}") from None
    doc = parse_verdict(data, str(file))
    if doc["task"] != task_id:
        raise OrchError(f"{file}: verdict is for task {doc['task']!r}, not {task_id!r}")
    task = load_task(orepo, task_id)
    head = branch_head(orepo, task_id)
    if doc["head"] != head:
        raise OrchError(f"{file}: verdict is for {doc['head'][:12]} but orch/{task_id} is at "
                        f"{head[:12]}: the branch moved; make a new pack")
    base = review_base(orepo, head, load_policy(orepo).main_branch, task.contract.base)
    return record_verdict(orepo, task_id, head=head, base=base, verdict=doc["verdict"],
                          findings=doc["findings"], source="import",
                          reviewer=f"{doc['reviewer']} (imported by {orepo.actor})")
