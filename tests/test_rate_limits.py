"""Rate limits and flaky networks against the embedded forge, with one fake clock shared by forge and client.

The fake clock makes minute-long waits instant; the forge's windows and the request log use the same
clock, so "no API request inside a wait" is checked in the forge's own time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gz_tui.clock import FakeClock
from gz_tui.forge_sim import Scenario
from gz_tui.forges.http import RetryPolicy
from tests.helpers import json_sink, repo_dirs, run_pipeline, settings_for


def waits_of(events: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    return [(e["kind"], e["time"], e["until"]) for e in events if e["event"] == "rate_limit_wait"]


def assert_quiet_during_waits(sim: Any, events: list[dict[str, Any]]) -> None:
    for kind, start, until in waits_of(events):
        # Event times are rounded to the millisecond.
        inside = [r for r in sim.api_requests() if start + 0.001 < r.time < until - 0.001]
        assert inside == [], f"{len(inside)} API requests during a {kind} wait"


def run_with_clock(sim: Any, tmp_path: Path, clock: FakeClock, **changes: Any) -> tuple[int, Any, list[dict[str, Any]]]:
    settings = settings_for(sim, tmp_path / "acme", **changes)
    return run_pipeline(settings, clock=clock, git_backoff=0.01)


def test_primary_limit_window_is_waited_out_proactively(forge_factory: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    sim = forge_factory(org="acme", repos=220, clock=clock, scenario=Scenario(primary_limit=2, primary_window=600))
    code, _, events = run_with_clock(sim, tmp_path, clock, buffer=500)
    assert code == 0
    assert len(repo_dirs(tmp_path / "acme")) == 220
    primary = [w for w in waits_of(events) if w[0] == "primary"]
    assert primary, "a 200 with remaining 0 must schedule a wait"
    assert not [r for r in sim.api_requests() if r.rate_limited], "the client should never need a 403 to learn it must wait"
    assert_quiet_during_waits(sim, events)


def test_primary_limit_403_waits_until_reset_plus_a_second(forge_factory: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    sim = forge_factory(org="acme", repos=250, clock=clock, scenario=Scenario(primary_limit=2, primary_window=300))
    dry = True
    # Another client spends the quota first: our first request meets a 403 with remaining 0.
    import httpx

    for _ in range(2):
        httpx.get(f"{sim.base_url}/rate_limit")
        httpx.get(f"{sim.base_url}/orgs/acme")
    code, _, events = run_with_clock(sim, tmp_path, clock, buffer=500, dry_run=dry)
    assert code == 0
    assert events[-1]["listed"] == 250
    limited = [r for r in sim.api_requests() if r.rate_limited]
    assert len(limited) == 1
    assert_quiet_during_waits(sim, events)


@pytest.mark.parametrize(("status", "retry_after"), [(403, 60), (429, 30), (403, None)])
def test_secondary_limits_with_and_without_retry_after(forge_factory: Any, tmp_path: Path, status: int, retry_after: int | None) -> None:
    clock = FakeClock()
    scenario = Scenario(secondary_every=2, secondary_status=status, secondary_retry_after=retry_after)
    sim = forge_factory(org="acme", repos=520, clock=clock, scenario=scenario)
    code, _, events = run_with_clock(sim, tmp_path, clock, buffer=1000, dry_run=True)
    assert code == 0
    assert events[-1]["listed"] == 520
    secondary = [w for w in waits_of(events) if w[0] == "secondary"]
    assert secondary
    expected = retry_after if retry_after is not None else 60
    assert round(secondary[0][2] - secondary[0][1]) == expected
    assert_quiet_during_waits(sim, events)


def test_ten_percent_faults_with_dropped_connections_still_list_everything(forge_factory: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    sim = forge_factory(org="acme", repos=1000, clock=clock, scenario=Scenario(fault_rate=0.1, seed=7))
    code, _, events = run_with_clock(sim, tmp_path, clock, dry_run=True, buffer=2000)
    assert code == 0
    statuses = {r.status for r in sim.api_requests()}
    assert statuses & {502, 503, 0}, f"the scenario injected no faults: {statuses}"
    summary = events[-1]
    assert summary["listed"] == 1000
    assert_quiet_during_waits(sim, events)


def test_persistent_server_errors_stop_listing_cleanly_with_exit_1(forge_factory: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    sim = forge_factory(org="acme", repos=250, clock=clock)
    settings = settings_for(sim, tmp_path / "acme", buffer=500)
    import anyio

    from gz_tui.pipeline.runner import Pipeline

    events: list[dict[str, Any]] = []

    def sink(event: dict[str, Any]) -> None:
        events.append(event)
        if event["event"] == "page" and event["number"] == 1:
            sim.scenario.error_status = 502

    code = anyio.run(Pipeline(settings, clock=clock, events=json_sink(sink), policy=RetryPolicy(transient_attempts=3)).run)
    assert code == 1
    failure = [e for e in events if e["event"] == "listing_failed"]
    assert failure and "run again to resume" in failure[0]["message"]
    # Every page listed before the failure was still cloned (the page fetched ahead of the fault included).
    listed = sum(e["repos"] for e in events if e["event"] == "page")
    assert listed >= 100 and len(repo_dirs(tmp_path / "acme")) == listed < 250
    sim.scenario.error_status = None
    again, _, events = run_with_clock(sim, tmp_path, clock, buffer=500)
    assert again == 0
    assert events[0]["event"] == "resume"
    assert len(repo_dirs(tmp_path / "acme")) == 250


@pytest.mark.slow
def test_org_changing_while_listed_is_cloned_completely(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=350, scenario=Scenario(churn=True))
    code, _, events = run_pipeline(settings_for(sim, tmp_path / "acme", buffer=500))
    assert code == 0
    assert set(sim.repo_names()) <= repo_dirs(tmp_path / "acme")
    listed = events[-1]["listed"]
    assert listed >= len(sim.repo_names())


def test_unchanged_org_is_relisted_with_304s_spending_no_quota(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=230)
    dest = tmp_path / "acme"
    assert run_pipeline(settings_for(sim, dest))[0] == 0
    sim.clear_log()
    code, _, events = run_pipeline(settings_for(sim, dest))
    assert code == 0
    listing = [r for r in sim.api_requests() if "/repos" in r.path]
    assert len(listing) == 3 and all(r.status == 304 and r.conditional for r in listing)
    assert events[-1]["not_modified"] == 3
    assert events[-1]["unchanged"] == 230


def test_the_runs_state_is_running_while_git_clones_and_waiting_only_when_nothing_else_goes_on() -> None:
    """A lister waiting for its quota is shown in its own row; the run (and the target) say WAITING only while no
    repo is being cloned meanwhile."""
    from gz_tui.kinds import WaitKind
    from gz_tui.pipeline.snapshot import RunState
    from gz_tui.pipeline.stats import Stats

    stats = Stats(workers=2)
    target = stats.add_target(name="acme", forge="github", owner="acme", dest="/d", api_host="api", buffer_capacity=10)
    target.advance(RunState.RUNNING)
    target.set_rate(wait_kind=WaitKind.PRIMARY, wait_until=stats.clock.now() + 60)
    target.count(active=2)
    assert stats.snapshot().run_state == RunState.RUNNING and target.view().run_state == RunState.RUNNING
    target.count(active=-2)
    assert stats.snapshot().run_state == RunState.WAITING and target.view().run_state == RunState.WAITING
