"""What reading an attempt's usage costs the supervisor, on a large agent log.

Writes a codex-style `exec --json` log of BENCH_USAGE_MB megabytes (command
output lines, JSON events, one `turn.completed` per 50 lines), then times
`usage.read_usage` against `grep -c turn.completed` over the same file (the
plain tool doing comparable work: one pass over the log). Prints name=value
lines with the ratio.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from git_orch.agent.usage import read_usage

MEGABYTES = int(os.environ.get("BENCH_USAGE_MB", "50"))


def write_log(path: Path) -> int:
    turn = json.dumps({"type": "turn.completed",
                       "usage": {"input_tokens": 1200, "output_tokens": 80}}) + "\n"
    item = json.dumps({"type": "item.completed", "item": {
        "type": "command_execution", "aggregated_output": "x" * 300}}) + "\n"
    plain = "some compiler output line that is not JSON at all\n"
    block = (item * 30 + plain * 19 + turn).encode()
    turns = 0
    with open(path, "wb") as out:
        while out.tell() < MEGABYTES << 20:
            out.write(block)
            turns += 1
    return turns


def best_of(runs: int, work: object) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "attempt-1.log"
        turns = write_log(log)
        found = read_usage(log)
        assert found is not None and found["tokens"] == turns * 1280, found
        ours = best_of(3, lambda: read_usage(log))
        grep = best_of(3, lambda: subprocess.run(["grep", "-c", "turn.completed", str(log)],
                                                 check=True, capture_output=True))
    print(f"log_mb={MEGABYTES}")
    print(f"read_usage_ms={ours * 1000:.0f}")
    print(f"grep_count_ms={grep * 1000:.0f}")
    print(f"read_usage_vs_grep_ratio={ours / grep:.1f}")


if __name__ == "__main__":
    main()
