"""What the lister and the workers of one run share: settings, stats, the state and its journal, events."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from gz_tui.clock import Clock
from gz_tui.config import Settings
from gz_tui.kinds import WaitKind
from gz_tui.pipeline.events import LOGGED, Emitted, Event, Notice, RateLimitWait
from gz_tui.pipeline.state import Ack, StateStore
from gz_tui.pipeline.stats import Stats, TargetStats

T = TypeVar("T")
log = logging.getLogger("gz_tui.pipeline")

EventSink = Callable[[Emitted], None]
"""Receives every event, with its time and target (``.as_dict()`` is its JSON object)."""


class DbCall(Protocol):
    def __call__(self, function: Callable[..., T], *args: Any) -> Awaitable[T]: ...


class Events:
    """Stamps typed events with the time and the target for the sink, and logs the rare ones."""

    def __init__(self, sink: EventSink | None, clock: Clock, target: str | None = None) -> None:
        self.sink = sink
        self.clock = clock
        self.target = target
        """The target every event of this emitter carries (None: the whole run of several targets)."""

    def for_target(self, name: str) -> Events:
        return Events(self.sink, self.clock, name)

    def emit(self, event: Event) -> None:
        logged = type(event) in LOGGED and not (isinstance(event, RateLimitWait) and event.kind == WaitKind.PACING)
        if not logged and self.sink is None:
            return  # the dashboard reads snapshots: a per-repo event nobody takes is not even stamped
        emitted = Emitted(event, self.clock.now(), self.target)
        if logged:
            data = emitted.as_dict()
            log.info("%s %s", event.name, " ".join(f"{k}={v!r}" for k, v in data.items() if k not in ("event", "time")))
        if self.sink is not None:
            self.sink(emitted)


@dataclass(slots=True)
class RunContext:
    """One run's shared parts. The state is only touched through ``db`` (one call at a time, off the loop)
    and ``ack`` (journaled in batches)."""

    settings: Settings
    stats: TargetStats
    """This target's counters, listing and quota."""
    run: Stats
    """The run's: workers, throughput, errors, notices."""
    clock: Clock
    dest: Path
    longest_name: int
    """The destination file system's longest file name, in bytes (``paths.name_max``)."""
    store: StateStore
    run_id: int
    db: DbCall
    ack: Callable[[Ack], None]
    events: Events
    case_twins: bool = True
    """Whether a repo of this run may have an earlier-listed twin whose path differs only in case. A fresh
    listing clears it and sets it again as soon as a journaled page brings one; while it is clear, the workers
    skip the per-repo ``case_twin`` query."""

    def emit(self, event: Event) -> None:
        self.events.emit(event)

    def notice(self, message: str) -> None:
        """Worth telling the user, not an error: a JSON/headless event, a dashboard toast, the log."""
        name = self.settings.name
        self.run.notices.append(message if len(self.run.targets) <= 1 else f"{name}: {message}")
        self.emit(Notice(message=message))
