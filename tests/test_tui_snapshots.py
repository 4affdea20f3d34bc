"""The dashboard as a picture: fixed data, frozen clock, fixed size, no animation.

These are the same apps ``python -m gz_tui.tui.screenshots`` renders into ``screenshots/``.
Update after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gz_tui.tui import demo_data
from gz_tui.tui.screenshots import NARROW, SIZE, demo_app


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    with demo_data.fixed_timezone():
        yield


def test_mid_run(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """Progress, speed, a healthy buffer, API quota left, busy workers, newest error first."""
    assert snap_compare(demo_app("mid-run"), terminal_size=SIZE)


def test_paused_with_a_full_buffer(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """PAUSED in the header, FULL buffer with the lister blocked, workers paused but one finishing."""
    assert snap_compare(demo_app("paused-full-buffer"), terminal_size=SIZE)


def test_waiting_on_the_primary_rate_limit(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """WAITING in the header; the API line is a countdown with the reset time; workers keep draining."""
    assert snap_compare(demo_app("waiting-rate-limit"), terminal_size=SIZE)


def test_finished_with_errors(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """The summary replaces the worker table; r offers to retry the failures; q leaves with exit code 1."""
    assert snap_compare(demo_app("finished-with-errors"), terminal_size=SIZE)


def test_mid_run_at_80x24(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """The smallest supported terminal still shows progress, speed, buffer, API and the workers."""
    assert snap_compare(demo_app("mid-run"), terminal_size=NARROW)


def test_several_targets(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """Three targets: a targets panel (a GitHub org listing, a GitLab group tree WAITING 0:41 on its primary
    limit, a Gitea org listed and finishing); "3 targets" in the header; target columns in both tables."""
    assert snap_compare(demo_app("several-targets"), terminal_size=SIZE)


def test_several_targets_at_80x24(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """At 80×24 the targets panel, eight workers and the newest error still fit."""
    assert snap_compare(demo_app("several-targets"), terminal_size=NARROW)


def test_the_question_before_a_prune(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """--prune at the end of a mirror backup: a modal says how many clones would move, names the first five and
    the attic, says one with local work stays, and "Leave them" has the focus (moving takes a deliberate key)."""

    async def until_asked(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause(0.6)

    assert snap_compare(demo_app("prune-question"), terminal_size=SIZE, run_before=until_asked)
