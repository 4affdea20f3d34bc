"""GitLab group trees and Gitea orgs end to end: nested paths, paging without totals, 429 waits, resume; and what every
forge shares: a missing owner, a token in the provider's variable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gz_tui.clock import FakeClock
from gz_tui.forge_sim import Scenario
from tests.conftest import git_head, run_cli
from tests.helpers import interrupt_when, repo_dirs, run_pipeline, settings_for, token_variable


def provider_settings(sim: Any, dest: Path, provider: str, **changes: Any) -> Any:
    return settings_for(sim, dest, provider=provider, base_url=sim.api_url(provider), **changes)


def test_gitlab_group_tree_lands_at_nested_paths(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=60)
    dest = tmp_path / "acme"
    code, _, events = run_pipeline(provider_settings(sim, dest, "gitlab"))
    assert code == 0, [e for e in events if e["event"].endswith("failed")][:3]
    expected = set(sim.repo_names("gitlab"))
    assert any(name.count("/") >= 3 for name in expected), "the forge should serve a tree three levels deep"
    assert repo_dirs(dest) == expected
    deepest = max(expected, key=lambda n: n.count("/"))
    assert git_head(dest / deepest) == sim.head_of(deepest)
    listing = [r for r in sim.api_requests() if "/projects" in r.path]
    assert all("include_subgroups=true" in r.path and "with_shared=false" in r.path for r in listing)


def test_gitlab_paging_past_10000_without_totals_is_complete(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=10_120)
    code, _, events = run_pipeline(provider_settings(sim, tmp_path / "acme", "gitlab", dry_run=True, buffer=20_000))
    assert code == 0
    assert events[-1]["listed"] == 10_120
    pages = [e for e in events if e["event"] == "page"]
    assert len(pages) == 102


def test_gitlab_429_retry_after_is_waited_out_with_no_requests_inside(forge_factory: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    sim = forge_factory(org="acme", repos=450, clock=clock, scenario=Scenario(secondary_every=3, secondary_retry_after=45))
    code, _, events = run_pipeline(provider_settings(sim, tmp_path / "acme", "gitlab", dry_run=True, buffer=1000), clock=clock)
    assert code == 0
    assert events[-1]["listed"] == 450
    waits = [(e["time"], e["until"]) for e in events if e["event"] == "rate_limit_wait" and e["kind"] == "throttled"]
    assert waits and all(round(until - start) == 45 for start, until in waits)
    for start, until in waits:
        assert not [r for r in sim.api_requests() if start + 0.001 < r.time < until - 0.001]


def test_gitlab_resume_after_ctrl_c(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=50, scenario=Scenario(repo_size_kb=512))
    dest = tmp_path / "acme"
    args = [
        sys.executable,
        "-m",
        "gz_tui",
        "acme",
        "--provider",
        "gitlab",
        "--base-url",
        sim.api_url("gitlab"),
        "--dest",
        str(dest),
        "--json",
    ]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = interrupt_when(process, lambda: len(repo_dirs(dest)) >= 4)
    assert process.returncode == 130, err
    result = run_cli("acme", "--provider", "gitlab", "--base-url", sim.api_url("gitlab"), "--dest", str(dest), "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "resume"
    assert events[-1]["resumed_done"] >= 4
    assert repo_dirs(dest) == set(sim.repo_names("gitlab"))


def test_gitlab_user_namespace_is_cloned_flat(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="alice", repos=25, owner_kind="user")
    dest = tmp_path / "alice"
    code, _, events = run_pipeline(provider_settings(sim, dest, "gitlab"))
    assert code == 0, [e for e in events if e["event"].endswith("failed")][:3]
    assert repo_dirs(dest) == set(sim.repo_names("gitlab"))
    assert all("/" not in name for name in repo_dirs(dest))
    paths = [r.path for r in sim.api_requests()]
    assert any(p.startswith("/api/v4/users/alice/projects") for p in paths)
    for name in sorted(repo_dirs(dest))[::8]:
        assert git_head(dest / name) == sim.head_of(name)


def test_gitlab_missing_group_or_user_is_one_clear_line(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=3)
    result = run_cli("nobody", "--provider", "gitlab", "--base-url", sim.api_url("gitlab"), "--dest", str(tmp_path / "n"))
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"gz-tui: gitlab owner 'nobody' not found at {sim.base_url.split('//')[1]} (if it is private, pass a token that can see it); check the spelling"
    )


def test_gitea_org_with_clamped_limit_is_cloned_completely(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=130)
    dest = tmp_path / "acme"
    code, _, events = run_pipeline(provider_settings(sim, dest, "gitea"))
    assert code == 0, [e for e in events if e["event"].endswith("failed")][:3]
    assert repo_dirs(dest) == set(sim.repo_names("gitea"))
    pages = [e for e in events if e["event"] == "page"]
    assert len(pages) == 3  # 50 + 50 + 30: a short page is never taken as the end by itself


@pytest.mark.parametrize("provider", ["gitlab", "gitea", "bitbucket", "bitbucket-server", "sourcehut", "gogs"])
def test_unknown_group_or_org_is_one_line_exit_2(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim = forge_factory(org="acme", repos=3)
    result = run_cli("nope", "--provider", provider, "--base-url", sim.api_url(provider), "--dest", str(tmp_path / "d"))
    assert result.returncode == 2
    lines = [
        line for line in result.stderr.strip().splitlines() if not line.startswith("gz-tui: no token:")
    ]  # Bitbucket Cloud's, Sourcehut's note
    assert len(lines) == 1 and "not found" in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("provider", ["gitlab", "gitea", "bitbucket", "bitbucket-server", "sourcehut", "gogs"])
def test_token_protected_forges_accept_the_provider_token_variable(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    token = "glpat-provider-token-123"
    sim = forge_factory(org="acme", repos=5, token=token)
    variable = token_variable(provider)
    dest = tmp_path / "acme"
    result = run_cli(
        "acme", "--provider", provider, "--base-url", sim.api_url(provider), "--dest", str(dest), "--json", env={variable: token}
    )
    assert result.returncode == 0, result.stderr
    assert len(repo_dirs(dest)) == len(sim.repo_names(provider))
    assert token not in result.stdout + result.stderr


def test_gitlab_skip_archived_does_not_call_archived_clones_gone(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=30)
    dest = tmp_path / "acme"
    assert run_pipeline(provider_settings(sim, dest, "gitlab"))[0] == 0
    code, _, events = run_pipeline(provider_settings(sim, dest, "gitlab", skip_archived=True))
    assert code == 0
    assert events[-1]["listed"] < 30, "the server should have left the archived projects out"
    assert events[-1]["gone"] == 0 and not [e for e in events if e["event"] == "notice"]
