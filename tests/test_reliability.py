"""Nothing from outside may crash a run or strand its state: hostile names, a forge that goes away or moves."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from gz_tui.forge_sim import ForgeSim, Scenario
from gz_tui.kinds import WaitKind
from gz_tui.pipeline.events import RateLimitWait
from gz_tui.pipeline.runner import Pipeline
from gz_tui.pipeline.state import StateStore
from tests.conftest import run_cli
from tests.helpers import json_sink, repo_dirs, run_cancelled_when, run_pipeline, settings_for

LONG_NAME = "n" * 256


def test_a_name_longer_than_the_file_system_allows_is_that_repos_failure_only(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=12, scenario=Scenario(hostile=True))
    dest = tmp_path / "acme"
    base = ("acme", "--base-url", sim.base_url, "--dest", str(dest), "--json")
    for extra in (("--dry-run",), (), ("--fresh",)):
        result = run_cli(*base, *extra)
        assert "Traceback" not in result.stderr, result.stderr[-2000:]
        assert result.returncode == (0 if extra == ("--dry-run",) else 1), result.stderr  # the hostile entries fail
        events = [json.loads(line) for line in result.stdout.splitlines()]
        summary = events[-1]
        assert summary["event"] == "summary"
        if extra == ("--dry-run",):
            assert summary["would_refuse"] >= 1
            assert {"repo": f"acme/{LONG_NAME}", "action": "refuse"}.items() <= next(
                e for e in events if e.get("repo") == f"acme/{LONG_NAME}"
            ).items()
            continue
        failure = next(e for e in events if e["event"] == "repo_failed" and e["repo"] == f"acme/{LONG_NAME}")
        assert failure["error_class"] == "unsafe" and "256 bytes" in failure["message"]
        assert set(sim.repo_names()) <= repo_dirs(dest), "the honest repos of the same listing are cloned"


def run_while(settings: Any, action: Any, **kwargs: Any) -> tuple[int, list[dict[str, Any]], float]:
    """Run the pipeline in-process while ``action(events)`` runs in a thread beside it."""
    events: list[dict[str, Any]] = []
    pipeline = Pipeline(settings, events=json_sink(events.append), git_backoff=0.05, **kwargs)
    thread = threading.Thread(target=action, args=(events,), daemon=True)
    started = time.monotonic()
    thread.start()
    code = anyio.run(pipeline.run)
    thread.join(timeout=30)
    return code, events, time.monotonic() - started


def wait_for_done(events: list[dict[str, Any]], count: int) -> None:
    deadline = time.monotonic() + 60
    while sum(1 for e in events if e["event"] == "repo_done") < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_forge_that_goes_away_stops_the_run_with_repos_pending_not_failed(forge_factory: Any, tmp_path: Path) -> None:
    # Each git request takes 0.1 s, so the 35 repos left cannot all be cloned in the half second the forge
    # takes to stop on a fast machine: the run must meet the outage, not race past it.
    sim = forge_factory(org="acme", repos=40, scenario=Scenario(repo_size_kb=256, git_latency=0.1))
    dest = tmp_path / "acme"

    def kill_forge(events: list[dict[str, Any]]) -> None:
        wait_for_done(events, 5)
        sim.stop()

    code, events, seconds = run_while(settings_for(sim, dest, workers=2, buffer=100, outage_limit=4), kill_forge)
    names = [e["event"] for e in events]
    assert code == 1, events[-1]
    assert "forge_unreachable" in names and "forge_reachable" not in names, [e for e in events if e["event"] != "repo_done"]
    summary = events[-1]
    assert summary["failed"] == 0, [e for e in events if e["event"] == "repo_failed"][:3]
    assert "unreachable" in summary["message"] and "run again to resume" in summary["message"]
    assert seconds < 30, "a bounded outage, not minutes of futile retries"
    store = StateStore(dest / ".gz-tui" / "state.sqlite3")
    try:
        report = store.runs.report()
    finally:
        store.close()
    assert report.run is not None and report.run.status != "finished"
    assert report.pending == 40 - summary["cloned"], "every unfinished repo is still pending, none failed"


def test_a_forge_that_comes_back_lets_the_run_carry_on_by_itself(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=30, scenario=Scenario(repo_size_kb=256, git_latency=0.1))  # the outage lands mid-run
    dest = tmp_path / "acme"

    def blip(events: list[dict[str, Any]]) -> None:
        wait_for_done(events, 5)
        sim.stop()
        deadline = time.monotonic() + 30
        while "forge_unreachable" not in [e["event"] for e in events] and time.monotonic() < deadline:
            time.sleep(0.02)
        sim.start()  # same port

    code, events, _ = run_while(settings_for(sim, dest, workers=2, buffer=100, outage_limit=60), blip)
    names = [e["event"] for e in events]
    assert code == 0, [e for e in events if e["event"] == "repo_failed"][:3]
    assert names.index("forge_unreachable") < names.index("forge_reachable")
    assert events[-1]["failed"] == 0 and repo_dirs(dest) == set(sim.repo_names())


def origin_of_clone(path: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(path), "config", "remote.origin.url"], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.parametrize("fresh", [False, True], ids=["resume", "fresh"])
def test_a_forge_that_moved_is_listed_again_and_its_clones_follow_it(tmp_path: Path, fresh: bool) -> None:
    dest = tmp_path / "acme"
    root = tmp_path / "forge"
    repos = 20 if fresh else 105  # resume: past page 1, so the saved cursor is an old-origin URL
    with ForgeSim(root=root, org="acme", repos=repos) as old:
        old_url = old.base_url
        settings = settings_for(old, dest, workers=2, buffer=200)
        code, _ = run_cancelled_when(settings, lambda events: sum(e["event"] == "repo_done" for e in events) == 6)
        assert code == 130  # interrupted after page 1: its cursor points at the old origin
    cloned_before = repo_dirs(dest)
    assert cloned_before
    with ForgeSim(root=root, org="acme", repos=repos) as new:  # the same forge, on another port
        assert new.base_url != old_url
        code, _, events = run_pipeline(replace(settings, base_url=new.base_url, fresh=fresh))
        failures = [(e["repo"], e["message"]) for e in events if e["event"] == "repo_failed"]
        assert code == 0, failures[:3]
        notices = " ".join(e["message"] for e in events if e["event"] == "notice")
        if not fresh:
            assert "the forge moved" in notices
        assert f"{len(cloned_before)} clones had their origin moved" in notices
        assert repo_dirs(dest) == set(new.repo_names())
        assert all(origin_of_clone(dest / name).startswith(new.base_url) for name in repo_dirs(dest))
        served = Counter(r.path for r in new.requests() if r.kind == "git" and "info/refs" in r.path)
        assert set(served.values()) == {1}, "each repo is cloned or fetched once"
        assert len(served) == repos


def test_a_clone_of_another_repo_id_is_never_repointed(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=3)
    dest = tmp_path / "acme"
    code, _, _ = run_pipeline(settings_for(sim, dest))
    assert code == 0
    name = sim.repo_names()[0]
    subprocess.run(["git", "-C", str(dest / name), "config", "gz-tui.repo-id", "999999"], check=True)
    subprocess.run(["git", "-C", str(dest / name), "config", "remote.origin.url", "http://127.0.0.1:1/acme/x.git"], check=True)
    code, _, events = run_pipeline(settings_for(sim, dest, fresh=True))
    assert code == 1
    failure = next(e for e in events if e["event"] == "repo_failed")
    assert failure["repo"] == f"acme/{name}" and failure["error_class"] == "conflict"
    assert origin_of_clone(dest / name) == "http://127.0.0.1:1/acme/x.git"


def test_messages_say_what_a_wait_is_until_when_and_what_goes_on_meanwhile() -> None:
    from gz_tui.headless import wait_line
    from gz_tui.tui import demo_data

    snap = demo_data.mid_run()  # 412 queued, 7 active
    now = snap.now
    backoff = wait_line(RateLimitWait(kind=WaitKind.BACKOFF, seconds=4.2, until=now + 4.2), snap)
    assert "rate limit" not in backoff and "server error or connection" in backoff
    assert "419 listed repos are cloned meanwhile" in backoff
    idle = replace(snap, counts=replace(snap.counts, queued=0, active=0))
    assert "nothing is queued meanwhile" in wait_line(RateLimitWait(kind=WaitKind.PRIMARY, seconds=30, until=now + 30), idle)
    long = wait_line(RateLimitWait(kind=WaitKind.PRIMARY, seconds=5400, until=now + 5400), snap)
    assert "1:30:00, until " in long and "locked" in long


def test_a_resumed_run_counts_the_failures_of_its_first_part_and_exits_1(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=30, scenario=Scenario(hostile=True, repo_size_kb=64))
    dest = tmp_path / "acme"
    settings = settings_for(sim, dest, workers=2, buffer=100)
    code, events = run_cancelled_when(settings, lambda events: sum(e["event"] == "repo_failed" for e in events) == 3)
    assert code == 130
    failed_before = sum(1 for e in events if e["event"] == "repo_failed")
    code, _, events = run_pipeline(settings)
    assert events[0]["event"] == "resume"
    summary = events[-1]
    _, _, uninterrupted = run_pipeline(settings_for(sim, tmp_path / "uninterrupted", workers=2, buffer=100))
    assert failed_before and code == 1 and summary["failed"] == uninterrupted[-1]["failed"]
    assert summary["resumed_done"] + summary["failed"] + summary["cloned"] == summary["listed"]

    status = run_cli("status", str(tmp_path / "nothing-yet"))
    assert status.returncode == 2
    empty = tmp_path / "empty"
    code, _, _ = run_pipeline(settings_for(sim, empty, dry_run=True))
    store = StateStore(empty / ".gz-tui" / "state.sqlite3")
    store.runs.begin(forge="github", base_url=sim.base_url, owner="acme", dest=str(empty), options={}, dry_run=False)
    store.close()
    shown = run_cli("status", str(empty))
    assert "nothing done yet" in shown.stdout and "done 0 ()" not in shown.stdout
