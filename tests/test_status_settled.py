"""Status reads settled tasks from its index: the same output as a full read, always.

Every status here is a real process; the index is the one the previous status
wrote. "Full" means the index file removed first, so every task is read again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import Repo
from test_land import accept, ready
from test_statuspage import build_scene

from git_orch.record.misalignment import record_misalignment
from git_orch.record.summary_cache import CACHE_FILE
from git_orch.repo import OrchRepo
from git_orch.report.settled import INDEX_FILE, RECENT_ENDED, SettledIndex


def status(repo: Repo, *args: str) -> str:
    result = repo.orch_proc("status", *args)
    assert result.code == 0, result.err
    return result.out


def without_clock(text: str) -> dict[str, object]:
    data = json.loads(text)
    data.pop("generated")
    return data


def timeless(text: str) -> list[str]:
    """The lines of a text output without what the clock changes between two runs."""
    return [re.sub(r"\d{4}-\d\d-\d\dT[\d:]+Z|\(\d+\w+ ago\)", "TIME", line)
            for line in text.splitlines()]


def index_path(repo: Repo) -> Path:
    return OrchRepo(repo.path).runtime_dir / INDEX_FILE


def full(repo: Repo, *args: str) -> str:
    index_path(repo).unlink(missing_ok=True)
    return status(repo, *args)


def many_ended(repo: Repo, count: int, package: str = "core") -> list[str]:
    """More ended tasks than "recently ended" shows: the rest are settled."""
    ids = [f"old-{n:02d}" for n in range(count)]
    for task_id in ids:
        repo.orch_ok("start", task_id, "--title", f"old {task_id}", "--package", package,
                     "--no-worktree", "--force", "--reason", "test: many tasks")
        repo.orch_ok("abandon", task_id, "--reason", "superseded")
    return ids


def test_settled_status_is_the_full_status(repo: Repo, tmp_path: Path) -> None:
    ready(repo, "landed-early", {"src/e.py": "e\n"})
    repo.orch_ok("land", "landed-early")
    many_ended(repo, RECENT_ENDED + 4)
    build_scene(repo)
    cold = full(repo, "--json")
    assert index_path(repo).is_file()
    warm = status(repo, "--json")  # from the index
    assert len(SettledIndex(OrchRepo(repo.path).runtime_dir).entries) > RECENT_ENDED
    assert without_clock(warm) == without_clock(cold)
    # Byte for byte, as a program reads it (the clock aside).
    clock = re.compile(r'"generated":"[^"]*"')
    assert clock.sub("", warm) == clock.sub("", cold)
    data = json.loads(warm)
    assert data["counts"]["tasks"] == len(data["tasks"])
    assert data["counts"]["ended"] > RECENT_ENDED
    # Text and pages come from the same board: same lines with or without the index.
    assert timeless(status(repo)) == timeless(full(repo))
    status(repo, "--write", "--out", str(tmp_path / "warm"))
    full(repo, "--write", "--out", str(tmp_path / "full"))
    for page in ("status.md", "status.html"):
        warm_page, full_page = ((tmp_path / side / page).read_text() for side in ("warm", "full"))
        assert timeless(warm_page) == timeless(full_page), page


def test_a_settled_task_whose_surroundings_change_is_read_again(repo: Repo) -> None:
    ready(repo, "landed-early", {"src/e.py": "e\n"})
    repo.orch_ok("land", "landed-early")
    ids = many_ended(repo, RECENT_ENDED + 2)
    full(repo, "--json")
    status(repo, "--json")
    # A branch named after a settled task appears again: cleanup-needed, at once.
    repo.git("branch", "orch/landed-early", "main")
    repo.git("branch", f"orch/{ids[0]}", "main")
    warm = without_clock(status(repo, "--json"))
    tasks = {t["id"]: t for t in warm["tasks"]}  # type: ignore[union-attr]
    assert "cleanup-needed" in tasks["landed-early"]["flags"]
    assert "cleanup-needed" in tasks[ids[0]]["flags"]
    assert warm == without_clock(full(repo, "--json"))
    # A new ledger event on a settled task (its note blob changes): read again.
    repo.git("branch", "-D", "orch/landed-early", f"orch/{ids[0]}")
    status(repo, "--json")
    record_misalignment(OrchRepo(repo.path), ids[1], "pushed to main by hand", "bypass", "x")
    warm = without_clock(status(repo, "--json"))
    tasks = {t["id"]: t for t in warm["tasks"]}  # type: ignore[union-attr]
    assert tasks[ids[1]]["misalignments"][0]["what"] == "pushed to main by hand"
    assert warm == without_clock(full(repo, "--json"))


def test_a_closed_package_of_settled_tasks_is_due(repo: Repo) -> None:
    """package_pack reads what status read (the digests), not every task again."""
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write("\n[review]\npackage_pack = true\n")
    repo.commit_all("package review on")
    ids = many_ended(repo, RECENT_ENDED + 2, package="old")
    wt = repo.start("landed-late", "--package", "old", "--allow", "src/e.py")
    repo.write("src/e.py", "e\n", cwd=wt)
    repo.commit_all("work\n\nOrch-Task: landed-late", cwd=wt)
    repo.orch_ok("handoff", "--summary", "did it", cwd=wt)
    repo.orch_ok("collect")
    accept(repo, "landed-late")
    repo.orch_ok("land", "landed-late")
    cold = without_clock(full(repo, "--json"))
    warm = without_clock(status(repo, "--json"))
    assert warm == cold
    (due,) = warm["packages_due"]  # type: ignore[misc]
    assert due["package"] == "old" and due["head"] == repo.rev("main")
    assert sorted(due["tasks"]) == sorted([*ids, "landed-late"])


def test_a_broken_index_is_an_empty_one(repo: Repo) -> None:
    many_ended(repo, RECENT_ENDED + 2)
    cold = without_clock(full(repo, "--json"))
    index_path(repo).write_bytes(b"\x00not marshal")
    assert without_clock(status(repo, "--json")) == cold
    index_path(repo).write_bytes(b"")
    assert without_clock(status(repo, "--json")) == cold
    status(repo, "--json")  # a good index again, then cut short (a full disk, a bad copy)
    data = index_path(repo).read_bytes()
    index_path(repo).write_bytes(data[:len(data) // 2])
    assert without_clock(status(repo, "--json")) == cold
    cache = OrchRepo(repo.path).runtime_dir / CACHE_FILE
    cache.write_bytes(cache.read_bytes()[:100])
    assert without_clock(status(repo, "--json")) == cold
