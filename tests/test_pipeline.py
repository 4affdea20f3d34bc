"""The streaming pipeline end to end: embedded forge on 127.0.0.1, real git, real SQLite."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from gz_tui.forge_sim import ForgeSim, Scenario
from gz_tui.pipeline.runner import Pipeline
from tests.conftest import git_head
from tests.helpers import git_processes_touching, github_listing, repo_dirs, run_pipeline, settings_for


@pytest.fixture(scope="module")
def org300(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("forge300")
    with ForgeSim(root=root, org="acme", repos=300) as sim:
        yield sim, tmp_path_factory.mktemp("dest300") / "acme"


@pytest.mark.slow
def test_a_300_repo_org_is_cloned_completely_then_resynced(org300: Any) -> None:
    sim, dest = org300
    code, pipeline, events = run_pipeline(settings_for(sim, dest, workers=6))
    assert code == 0, [e for e in events if e["event"] in ("repo_failed", "listing_failed")][:3]
    names = set(sim.repo_names())
    assert len(names) == 300
    assert repo_dirs(dest) == names
    for name in sorted(names)[::37]:
        assert git_head(dest / name) == sim.head_of(name)
    summary = events[-1]
    assert summary["event"] == "summary" and summary["cloned"] == 300 and summary["failed"] == 0
    assert not any((dest / ".gz-tui" / "tmp").glob("*"))

    # Second pass: nothing pushed → nothing re-cloned; pushed repos are updated to the forge's new head.
    pushed = sorted(names)[:3]
    new_heads = {name: sim.push_commit(name) for name in pushed}
    sim.clear_log()
    code, _, events = run_pipeline(settings_for(sim, dest, workers=6))
    summary = events[-1]
    assert code == 0
    assert summary["cloned"] == 0
    assert summary["updated"] == 3
    assert summary["unchanged"] == 297
    for name, head in new_heads.items():
        assert git_head(dest / name, "origin/main") == head  # --update fetch moves the remote ref only
    # Incremental sync: git only touched repos pushed since (or whose push time the forge does not tell).
    never_dated = {item["name"] for item in github_listing(sim.base_url, "acme") if item.get("pushed_at") is None}
    fetched = {r.path.split("/")[2].removesuffix(".git") for r in sim.requests() if r.kind == "git"}
    assert set(pushed) <= fetched <= set(pushed) | never_dated


@pytest.mark.slow
def test_pause_fills_the_buffer_and_stops_api_requests_then_resume_finishes(forge_factory: Any, tmp_path: Path) -> None:
    """Paused, the buffer fills and the lister stops asking: at most the one page it fetches ahead, then nothing
    (three pages here: a lister deaf to backpressure would fetch the third)."""
    sim = forge_factory(org="acme", repos=250, scenario=Scenario(latency=0.01))
    dest = tmp_path / "acme"
    pipeline = Pipeline(settings_for(sim, dest, workers=2, buffer=10))
    observed: dict[str, Any] = {}

    async def main() -> int:
        pipeline.pause()
        async with anyio.create_task_group() as group:
            result: list[int] = []

            async def run() -> None:
                result.append(await pipeline.run())

            group.start_soon(run)
            with anyio.fail_after(20):
                while pipeline.snapshot().buffer_used < 10:
                    await anyio.sleep(0.05)
            observed["buffer_full"] = pipeline.snapshot()
            observed["requests_when_full"] = len(sim.api_requests())
            await anyio.sleep(0.6)
            observed["requests_after"] = len(sim.api_requests())
            await anyio.sleep(0.6)
            observed["requests_later"] = len(sim.api_requests())
            observed["cloned_while_paused"] = pipeline.snapshot().counts.cloned
            pipeline.unpause()
        return result[0]

    code = anyio.run(main)
    snap = observed["buffer_full"]
    assert snap.buffer_used == snap.buffer_capacity == 10
    assert snap.lister_state.value == "blocked"
    assert snap.run_state.value == "paused"
    assert observed["requests_after"] - observed["requests_when_full"] <= 1  # the page fetched ahead, if not yet in
    assert observed["requests_later"] == observed["requests_after"] <= 2
    assert observed["cloned_while_paused"] == 0
    assert code == 0
    assert len(repo_dirs(dest)) == 250


def test_cancel_kills_git_and_leaves_no_partial_directory_within_two_seconds(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=20, scenario=Scenario(repo_size_kb=8192))
    dest = tmp_path / "acme"
    pipeline = Pipeline(settings_for(sim, dest, workers=3))
    timing: dict[str, float] = {}

    async def main() -> int:
        result: list[int] = []
        async with anyio.create_task_group() as group:

            async def run() -> None:
                result.append(await pipeline.run())

            group.start_soon(run)
            with anyio.fail_after(30):
                while not git_processes_touching(dest):
                    await anyio.sleep(0.02)
            timing["cancel"] = time.monotonic()
            pipeline.cancel()
        timing["stopped"] = time.monotonic()
        return result[0]

    code = anyio.run(main)
    assert code == 130
    assert timing["stopped"] - timing["cancel"] < 2.0
    assert git_processes_touching(dest) == []
    assert list((dest / ".gz-tui" / "tmp").glob("*")) == [] if (dest / ".gz-tui" / "tmp").exists() else True
    for clone in repo_dirs(dest):
        assert (dest / clone / ".git" / "HEAD").exists()


def test_filters_skip_archived_forks_and_regexes(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=40)
    dest = tmp_path / "acme"
    code, _, events = run_pipeline(settings_for(sim, dest, skip_archived=True, skip_forks=True, exclude=r"-0001\d$"))
    assert code == 0
    skipped = {e["repo"].split("/")[-1]: e["reason"] for e in events if e["event"] == "repo_skipped"}
    cloned = repo_dirs(dest)
    assert cloned and not (cloned & set(skipped))
    assert any("archived" in r for r in skipped.values())
    assert any("fork" in r for r in skipped.values())
    assert any("--exclude" in r for r in skipped.values())
    assert len(cloned) + len(skipped) == 40


def test_a_finished_runs_clock_stops(forge_factory: Any, tmp_path: Path) -> None:
    """The dashboard keeps showing a finished run: its elapsed time must not keep counting."""
    from gz_tui.clock import FakeClock

    sim = forge_factory(org="acme", repos=3)
    clock = FakeClock()
    code, pipeline, _ = run_pipeline(settings_for(sim, tmp_path / "acme"), clock=clock)
    assert code == 0
    ended = pipeline.snapshot()
    clock.advance(3600)
    later = pipeline.snapshot()
    assert later.elapsed == ended.elapsed and later.now == ended.now


def test_git_throttling_is_shown_until_the_reduced_concurrency_is_reconsidered(forge_factory: Any, tmp_path: Path) -> None:
    from gz_tui.tui.widgets.rate_limit import rate_limit_text

    sim = forge_factory(org="acme", repos=30, scenario=Scenario(git_throttle_rate=0.3, seed=3))
    code, pipeline, events = run_pipeline(settings_for(sim, tmp_path / "acme", attempts=5), git_backoff=0.01)
    assert any(e["event"] == "repo_retry" and e["error_class"] == "throttled" for e in events)
    snap = pipeline.snapshot()
    assert snap.rate.git_throttled_until is not None and snap.rate.git_throttled_until > snap.now
    assert "git throttled for" in rate_limit_text(snap).variants[0].plain
