"""The status page: content, escaping, and a real render in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Repo
from test_land import ready

from git_orch.record.tasks import record, transition
from git_orch.repo import OrchRepo

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & | `tick`'


def build_scene(repo: Repo) -> None:
    """One task in every situation the page must show."""
    orepo = OrchRepo(repo.path)
    ready(repo, "review-me", {"src/r.py": "r\n"}, accepted=False)
    wt = repo.start("blocked-one", "--package", "core")
    repo.orch_ok("block", "--reason", f"needs a password {HOSTILE}", cwd=wt)
    ready(repo, "to-land", {"src/l.py": "l\n"})
    review_wt = repo.worktree("review-me")
    repo.write("late.txt", "edited after handoff\n", cwd=review_wt)
    ready(repo, "overclaim", {"src/o.py": "o\n"}, accepted=False)
    record(orepo, "overclaim", lambda _s: [{
        "type": "reviewed", "head": repo.rev("orch/overclaim"), "verdict": "overclaim",
        "findings": ["claims direct evidence without an artifact"]}])
    transition(orepo, "overclaim", {"type": "rejected", "reason": "overclaim on evidence"})
    ready(repo, "kept", {"src/k.py": "k\n"})
    repo.orch_ok("land", "kept", "--keep-worktree")
    ready(repo, "done", {"src/d.py": "d\n"})
    repo.orch_ok("land", "done")
    repo.orch_ok("start", "hostile", "--title", HOSTILE, "--package", "ui <b>")


def test_status_write_md_and_html(repo: Repo, tmp_path: Path) -> None:
    build_scene(repo)
    out = tmp_path / "site"
    result = repo.orch_ok("status", "--write", "--out", str(out))
    assert f"wrote {out / 'status.html'}" in result.out
    page = (out / "status.html").read_text()
    # Escaped: the hostile title and reason never become markup.
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "http://" not in page and "https://" not in page
    for section in ("needs-you", "running", "landed", "packages", "heartbeat"):
        assert f'<section id="{section}"' in page
    for group, task in (("review-queue", "review-me"), ("blocked", "blocked-one"),
                        ("ready-to-land", "to-land"), ("rejected", "overclaim"),
                        ("cleanup", "kept"), ("dirty", "review-me")):
        block = page.split(f'id="{group}"')[1].split("</div>")[0]
        assert f'data-task="{task}"' in block, group
    assert "review verdict: overclaim" in page
    landed = page.split('id="landed"')[1].split("</section>")[0]
    assert 'data-task="done"' in landed and 'data-task="kept"' in landed
    md = (out / "status.md").read_text()
    assert "## Needs you" in md and "### Blocked (1)" in md
    assert "<script>" not in md and r"\<script\>" in md
    # Default folder: the runtime folder.
    repo.orch_ok("status", "--write")
    common = Path(repo.git("rev-parse", "--path-format=absolute", "--git-common-dir"))
    assert (common / "orch" / "status.html").is_file()
    assert repo.orch("status", "done", "--write").code == 2


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed "
                    "(.ci/run installs it with apt-get install chromium)")
def test_status_html_renders_in_headless_chromium(repo: Repo, tmp_path: Path) -> None:
    build_scene(repo)
    repo.orch_ok("heartbeat", "--once")
    out = tmp_path / "site"
    repo.orch_ok("status", "--write", "--out", str(out))
    url = (out / "status.html").as_uri()
    binary = chromium()
    assert binary is not None
    base = [binary, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    for section in ("needs-you", "running", "landed", "packages", "heartbeat"):
        assert re.search(rf'<section id="{section}"', dom), section
    rows = set(re.findall(r'<tr class="task" data-task="([^"]+)"', dom))
    assert {"review-me", "blocked-one", "to-land", "overclaim", "kept", "done",
            "hostile"} <= rows
    assert "last heartbeat" in dom and "MISSED" not in dom
    # The browser parsed no script from the hostile title: it is text.
    assert "<script>" not in dom and "&lt;script&gt;" in dom
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "status-page.png"
    shot.unlink(missing_ok=True)
    subprocess.run([*base, f"--screenshot={shot}", "--window-size=1200,900", url],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
