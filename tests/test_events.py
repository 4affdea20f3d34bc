"""The JSON event stream is a public interface: declared once, documented from the declaration, and every
event a real run emits matches its declaration exactly."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from gz_tui.clock import FakeClock
from gz_tui.forge_sim import Scenario
from gz_tui.headless import HeadlessReporter
from gz_tui.pipeline.events import EVENTS, Emitted, RepoDone, Summary, markdown_table
from gz_tui.pipeline.runner import Pipeline
from tests.helpers import events_match_their_declarations, run_pipeline, settings_for

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_event_table_is_generated_from_the_declarations() -> None:
    table = markdown_table()
    assert table in README.read_text(encoding="utf-8"), (
        "README's event table is stale: paste the output of `python -m gz_tui.pipeline.events`"
    )
    assert "`would_refuse` (optional)" in table


def test_every_event_of_real_runs_matches_its_declaration(forge_factory: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    scenario = Scenario(hostile=True, primary_limit=1, primary_window=60)
    sim = forge_factory(org="acme", repos=120, scenario=scenario, clock=clock)
    dest = tmp_path / "acme"
    code, pipeline, dry = run_pipeline(settings_for(sim, dest, dry_run=True), clock=clock)
    assert code == 0 and dry[-1]["event"] == "summary" and dry[-1]["would_refuse"] > 0
    code, pipeline, real = run_pipeline(settings_for(sim, dest, skip_forks=True), clock=clock)
    assert code == 1  # the hostile entries are refused
    seen = {e["event"] for e in dry + real}
    assert {"page", "repo_planned", "repo_done", "repo_failed", "rate_limit_wait", "summary"} <= seen
    events_match_their_declarations(dry + real)
    assert "would_clone" not in real[-1], "dry-run fields are left out of a real run's summary"


def test_a_sink_receives_frozen_event_objects_and_json_mode_prints_each_as_its_dict(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=5)
    received: list[Emitted] = []
    code = anyio.run(Pipeline(settings_for(sim, tmp_path / "acme"), events=received.append).run)
    assert code == 0
    assert all(isinstance(item, Emitted) and type(item.event) in EVENTS for item in received)
    assert [item.event.repo for item in received if isinstance(item.event, RepoDone)] != []
    summary = received[-1]
    assert isinstance(summary.event, Summary) and summary.event.cloned == 5 and summary.target == "acme"
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.event.cloned = 0  # type: ignore[misc]

    out = io.StringIO()
    reporter = HeadlessReporter(json_mode=True, out=out, err=io.StringIO(), color=False)
    for item in received:
        reporter.event(item)
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [item.as_dict() for item in received]
