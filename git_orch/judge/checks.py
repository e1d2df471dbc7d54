"""The checks review and CI verify share: scope, change kinds, commit trailers."""

from __future__ import annotations

import pygit2

from git_orch.errors import OrchError
from git_orch.judge import evidence
from git_orch.judge.changes import MODE_GITLINK, MODE_SYMLINK, Change
from git_orch.judge.findings import Finding
from git_orch.judge.pathspecs import Matcher, check_pathspec
from git_orch.judge.trailers import Trailer, values


def contract_matcher(patterns: list[str], task_id: str) -> Matcher:
    """A Matcher for a contract's pathspecs, refusing a hand-made contract's bad ones."""
    for pattern in patterns:
        try:
            check_pathspec(pattern)
        except OrchError as exc:
            raise OrchError(f"contract of task {task_id}: {exc}") from None
    return Matcher(patterns)


def scope_findings(
    changes: list[Change], allow: Matcher, forbid: Matcher, commit: str | None = None
) -> list[Finding]:
    """Both sides of every change must be allowed (when Orch-Allow is given) and
    not forbidden: a rename out of a forbidden file or into one both count."""
    found: list[Finding] = []
    for change in changes:
        for path in dict.fromkeys(change.paths):
            # One combined match first; the per-pattern search only names the hit.
            hit = forbid.first_match(path) if forbid.matches(path) else None
            if hit is not None:
                found.append(
                    Finding("forbidden", f"{_verb(change, path)} matches Orch-Forbid {hit!r}",
                            path=path, commit=commit)
                )
            elif allow and not allow.matches(path):
                found.append(
                    Finding("outside-allow",
                            f"{_verb(change, path)} matches no Orch-Allow pathspec",
                            path=path, commit=commit)
                )
    return found


def _verb(change: Change, path: str) -> str:
    if change.old_path == path:
        return "renamed away" if change.status == "R" else "copied from"
    return {"A": "added", "D": "deleted", "M": "modified", "T": "type changed",
            "R": "renamed here", "C": "copied here"}.get(change.status, "changed")


def kind_findings(changes: list[Change], commit: str | None = None) -> list[Finding]:
    """Changes a text review can miss: modes, symlinks, submodules, binaries."""
    found: list[Finding] = []
    for change in changes:
        modes = f"{change.old_mode} -> {change.new_mode}"
        if change.has_mode(MODE_GITLINK):
            found.append(Finding("submodule", f"submodule {change.status} ({modes})",
                                 path=change.path, commit=commit))
        elif change.has_mode(MODE_SYMLINK):
            found.append(Finding("symlink", f"symbolic link {change.status} ({modes})",
                                 path=change.path, commit=commit))
        elif change.mode_changed:
            found.append(Finding("mode-change", f"mode {modes}", path=change.path,
                                 commit=commit))
        if change.binary:
            found.append(Finding("binary", "binary file changed", path=change.path,
                                 commit=commit))
    return found


def tree_has(tree: pygit2.Tree, path: str) -> bool:
    clean = path.strip()
    while clean.startswith("./"):
        clean = clean[2:]
    if not clean or ".." in clean.split("/"):
        return False
    try:
        tree[clean]
    except (KeyError, ValueError, TypeError):  # absent, or a name libgit2 refuses
        return False
    return True


def trailer_findings(
    oid: str, trailers: list[Trailer], tree: pygit2.Tree, expected_task: str | None
) -> list[Finding]:
    """Orch-Task and evidence trailers of one commit.

    With expected_task the commit must name that task (review); without, the
    caller checks the task is known (verify). Artifacts are looked up in `tree`.
    """
    found: list[Finding] = []
    tasks = values(trailers, evidence.TASK_KEY)
    if not tasks:
        found.append(Finding("no-task-trailer", "commit has no Orch-Task trailer", commit=oid))
    elif expected_task is not None:
        for other in dict.fromkeys(t for t in tasks if t != expected_task):
            found.append(Finding("other-task", f"Orch-Task names {other!r}, not "
                                 f"{expected_task!r}", commit=oid))
    for key in dict.fromkeys(evidence.wrong_case_keys(trailers)):
        found.append(Finding("trailer-case", f"trailer key {key!r} should be written "
                             "as git-orch spells it (git matches keys case-insensitively)",
                             commit=oid))
    artifacts = values(trailers, evidence.ARTIFACT_KEY)
    for artifact in artifacts:
        if not evidence.is_url(artifact) and not tree_has(tree, artifact):
            found.append(Finding("artifact-missing", f"Orch-Artifact {artifact!r} is not a "
                                 "URL and not a file in the reviewed tree", commit=oid))
    for gate in values(trailers, evidence.GATE_KEY):
        if evidence.gate_argv(gate) is None:
            found.append(Finding("gate-malformed", f"Orch-Gate {gate!r} cannot be split into "
                                 "arguments", commit=oid))
    for raw in values(trailers, evidence.EVIDENCE_KEY):
        claim = evidence.parse_claim(raw)
        if claim is None:
            found.append(Finding("evidence-malformed", f"Orch-Evidence {raw!r}: expected "
                                 f"'<label>: <claim>', label one of "
                                 f"{', '.join(evidence.LABELS)}", commit=oid))
            continue
        if claim.label == "direct" and not artifacts:
            found.append(Finding("direct-no-artifact", f"direct claim {claim.text!r} has no "
                                 "Orch-Artifact on its commit", commit=oid))
        words = evidence.overclaim_words(claim)
        if words:
            found.append(Finding("overclaim", f"{claim.label} claim {claim.text!r} speaks of "
                                 f"{', '.join(words)}: that needs direct evidence", commit=oid))
        if claim.label == "blocked":
            found.append(Finding("evidence-blocked", f"blocked: {claim.text}", commit=oid))
    return found
