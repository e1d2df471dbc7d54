"""Benchmark: `git orch verify` over a range of 10,000 worker commits.

Builds a throw-away repository (fast-import): a task whose contract has 25
Orch-Allow and 25 Orch-Forbid patterns, and COMMITS commits on its branch,
each changing one file and carrying Orch-Task and Orch-Evidence trailers.
Times verify over main..orch/t1 (plain and with --require-landed), next to
plain git reading the same trailers: `git log --format=%(trailers)` over the
same range. Ends with name=value lines.

Run: .venv/bin/python bench/verify.py   (BENCH_COMMITS=2000 for a quick run)
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
from git_orch.judge.verify import verify
from git_orch.repo import OrchRepo

COMMITS = int(os.environ.get("BENCH_COMMITS", "10000"))
RUNS = 2


def git(*args: str, cwd: Path, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          check=True)
    return proc.stdout.decode().strip()


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
    allow = [f"pkg{i:02d}/**" for i in range(24)] + ["*.md"]
    forbid = [f"pkg{i:02d}/secret/**" for i in range(20)] + [
        "orch.toml", ".github/workflows/**", "*.pem", "/vendor/", "**/migrations/**"]
    args = ["-C", str(repo), "start", "t1", "--title", "bench", "--no-worktree"]
    args += [f"--allow={p}" for p in allow] + [f"--forbid={p}" for p in forbid]
    assert quiet_orch(args) == 0
    base = git("rev-parse", "main", cwd=repo)
    stream: list[bytes] = []
    for i in range(COMMITS):
        message = (b"Change module %d\n\nSome words about it.\n\nOrch-Task: t1\n"
                   b"Orch-Evidence: local: unit tests pass\n" % i)
        content = b"value = %d\n" % i
        path = b"pkg%02d/mod%05d.py" % (i % 24, i)
        stream += [b"commit refs/heads/orch/t1\n",
                   b"committer Bench <b@example.com> %d +0000\n" % (1700000000 + i),
                   b"data %d\n" % len(message), message]
        if i == 0:
            stream.append(b"from " + base.encode() + b"\n")
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
        rng = "main..orch/t1"
        result = verify(orepo, rng)
        assert len(result.commits) == COMMITS and result.ok, result.findings[:3]
        plain = best(lambda: git("log", "--format=%(trailers)", rng, cwd=repo))
        full = best(lambda: verify(orepo, rng))
        try:
            landed = best(lambda: verify(orepo, rng, require_landed=True))  # type: ignore[call-arg]
        except TypeError:  # a git-orch from before --require-landed
            landed = 0.0
    print(f"verify of {COMMITS} commits (one file each, 50 pathspecs)")
    print(f"  verify                     {full * 1000:9.1f} ms")
    print(f"  verify --require-landed    {landed * 1000:9.1f} ms")
    print(f"  git log --format=%(trailers) {plain * 1000:7.1f} ms")
    print(f"verify_commits={COMMITS}")
    print(f"verify_seconds={full:.3f}")
    print(f"verify_require_landed_seconds={landed:.3f}")
    print(f"plain_git_log_trailers_seconds={plain:.3f}")
    print(f"verify_vs_plain_git_ratio={full / plain:.1f}")
    print(f"verify_per_commit_ms={full / COMMITS * 1000:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
