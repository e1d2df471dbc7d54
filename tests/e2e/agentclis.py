"""Where the pinned agent CLIs are, and how a test points one at the scripted server.

`scripts/install-agent-clis.sh` installs them with npm into `.agent-clis/` at
the project root (gitignored); a failed install leaves its reason in
`.agent-clis/install-failed`, which the tests quote when they skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIX = ROOT / ".agent-clis"
BIN = PREFIX / "node_modules" / ".bin"
# codex's native binary: it is also its own sandbox helper (by argv[0]).
CODEX_NATIVE = (PREFIX / "node_modules" / "@openai" / "codex-linux-x64" / "vendor"
                / "x86_64-unknown-linux-musl" / "bin" / "codex")


def require(name: str) -> Path:
    """The installed CLI, or skip saying why it is not there."""
    path = BIN / name
    if path.exists():
        return path
    failed = PREFIX / "install-failed"
    why = failed.read_text().strip()[-300:] if failed.exists() else "not installed"
    pytest.skip(f"{name} CLI missing ({why}): run scripts/install-agent-clis.sh")


def codex_env(home: Path, bindir: Path, base_url: str) -> dict[str, str]:
    """CODEX_HOME with a scripted provider, and the sandbox helper first on PATH.

    codex refuses to create its `codex-linux-sandbox` helper link when
    CODEX_HOME is under /tmp, and Debian's bwrap then cannot exec it: the
    link is made here instead.
    """
    require("codex")
    if not CODEX_NATIVE.exists():
        pytest.skip(f"codex native binary missing at {CODEX_NATIVE} (not linux-x64?)")
    home.mkdir(parents=True, exist_ok=True)
    bindir.mkdir(parents=True, exist_ok=True)
    link = bindir / "codex-linux-sandbox"
    if not link.exists():
        link.symlink_to(CODEX_NATIVE)
    (home / "config.toml").write_text(
        'model = "scripted"\nmodel_provider = "scripted"\n'
        "[model_providers.scripted]\n"
        f'name = "scripted"\nbase_url = "{base_url}/v1"\n'
        'env_key = "SCRIPTED_API_KEY"\nwire_api = "responses"\n'
    )
    return {"CODEX_HOME": str(home), "SCRIPTED_API_KEY": "dummy",
            "PATH": f"{bindir}{os.pathsep}{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def claude_env(base_url: str) -> dict[str, str]:
    require("claude")
    return {"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": "dummy",
            "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
