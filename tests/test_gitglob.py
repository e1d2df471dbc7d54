"""Contract patterns translated to git :(glob) pathspecs match what the pathspec
library (used by review) matches, checked with the exact git command the
pre-commit hook runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git

from git_orch.judge.gitglob import to_git_pathspecs, to_sh_rule
from git_orch.judge.pathspecs import Matcher, check_pathspec

PATTERNS = [
    "orch.toml", "/orch.toml", "README.md", "*.md", "/*.md", "docs/*.md", "docs/**/*.md",
    "src/", "src/**", "/src/", "src", "src/secret/", "src/secret", "secret/", "secret",
    "**/secret", "**/secret/**", "a/**/b", "a/**/b/", "**", "*", "*.py", "src/*.py",
    "src/**/test_*.py", "?.txt", "[ab].txt", "[!a].txt", "a**b", "deep/x/y/", "x/y",
    ".github/workflows/**", "migrations/*", "/*", "a/**/*", "*/", "x/*/", "**/",
    "*/config", "build*/", "name with space.txt",
    "trailing ", "a/x/**", "lib*", "**/node_modules/", "\\#hash",
]

PATHS = [
    "orch.toml", "sub/orch.toml", "orch.toml.bak", "README.md", "docs/README.md",
    "docs/guide.md", "docs/deep/more.md", "docs/deep/more.txt", "src/app.py",
    "src/secret/key", "src/secret/deep/key", "src/secretary.py", "secret",
    "x/secret/y", "lib/secret/z", "a/b", "a/x/b", "a/x/y/b", "a/yb/c", "ab",
    "axxb", "a/xb", "src/tests/test_one.py", "src/test_two.py", "a.txt", "b.txt", "c.txt",
    "deep/x/y/z", "deep/x/yy", "x/y", "q/x/y", ".github/workflows/ci.yml",
    ".github/other.yml", "migrations/001.sql", "migrations/sub/002.sql", "pkg/config",
    "pkg/sub/config", "build1/out.o", "build", "name with space.txt", "trailing",
    "lib.c", "libfoo/x.c", "x/sub/deeper/f", "web/node_modules/m/index.js", "node_modules",
    "#hash", "top.md",
]


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repo whose index holds PATHS as additions to an empty HEAD commit."""
    path = tmp_path_factory.mktemp("glob")
    git("init", "-q", "-b", "main", cwd=path)
    git("commit", "-q", "--allow-empty", "-m", "empty", cwd=path)
    blob = git("hash-object", "-w", "--stdin", input="x\n", cwd=path)
    lines = "".join(f"100644 {blob}\t{p}\n" for p in PATHS)
    git("update-index", "--index-info", input=lines, cwd=path)
    assert set(git("ls-files", cwd=path).splitlines()) == set(PATHS)
    return path


def git_matches(repo: Path, specs: list[str]) -> set[str]:
    if not specs:
        return set()
    out = git("-c", "core.quotePath=false", "diff-index", "--cached", "--name-only",
              "--no-renames", "HEAD", "--", *specs, cwd=repo)
    return set(out.splitlines())


@pytest.mark.parametrize("pattern", PATTERNS)
def test_git_glob_agrees_with_pathspec_library(staged: Path, pattern: str) -> None:
    check_pathspec(pattern)
    expected = {p for p in PATHS if Matcher([pattern]).matches(p)}
    specs = to_git_pathspecs(pattern)
    assert git_matches(staged, specs) == expected
    # the allow check lists the complement through :(exclude)
    excludes = [":(top)"] + [f":(exclude,{s[2:]}" for s in specs]
    assert git_matches(staged, excludes) == set(PATHS) - expected


def test_several_patterns_together(staged: Path) -> None:
    patterns = ["src/**", "docs/", "*.toml"]
    specs = [s for p in patterns for s in to_git_pathspecs(p)]
    expected = {p for p in PATHS if Matcher(patterns).matches(p)}
    assert git_matches(staged, specs) == expected
    assert expected  # the set is not trivially empty


def test_comment_and_blank_match_nothing() -> None:
    assert to_git_pathspecs("#comment") == []
    assert to_git_pathspecs("/") == []


DIRS = ["a", "b", "c"]
FILES = ["f", "a.x", "b.y"]
UNIVERSE = [
    "/".join([*dirs, leaf])
    for leaf in FILES
    for dirs in [[], *[[d] for d in DIRS], *[[d, e] for d in DIRS for e in DIRS]]
]


@pytest.fixture(scope="module")
def universe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("universe")
    git("init", "-q", "-b", "main", cwd=path)
    git("commit", "-q", "--allow-empty", "-m", "empty", cwd=path)
    blob = git("hash-object", "-w", "--stdin", input="x\n", cwd=path)
    git("update-index", "--index-info", cwd=path,
        input="".join(f"100644 {blob}\t{p}\n" for p in UNIVERSE))
    return path


def test_random_patterns_agree(universe: Path) -> None:
    """Random patterns over a folder tree without file/folder name clashes."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    segment = st.sampled_from(["a", "b", "c", "f", "*", "**", "?", "a*", "[ab]", "*.x", "b.?",
                               "a.x", "b.y"])

    @settings(max_examples=80, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.booleans(), st.lists(segment, min_size=1, max_size=3), st.booleans())
    def check(lead: bool, segments: list[str], trail: bool) -> None:
        pattern = ("/" if lead else "") + "/".join(segments) + ("/" if trail else "")
        expected = {p for p in UNIVERSE if Matcher([pattern]).matches(p)}
        assert git_matches(universe, to_git_pathspecs(pattern)) == expected, pattern
        rule = to_sh_rule(pattern)
        if rule is not None:
            assert sh_matches(rule, UNIVERSE) == expected, pattern

    check()


def sh_matches(rule: tuple[str, str], paths: list[str]) -> set[str]:
    """The paths the hooks' orch_sh_match accepts for a plain-path rule."""
    import subprocess
    from importlib import resources

    library = resources.files("git_orch.hooks").joinpath("orch-match.sh")
    script = f""". '{library}'
while IFS= read -r p; do orch_sh_match "$1" "$2" "$p" && printf '%s\\n' "$p"; done
exit 0"""
    out = subprocess.run(["sh", "-c", script, "sh", *rule], input="\n".join(paths) + "\n",
                         capture_output=True, text=True, check=True, cwd="/").stdout
    return set(out.splitlines())


def test_plain_path_rules_in_sh_agree() -> None:
    """The hooks' no-process matcher (orch_sh_match) agrees with the library."""
    import subprocess
    from importlib import resources

    from git_orch.judge.gitglob import to_sh_rule

    library = resources.files("git_orch.hooks").joinpath("orch-match.sh")
    simple = [(p, to_sh_rule(p)) for p in PATTERNS]
    simple = [(p, r) for p, r in simple if r is not None]
    assert len(simple) >= 12
    script = [f". '{library}'"]
    for pattern, (kind, literal) in simple:
        for path in PATHS:
            script.append(
                f"orch_sh_match {kind} '{literal}' '{path}' && echo '{pattern}\t{path}'")
    script.append("exit 0")
    out = subprocess.run(["sh", "-c", "\n".join(script)], capture_output=True, text=True,
                         check=False, cwd="/").stdout
    got = set(out.splitlines())
    expected = {f"{p}\t{path}" for p, _ in simple for path in PATHS
                if Matcher([p]).matches(path)}
    assert got == expected


def test_wildcards_are_not_plain_paths() -> None:
    from git_orch.judge.gitglob import to_sh_rule

    for pattern in ["*.md", "src/*.py", "a/**/b", "?.txt", "[ab].txt", "a/**/", "\\#x"]:
        assert to_sh_rule(pattern) is None, pattern
    assert to_sh_rule("src/**") == ("AD", "src") and to_sh_rule("orch.toml") == ("U", "orch.toml")
