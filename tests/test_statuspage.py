"""The status page: content, escaping, and a real render in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Repo
from test_land import accept, ready

from git_orch.record.misalignment import record_misalignment
from git_orch.record.tasks import record, transition
from git_orch.repo import OrchRepo

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & | `tick`'


def build_scene(repo: Repo) -> None:
    """One task in every situation the outputs must show."""
    orepo = OrchRepo(repo.path)
    ready(repo, "review-me", {"src/r.py": "r\n"}, accepted=False)
    wt = repo.start("blocked-one", "--package", "core", "--allow", "core/**")
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
    # Rejected once, then reworked and landed: the old reason is history.
    comeback = ready(repo, "comeback", {"src/c.py": "c\n"}, accepted=False,
                     allow=("src/c.py", "src/c_test.py"))
    repo.orch_ok("reject", "comeback", "--reason", "tests missing")
    repo.write("src/c_test.py", "t\n", cwd=comeback)
    repo.commit_all("tests\n\nOrch-Task: comeback", cwd=comeback)
    repo.orch_ok("handoff", "--summary", "with tests", "--risk", "slow CI", cwd=comeback)
    accept(repo, "comeback")
    repo.orch_ok("land", "comeback")
    repo.orch_ok("start", "hostile", "--title", HOSTILE, "--package", "ui <b>", "--allow", "ui/**")
    record_misalignment(orepo, "hostile", "committed outside its pathspecs", "scope-violation",
                        "src/x.py")
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write('\n[agents.ghost]\nargv = ["/nonexistent/agent", "{task}"]\n')
    repo.commit_all("a preset whose command does not exist")
    repo.orch_ok("hooks", "install")  # the person's own commit on main, taken in
    repo.orch("start", "nolaunch", "--title", "never launches", "--agent", "ghost", "--wait",
              "--allow", "src/nolaunch/**")


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
    for section in ("dispatch", "needs-you", "running", "open", "ended", "tasks", "packages",
                    "heartbeat"):
        assert f'<section id="{section}"' in page
    needs = page.split('id="needs-you"')[1].split("</section>")[0]
    for task, kind in (("review-me", "review"), ("review-me", "dirty"),
                       ("blocked-one", "blocked"), ("to-land", "land"),
                       ("kept", "cleanup-needed"), ("hostile", "misalignment"),
                       ("nolaunch", "launch-failed")):
        assert f'data-task="{task}" data-kind="{kind}"' in needs, (task, kind)
    assert "git orch land to-land" in needs and "cannot launch /nonexistent/agent" in needs
    # The person's reason, not a verdict.
    assert "needs a password &lt;script&gt;" in needs
    opened = page.split('id="open"')[1].split("</section>")[0]
    assert 'data-task="overclaim"' in opened and 'data-task="hostile"' not in opened
    ended = page.split('id="ended"')[1].split("</section>")[0]
    assert 'data-task="done"' in ended and 'data-task="comeback"' in ended
    card = page.split('data-card="review-me"')[1].split("</div>")[0]
    for fact in ("branch", "orch/review-me", "workspace", "handoff", "did review-me", "next"):
        assert fact in card, fact
    md = (out / "status.md").read_text()
    assert "## Needs you (7)" in md and "| blocked-one | blocked |" in md
    assert "<script>" not in md and r"\<script\>" in md
    assert r"\(" not in md and "&amp;" not in md and "task(s)" in md  # not over-escaped
    assert "`git orch review review-me --rerun-gates`" in md
    # Default folder: the runtime folder.
    repo.orch_ok("status", "--write")
    common = Path(repo.git("rev-parse", "--path-format=absolute", "--git-common-dir"))
    assert (common / "orch" / "status.html").is_file()
    assert repo.orch("status", "done", "--write").code == 2


def test_status_json_cards_and_reasons(repo: Repo) -> None:
    build_scene(repo)
    data = repo.orch_ok("status", "--json").json()
    assert isinstance(data, dict)
    tasks = {t["id"]: t for t in data["tasks"]}
    assert tasks["comeback"]["reason"] is None  # landed: the old rejection is history
    assert tasks["comeback"]["risks"] == ["slow CI"]
    assert tasks["overclaim"]["reason"] == "overclaim on evidence"
    assert tasks["to-land"]["next"] == "git orch land to-land"
    assert tasks["nolaunch"]["agent"] == "ghost"
    assert tasks["nolaunch"]["last_outcome"].startswith("launch-failed: cannot launch")
    assert tasks["review-me"]["branch"] == "orch/review-me"
    # "Running" is a live run: nothing runs here, though tasks are active or rejected.
    assert data["sections"]["running"] == [] and data["counts"]["running"] == 0
    assert data["dispatch"]["mode"] == "active"
    assert data["dispatch"]["next"]["reasons"] == [
        "the roadmap is empty: add tasks with git orch plan add"]
    assert data["generated"].endswith("Z")
    text = repo.orch_ok("status").out
    assert "Dispatch: active; next starts nothing" in text
    assert re.search(r"last \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+[smhd] ago\)", text)
    assert "tests missing" not in text


def counts_in_text(text: str) -> dict[str, int]:
    found = dict(re.findall(r"^(Needs you|Running|Open|Recently ended) \((\d+)", text, re.M))
    return {"needs_you": int(found["Needs you"]), "running": int(found["Running"]),
            "open": int(found["Open"]), "ended": int(found["Recently ended"])}


def test_the_four_outputs_agree(repo: Repo, tmp_path: Path) -> None:
    build_scene(repo)
    out = tmp_path / "site"
    text = repo.orch_ok("status", "--write", "--out", str(out)).out
    data = repo.orch_ok("status", "--json").json()
    assert isinstance(data, dict)
    md = (out / "status.md").read_text()
    page = (out / "status.html").read_text()
    expected = {k: data["counts"][k] for k in ("needs_you", "running", "open", "ended")}
    assert expected["needs_you"] == len(data["needs_you"]) == 7
    assert counts_in_text(text) == expected
    md_counts = dict(re.findall(r"^## (Needs you|Running|Open|Recently ended) \((\d+)\)",
                                md, re.M))
    assert {k: int(v) for k, v in md_counts.items()} == {
        "Needs you": expected["needs_you"], "Running": expected["running"],
        "Open": expected["open"], "Recently ended": expected["ended"]}
    html_counts = dict(re.findall(r'<section id="([a-z-]+)" data-count="(\d+)"', page))
    assert {k: int(v) for k, v in html_counts.items()
            if k not in ("problems", "isolation", "trust")} == {
        "needs-you": expected["needs_you"], "running": expected["running"],
        "open": expected["open"], "ended": expected["ended"]}
    # The same items, in the same order, everywhere.
    items = [(i["task"], i["kind"]) for i in data["needs_you"]]
    assert re.findall(r'<tr class="need" data-task="([^"]*)" data-kind="([^"]+)"', page) == items
    md_items = re.findall(r"^\| ([\w-]+) \| ([\w-]+) \|", md.split("## Needs you")[1]
                          .split("## Running")[0], re.M)
    assert md_items[2:] == items  # after the header and rule rows
    text_kinds = re.findall(r"^\s+\[([\w-]+)\] ", text.split("Running (")[0], re.M)
    assert sorted(text_kinds) == sorted(k for _, k in items)


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
    for section in ("needs-you", "running", "open", "ended", "packages", "heartbeat"):
        assert re.search(rf'<section id="{section}"', dom), section
    rows = set(re.findall(r'<tr class="(?:task|need)" data-task="([^"]+)"', dom))
    assert {"review-me", "blocked-one", "to-land", "overclaim", "kept", "done",
            "hostile", "nolaunch", "comeback"} <= rows
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
