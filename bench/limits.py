"""Supervision costs: the limits `start` checks and the trust section of status.

Builds the same repository as bench/ledger.py (N tasks, 20 of them live,
each with an `allow` pattern), then times the check `start` runs before it
writes anything (`limits.start_breaches`): cold (no status cache) and warm
(after one `status`, whose summary cache it reads), beside `git for-each-ref`
over the same refs, in the same run; and the trust rows status adds, from
the states status already folded.
Usage: python bench/limits.py [--tasks N] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ledger import ENV, build, sh, timed  # noqa: E402 - the sibling bench's repository

from git_orch.config import load_policy  # noqa: E402
from git_orch.repo import OrchRepo  # noqa: E402
from git_orch.report import status, trust  # noqa: E402
from git_orch.workspace import limits  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.update(ENV)
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as tmp:
        t0 = time.perf_counter()
        repo_dir = build(Path(tmp), args.tasks, 10)
        print(f"built {args.tasks} tasks in {time.perf_counter() - t0:.1f}s")
        orepo = OrchRepo(repo_dir)
        policy = load_policy(orepo)

        def check() -> None:
            limits.start_breaches(OrchRepo(repo_dir), policy, "new-task", ["src/new/**"])

        cache = orepo.runtime_dir / "status-cache.marshal"
        cold = []
        for _ in range(args.runs):
            cache.unlink(missing_ok=True)
            cold += timed(check, 1)
        status.collect(orepo)  # fills the summary cache, as any status does
        warm = timed(check, args.runs)
        states = [v.state for v in status.collect(orepo).tasks]
        trust_runs = timed(lambda: trust.trust_rows(states, trust.DEFAULT_LAST_RUNS), args.runs)
        fer = ["git", "for-each-ref", "--format=%(objectname) %(refname)", "refs/orch/"]
        fer_runs = timed(lambda: sh(*fer, cwd=repo_dir), args.runs)
    cold_s, warm_s, fer_s = (statistics.median(x) for x in (cold, warm, fer_runs))
    print(f"tasks={args.tasks}")
    print(f"start_limits_cold_s={cold_s:.4f}")
    print(f"start_limits_warm_s={warm_s:.4f}")
    print(f"for_each_ref_s={fer_s:.4f}")
    print(f"start_limits_warm_ratio_to_for_each_ref={warm_s / fer_s:.1f}")
    print(f"start_limits_cold_ratio_to_for_each_ref={cold_s / fer_s:.1f}")
    trust_s = statistics.median(trust_runs)
    print(f"status_trust_rows_s={trust_s:.4f}")
    print(f"status_trust_rows_ratio_to_for_each_ref={trust_s / fer_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
