"""Benchmark: review a 10,000-file change against a contract of 50 pathspecs.

Builds a throwaway repository (fast-import), a task whose contract has 25
Orch-Allow and 25 Orch-Forbid patterns, and a worker commit adding FILES files;
then times the whole review (diff, scope, kinds, whitespace, trailers) and its
parts, next to plain git producing the same raw diff. Target: review <= 1 s.
Ends with name=value lines.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from git_orch.cli import main as orch
from git_orch.judge.changes import diff_changes
from git_orch.judge.checks import kind_findings, scope_findings
from git_orch.judge.pathspecs import Matcher
from git_orch.judge.review import review, whitespace_findings
from git_orch.repo import OrchRepo

FILES = int(os.environ.get("BENCH_FILES", "10000"))
RUNS = 3


def git(*args: str, cwd: Path, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          check=True)
    return proc.stdout.decode().strip()


def patterns() -> tuple[list[str], list[str]]:
    allow = [f"pkg{i:02d}/**" for i in range(24)] + ["*.md"]
    forbid = [f"pkg{i:02d}/secret/**" for i in range(20)] + [
        "orch.toml", ".github/workflows/**", "*.pem", "/vendor/", "**/migrations/**"]
    return allow, forbid


def quiet_orch(args: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return orch(args)


def build(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    (repo / "README.md").write_text("bench\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "initial", cwd=repo)
    assert quiet_orch(["-C", str(repo), "init"]) == 0
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "policy", cwd=repo)
    allow, forbid = patterns()
    args = ["-C", str(repo), "start", "t1", "--title", "bench", "--no-worktree"]
    args += [f"--allow={p}" for p in allow] + [f"--forbid={p}" for p in forbid]
    assert quiet_orch(args) == 0
    base = git("rev-parse", "main", cwd=repo)
    stream = [b"commit refs/heads/orch/t1\n",
              b"committer Bench <b@example.com> 1700000000 +0000\n"]
    message = b"Add files\n\nOrch-Task: t1\nOrch-Evidence: local: unit tests pass\n"
    stream += [b"data %d\n" % len(message), message, b"from " + base.encode() + b"\n"]
    for i in range(FILES):
        content = b"value = %d\n" % i
        path = b"pkg%02d/mod%05d.py" % (i % 25, i)
        stream += [b"M 100644 inline " + path + b"\n", b"data %d\n" % len(content), content]
    git("fast-import", "--quiet", cwd=repo, input=b"".join(stream))
    return repo


def best(fn: object) -> float:
    assert callable(fn)
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="git-orch-bench-") as tmp:
        repo = build(Path(tmp))
        orepo = OrchRepo(repo)
        base, head = git("rev-parse", "main", cwd=repo), git("rev-parse", "orch/t1", cwd=repo)
        allow, forbid = patterns()
        changes = diff_changes(orepo, base, head)
        assert len(changes) == FILES
        result = review(orepo, "t1")
        allow_m, forbid_m = Matcher(allow), Matcher(forbid)
        plain = best(lambda: git("diff", "--raw", "-z", "-M", "-C", "--no-abbrev", base, head,
                                 cwd=repo))
        diff = best(lambda: diff_changes(orepo, base, head))
        scope = best(lambda: (scope_findings(changes, allow_m, forbid_m),
                              kind_findings(changes)))
        space = best(lambda: whitespace_findings(orepo, base, head))
        full = best(lambda: review(orepo, "t1"))
    print(f"review of {FILES} changed files, {len(allow) + len(forbid)} pathspecs "
          f"(verdict {result.verdict}, {len(result.findings)} findings)")
    print(f"  whole review          {full * 1000:8.1f} ms")
    print(f"  diff (raw + numstat)  {diff * 1000:8.1f} ms")
    print(f"  scope + kinds         {scope * 1000:8.1f} ms")
    print(f"  git diff --check      {space * 1000:8.1f} ms")
    print(f"  plain git diff --raw  {plain * 1000:8.1f} ms")
    print(f"  review / plain git    {full / plain:8.1f} x")
    print(f"review_files={FILES}")
    print(f"review_pathspecs={len(allow) + len(forbid)}")
    print(f"review_seconds={full:.3f}")
    print(f"review_diff_seconds={diff:.3f}")
    print(f"review_scope_seconds={scope:.3f}")
    print(f"review_whitespace_seconds={space:.3f}")
    print(f"plain_git_diff_seconds={plain:.3f}")
    print(f"review_vs_plain_git_ratio={full / plain:.1f}")
    print(f"review_target_met={int(full <= 1.0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
