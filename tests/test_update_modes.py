"""Repos already on disk: fetch, pull, reset and skip; dirty checkouts and foreign folders are left alone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gz_tui.clock import FakeClock
from gz_tui.pipeline.gates import Governor
from tests.conftest import git_head, run_cli
from tests.helpers import run_pipeline, settings_for


@pytest.fixture
def cloned(forge_factory: Any, tmp_path: Path) -> tuple[Any, Path]:
    sim = forge_factory(org="acme", repos=3)
    dest = tmp_path / "acme"
    assert run_pipeline(settings_for(sim, dest))[0] == 0
    return sim, dest


def outcomes(events: list[dict[str, Any]]) -> dict[str, str]:
    return {e["repo"].split("/")[-1]: e.get("outcome", e["event"]) for e in events if e["event"] in ("repo_done", "repo_failed")}


def test_pull_fast_forwards_the_checkout(cloned: tuple[Any, Path]) -> None:
    sim, dest = cloned
    new = sim.push_commit("repo-00001")
    code, _, events = run_pipeline(settings_for(sim, dest, update="pull"))
    assert code == 0
    assert outcomes(events)["repo-00001"] == "updated"
    assert git_head(dest / "repo-00001") == new


def test_reset_moves_the_checkout_to_upstream(cloned: tuple[Any, Path]) -> None:
    sim, dest = cloned
    new = sim.push_commit("repo-00002")
    code, _, _ = run_pipeline(settings_for(sim, dest, update="reset"))
    assert code == 0
    assert git_head(dest / "repo-00002") == new


def test_a_dirty_checkout_is_never_merged_or_reset(cloned: tuple[Any, Path]) -> None:
    sim, dest = cloned
    before = git_head(dest / "repo-00001")
    (dest / "repo-00001" / "README.md").write_text("my local work\n")
    sim.push_commit("repo-00001")
    code, pipeline, events = run_pipeline(settings_for(sim, dest, update="reset"))
    assert code == 0
    assert (dest / "repo-00001" / "README.md").read_text() == "my local work\n"
    assert git_head(dest / "repo-00001") == before
    assert any(e.error_class == "dirty" and "repo-00001" in e.repo for e in pipeline.snapshot().errors)


def test_skip_leaves_existing_clones_untouched(cloned: tuple[Any, Path]) -> None:
    sim, dest = cloned
    sim.push_commit("repo-00003")
    sim.clear_log()
    code, _, events = run_pipeline(settings_for(sim, dest, update="skip"))
    assert code == 0
    assert set(outcomes(events).values()) == {"skipped"}
    assert not [r for r in sim.requests() if r.kind == "git"]


def test_foreign_folder_and_other_remote_are_reported_not_touched(cloned: tuple[Any, Path]) -> None:
    sim, dest = cloned
    sim.push_commit("repo-00001")
    sim.push_commit("repo-00002")
    subprocess.run(["git", "-C", str(dest / "repo-00001"), "remote", "set-url", "origin", "https://example.com/other.git"], check=True)
    (dest / "repo-00002").rename(dest / "moved")
    (dest / "repo-00002").mkdir()
    (dest / "repo-00002" / "notes.txt").write_text("not a clone\n")
    code, _, events = run_pipeline(settings_for(sim, dest))
    assert code == 1
    failed = {e["repo"].split("/")[-1]: e for e in events if e["event"] == "repo_failed"}
    assert failed["repo-00001"]["error_class"] == "conflict" and "another repository" in failed["repo-00001"]["message"]
    assert failed["repo-00002"]["error_class"] == "conflict" and "not a git clone" in failed["repo-00002"]["message"]
    assert (dest / "repo-00002" / "notes.txt").read_text() == "not a clone\n"


def test_shallow_clones_honour_depth(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=1)
    sim.push_commit("repo-00001")
    dest = tmp_path / "acme"
    assert run_pipeline(settings_for(sim, dest, depth=1))[0] == 0
    count = subprocess.run(["git", "-C", str(dest / "repo-00001"), "rev-list", "--count", "HEAD"], capture_output=True, text=True)
    assert count.stdout.strip() == "1"


def test_git_throttling_halves_concurrency_and_restores_it_when_quiet() -> None:
    clock = FakeClock()
    governor = Governor(8, clock, quiet_seconds=30)
    governor.throttled()
    assert governor.allowed == 4
    governor.throttled()
    assert governor.allowed == 2
    clock.advance(29)
    governor.restore_when_quiet()
    assert governor.allowed == 2
    clock.advance(1)
    governor.restore_when_quiet()
    assert governor.allowed == 3
    for _ in range(10):
        clock.advance(30)
        governor.restore_when_quiet()
    assert governor.allowed == 8


def test_repos_gone_from_the_forge_are_reported_and_kept(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=12)
    dest = tmp_path / "acme"
    assert run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest)).returncode == 0
    for name in ("repo-00003", "repo-00007"):
        sim.remove_repo(name)
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[-1]["gone"] == 2
    notices = [e["message"] for e in events if e["event"] == "notice"]
    assert len(notices) == 1 and "repo-00003, repo-00007" in notices[0] and "2 clones" in notices[0]
    assert (dest / "repo-00003" / ".git").is_dir() and (dest / "repo-00007" / ".git").is_dir()

    status = run_cli("status", str(dest))
    assert "no longer listed by the forge, left on disk (2):" in status.stdout
    assert "  repo-00003\n  repo-00007\n" in status.stdout

    headless = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest))
    assert "unchanged 10 " in headless.stdout  # the 304 of page 1 does not bring the deleted two back
    assert "no longer on the forge 2 (kept)" in headless.stdout
    assert "note: 2 clones in" in headless.stderr

    (dest / "repo-00007" / "mine.txt").write_text("local work\n")
    pruned = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--prune", "--prune-force")
    assert pruned.returncode == 0, pruned.stderr
    assert "no longer on the forge 2 (moved to the attic 1, kept for local work 1)" in pruned.stdout
    assert not (dest / "repo-00003").exists() and (dest / "repo-00007" / ".git").is_dir()


def test_an_unfinished_listing_reports_nothing_gone(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=10)
    dest = tmp_path / "acme"
    assert run_pipeline(settings_for(sim, dest))[0] == 0
    sim.scenario.fault_rate = 1.0  # every API request fails: the listing stops on page 1, nothing was re-listed
    code, _, events = run_pipeline(settings_for(sim, dest), clock=FakeClock())
    assert code != 0
    assert events[-1]["gone"] == 0 and not [e for e in events if e["event"] == "notice"]
