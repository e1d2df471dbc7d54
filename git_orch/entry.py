"""The `git-orch` console script: a repeated `status --json` (report/repeat.py) and a
worker's plain `handoff` or `block` (fastpath.py) are answered before the CLI (click)
is imported; anything else runs the CLI."""

from __future__ import annotations

import gc
import sys

# Young objects allowed between collections. Status builds ~10 objects per task
# that all live until exit; at the default (700) every load of the per-machine
# caches ran dozens of full scans, and at 50k tasks the cost was no longer linear.
GC_THRESHOLD = (50_000, 20, 20)
# The words that name a command answered without the CLI (within `-C DIR CMD`).
_FAST_WORDS = ("handoff", "block")


def entry_point() -> None:
    gc.set_threshold(*GC_THRESHOLD)
    words = sys.argv[1:4]
    if "status" in words:  # other commands do not pay for the check's imports
        from git_orch.report import repeat

        code = repeat.answer(sys.argv[1:])
        if code is not None:
            sys.exit(code)
    elif any(word in words for word in _FAST_WORDS):
        from git_orch import fastpath

        code = fastpath.answer(sys.argv[1:])
        if code is not None:
            sys.exit(code)
    from git_orch.cli import main

    gc.freeze()  # what the imports made stays: no collection needs to scan it again
    sys.exit(main())
