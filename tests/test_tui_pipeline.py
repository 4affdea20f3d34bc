"""The dashboard driving the real pipeline against the embedded forge: keys a user presses, real git.

Pause fills the buffer and stops the API, unpause finishes the org, cancel leaves no git process and no
temp dir behind, and ``r`` completes the org from the checkpoint.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from textual import events

from gz_tui.config import Settings
from gz_tui.forge_sim import DEMO_REPOS, Scenario, demo_scenario
from gz_tui.pipeline.runner import make_pipeline
from gz_tui.pipeline.snapshot import RunState, WorkerState
from gz_tui.tui.app import make_app
from gz_tui.tui.screens import ConfirmScreen
from tests.helpers import repo_dirs, screen_text, settings_for

pytestmark = pytest.mark.anyio

SIZE = (100, 32)
REPOS = 40


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def wait_until(pilot: Any, condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            snap = getattr(pilot.app.screen_stack[0], "snap", None)
            raise AssertionError(f"timed out after {timeout} s waiting for: {what}; last snapshot: {snap}")
        await pilot.pause(0.05)


async def press(pilot: Any, key: str) -> None:
    """Send a key the way ``pilot.press`` does, without its wait for an idle process.

    The embedded forge serves git from a thread of this process, so the process is never idle while
    clones run and ``pilot.press`` would spend up to two seconds per key waiting for it. The key is handled
    some time later: callers wait for what it does (``wait_until``), never for a fixed time.
    """
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(pilot.app)
    pilot.app.post_message(event)
    await pilot.pause(0.05)


def child_git_processes() -> list[int]:
    """Live ``git`` processes descending from this test process (parent chain read from /proc)."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces and parentheses, so split at the last ")".
        head, _, rest = stat.rpartition(")")
        fields = rest.split()
        if len(fields) < 2 or fields[0] == "Z":
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        names[pid] = head.partition("(")[2]
    me = os.getpid()
    found = []
    for pid, name in names.items():
        if not name.startswith("git"):
            continue
        ancestor = parents.get(pid, 0)
        while ancestor > 1:
            if ancestor == me:
                found.append(pid)
                break
            ancestor = parents.get(ancestor, 0)
    return found


async def test_pause_fills_the_buffer_stops_the_api_then_unpause_finishes(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=REPOS, scenario=Scenario(latency=0.01, repo_size_kb=32))
    dest = tmp_path / "acme"
    app = make_app(settings_for(sim, dest, workers=2, buffer=10, headless=False), make_pipeline)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        board = app.dashboard
        await press(pilot, "p")
        await wait_until(pilot, lambda: board.control is not None and board.control.paused, 5, "the run to pause")
        await wait_until(pilot, lambda: board.control.snapshot().buffer_used == 10, 20, "the buffer to fill")  # type: ignore[union-attr]
        requests = len(sim.api_requests())
        await pilot.pause(0.6)
        assert len(sim.api_requests()) == requests, "a paused run with a full buffer makes no API requests"
        text = screen_text(app)
        assert "PAUSED" in text and "10 / 10" in text and "FULL" in text
        assert app.screen.active_bindings["p"].binding.description == "Unpause"

        await press(pilot, "p")
        await wait_until(pilot, lambda: not board.control.paused, 5, "the run to carry on")  # type: ignore[union-attr]
        await wait_until(pilot, lambda: not board.run_active, 45, "the run to finish")
        assert board.exit_code == 0
        snap = board.snap
        assert snap is not None and snap.run_state == RunState.FINISHED
        assert snap.counts.cloned == REPOS and snap.counts.failed == 0
        await wait_until(pilot, lambda: "every repo is in place" in screen_text(app), 5, "the end-of-run summary")
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 0
    assert repo_dirs(dest) == set(sim.repo_names())


async def test_cancel_stops_git_and_cleans_up_then_r_completes_from_the_checkpoint(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=REPOS, scenario=Scenario(latency=0.01, repo_size_kb=768))
    dest = tmp_path / "acme"
    factory_calls: list[Sequence[Settings]] = []

    def factory(settings: Sequence[Settings]) -> Any:
        factory_calls.append(settings)
        return make_pipeline(settings)

    app = make_app(settings_for(sim, dest, workers=2, buffer=10, headless=False), factory)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        board = app.dashboard

        def cloning() -> bool:
            snap = board.control.snapshot()  # type: ignore[union-attr]
            busy = any(w.state == WorkerState.CLONING for w in snap.workers)
            return snap.counts.cloned >= 2 and busy and bool(child_git_processes())

        await wait_until(pilot, cloning, 30, "git clones in flight")
        await press(pilot, "c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the cancel question")
        await press(pilot, "y")
        await wait_until(pilot, lambda: not board.run_active, 5, "the run to stop (cancel must take < 2 s)")
        assert board.exit_code == 130
        assert board.snap is not None and board.snap.run_state == RunState.CANCELLED
        assert child_git_processes() == []
        assert not any((dest / ".gz-tui" / "tmp").glob("*")), "partial clones are removed"
        done_before = repo_dirs(dest)
        assert 2 <= len(done_before) < REPOS
        said = "the cancelled run's summary"  # rendered on the tick after the run stops: under load, not at once
        await wait_until(pilot, lambda: "resume from the checkpoint" in screen_text(app), 5, said)
        assert "CANCELLED" in screen_text(app)

        await press(pilot, "r")
        await wait_until(pilot, lambda: len(factory_calls) == 2, 5, "r to start a second run")
        await wait_until(pilot, lambda: not board.run_active, 60, "the resumed run to finish")
        assert board.exit_code == 0
        assert [s.retry_failed for s in factory_calls[-1]] == [True]
        snap = board.snap
        assert snap is not None and snap.run_state == RunState.FINISHED and snap.counts.failed == 0
        assert snap.counts.cloned == REPOS - len(done_before), "finished repos are not cloned again"
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 0
    assert repo_dirs(dest) == set(sim.repo_names())
    assert child_git_processes() == []


async def test_quitting_mid_run_stops_the_pipeline_and_exits_130(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=REPOS, scenario=Scenario(latency=0.01, repo_size_kb=768))
    dest = tmp_path / "acme"
    app = make_app(settings_for(sim, dest, workers=2, buffer=10, headless=False), make_pipeline)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        board = app.dashboard
        await wait_until(
            pilot,
            lambda: any(w.state == WorkerState.CLONING for w in board.control.snapshot().workers),  # type: ignore[union-attr]
            30,
            "a clone in flight",
        )
        await press(pilot, "ctrl+c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the quit question")
        await press(pilot, "y")
        await wait_until(pilot, lambda: app.return_code is not None, 5, "the app to exit")
    assert app.return_value == 130
    assert child_git_processes() == []
    assert not any((dest / ".gz-tui" / "tmp").glob("*"))


async def test_the_demo_shows_a_rate_limit_countdown_early_and_sends_no_request_during_it(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="gz-demo", repos=DEMO_REPOS, scenario=demo_scenario())
    dest = tmp_path / "gz-demo"
    app = make_app(settings_for(sim, dest, workers=8, buffer=1000, headless=False), make_pipeline)
    app.animation_level = "none"
    started = time.monotonic()
    async with app.run_test(size=SIZE) as pilot:
        board = app.dashboard
        await wait_until(pilot, lambda: "WAITING primary limit: waiting" in screen_text(app), 15, "the rate-limit countdown")
        assert time.monotonic() - started < 15, "the demo must show a rate-limit wait within its first minute"
        snap = board.control.snapshot()  # type: ignore[union-attr]
        assert snap.rate.wait_until is not None
        # The header is the run's: RUNNING while git clones; the lister's wait is in its own row (above).
        assert snap.run_state == (RunState.RUNNING if snap.counts.active else RunState.WAITING)
        assert 5 < snap.rate.wait_until - snap.now <= 21, "a short window: tens of seconds, not an hour"
        requests = len(sim.api_requests())
        await pilot.pause(1.0)
        assert len(sim.api_requests()) == requests, "no API request while the countdown runs"
        assert any(w.state == WorkerState.CLONING for w in board.control.snapshot().workers), "git goes on meanwhile"  # type: ignore[union-attr]
        await press(pilot, "ctrl+c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the quit question")
        await press(pilot, "y")
        await wait_until(pilot, lambda: app.return_code is not None, 5, "the app to exit")
    assert app.return_value == 130


@pytest.mark.parametrize("answer", ["y", "n"])
async def test_the_dashboard_asks_before_a_prune_moves_anything(forge_factory: Any, tmp_path: Path, answer: str) -> None:
    from gz_tui.pipeline.runner import Pipeline
    from gz_tui.tui.screens.prune import PruneScreen

    sim = forge_factory(org="acme", repos=20)
    dest = tmp_path / "acme"
    assert await Pipeline(settings_for(sim, dest)).run() == 0
    gone = sim.repo_names()[:2]
    for name in gone:
        sim.remove_repo(name)
    app = make_app(settings_for(sim, dest, workers=2, buffer=10, headless=False, prune=True), make_pipeline)
    app.animation_level = "none"
    async with app.run_test(size=(120, 40)) as pilot:
        board = app.dashboard
        await wait_until(pilot, lambda: isinstance(app.screen, PruneScreen), 30, "the prune question")
        await wait_until(pilot, lambda: "attic" in screen_text(app), 5, "the question on screen")
        text = screen_text(app)
        assert "Move 2 clones to the attic?" in text and gone[0] in text and "nothing is deleted" in text
        assert all((dest / name / ".git").is_dir() for name in gone), "nothing moves before the answer"
        await press(pilot, answer)
        await wait_until(pilot, lambda: not board.run_active, 30, "the run to finish")
        assert board.exit_code == 0
        await pilot.press("q")
        await pilot.pause()
    moved = not any((dest / name).exists() for name in gone)
    assert moved is (answer == "y")
    assert len(list((dest / ".gz-tui" / "attic").glob("*/*"))) == (2 if answer == "y" else 0)


def test_the_error_log_counts_final_failures_and_the_retried_attempts_apart(forge_factory: Any, tmp_path: Path) -> None:
    """git answers some requests 'too many requests': those attempts are retried and succeed; the panel says so
    instead of counting them as the run's errors."""
    from gz_tui.pipeline.runner import Pipeline
    from gz_tui.tui.widgets.errors import errors_title

    sim = forge_factory(org="acme", repos=30, scenario=Scenario(git_throttle_rate=0.15, seed=3))
    pipeline = Pipeline(settings_for(sim, tmp_path / "acme", workers=4), git_backoff=0.05)
    code = anyio.run(pipeline.run)
    snap = pipeline.snapshot()
    assert code == (1 if snap.counts.failed else 0)  # a repo throttled on each of its attempts is a failure
    assert snap.retried > snap.counts.failed and snap.error_count == snap.retried + snap.counts.failed
    assert errors_title(snap) == f"Errors {snap.counts.failed:,} · {snap.retried:,} retried"


def test_after_a_cancel_mid_listing_the_rows_say_the_listing_stopped(forge_factory: Any, tmp_path: Path) -> None:
    """A cancel cuts the listing short: the buffer row and the target say so, never "listing done"."""
    from gz_tui.pipeline.runner import Pipeline
    from gz_tui.pipeline.snapshot import ListerState
    from gz_tui.tui.widgets.buffer import buffer_text
    from tests.helpers import json_sink

    sim = forge_factory(org="acme", repos=450, scenario=Scenario(latency=0.2))

    def receive(event: dict[str, Any]) -> None:
        if event["event"] == "page":
            pipeline.cancel()

    pipeline = Pipeline(settings_for(sim, tmp_path / "acme", workers=2), events=json_sink(receive))
    assert anyio.run(pipeline.run) == 130
    snap = pipeline.snapshot()
    assert snap.lister_state == ListerState.STOPPED and snap.targets[0].lister_state == ListerState.STOPPED
    text = buffer_text(snap).variants[0].plain
    assert "listing stopped (the next run resumes it)" in text and "listing done" not in text
    assert snap.rate.wait_until is None
