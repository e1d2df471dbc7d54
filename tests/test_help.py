"""Help that opens: man pages current, `git orch help`, usage hints, shell completion."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Repo

from git_orch import shipdata

SOURCE = Path(__file__).resolve().parent.parent
GIT_COMPLETION = Path("/usr/share/bash-completion/completions/git")
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


def test_shipped_man_pages_and_completions_are_current() -> None:
    stale = [rel for rel, text in shipdata.generate().items()
             if not (SOURCE / rel).is_file() or (SOURCE / rel).read_text() != text]
    assert not stale, f"stale: {stale}; run: python -m git_orch.shipdata"
    pages = {p.name for p in (SOURCE / shipdata.MAN_DIR).glob("*.1")}
    assert {"git-orch.1", "git-orch-land.1", "git-orch-demo.1", "git-orch-help.1"} <= pages


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_page_renders(tmp_path: Path) -> None:
    page = SOURCE / shipdata.MAN_DIR / "git-orch-land.1"
    out = subprocess.run(["man", "-l", str(page)], capture_output=True, text=True, check=True,
                         env={**os.environ, "MANPAGER": "cat", "MANWIDTH": "100"}).stdout
    assert "git orch land [OPTIONS] ID" in out
    assert "--push / --no-push" in out and "git orch land fix-login --squash" in out


def test_help_command(repo: Repo) -> None:
    top = repo.orch_ok("help").out
    assert "Usage: git orch [OPTIONS] COMMAND" in top and "land" in top
    land = repo.orch_ok("help", "land").out
    assert "Usage: git orch land [OPTIONS] ID" in land
    assert "Usage: git orch plan add" in repo.orch_ok("help", "plan", "add").out
    bad = repo.orch("help", "nope")
    assert bad.code == 2 and "no command 'nope'" in bad.err


def test_usage_errors_point_at_help_that_works(repo: Repo) -> None:
    result = repo.orch("land")
    assert result.code == 2
    assert "Try 'git orch help land' for help." in result.err
    assert "Missing argument 'ID'" in result.err
    unknown = repo.orch("nope")
    assert unknown.code == 2 and "Try 'git orch help' for help." in unknown.err
    assert "--help" not in unknown.err


def complete(line: str, tmp_path: Path) -> list[str]:
    """Run bash's own git completion on `line` (cursor at the end) with ours loaded."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    script = tmp_path / "complete.sh"
    script.write_text(
        (f"source {BASH_COMPLETION}\n" if BASH_COMPLETION.is_file() else "")
        + f"source {GIT_COMPLETION}\n"
        'eval "$(git-orch completion bash)"\n'
        f"COMP_LINE={line!r}\nCOMP_POINT=${{#COMP_LINE}}\n"
        "read -ra COMP_WORDS <<<\"$COMP_LINE\"\n"
        "[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')\n"
        "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n"
        "$(complete -p \"${COMP_WORDS[0]}\" | sed -E 's/.* -F ([^ ]+) .*/\\1/') \n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "--norc", "--noprofile", str(script)], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=60, check=True)
    return [w.strip() for w in proc.stdout.splitlines() if w.strip()]


@pytest.mark.skipif(not GIT_COMPLETION.is_file(),
                    reason="git's bash completion is not installed here")
def test_bash_completion_through_gits_own(tmp_path: Path) -> None:
    assert shutil.which("git-orch", path=str(Path(sys.executable).parent)), "no git-orch script"
    assert set(complete("git orch la", tmp_path)) == {"land"}
    assert {"land", "status", "demo", "help"} <= set(complete("git orch ", tmp_path))
    assert {"--push", "--no-push", "--squash"} <= set(complete("git orch land --", tmp_path))
    assert set(complete("git-orch sta", tmp_path)) == {"start", "status"}
    assert set(complete("git orch completion ", tmp_path)) == {"bash", "zsh"}


@pytest.mark.skipif(not GIT_COMPLETION.is_file(), reason="git's bash completion is not installed")
def test_bash_completion_offers_task_ids(repo: Repo, tmp_path: Path) -> None:
    repo.start("fix-login", "--allow", "src/login/**")
    repo.start("fix-logout", "--allow", "src/logout/**")
    repo.start("docs", "--allow", "docs/**")
    line = f"git -C {repo.path} orch land fix-"
    assert set(complete(line, tmp_path)) == {"fix-login", "fix-logout"}


def test_completion_scripts_printed(repo: Repo) -> None:
    bash = repo.orch_ok("completion", "bash").out
    assert "_git_orch ()" in bash and "_GIT_ORCH_COMPLETE=bash_complete" in bash
    assert "compdef _git-orch git-orch" in repo.orch_ok("completion", "zsh").out
    assert repo.orch("completion", "fish").code == 2


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion_function_speaks_clicks_protocol(tmp_path: Path) -> None:
    """zsh's _git calls _git-orch with words=(orch ...); _describe is replaced by a printer."""
    script = tmp_path / "complete.zsh"
    script.write_text(
        "compdef() { : }\n_path_files() { : }\n"
        '_describe() { shift 3; print -rl -- "${(@P)1}" }\n'
        'eval "$(git-orch completion zsh)"\n'
        "words=(orch la); CURRENT=2; _git-orch\n"
        "print -- ---\n"
        "words=(orch land --pu); CURRENT=3; _git-orch\n"
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["zsh", "-f", str(script)], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=60, check=True).stdout
    first, second = out.split("---\n")
    assert [line.split(":")[0] for line in first.splitlines()] == ["land"]
    assert "Merge an accepted task" in first
    assert [line.split(":")[0] for line in second.splitlines()] == ["--push"]
