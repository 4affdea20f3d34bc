"""Errors a newcomer meets each get one line saying what to do; conventions a user expects hold."""

from __future__ import annotations

import json
import stat
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from gz_tui.cli import tokenless_notes
from gz_tui.config import Settings
from tests.conftest import run_cli
from tests.helpers import github_listing, repo_dirs

TOKEN = "ghp_FirstRunUserToken0000000000000000000"


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and "no token" not in line]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def fake_git(tmp_path: Path, version: str | None) -> str:
    """A PATH whose `git` is missing (version None) or reports an old version."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if version is not None:
        script = bin_dir / "git"
        script.write_text(f"#!/bin/sh\necho 'git version {version}'\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(bin_dir)


def test_no_git_installed(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2)
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(tmp_path / "d"), env={"PATH": fake_git(tmp_path, None)})
    assert result.returncode == 2
    assert "git is not installed" in one_line(result.stderr)


def test_git_too_old_for_git_config_count(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2)
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(tmp_path / "d"), env={"PATH": fake_git(tmp_path, "2.20.1")})
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "2.20 is too old" in line and "2.31" in line


def test_dest_not_writable(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(blocker / "acme"))
    assert result.returncode == 2
    assert "writable --dest" in one_line(result.stderr)


def test_private_org_without_token_hints_at_the_token(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2)
    result = run_cli("acme-private", "--base-url", sim.base_url, "--dest", str(tmp_path / "d"))
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "not found" in line and "token" in line and "spelling" in line


def test_unauthenticated_github_warns_about_the_hourly_limit(tmp_path: Path) -> None:
    # github.com itself is not reachable from a test: the note is asked of the function the CLI prints it from.
    public = Settings(owner="acme", dest=tmp_path / "d", target="acme")
    assert "acme" in next(iter(tokenless_notes([public]).values()))
    assert "60 API requests an hour" in next(iter(tokenless_notes([public])))
    assert tokenless_notes([replace(public, token="ghp_x")]) == {}
    assert tokenless_notes([replace(public, base_url="https://ghe.example.com/api/v3")]) == {}, "GitHub Enterprise sets its own limits"


def test_github_enterprise_layout_and_user_owner(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="octocat", repos=4, owner_kind="user")
    dest = tmp_path / "octocat"
    result = run_cli("octocat", "--base-url", f"{sim.base_url}/api/v3", "--dest", str(dest))
    assert result.returncode == 0, result.stderr
    paths = [r.path for r in sim.api_requests()]
    public = {item["name"] for item in github_listing(sim.base_url, "octocat", path="/users/octocat/repos")}
    assert len(public) == 3 and repo_dirs(dest) == public  # without the user's token, GitHub shows public repos only
    assert "octocat is a user, not an organisation: only their public repos are listed" in result.stderr
    assert all(p.startswith("/api/v3/") for p in paths)
    assert any("/users/octocat/repos" in p for p in paths)


def test_a_user_owner_with_their_own_token_gets_their_private_repos_too(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="octocat", repos=12, owner_kind="user", token=TOKEN)
    own = [item for item in github_listing(sim.base_url, "octocat", TOKEN, path="/user/repos") if item["owner"]["login"] == "octocat"]
    private = {item["name"] for item in own} - {
        item["name"] for item in github_listing(sim.base_url, "octocat", TOKEN, path="/users/octocat/repos")
    }
    assert private, "the forge should hide some private repos from the public user listing"
    dest = tmp_path / "octocat"
    result = run_cli("octocat", "--base-url", sim.base_url, "--dest", str(dest), env={"GH_TOKEN": TOKEN})
    assert result.returncode == 0, result.stderr
    assert repo_dirs(dest) == set(sim.repo_names())
    assert private <= repo_dirs(dest)
    assert "only their public repos" not in result.stderr


def test_no_color_turns_colour_off_even_on_a_terminal() -> None:
    import io

    from gz_tui.headless import wants_color

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert wants_color(Terminal(), {"TERM": "xterm"}) is True
    assert wants_color(Terminal(), {"TERM": "xterm", "NO_COLOR": "1"}) is False
    assert wants_color(io.StringIO(), {"TERM": "xterm"}) is False  # a pipe (cron, CI) never gets colour


def test_default_dest_is_the_owner_under_the_current_directory(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2)
    result = run_cli("acme", "--base-url", sim.base_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(repo_dirs(tmp_path / "acme")) == 2


def test_demo_runs_headless_against_the_builtin_forge(tmp_path: Path) -> None:
    result = run_cli("--demo", "--demo-repos", "6", "--json", "--dest", str(tmp_path / "demo"), env={"GH_TOKEN": "unused"})
    events = [json.loads(line) for line in result.stdout.splitlines()]
    failed = [e for e in events if e["event"] == "repo_failed"]
    # The demo forge lists a few hostile entries on purpose: each is refused, the rest is cloned.
    assert result.returncode == 1, result.stderr
    assert failed and {e["error_class"] for e in failed} == {"unsafe"}
    cloned = repo_dirs(tmp_path / "demo")
    assert {f"repo-{i:05d}" for i in range(1, 7)} <= cloned
    assert ".github" in cloned


def test_the_demo_says_it_removes_its_clones_and_gives_the_terminal_back_at_once(tmp_path: Path) -> None:
    """The demo writes gigabytes into a temporary folder: its end says so, and removing them does not hold the prompt."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    result = run_cli("--demo", "--demo-repos", "6", "--json", env={"GH_TOKEN": "unused", "TMPDIR": str(scratch)})
    assert result.returncode == 1, result.stderr  # the planted hostile entries
    line = next(line for line in result.stderr.splitlines() if "removing the demo's clones" in line)
    assert str(scratch) in line and "pass --dest to keep them" in line
    deadline = time.monotonic() + 30
    while any(scratch.iterdir()) and time.monotonic() < deadline:  # removed by a process of its own
        time.sleep(0.1)
    assert list(scratch.iterdir()) == []
