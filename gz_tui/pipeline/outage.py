"""The circuit breaker for a forge that went away: stop spending repos' attempts on a dead server.

After ``threshold`` consecutive connection failures the breaker of that forge's git host opens: its targets'
repos go back to their lanes with their attempts untouched and the workers take other forges' work, while a
task of its own probes the host (a bare TCP connect, no token) with backoff. When the forge answers again,
its targets carry on by themselves; when the outage outlasts ``limit`` seconds, its targets stop with every
unfinished repo still pending in their state — the other forges' targets are not held up either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import anyio

from gz_tui.clock import Clock

UNREACHABLE_MARKERS = (
    "connection refused",
    "failed to connect",
    "could not connect",
    "couldn't connect",
    "could not resolve host",
    "no route to host",
    "network is unreachable",
    "empty reply from server",
    "connection reset",
    "transport endpoint is not connected",  # ENOTCONN: curl connected, and the server's end was gone at once
)
"""git messages that say the server is not there at all (as opposed to a slow or broken transfer)."""

PROBE_BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
"""Seconds between probes; the last value repeats."""


def says_unreachable(message: str) -> bool:
    text = message.lower()
    return any(marker in text for marker in UNREACHABLE_MARKERS)


def host_and_port(origin: str) -> tuple[str, int]:
    parts = urlsplit(origin)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


async def tcp_probe(host: str, port: int) -> bool:
    """Whether something accepts connections at host:port (within 5 s)."""
    try:
        with anyio.fail_after(5):
            stream = await anyio.connect_tcp(host, port)
    except (OSError, TimeoutError):
        return False
    await stream.aclose()
    return True


class ForgeDown(Exception):
    """Raised by a worker about to spend an attempt on a forge whose breaker is open: the repo goes back to
    its target's lane, untouched, and the worker takes other work."""


class ForgeBreaker:
    """Shared by the workers of one run. ``is_open`` while the forge is considered unreachable."""

    def __init__(
        self,
        origin: str,
        clock: Clock,
        *,
        threshold: int = 3,
        limit: float = 600.0,
        probe: Callable[[str, int], Awaitable[bool]] | None = None,
        on_open: Callable[[str, float, float], None] | None = None,
        on_retry: Callable[[float], None] | None = None,
        on_close: Callable[[float], None] | None = None,
        on_give_up: Callable[[float], None] | None = None,
    ) -> None:
        self.host, self.port = host_and_port(origin)
        self.where = f"{self.host}:{self.port}"
        self.clock = clock
        self.threshold = threshold
        self.limit = limit
        self._probe = probe or tcp_probe
        self._on_open = on_open
        self._on_retry = on_retry
        self._on_close = on_close
        self._on_give_up = on_give_up
        self.failures = 0
        self.since: float | None = None
        self._reachable = anyio.Event()
        self._reachable.set()
        self._prober = False
        self.gave_up = False

    @property
    def is_open(self) -> bool:
        return not self._reachable.is_set()

    def succeeded(self) -> None:
        self.failures = 0

    def failed(self, message: str) -> bool:
        """Count a failed transfer; True when it says the forge is gone and the breaker is (now) open."""
        if not says_unreachable(message):
            self.failures = 0
            return False
        self.failures += 1
        if self.failures >= self.threshold and not self.is_open:
            self.since = self.clock.now()
            self._reachable = anyio.Event()
            if self._on_open is not None:
                self._on_open(self.where, self.since, self.since + self.limit)
        return self.is_open

    async def probe(self) -> None:
        """Probe with backoff until the forge answers (``on_close``) or ``limit`` seconds of outage have passed
        (``on_give_up``, and the breaker stays open). The pipeline runs this in a task of its own as soon as the
        breaker opens; workers meanwhile take repos of other forges."""
        if self._prober or not self.is_open:
            return
        self._prober = True
        try:
            await self._probe_until_back()
        finally:
            self._prober = False

    async def _probe_until_back(self) -> None:
        assert self.since is not None
        attempt = 0
        while True:
            delay = PROBE_BACKOFF[min(attempt, len(PROBE_BACKOFF) - 1)]
            attempt += 1
            now = self.clock.now()
            deadline = self.since + self.limit
            if now >= deadline:
                self.gave_up = True
                if self._on_give_up is not None:
                    self._on_give_up(now - self.since)
                return
            delay = min(delay, max(0.0, deadline - now))
            if self._on_retry is not None:
                self._on_retry(now + delay)
            await self.clock.sleep(delay)
            if await self._probe(self.host, self.port):
                outage = self.clock.now() - self.since
                self.failures = 0
                self.since = None
                self._reachable.set()
                if self._on_close is not None:
                    self._on_close(outage)
                return
