"""Injectable time: the waits a user is told about (rate limits, backoff, retries, outage probes) and every
countdown go through a Clock, so tests of them never sleep.

Not through it: the pipeline's own housekeeping ticks (the journal's flush every 0.25 s, the headless progress
line, the test-only prune pause), which are real time on purpose: they pace work, not waits.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import anyio


class Clock(Protocol):
    """Wall-clock time (epoch seconds, like ``x-ratelimit-reset``) plus a matching sleep."""

    def now(self) -> float: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock whose sleeps advance time instantly; thread-safe so the embedded forge can share it.

    ``sleeps`` records every requested sleep so tests can assert how long the client chose to wait.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        return self.now()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        await anyio.sleep(0)


SYSTEM_CLOCK = SystemClock()
