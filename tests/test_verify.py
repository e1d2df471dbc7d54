"""git orch verify RANGE (the CI check) and the contrib script CI runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Repo, git
from test_review import GOOD, wcommit

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def task_repo(repo: Repo) -> tuple[Repo, Path, str]:
    """Task t1 (src/** allowed, src/secret/** forbidden) with one good commit."""
    wt = repo.start("t1", "--allow", "src/**", "--forbid", "src/secret/**")
    good = wcommit(repo, wt, f"Good\n\n{GOOD}", {"src/a.py": "a\n"})
    return repo, wt, good


def test_clean_range_passes(task_repo: tuple[Repo, Path, str]) -> None:
    repo, wt, good = task_repo
    # A merge commit in the range is not checked (only the worker's commits are).
    repo.orch_ok("hooks", "uninstall", "--task", "t1")  # the hooks would refuse the side branch
    repo.git("checkout", "-q", "-b", "side", "main", cwd=wt)
    wcommit(repo, wt, f"Side\n\n{GOOD}", {"src/b.py": "b\n"})
    repo.git("checkout", "-q", "orch/t1", cwd=wt)
    repo.git("-c", "core.hooksPath=/dev/null", "merge", "-q", "--no-ff", "-m", "Merge",
             "side", cwd=wt)
    result = repo.orch("verify", "main..orch/t1")
    assert result.code == 0, result.out
    assert "2 commits, 0 findings: ok" in result.out
    data = repo.orch_ok("verify", "main..orch/t1", "--format", "json").json()
    assert data == {"schema": 1, "range": "main..orch/t1", "commits": 2, "ok": True,
                    "findings": []}


def set_verify(repo: Repo, *lines: str) -> None:
    """A [verify] table committed on main (verify reads it at the range's excluded end)."""
    main = repo.git("rev-parse", "--abbrev-ref", "HEAD")
    assert main == "main"
    config = repo.path / "orch.toml"
    config.write_text(config.read_text() + "\n[verify]\n" + "".join(f"{x}\n" for x in lines))
    repo.commit_all("Verify policy")


@pytest.mark.parametrize(
    ("message", "files", "rule"),
    [
        ("No trailer", {"src/b.py": "b\n"}, "no-task-trailer"),
        ("Unknown\n\nOrch-Task: nosuch\nOrch-Evidence: local: ok", {"src/b.py": "b\n"},
         "unknown-task"),
        (f"Docs\n\n{GOOD}", {"docs/guide.md": "x\n"}, "outside-allow"),
        (f"Secret\n\n{GOOD}", {"src/secret/k": "x\n"}, "forbidden"),
        ("Bad label\n\nOrch-Task: t1\nOrch-Evidence: tested: works", {"src/b.py": "b\n"},
         "evidence-malformed"),
        ("Direct\n\nOrch-Task: t1\nOrch-Evidence: direct: works", {"src/b.py": "b\n"},
         "direct-no-artifact"),
        ("Claim\n\nOrch-Task: t1\nOrch-Evidence: local: works in production",
         {"src/b.py": "b\n"}, "overclaim"),
        ("Two\n\nOrch-Task: t1\nOrch-Task: t2\nOrch-Evidence: local: ok", {"src/b.py": "b\n"},
         "other-task"),
    ],
)
def test_each_bad_commit_fails(task_repo: tuple[Repo, Path, str], message: str,
                               files: dict[str, str], rule: str) -> None:
    repo, wt, good = task_repo
    if rule == "no-task-trailer":
        set_verify(repo, 'other_commits = "deny"')
    bad = wcommit(repo, wt, message, dict(files))
    result = repo.orch("verify", "main..orch/t1", "--format", "json")
    assert result.code == 1
    data = result.json()
    assert isinstance(data, dict)
    found = {(f["rule"], f["commit"]) for f in data["findings"]}
    assert (rule, bad) in found and all(commit == bad for _, commit in found)


def test_github_annotations(task_repo: tuple[Repo, Path, str]) -> None:
    repo, wt, _ = task_repo
    bad = wcommit(repo, wt, f"Docs\n\n{GOOD}", {"docs/guide.md": "x\n"})
    result = repo.orch("verify", "main..orch/t1", "--format", "github")
    assert result.code == 1
    first = result.out.splitlines()[0]
    assert first == (f"::error file=docs/guide.md,title=git-orch outside-allow::modified "
                     f"matches no Orch-Allow pathspec (commit {bad[:12]})")
    assert result.out.splitlines()[-1].endswith("1 finding: FAILED")


def test_bad_range_is_one_clear_line(repo: Repo) -> None:
    for bad in (["nosuch..main"], ["--", "--all"]):
        result = repo.orch("verify", *bad)
        assert result.code == 1 and result.err.startswith("git-orch: bad range")
        assert len(result.err.splitlines()) == 1


def test_default_range_comes_from_pre_commit(task_repo: tuple[Repo, Path, str]) -> None:
    repo, wt, good = task_repo
    env = {"PRE_COMMIT_FROM_REF": repo.rev("main"), "PRE_COMMIT_TO_REF": good}
    ok = repo.orch_proc("verify", env=env)
    assert ok.code == 0 and "1 commit, 0 findings: ok" in ok.out
    wcommit(repo, wt, f"Secret\n\n{GOOD}", {"src/secret/c.py": "c\n"})
    env["PRE_COMMIT_TO_REF"] = repo.rev("orch/t1")
    assert repo.orch_proc("verify", env=env).code == 1


def run_script(clone: Path, rng: str, landed: str = "0") -> subprocess.CompletedProcess[str]:
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "RANGE": rng, "FORMAT": "github", "REQUIRE_LANDED": landed,
           "PATH": bindir + os.pathsep + os.environ["PATH"]}
    return subprocess.run(["sh", str(ROOT / "contrib" / "verify.sh")], cwd=clone, env=env,
                          capture_output=True, text=True, check=False, timeout=60)


def test_contrib_script_fetches_contracts_and_verifies(
    task_repo: tuple[Repo, Path, str], remote: Path, tmp_path: Path
) -> None:
    repo, wt, good = task_repo
    bad = wcommit(repo, wt, f"Docs\n\n{GOOD}", {"docs/c.md": "c\n"})
    repo.git("push", "-q", "origin", "orch/t1", "+refs/orch/*:refs/orch/*")
    clone = tmp_path / "ci"
    git("clone", "-q", str(remote), str(clone), cwd=tmp_path)
    git("fetch", "-q", "origin", "orch/t1", cwd=clone)
    assert git("for-each-ref", "refs/orch/", cwd=clone) == ""
    passed = run_script(clone, f"origin/main..{good}")
    assert passed.returncode == 0, passed.stderr
    assert git("rev-parse", "refs/orch/tasks/t1", cwd=clone)
    failed = run_script(clone, f"origin/main..{bad}")
    assert failed.returncode == 1
    unlanded = run_script(clone, f"origin/main..{good}", landed="1")
    assert unlanded.returncode == 1 and "title=git-orch not-landed::" in unlanded.stdout
    assert "title=git-orch outside-allow::" in failed.stdout


def test_contrib_files_call_the_tested_command() -> None:
    action = (ROOT / "contrib/github/action.yml").read_text()
    assert "using: composite" in action and "../verify.sh" in action
    gitlab = (ROOT / "contrib/gitlab/git-orch-verify.yml").read_text()
    assert "refs/orch/*" in gitlab and "--require-landed" in gitlab
    assert "--require-landed" in (ROOT / "contrib/verify.sh").read_text()
    assert "require-landed" in action and "protect" in action
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "entry: git-orch verify\n" in hooks and "stages: [pre-push]" in hooks


def test_hand_made_contract_with_bad_pathspec_is_one_clear_line(repo: Repo) -> None:
    tree = repo.rev("main^{tree}")
    contract = repo.git("commit-tree", tree, "-p", "main", "-m",
                        "Hand made\n\nOrch-Task: t9\nOrch-Schema: 1\nOrch-Allow: :(exclude)x")
    repo.git("update-ref", "refs/orch/tasks/t9", contract)
    repo.write("src/z.py", "z\n")
    repo.commit_all("Z\n\nOrch-Task: t9\nOrch-Evidence: local: ok")
    result = repo.orch("verify", "main~1..main")
    assert result.code == 1 and len(result.err.splitlines()) == 1
    assert "contract of task t9: pathspec ':(exclude)x'" in result.err


def _raw_commit(repo: Repo, wt: Path, message: bytes, encoding: str) -> str:
    path = wt.parent / "msg.bin"
    path.write_bytes(message)
    (wt / "src").mkdir(exist_ok=True)
    (wt / "src" / "enc.py").write_text(encoding + "\n")
    repo.git("add", "-A", cwd=wt)
    repo.git("-c", f"i18n.commitEncoding={encoding}", "-c", "core.hooksPath=/dev/null",
             "commit", "-q", "--no-verify", "--cleanup=verbatim", "-F", str(path), cwd=wt)
    return repo.git("rev-parse", "HEAD", cwd=wt)


@pytest.mark.parametrize("encoding", ["x-bogus", "unicode_escape", "utf-8"])
def test_encoding_header_is_ignored_and_nothing_crashes(task_repo: tuple[Repo, Path, str],
                                                        encoding: str) -> None:
    """Issue 11/12: the `encoding` header never decides what the trailers are."""
    repo, wt, _ = task_repo
    message = (b"Enc \xff\xfe\n\nOrch-Task: t1\\nOrch-Evidence: direct: forged\n"
               b"Orch-Evidence: local: caf\xe9 ok\n")
    _raw_commit(repo, wt, message, encoding)
    result = repo.orch_proc("verify", "main..orch/t1")
    assert result.code == 1, result.err
    assert "Traceback" not in result.err and "direct-no-artifact" not in result.out
    assert "unknown-task" in result.out  # the literal backslash-n stays in the value
    repo.orch_ok("handoff", "--task", "t1")
    review = repo.orch_proc("review", "t1")
    assert review.code == 1 and "Traceback" not in review.err, review.err
    assert "direct-no-artifact" not in review.out and "other-task" in review.out
