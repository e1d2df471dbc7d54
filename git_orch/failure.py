"""How an error ends a git-orch process: the one mapping from exceptions to exit codes.

0 ok, 1 a refusal or user mistake (one line on stderr), 2 usage, 3 a bug
(traceback saved to a file whose path is printed). cli.main maps click's own
exceptions and hands everything else here; the thin entry (fastpath.py), which
runs a worker's handoff or block without click, hands every error here too, so
both paths end alike.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from git_orch.echo import say
from git_orch.errors import OrchError


def exit_code(exc: BaseException, start_dir: Path | None) -> int:
    """Say what went wrong and return the exit code. `start_dir` is `-C DIR`, so a crash
    log lands in that repository."""
    if isinstance(exc, OrchError):
        say(f"git-orch: {exc}", err=True)
        return exc.exit_code
    if isinstance(exc, BrokenPipeError):  # the reader went away: nobody to tell
        return 1
    if isinstance(exc, KeyboardInterrupt):
        say("git-orch: interrupted", err=True)
        return 130
    if isinstance(exc, OSError) and _not_writable(exc):
        say(f"git-orch: cannot write: {exc} (run it where the repository is "
            "writable: not inside an agent's sandbox)", err=True)
        return 1
    return _internal_error(exc, start_dir)


def _not_writable(exc: OSError) -> bool:
    """A write refused by the filesystem (read-only, as in a sandbox; or no permission);
    libgit2 reports those without an errno, so its message is read too."""
    return exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) or any(
        text in str(exc) for text in ("Read-only file system", "Permission denied"))


def _internal_error(exc: BaseException, start_dir: Path | None) -> int:
    """The one place a bug becomes exit 3: the traceback goes to a crash log."""
    path = _crash_log(exc, start_dir)
    say(f"git-orch: internal error: {type(exc).__name__}: {exc} (traceback in {path})",
        err=True)
    return 3


def _crash_log(exc: BaseException, start_dir: Path | None) -> Path:
    """Save the traceback where the user can find it; prefer the repo's runtime dir."""
    import tempfile  # only a crash pays for these imports
    import traceback

    text = "".join(traceback.format_exception(exc))
    folder = Path(tempfile.gettempdir())
    try:
        from git_orch.repo import OrchRepo

        folder = OrchRepo(start_dir).runtime_dir / "logs"
        folder.mkdir(parents=True, exist_ok=True)
    except Exception:  # noqa: BLE001 - crash logging must never crash
        pass
    path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    path.write_text(text, encoding="utf-8")
    return path
