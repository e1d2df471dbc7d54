"""Contract patterns as git `:(glob)` pathspecs, so hooks can let git match.

Contract patterns are gitignore-style (see pathspecs.py). git's `glob` magic
uses the same wildmatch rules (`*` stays inside a folder, `**` spans folders),
so a pattern becomes one or two git pathspecs:

- no slash except a trailing one: it matches at any depth -> prefix `**/`;
- a leading `/` or a slash inside: anchored at the root;
- a match also covers everything inside a matched folder -> add `X/**`;
- a trailing `/` matches only a folder's contents -> only `X/**`;
- a last segment that is exactly `*` (`dir/*`) matches one level only, not
  what is inside a matched folder (the pathspec library's rule) -> only `X`.

tests/test_gitglob.py checks the result against the pathspec library.
"""

from __future__ import annotations


def _strip_trailing_spaces(pattern: str) -> str:
    """gitignore drops trailing spaces unless the last one is escaped."""
    stripped = pattern.rstrip(" ")
    if stripped != pattern and stripped.endswith("\\"):
        return stripped + " "
    return stripped


def to_git_pathspecs(pattern: str) -> list[str]:
    """The git pathspecs (with `:(top,glob)` magic) that match what `pattern` does."""
    body = _strip_trailing_spaces(pattern)
    if not body or body.startswith("#"):
        return []  # a comment or blank line in gitignore terms: matches nothing
    dir_only = body.endswith("/")
    body = body.rstrip("/")
    anchored = body.startswith("/") or "/" in body
    body = body.lstrip("/")
    if not body:
        return []
    if dir_only and set(body.split("/")) == {"**"}:
        return [":(top,glob)*/**"]  # `**/`: everything inside any folder
    if not anchored:
        body = f"**/{body}"
    if dir_only:
        globs = [f"{body}/**"]
    elif body.rsplit("/", 1)[-1] == "*":
        globs = [body]
    else:
        globs = [body, f"{body}/**"]
    return [f":(top,glob){glob}" for glob in globs]


def to_sh_rule(pattern: str) -> tuple[str, str] | None:
    """A literal pattern as (kind, literal) for the hooks' no-process matcher.

    Kinds: `A` the path or anything inside it, anchored at the root; `AD`
    only what is inside it; `U`/`UD` the same at any depth. None when the
    pattern has wildcards (or anything else that needs git to match).
    """
    body = _strip_trailing_spaces(pattern)
    if not body or body.startswith("#") or any(ch in body for ch in "\\\t\n\r"):
        return None
    dir_only = body.endswith("/")
    body = body.rstrip("/")
    anchored = body.startswith("/") or "/" in body
    body = body.lstrip("/")
    if not dir_only and body.endswith("/**"):
        body, dir_only = body[:-3], True
    if not body or any(ch in body for ch in "*?[") or "//" in body:
        return None
    kind = ("A" if anchored else "U") + ("D" if dir_only else "")
    return kind, body
