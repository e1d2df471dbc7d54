"""`git orch demo`: the whole loop in a throw-away repository, with scripted agents."""

from __future__ import annotations

from pathlib import Path

import click

from git_orch import demo as scenario


@click.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="Run in this new (or empty) folder instead of a temporary one; kept.")
@click.option("--keep", is_flag=True, help="Keep the temporary folder (its path is printed).")
def demo(folder: Path | None, keep: bool) -> None:
    """Run the git-orch loop end to end in a throw-away repository.

    Stand-in agents (no API key, no network) play four workers: one stays in
    scope with honest local evidence and lands; one touches a forbidden path
    and is refused by the hook, then rejected by review; one claims direct
    evidence without an artifact (overclaim); one hangs and is killed by its
    timeout. A second clone then syncs and sees the same loop. Every step is
    printed as a command you can paste; none of your repositories or git
    config are touched.

    \b
    Example:
      git orch demo
      git orch demo --dir /tmp/orch-demo    # keep everything there
    """
    scenario.main(folder, keep)
