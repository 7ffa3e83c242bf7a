"""The environment cache's bookkeeping: last use, sizes, and LRU eviction of unused ones."""

from __future__ import annotations

import os
import time
from pathlib import Path

from worker import environments

MB = 1024 * 1024


def fake_env(envs: Path, name: str, *, size_mb: int, used_ago_s: float) -> Path:
    """An environment as a build leaves it, with its size and last use set."""
    env = envs / name
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").touch()
    (env / environments.IN_USE_FILE).touch()
    (env / environments.SIZE_FILE).write_text(str(size_mb * MB))
    marker = env / environments.LAST_USED_FILE
    marker.touch()
    then = time.time() - used_ago_s
    os.utime(marker, (then, then))
    return env


def names(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_least_recently_used_go_first_until_the_rest_fits(tmp_path: Path) -> None:
    fake_env(tmp_path, "base", size_mb=50, used_ago_s=9999)
    fake_env(tmp_path, "old", size_mb=10, used_ago_s=300)
    fake_env(tmp_path, "older", size_mb=10, used_ago_s=600)
    fake_env(tmp_path, "new", size_mb=10, used_ago_s=1)
    evicted = environments.evict(tmp_path, 15 * MB)
    assert names(evicted) == ["older", "old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "new"]


def test_nothing_is_evicted_under_the_limit(tmp_path: Path) -> None:
    fake_env(tmp_path, "a", size_mb=10, used_ago_s=600)
    assert environments.evict(tmp_path, 10 * MB) == []
    assert (tmp_path / "a").exists()


def test_an_environment_in_use_or_kept_is_never_evicted(tmp_path: Path) -> None:
    held = fake_env(tmp_path, "held", size_mb=10, used_ago_s=900)
    fake_env(tmp_path, "kept", size_mb=10, used_ago_s=800)
    fake_env(tmp_path, "idle", size_mb=10, used_ago_s=700)
    hold = environments.InUse(held)
    try:
        assert names(environments.evict(tmp_path, 0, keep="kept")) == ["idle"]
        assert held.exists()
    finally:
        hold.release()
    assert names(environments.evict(tmp_path, 0, keep="kept")) == ["held"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]


def test_environments_being_built_or_unmeasured_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / ".abc-123" / "bin").mkdir(parents=True)  # a build in progress
    (tmp_path / "nosize").mkdir()
    assert environments.evict(tmp_path, 0) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [".abc-123", "nosize"]


def test_last_use_is_written_at_most_once_a_minute(tmp_path: Path) -> None:
    env = fake_env(tmp_path, "e", size_mb=1, used_ago_s=30)
    marker = env / environments.LAST_USED_FILE
    before = marker.stat().st_mtime
    environments.mark_used(env)
    assert marker.stat().st_mtime == before
    later = time.time() + 31
    environments.mark_used(env, now=later)
    assert marker.stat().st_mtime == later
    marker.unlink()
    environments.mark_used(env)  # an environment from before markers existed
    assert marker.exists()


def test_tree_size_counts_hard_links_once(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 10000)
    os.link(tmp_path / "a", tmp_path / "b")
    single = environments.tree_size(tmp_path)
    (tmp_path / "c").write_bytes(b"y" * 10000)
    assert 10000 <= single < environments.tree_size(tmp_path)
