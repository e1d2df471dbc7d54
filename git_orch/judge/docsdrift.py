"""Documentation drift: code that changed while the docs that describe it did not.

`[review] docs` in orch.toml maps a pathspec of code to a pathspec of the
documentation that describes it:

    [review]
    docs = { "src/api/**" = "docs/api.md", "git_orch/cli.py" = "docs/*.md" }

A change set that touches the left side and nothing on the right gets a
`docs-stale` concern: a person decides whether the docs still hold.
"""

from __future__ import annotations

from git_orch.config import Policy
from git_orch.errors import OrchError
from git_orch.judge.changes import Change
from git_orch.judge.findings import Finding
from git_orch.judge.pathspecs import Matcher, check_pathspec


def docs_map(policy: Policy) -> list[tuple[str, str]]:
    """The `[review] docs` pairs, checked (a bad entry is refused clearly)."""
    section = policy.raw.get("review", {})
    if not isinstance(section, dict):
        raise OrchError("orch.toml: [review] must be a table")
    table = section.get("docs", {})
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise OrchError('orch.toml: [review] docs must be a table of "code pathspec" = '
                        '"docs pathspec" strings')
    pairs = []
    for code, docs in table.items():
        try:
            pairs.append((check_pathspec(code), check_pathspec(docs)))
        except OrchError as exc:
            raise OrchError(f"orch.toml: [review] docs: {exc}") from None
    return pairs


def docs_findings(policy: Policy, changes: list[Change]) -> list[Finding]:
    """One `docs-stale` concern per mapping whose code changed without its docs."""
    paths = [p for change in changes for p in change.paths]
    found = []
    for code, docs in docs_map(policy):
        code_match, docs_match = Matcher([code]), Matcher([docs])
        changed = [p for p in paths if code_match.matches(p)]
        if changed and not any(docs_match.matches(p) for p in paths):
            more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
            found.append(Finding("docs-stale", f"{changed[0]}{more} changed ({code!r}) but "
                                 f"nothing matching {docs!r} did: are the docs still true?",
                                 path=changed[0]))
    return found
