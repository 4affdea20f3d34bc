"""Shared fixtures: a real embedded forge on 127.0.0.1, real git, real SQLite; the user's own config kept out."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gz_tui.forges.registry import KNOWN_TOKEN_VARS

TOKEN_VARS = tuple(sorted(KNOWN_TOKEN_VARS))
"""Every variable a forge's token is read from (each provider declares its own)."""
SHARD_VARS = ("JOB_COMPLETION_INDEX", "CI_NODE_INDEX", "CI_NODE_TOTAL", "GZ_TUI_SHARDS")
"""A test suite run inside a sharded CI job must not shard the runs it tests."""


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No real config file, log dir, token or `gh` reaches a test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("GZ_TUI_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("GZ_TUI_LOG_DIR", str(home / "logs"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in TOKEN_VARS + SHARD_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def forge_factory(tmp_path: Path) -> Iterator[object]:
    """Start embedded forges; all are stopped at the end of the test."""
    from gz_tui.forge_sim import ForgeSim

    started: list[ForgeSim] = []

    def start(**kwargs: object) -> ForgeSim:
        root = tmp_path / f"forge{len(started)}"
        sim = ForgeSim(root=root, **kwargs)  # type: ignore[arg-type]
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m gz_tui ARGS`` as a user would run it, headless (stdout is a pipe)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "gz_tui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def git_head(path: Path, rev: str = "HEAD") -> str:
    return subprocess.run(["git", "-C", str(path), "rev-parse", rev], capture_output=True, text=True, check=True).stdout.strip()
