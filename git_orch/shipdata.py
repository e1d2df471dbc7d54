"""Files the wheel installs outside the package, generated from the commands.

Man pages go to <prefix>/share/man/man1 (so `git orch --help` and `git help
orch` open them), the bash completion to <prefix>/share/bash-completion/
completions/git-orch (bash-completion loads it on first `git orch <TAB>`), the
zsh one to <prefix>/share/zsh/site-functions/_git-orch. They are kept in the
source tree under share/ because setuptools data-files can only copy files;
`python -m git_orch.shipdata` rewrites them, and a test fails when they are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from git_orch import manpage
from git_orch.commands.completion import SCRIPTS

MAN_DIR = "share/man/man1"


def generate() -> dict[str, str]:
    """Path under the source root -> text of every shipped file."""
    files = {f"{MAN_DIR}/{name}": text for name, text in manpage.pages().items()}
    files["share/bash-completion/completions/git-orch"] = SCRIPTS["bash"]
    files["share/zsh/site-functions/_git-orch"] = SCRIPTS["zsh"]
    return files


def write(root: Path) -> list[Path]:
    """Write every file under root, dropping man pages of commands that are gone."""
    files = generate()
    for old in (root / MAN_DIR).glob("git-orch*.1"):
        if f"{MAN_DIR}/{old.name}" not in files:
            old.unlink()
    written = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    source_root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent
    for written_path in write(source_root):
        print(f"wrote {written_path}")
