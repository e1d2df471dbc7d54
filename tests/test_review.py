"""git orch review on real repositories: one finding per kind of problem."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from conftest import Repo, ledger_note

GOOD = "Orch-Task: t1\nOrch-Evidence: local: unit tests pass"


def wcommit(repo: Repo, wt: Path, message: str, files: dict[str, str | bytes] | None = None,
            remove: tuple[str, ...] = ()) -> str:
    """A worker commit made with plain git (hooks off, so bad commits can be made)."""
    for rel, content in (files or {}).items():
        path = wt / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    for rel in remove:
        repo.git("rm", "-q", rel, cwd=wt)
    repo.git("add", "-A", cwd=wt)
    repo.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "--no-verify",
             "--allow-empty", "-m", message, cwd=wt)
    return repo.git("rev-parse", "HEAD", cwd=wt)


def review(repo: Repo, task: str = "t1", *args: str) -> tuple[int, dict[str, Any]]:
    result = repo.orch("review", task, "--json", *args)
    assert result.code in (0, 1), result.err
    data = result.json()
    assert isinstance(data, dict)
    return result.code, data


def rules(data: dict[str, Any]) -> list[str]:
    return [f["rule"] for f in data["findings"]]


def only(data: dict[str, Any], rule: str) -> dict[str, Any]:
    """The one finding of that rule, and no other finding that is not info."""
    found = [f for f in data["findings"] if f["rule"] == rule]
    others = [f for f in data["findings"] if f["rule"] != rule and f["severity"] != "info"]
    assert len(found) == 1 and not others, data["findings"]
    return found[0]


def set_policy_gates(repo: Repo, gates: list[str]) -> None:
    config = repo.path / "orch.toml"
    text = config.read_text()
    assert "gates = []" in text
    config.write_text(text.replace("gates = []", f"gates = {json.dumps(gates)}"))
    repo.commit_all("Allow gates")


def test_clean_task_passes_and_is_recorded_twice(repo: Repo) -> None:
    wt = repo.start("t1", "--allow", "src/**")
    head = wcommit(repo, wt, f"Add feature\n\n{GOOD}", {"src/feature.py": "x = 1\n"})
    repo.orch_ok("handoff", cwd=wt)
    result = repo.orch("review", "t1")
    assert result.code == 0 and "verdict: pass" in result.out
    event = [e for e in repo.orch_ok("show", "t1", "--json").json()["events"]  # type: ignore[index]
             if e["type"] == "reviewed"][-1]
    assert event["head"] == head and event["verdict"] == "pass"
    assert event["base"] == repo.rev("main")
    assert event["findings"] == {"counts": {"reject": 0, "concern": 0, "info": 0}, "rules": []}
    assert event["reviewer"] == "Ada Tester <ada@example.com>"
    note = [json.loads(line) for line in ledger_note(repo, head).splitlines()]
    assert note[-1]["verdict"] == "pass" and note[-1]["event"] == event["id"]
    assert repo.status()["t1"]["review"]["verdict"] == "pass"  # type: ignore[index]


def test_path_outside_allowed(repo: Repo) -> None:
    wt = repo.start("t1", "--allow", "src/**")
    wcommit(repo, wt, f"Docs too\n\n{GOOD}", {"src/a.py": "a\n", "docs/guide.md": "changed\n"})
    code, data = review(repo)
    assert code == 1 and data["verdict"] == "reject"
    assert only(data, "outside-allow")["path"] == "docs/guide.md"


def test_forbidden_file(repo: Repo) -> None:
    wt = repo.start("t1", "--forbid", "src/secret/**")
    wcommit(repo, wt, f"Secret\n\n{GOOD}", {"src/secret/key.txt": "k\n"})
    _, data = review(repo)
    finding = only(data, "forbidden")
    assert finding["path"] == "src/secret/key.txt" and "src/secret/**" in finding["message"]


def test_rename_into_forbidden_path(repo: Repo) -> None:
    wt = repo.start("t1", "--allow", "src/**", "--forbid", "src/vendor/**")
    repo.git("mv", "src/app.py", "src/other.py", cwd=wt)
    wcommit(repo, wt, f"Rename ok\n\n{GOOD}")
    assert review(repo)[0] == 0
    (wt / "src/vendor").mkdir()
    repo.git("mv", "src/other.py", "src/vendor/app.py", cwd=wt)
    wcommit(repo, wt, f"Rename in\n\n{GOOD}")
    _, data = review(repo)
    assert only(data, "forbidden")["path"] == "src/vendor/app.py"
    assert [c["status"] for c in data["changes"]] == ["R"]


def test_deletion_of_forbidden_file(repo: Repo) -> None:
    repo.write("src/secret/key.txt", "k\n")
    repo.commit_all("secret")
    wt = repo.start("t1", "--forbid", "src/secret/**")
    wcommit(repo, wt, f"Remove\n\n{GOOD}", remove=("src/secret/key.txt",))
    _, data = review(repo)
    finding = only(data, "forbidden")
    assert finding["path"] == "src/secret/key.txt" and finding["message"].startswith("deleted")


def test_chmod(repo: Repo) -> None:
    wt = repo.start("t1")
    os.chmod(wt / "src/app.py", 0o755)
    wcommit(repo, wt, f"Exec\n\n{GOOD}")
    code, data = review(repo)
    assert code == 1 and data["verdict"] == "concerns"
    assert "100644 -> 100755" in only(data, "mode-change")["message"]


def test_symlink(repo: Repo) -> None:
    wt = repo.start("t1")
    os.symlink("/etc/passwd", wt / "src/link")
    wcommit(repo, wt, f"Link\n\n{GOOD}")
    _, data = review(repo)
    assert only(data, "symlink")["path"] == "src/link"


def test_submodule(repo: Repo) -> None:
    wt = repo.start("t1")
    sha = repo.rev("main")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{sha},src/sub", cwd=wt)
    repo.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", f"Sub\n\n{GOOD}", cwd=wt)
    _, data = review(repo)
    assert only(data, "submodule")["path"] == "src/sub"


def test_binary_file(repo: Repo) -> None:
    wt = repo.start("t1")
    wcommit(repo, wt, f"Blob\n\n{GOOD}", {"src/data.bin": b"\x00\x01\x02binary\x00"})
    _, data = review(repo)
    assert only(data, "binary")["path"] == "src/data.bin"


def test_whitespace_error(repo: Repo) -> None:
    wt = repo.start("t1")
    wcommit(repo, wt, f"Trailing\n\n{GOOD}", {"src/a.py": "x = 1   \n"})
    _, data = review(repo)
    finding = only(data, "whitespace")
    assert finding["path"] == "src/a.py" and "trailing whitespace" in finding["message"]


def test_commit_without_task_trailer(repo: Repo) -> None:
    wt = repo.start("t1")
    wcommit(repo, wt, f"Good\n\n{GOOD}", {"src/a.py": "a\n"})
    bad = wcommit(repo, wt, "Forgot the trailer", {"src/b.py": "b\n"})
    _, data = review(repo)
    assert only(data, "no-task-trailer")["commit"] == bad


def test_commit_naming_another_task(repo: Repo) -> None:
    wt = repo.start("t1")
    bad = wcommit(repo, wt, "Other\n\nOrch-Task: t2\nOrch-Evidence: local: ok",
                  {"src/a.py": "a\n"})
    _, data = review(repo)
    finding = only(data, "other-task")
    assert finding["commit"] == bad and "'t2'" in finding["message"]


def test_merge_commit(repo: Repo) -> None:
    wt = repo.start("t1")
    repo.orch_ok("hooks", "uninstall", "--task", "t1")  # a worker that got around its hooks
    wcommit(repo, wt, f"One\n\n{GOOD}", {"src/a.py": "a\n"})
    repo.git("checkout", "-q", "-b", "side", "HEAD~1", cwd=wt)
    wcommit(repo, wt, f"Two\n\n{GOOD}", {"src/b.py": "b\n"})
    repo.git("checkout", "-q", "orch/t1", cwd=wt)
    repo.git("-c", "core.hooksPath=/dev/null", "merge", "-q", "--no-ff", "-m",
             f"Merge side\n\n{GOOD}", "side", cwd=wt)
    _, data = review(repo)
    assert only(data, "merge-commit")["commit"] == repo.rev("orch/t1")


def test_direct_claim_needs_artifact(repo: Repo) -> None:
    wt = repo.start("t1")
    wcommit(repo, wt, "Direct\n\nOrch-Task: t1\nOrch-Evidence: direct: login works on staging",
            {"src/a.py": "a\n"})
    _, data = review(repo)
    only(data, "direct-no-artifact")
    wcommit(repo, wt, "Artifact\n\nOrch-Task: t1\nOrch-Evidence: direct: screenshot of login\n"
            "Orch-Artifact: docs/shot.txt\nOrch-Artifact: https://ci.example.com/run/7",
            {"docs/shot.txt": "shot\n"})
    wcommit(repo, wt, "Missing\n\nOrch-Task: t1\nOrch-Evidence: direct: log of the run\n"
            "Orch-Artifact: logs/run.txt")
    _, data = review(repo)
    assert sorted(rules(data)) == ["artifact-missing", "direct-no-artifact"]


def test_overclaiming_local_claim(repo: Repo) -> None:
    wt = repo.start("t1")
    wcommit(repo, wt, "Claim\n\nOrch-Task: t1\nOrch-Evidence: local: verified on target, "
            "login works", {"src/a.py": "a\n"})
    _, data = review(repo)
    assert "verified on target" in only(data, "overclaim")["message"]


def test_blocked_evidence_is_a_concern(repo: Repo) -> None:
    wt = repo.start("t1")
    wcommit(repo, wt, "Blocked\n\nOrch-Task: t1\nOrch-Evidence: blocked: no device to test on",
            {"src/a.py": "a\n"})
    code, data = review(repo)
    assert code == 1 and data["verdict"] == "concerns"
    assert "no device" in only(data, "evidence-blocked")["message"]


def test_unclaimed_gate(repo: Repo) -> None:
    wt = repo.start("t1", "--gate", "pytest tests/auth", "--gate", "ruff check src")
    wcommit(repo, wt, "Work\n\nOrch-Task: t1\nOrch-Evidence: local: pytest tests/auth passes",
            {"src/a.py": "a\n"})
    _, data = review(repo)
    assert "'ruff check src'" in only(data, "gate-unclaimed")["message"]
    wcommit(repo, wt, "Lint\n\nOrch-Task: t1\nOrch-Gate: ruff  check   src")
    assert review(repo)[0] == 0


def trees(repo: Repo) -> list[str]:
    return [line for line in repo.git("worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")]


def test_gate_rerun_fails_and_passes_in_clean_worktree(repo: Repo) -> None:
    # Passes only in a clean checkout of the commit: a.py committed, no untracked file.
    ok_gate = ("python3 -c \"import os,sys; "
               "sys.exit(not os.path.exists('src/a.py') or os.path.exists('src/junk'))\"")
    set_policy_gates(repo, [ok_gate, "false"])
    wt = repo.start("t1", "--gate", ok_gate)
    wcommit(repo, wt, f"Work\n\nOrch-Task: t1\nOrch-Gate: {ok_gate}\n"
            "Orch-Evidence: local: gate passes", {"src/a.py": "a\n"})
    (wt / "src/junk").write_text("only in the worker's tree\n")
    before = trees(repo)
    code, data = review(repo, "t1", "--rerun-gates")
    assert code == 0, data["findings"]
    assert [g["passed"] for g in data["gates"]] == [True]
    (wt / "src/junk").unlink()
    wcommit(repo, wt, "Claim false\n\nOrch-Task: t1\nOrch-Gate: false")
    code, data = review(repo, "t1", "--rerun-gates")
    assert code == 1
    assert "'false'" in only(data, "gate-failed")["message"]
    assert trees(repo) == before  # the temporary worktree is gone


def test_gate_not_in_committed_policy_is_not_run(repo: Repo, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    wt = repo.start("t1")
    wcommit(repo, wt, f"Work\n\n{GOOD}\nOrch-Gate: touch {marker}", {"src/a.py": "a\n"})
    # Listed in the working copy of orch.toml but not committed: still not run.
    config = repo.path / "orch.toml"
    config.write_text(config.read_text().replace("gates = []", f'gates = ["touch {marker}"]'))
    _, data = review(repo, "t1", "--rerun-gates")
    assert "not run" in only(data, "gate-not-in-policy")["message"]
    assert data["gates"] == [] and not marker.exists()


def test_repeated_keys_are_all_judged(repo: Repo) -> None:
    wt = repo.start("t1")
    wcommit(repo, wt, "Two claims\n\nOrch-Task: t1\nOrch-Evidence: local: unit tests pass\n"
            "Orch-Evidence: proxy: checked in production logs", {"src/a.py": "a\n"})
    _, data = review(repo)
    assert "production" in only(data, "overclaim")["message"]


def test_folded_trailer_is_unfolded(repo: Repo) -> None:
    wt = repo.start("t1")
    wcommit(repo, wt, "Folded\n\nOrch-Task: t1\nOrch-Evidence: local: the login flow\n"
            "  works on the real device", {"src/a.py": "a\n"})
    _, data = review(repo)
    assert "real device" in only(data, "overclaim")["message"]


def test_wrong_case_key_is_a_concern(repo: Repo) -> None:
    wt = repo.start("t1")
    wcommit(repo, wt, "Case\n\norch-task: t1\nOrch-Evidence: local: unit tests pass",
            {"src/a.py": "a\n"})
    code, data = review(repo)
    assert code == 1 and data["verdict"] == "concerns"
    assert "'orch-task'" in only(data, "trailer-case")["message"]


def test_equals_separator_is_not_a_trailer(repo: Repo) -> None:
    wt = repo.start("t1")
    wcommit(repo, wt, "Equals\n\nOrch-Task=t1\nOrch-Evidence: local: unit tests pass",
            {"src/a.py": "a\n"})
    _, data = review(repo)
    # git reads a block with a non-trailer line as no trailer block at all.
    assert repo.git("interpret-trailers", "--parse", input=repo.git("log", "-1", "--format=%B",
                                                                      "orch/t1")) == ""
    assert sorted(rules(data)) == ["no-evidence", "no-task-trailer"]


def test_no_commits_and_no_evidence(repo: Repo) -> None:
    wt = repo.start("t1")
    _, data = review(repo)
    only(data, "no-commits")
    wcommit(repo, wt, "Work\n\nOrch-Task: t1", {"src/a.py": "a\n"})
    _, data = review(repo)
    only(data, "no-evidence")


def test_review_refuses_unknown_and_ended_tasks(repo: Repo) -> None:
    missing = repo.orch("review", "nope")
    assert missing.code == 1 and "no task 'nope'" in missing.err
    repo.orch_ok("start", "t2", "--title", "x", "--no-worktree")
    repo.git("branch", "-D", "orch/t2")
    gone = repo.orch("review", "t2")
    assert gone.code == 1 and "branch orch/t2 is missing" in gone.err


def test_review_pack_and_text_output(repo: Repo, tmp_path: Path) -> None:
    wt = repo.start("t1", "--allow", "src/**")
    wcommit(repo, wt, f"Work\n\n{GOOD}", {"src/a.py": "a\n", "README.md": "x\n"})
    pack = tmp_path / "pack"
    result = repo.orch("review", "t1", "--pack", str(pack))
    assert result.code == 1 and "outside-allow: README.md" in result.out
    assert sorted(p.name for p in pack.iterdir()) == [
        "changed-files.txt", "diff.patch", "evidence.md", "findings.json", "reviewer-prompt.md"]
    assert "+a" in (pack / "diff.patch").read_text()
    assert "A\t000000->100644\tsrc/a.py" in (pack / "changed-files.txt").read_text()
    assert "Orch-Evidence: local: unit tests pass" in (pack / "evidence.md").read_text()
    assert json.loads((pack / "findings.json").read_text())["verdict"] == "reject"
    assert repo.rev("orch/t1") in (pack / "reviewer-prompt.md").read_text()


def test_odd_file_names_are_judged_and_shown(repo: Repo) -> None:
    wt = repo.start("t1", "--allow", "src/**")
    (wt / "src").mkdir(exist_ok=True)
    (wt / "src" / "new\nline.py").write_text("a\n")
    os.makedirs(wt / "lib", exist_ok=True)
    (wt / os.fsdecode(b"lib/\xff\xfe name.py")).write_text("b\n")
    wcommit(repo, wt, f"Odd\n\n{GOOD}")
    text = repo.orch("review", "t1")
    assert text.code == 1 and "Traceback" not in text.err and "internal error" not in text.err
    _, data = review(repo)
    finding = only(data, "outside-allow")
    assert finding["path"] == os.fsdecode(b"lib/\xff\xfe name.py")
    assert "src/new\nline.py" in [c["path"] for c in data["changes"]]


def test_gate_timeout_and_missing_command_fail(repo: Repo) -> None:
    set_policy_gates(repo, ["sleep 5", "no-such-gate-command --flag"])
    wt = repo.start("t1")
    wcommit(repo, wt, f"Work\n\n{GOOD}\nOrch-Gate: sleep 5\n"
            "Orch-Gate: no-such-gate-command --flag", {"src/a.py": "a\n"})
    code, data = review(repo, "t1", "--rerun-gates", "--gate-timeout", "0.5")
    assert code == 1
    messages = sorted(f["message"] for f in data["findings"] if f["rule"] == "gate-failed")
    assert "timed out after 0.5s" in messages[1] and "cannot run" in messages[0]
    assert sorted(rules(data)) == ["gate-failed", "gate-failed"]
    bad = repo.orch("review", "t1", "--gate-timeout", "0")
    assert bad.code == 1 and "--gate-timeout must be a number of seconds" in bad.err


def test_review_from_the_worker_worktree_and_artifact_outside_repo(repo: Repo) -> None:
    wt = repo.start("t1")
    wcommit(repo, wt, "Direct\n\nOrch-Task: t1\nOrch-Evidence: direct: see log\n"
            "Orch-Artifact: /etc/passwd", {"src/a.py": "a\n"})
    result = repo.orch("review", "t1", "--json", cwd=wt / "src")
    assert result.code == 1
    data = result.json()
    assert isinstance(data, dict)
    assert "'/etc/passwd'" in only(data, "artifact-missing")["message"]


def test_unwritable_pack_records_nothing(repo: Repo, tmp_path: Path) -> None:
    wt = repo.start("t1")
    wcommit(repo, wt, f"Work\n\n{GOOD}", {"src/a.py": "a\n"})
    blocker = tmp_path / "file"
    blocker.write_text("not a folder\n")
    result = repo.orch("review", "t1", "--pack", str(blocker / "pack"))
    assert result.code == 1 and "cannot create the review pack folder" in result.err
    assert repo.status()["t1"]["review"] is None


def test_word_list_does_not_flag_ordinary_words(repo: Repo) -> None:
    wt = repo.start("t1")
    wcommit(repo, wt, "Claims\n\nOrch-Task: t1\nOrch-Evidence: local: device driver and "
            "product tests pass; deliver() returns early\n"
            "Orch-Evidence: direct: seen in production\nOrch-Artifact: https://grafana.example/d/1",
            {"src/a.py": "a\n"})
    assert review(repo)[0] == 0


def test_copy_into_forbidden_path_and_empty_blocked_reason(repo: Repo) -> None:
    repo.write("src/app.py", "".join(f"line {i}\n" for i in range(40)))
    repo.commit_all("longer app")
    wt = repo.start("t1", "--forbid", "src/vendor/**")
    text = (wt / "src/app.py").read_text()
    (wt / "src/vendor").mkdir()
    (wt / "src/vendor/app.py").write_text(text)
    (wt / "src/app.py").write_text(text + "one more\n")
    wcommit(repo, wt, f"Copy\n\n{GOOD}")
    _, data = review(repo)
    assert [(c["status"], c["old_path"]) for c in data["changes"]] == [
        ("M", None), ("C", "src/app.py")]
    assert only(data, "forbidden")["path"] == "src/vendor/app.py"
    wcommit(repo, wt, "Blocked\n\nOrch-Task: t1\nOrch-Evidence: blocked:", remove=(
        "src/vendor/app.py",))
    _, data = review(repo)
    assert "'blocked:'" in only(data, "evidence-malformed")["message"]


def test_docs_drift_is_a_concern(repo: Repo) -> None:
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write('\n[review]\ndocs = { "src/**" = "docs/*.md" }\n')
    repo.commit_all("Map src to docs")
    wt = repo.start("t1", "--allow", "src/**", "--allow", "docs/**")
    repo.write("src/app.py", "print('new')\n", cwd=wt)
    repo.commit_all("Change the app\n\nOrch-Evidence: local: python src/app.py", cwd=wt)
    repo.orch_ok("handoff", cwd=wt)
    stale = repo.orch("review", "t1", "--json").json()
    assert isinstance(stale, dict) and stale["verdict"] == "concerns"
    assert [f["rule"] for f in stale["findings"]] == ["docs-stale"]
    assert "src/app.py changed ('src/**') but nothing matching 'docs/*.md' did" \
        in stale["findings"][0]["message"]
    repo.write("docs/guide.md", "guide, updated\n", cwd=wt)
    repo.commit_all("Say so in the guide\n\nOrch-Evidence: local: read it", cwd=wt)
    repo.orch_ok("handoff", cwd=wt)
    assert repo.orch("review", "t1", "--json").json()["verdict"] == "pass"  # type: ignore[index]


def test_a_bad_docs_map_is_refused(repo: Repo) -> None:
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write('\n[review]\ndocs = { "src/**" = 3 }\n')
    wt = repo.start("t1", "--allow", "src/**")
    repo.write("src/app.py", "print('new')\n", cwd=wt)
    repo.commit_all("Change", cwd=wt)
    result = repo.orch("review", "t1")
    assert result.code == 1 and "[review] docs must be a table" in result.err
