"""What an attempt cost, read from the agent's own log.

Agent CLIs report usage on stdout when asked for JSON lines, which the
supervisor captures in `attempt-N.log`:

- codex `exec --json`: one `{"type": "turn.completed", "usage": {...}}` per
  turn with `input_tokens` and `output_tokens` (no price);
- claude `--output-format stream-json` (or `json`): a closing
  `{"type": "result", "total_cost_usd": X, "usage": {...}}` with input,
  output and cache token counts.

The log is the agent's output, so it is hostile: lines are length-capped,
numbers must be finite and non-negative, and anything else is ignored.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

MAX_LINE = 1 << 20  # a usage line is small; skip anything longer unread
MAX_SCAN = 64 << 20  # read at most this much of a log
CLAUDE_TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                     "cache_read_input_tokens")


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return int(value) if math.isfinite(value) and 0 <= value < 1e15 else 0


def _usd(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and 0 <= value < 1e9 else None


def read_usage(log: Path) -> dict[str, Any] | None:
    """{"tokens", "input_tokens", "output_tokens", "usd"} from the log, or None if unreported."""
    tokens_in = tokens_out = 0
    usd: float | None = None
    seen = False
    try:
        with open(log, "rb") as handle:
            scanned = 0
            while scanned < MAX_SCAN:
                line = handle.readline(MAX_LINE + 1)
                if not line:
                    break
                scanned += len(line)
                if len(line) > MAX_LINE or b'"usage"' not in line \
                        or not line.lstrip().startswith(b"{"):
                    continue  # only lines that may carry usage are parsed
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(event, dict) or not isinstance(event.get("usage"), dict):
                    continue
                usage = event["usage"]
                if event.get("type") == "turn.completed":  # codex: one per turn, summed
                    tokens_in += _count(usage.get("input_tokens"))
                    tokens_out += _count(usage.get("output_tokens"))
                    seen = True
                elif event.get("type") == "result":  # claude: the whole session
                    tokens_in = sum(_count(usage.get(k)) for k in CLAUDE_TOKEN_KEYS
                                    if k != "output_tokens")
                    tokens_out = _count(usage.get("output_tokens"))
                    usd = _usd(event.get("total_cost_usd"))
                    seen = True
    except OSError:
        return None
    if not seen:
        return None
    return {"tokens": tokens_in + tokens_out, "input_tokens": tokens_in,
            "output_tokens": tokens_out, "usd": usd}
