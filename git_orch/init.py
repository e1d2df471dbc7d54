"""`git orch init`: policy file, worktree config, and an empty ledger. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from git_orch.config import TEMPLATE, config_path, default_main_branch
from git_orch.errors import OrchError
from git_orch.record.ledger import create_empty_ledger as create_empty_ledger
from git_orch.repo import OrchRepo


@dataclass
class InitResult:
    config: Path
    wrote_config: bool
    created_ledger: bool


def enable_worktree_config(orepo: OrchRepo) -> None:
    """Per-worktree config is how a worktree is marked as a worker."""
    if orepo.config_get("extensions.worktreeConfig") == "true":
        return
    version = orepo.config_get("core.repositoryformatversion") or "0"
    if version == "0":
        orepo.git_common(["config", "core.repositoryformatversion", "1"])
    orepo.git_common(["config", "extensions.worktreeConfig", "true"])


def init(orepo: OrchRepo, main_branch: str | None = None) -> InitResult:
    path = config_path(orepo)
    wrote = False
    if not path.exists():
        branch = main_branch or default_main_branch(orepo)
        if any(ch in branch for ch in '"\\\n'):
            raise OrchError(f"bad main branch name {branch!r}")
        path.write_text(TEMPLATE.format(main_branch=branch), encoding="utf-8")
        wrote = True
    enable_worktree_config(orepo)
    created = create_empty_ledger(orepo)
    return InitResult(path, wrote, created)
