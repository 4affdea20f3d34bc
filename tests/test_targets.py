"""Many owners, one run: several targets (each its own forge identity, destination and state), one worker pool.

Against three embedded forges on 127.0.0.1 and real git: a GitHub org, a GitLab group tree and a Gitea org.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from gz_tui.config import Settings
from gz_tui.forge_sim import ForgeSim, Scenario
from gz_tui.pipeline.runner import Pipeline
from tests.conftest import run_cli
from tests.helpers import events_match_their_declarations, json_sink, repo_dirs, settings_for

FLAVOURS = ("github", "gitlab", "gitea")


def three_forges(forge_factory: Any, repos: int = 40, **scenarios: Scenario) -> dict[str, ForgeSim]:
    return {p: forge_factory(org="acme", repos=repos, scenario=scenarios.get(p, Scenario(repo_size_kb=16))) for p in FLAVOURS}


def targets_for(sims: dict[str, ForgeSim], root: Path, **changes: Any) -> list[Settings]:
    return [
        settings_for(sim, root / provider, provider=provider, base_url=sim.api_url(provider), target=provider, **changes)
        for provider, sim in sims.items()
    ]


def write_config(path: Path, sims: dict[str, ForgeSim], root: Path, extra: str = "") -> None:
    tables = "\n".join(
        f'[targets.{p}]\nprovider = "{p}"\nbase_url = "{sim.base_url}"\nowner = "acme"\ndest = "{root / p}"\n{extra}'
        for p, sim in sims.items()
    )
    path.write_text(tables, encoding="utf-8")


def run_targets(targets: list[Settings], **kwargs: Any) -> tuple[int, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    code = anyio.run(Pipeline(targets, events=json_sink(events.append), **kwargs).run)
    return code, events


@pytest.mark.slow
def test_three_forges_sync_in_one_run_each_complete_at_its_own_destination(forge_factory: Any, tmp_path: Path, monkeypatch: Any) -> None:
    sims = three_forges(forge_factory)
    config = tmp_path / "config.toml"
    write_config(
        config,
        sims,
        tmp_path,
        extra='post_sync = ["' + sys.executable + '", "-c", "import sys, pathlib; '
        f"pathlib.Path(r'{tmp_path}', 'after-' + __import__('json').load(sys.stdin)['target']).touch()\"]\n",
    )
    monkeypatch.setenv("GZ_TUI_CONFIG", str(config))
    stats_file = tmp_path / "stats.jsonl"
    result = run_cli("sync", "--json", "--workers", "4", "--stats-file", str(stats_file))
    assert result.returncode == 0, result.stderr[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines()]
    events_match_their_declarations(events)
    for provider, sim in sims.items():
        assert repo_dirs(tmp_path / provider) == set(sim.repo_names(provider)), provider
        summary = next(e for e in events if e["event"] == "summary" and e["target"] == provider)
        assert summary["exit_code"] == 0 and summary["cloned"] == len(sim.repo_names(provider))
        assert (tmp_path / f"after-{provider}").exists(), "post_sync ran with the target's summary on stdin"
    run_wide = ("total", "progress", "paused", "unpaused", "forge_unreachable", "forge_reachable")
    assert all(e["target"] in FLAVOURS for e in events if e["event"] not in run_wide)
    assert all(e["target"] is None for e in events if e["event"] in run_wide)
    total = events[-1]
    assert total["event"] == "total" and total["targets"] == 3 and total["exit_code"] == 0
    assert total["cloned"] == sum(len(sim.repo_names(p)) for p, sim in sims.items())
    rows = [json.loads(line) for line in stats_file.read_text().splitlines()]
    assert sorted(row["target"] for row in rows) == sorted(FLAVOURS) and all(row["exit_code"] == 0 for row in rows)

    # Each target kept exactly the state a single-owner run keeps: `gz-tui acme` there is a re-sync of it.
    single = run_cli("acme", "--provider", "gitea", "--base-url", sims["gitea"].base_url, "--dest", str(tmp_path / "gitea"), "--json")
    assert single.returncode == 0, single.stderr
    assert json.loads(single.stdout.splitlines()[-1])["unchanged"] == len(sims["gitea"].repo_names("gitea"))


@pytest.mark.slow
def test_a_multi_target_run_killed_at_random_resumes_every_target_and_clones_nothing_twice(
    forge_factory: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    rng = random.Random(20261202)
    sims = three_forges(forge_factory, repos=60, gitea=Scenario(repo_size_kb=64), github=Scenario(repo_size_kb=64))
    config = tmp_path / "config.toml"
    write_config(config, sims, tmp_path)
    monkeypatch.setenv("GZ_TUI_CONFIG", str(config))
    args = [sys.executable, "-m", "gz_tui", "sync", "--json", "--workers", "3"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + rng.uniform(1.0, 3.0)
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    before = {p: repo_dirs(tmp_path / p) for p in FLAVOURS}
    assert any(before.values()), "the first run cloned something before it was killed"
    assert not all(before[p] == set(sims[p].repo_names(p)) for p in FLAVOURS), "killed before the end"

    result = run_cli("sync", "--json", "--workers", "3")
    assert result.returncode == 0, result.stderr[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines()]
    for provider, sim in sims.items():
        assert repo_dirs(tmp_path / provider) == set(sim.repo_names(provider)), provider
        cloned_again = {
            e["repo"].removeprefix("acme/")
            for e in events
            if e["event"] == "repo_done" and e["target"] == provider and e["outcome"] == "cloned"
        }
        assert not cloned_again & before[provider], f"{provider}: a clone already on disk was cloned again"


@pytest.mark.slow
def test_a_rate_limit_wait_on_one_forge_stalls_neither_the_others_listing_nor_cloning(forge_factory: Any, tmp_path: Path) -> None:
    sims = {
        "github": forge_factory(org="acme", repos=150, scenario=Scenario(primary_limit=1, primary_window=6)),
        "gitlab": forge_factory(org="acme", repos=120, scenario=Scenario(latency=0.6, repo_size_kb=16)),
        "gitea": forge_factory(org="acme", repos=120, scenario=Scenario(latency=0.6, repo_size_kb=16)),
    }
    targets = targets_for(sims, tmp_path, workers=4, buffer=1000)
    events: list[dict[str, Any]] = []
    pipeline = Pipeline(targets, events=json_sink(events.append))
    snapshots: list[Any] = []

    async def main() -> int:
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while True:
                    await anyio.sleep(0.2)
                    snapshots.append(pipeline.snapshot())

            group.start_soon(watch)
            code = await pipeline.run()
            group.cancel_scope.cancel()
        return code

    code = anyio.run(main)
    assert code == 0, [e for e in events if e["event"] in ("repo_failed", "listing_failed")][:3]
    wait = next(e for e in events if e["event"] == "rate_limit_wait" and e["kind"] == "primary")
    assert wait["target"] == "github"
    start, until = wait["time"], wait["until"]
    assert until - start > 3
    assert not [r for r in sims["github"].api_requests() if start + 0.05 < r.time < until - 0.05], "no request during the wait"
    for provider in ("gitlab", "gitea"):
        inside = [r for r in sims[provider].requests() if start < r.time < until]
        assert any(r.kind == "api" for r in inside), f"{provider} kept listing during github's wait"
        assert any(r.kind == "git" for r in inside), f"{provider} kept cloning during github's wait"
    waiting = [s for s in snapshots if start < s.now < until]
    assert waiting and all(t.rate.wait_kind == "primary" for s in waiting for t in s.targets if t.name == "github"), (
        "the github target shows its countdown"
    )
    assert all(t.rate.wait_kind is None for s in waiting for t in s.targets if t.name != "github")


def test_a_small_target_is_not_starved_behind_a_big_one(forge_factory: Any, tmp_path: Path) -> None:
    big = forge_factory(org="big", repos=2000)
    small = forge_factory(org="small", repos=20)
    targets = [
        settings_for(big, tmp_path / "big", workers=4, buffer=1000, target="big"),
        settings_for(small, tmp_path / "small", workers=4, buffer=1000, target="small"),
    ]
    events: list[dict[str, Any]] = []
    pipeline: Pipeline
    started = time.monotonic()
    finished_at: dict[str, float] = {}

    def sink(event: dict[str, Any]) -> None:
        events.append(event)
        if event["event"] == "summary":
            finished_at[event["target"]] = time.monotonic() - started
            if event["target"] == "small":
                pipeline.cancel()

    pipeline = Pipeline(targets, events=json_sink(sink))
    code = anyio.run(pipeline.run)
    assert code == 130
    assert finished_at["small"] < 8, f"the 20-repo target took {finished_at['small']:.1f} s"
    small_summary = next(e for e in events if e["event"] == "summary" and e["target"] == "small")
    assert small_summary["exit_code"] == 0 and small_summary["cloned"] == 20
    big_summary = next(e for e in events if e["event"] == "summary" and e["target"] == "big")
    assert big_summary["exit_code"] == 130 and big_summary["cloned"] < 1000


@pytest.mark.slow
def test_pausing_one_target_fills_its_buffer_and_stops_its_lister_while_the_others_go_on(forge_factory: Any, tmp_path: Path) -> None:
    sims = {"github": forge_factory(org="acme", repos=300), "gitea": forge_factory(org="acme", repos=60, scenario=Scenario(latency=0.05))}
    targets = targets_for(sims, tmp_path, workers=2, buffer=20)
    events: list[dict[str, Any]] = []
    pipeline = Pipeline(targets, events=json_sink(events.append))

    async def main() -> int:
        async with anyio.create_task_group() as group:
            pipeline.pause_target("github")

            async def check() -> None:
                while not any(t.name == "github" and t.buffer_used == 20 for t in pipeline.snapshot().targets):
                    await anyio.sleep(0.05)
                requests = len(sims["github"].api_requests())
                await anyio.sleep(0.8)
                assert len(sims["github"].api_requests()) == requests, "a paused target with a full buffer asks nothing"
                assert not repo_dirs(tmp_path / "github"), "its repos are not taken"
                while "gitea" not in {e["target"] for e in events if e["event"] == "summary"}:
                    await anyio.sleep(0.05)
                pipeline.unpause_target("github")

            group.start_soon(check)
            code = await pipeline.run()

        return code

    assert anyio.run(main) == 0
    assert repo_dirs(tmp_path / "github") == set(sims["github"].repo_names())
    assert [e["event"] for e in events if e["target"] == "github" and e["event"] in ("paused", "unpaused")] == ["paused", "unpaused"]


def test_the_exit_code_is_the_worst_of_the_targets(forge_factory: Any, tmp_path: Path) -> None:
    ok = forge_factory(org="acme", repos=5)
    hostile = forge_factory(org="acme", repos=5, scenario=Scenario(hostile=True))
    targets = [
        settings_for(ok, tmp_path / "ok", target="ok"),
        settings_for(hostile, tmp_path / "hostile", target="hostile"),
        settings_for(ok, tmp_path / "missing", owner="nosuchorg", target="missing"),
    ]
    code, events = run_targets(targets)
    assert code == 2
    codes = {e["target"]: e["exit_code"] for e in events if e["event"] == "summary"}
    assert codes == {"ok": 0, "hostile": 1, "missing": 2}
    assert events[-1]["event"] == "total" and events[-1]["exit_code"] == 2
    assert repo_dirs(tmp_path / "ok") == set(ok.repo_names())


@pytest.mark.timeout(60)  # it once waited forever on the lane of the target that never opened
def test_a_target_that_cannot_start_is_exit_2_while_the_others_finish(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=5)
    (tmp_path / "a-file").write_text("not a folder\n")
    targets = [settings_for(sim, tmp_path / "a-file" / "bad", target="bad"), settings_for(sim, tmp_path / "ok", target="ok")]
    code, events = run_targets(targets)
    assert code == 2 and {e["target"]: e["exit_code"] for e in events if e["event"] == "summary"} == {"bad": 2, "ok": 0}
    assert repo_dirs(tmp_path / "ok") == set(sim.repo_names())


@pytest.mark.timeout(120)
def test_a_forge_that_goes_away_stalls_and_stops_only_its_own_targets(forge_factory: Any, tmp_path: Path) -> None:
    down = forge_factory(org="acme", repos=20)
    healthy = forge_factory(org="acme", repos=40, scenario=Scenario(repo_size_kb=128, latency=0.05))
    targets = [
        settings_for(down, tmp_path / "down", target="down", workers=2, outage_limit=4),
        settings_for(healthy, tmp_path / "healthy", target="healthy", workers=2, outage_limit=4),
    ]
    events: list[dict[str, Any]] = []
    pipeline = Pipeline(targets, events=json_sink(events.append), git_backoff=0.05)

    async def main() -> int:
        async with anyio.create_task_group() as group:
            pipeline.pause_target("down")

            async def kill_its_forge() -> None:
                while not any(t.name == "down" and t.lister_state == "done" for t in pipeline.snapshot().targets):
                    await anyio.sleep(0.05)
                down.stop()  # listed, then gone: its git transfers fail to connect
                pipeline.unpause_target("down")

            group.start_soon(kill_its_forge)
            code = await pipeline.run()

        return code

    code = anyio.run(main)
    summaries = {e["target"]: e for e in events if e["event"] == "summary"}
    assert code == 1 and summaries["healthy"]["exit_code"] == 0 and summaries["healthy"]["cloned"] == 40
    assert summaries["down"]["exit_code"] == 1 and "unreachable" in summaries["down"]["message"]
    assert summaries["down"]["failed"] == 0, "no attempt was spent on a dead forge"
    assert repo_dirs(tmp_path / "healthy") == set(healthy.repo_names())


def test_a_slow_post_sync_does_not_hold_up_cancel(forge_factory: Any, tmp_path: Path) -> None:
    big = forge_factory(org="big", repos=40, scenario=Scenario(repo_size_kb=512))
    small = forge_factory(org="small", repos=3)
    targets = [
        settings_for(big, tmp_path / "big", target="big", workers=2),
        settings_for(small, tmp_path / "small", target="small", workers=2, post_sync=(sys.executable, "-c", "import time; time.sleep(30)")),
    ]
    marks: dict[str, float] = {}
    pipeline: Pipeline

    def sink(event: dict[str, Any]) -> None:
        if event["event"] == "summary" and event["target"] == "small":
            marks["small"] = time.monotonic()

    pipeline = Pipeline(targets, events=json_sink(sink))

    async def main() -> int:
        async with anyio.create_task_group() as group:

            async def ctrl_c() -> None:
                while "small" not in marks:
                    await anyio.sleep(0.05)
                await anyio.sleep(0.5)  # the post_sync is running
                marks["cancel"] = time.monotonic()
                pipeline.cancel()

            group.start_soon(ctrl_c)
            code = await pipeline.run()

        return code

    assert anyio.run(main) == 130
    assert time.monotonic() - marks["cancel"] < 5, "Ctrl+C waited for the post_sync command"
