"""The cached parse of orch.toml is used only for the file exactly as it was parsed."""

from __future__ import annotations

import json
import time

import pytest
from conftest import Repo

from git_orch import config
from git_orch.repo import OrchRepo


def cache_of(repo: Repo) -> dict[str, object]:
    data = json.loads((OrchRepo(repo.path).common_dir / "orch" / config.POLICY_CACHE).read_text())
    assert isinstance(data, dict)
    return data


def set_max_active(repo: Repo, value: str) -> None:
    path = repo.path / "orch.toml"
    text = path.read_text()
    start = text.index("max_active = ")
    end = text.index("\n", start)
    path.write_text(text[:start] + f"max_active = {value}" + text[end:])


def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short racy window, and the test's orch.toml older than it."""
    monkeypatch.setattr(config, "RACY_NS", 20_000_000)
    time.sleep(0.05)


def test_a_changed_file_is_parsed_again(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    settled(monkeypatch)
    orepo = OrchRepo(repo.path)
    assert config.load_policy(orepo).max_active == 3
    assert cache_of(repo)["doc"] == config.load_policy(orepo).raw
    set_max_active(repo, "5")  # same size: only the file's times and inode tell
    assert config.load_policy(orepo).max_active == 5
    set_max_active(repo, "'x'")
    with pytest.raises(config.OrchError, match="max_active must be an integer"):
        config.load_policy(orepo)  # checks run on the cached values too
    with pytest.raises(config.OrchError, match="max_active must be an integer"):
        config.load_policy(orepo)


def test_a_wrong_or_broken_cache_is_not_used(repo: Repo,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    settled(monkeypatch)
    orepo = OrchRepo(repo.path)
    config.load_policy(orepo)
    cache = orepo.common_dir / "orch" / config.POLICY_CACHE
    forged = cache_of(repo)
    forged["doc"] = {"orch": {"max_active": 99}}
    forged["stat"] = [0, 0, 0, 0, 0]
    cache.write_text(json.dumps(forged))
    assert config.load_policy(orepo).max_active == 3
    cache.write_text("{not json")
    assert config.load_policy(orepo).max_active == 3
    assert cache_of(repo)["doc"] == config.load_policy(orepo).raw


def test_what_json_cannot_hold_and_fresh_files_are_not_cached(repo: Repo,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    orepo = OrchRepo(repo.path)
    cache = orepo.common_dir / "orch" / config.POLICY_CACHE
    cache.unlink(missing_ok=True)
    (repo.path / "orch.toml").write_text((repo.path / "orch.toml").read_text())
    config.load_policy(orepo)  # written a moment ago: its times may not move on the next edit
    assert not cache.exists()
    monkeypatch.setattr(config, "RACY_NS", 0)
    with open(repo.path / "orch.toml", "a") as handle:
        handle.write("\n[release]\nfreeze = 2026-12-24T00:00:00Z\n")
    policy = config.load_policy(orepo)
    assert str(policy.raw["release"]["freeze"]).startswith("2026-12-24")
    assert not cache.exists()
