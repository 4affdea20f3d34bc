"""Rate limits, fault injection and git throttling: the forge's "no" answers, decided in one place.

Quota follows GitHub's documented behaviour (FORGE-APIS §1.5): the request spending the last unit
is still a 200 with remaining 0, later ones are refused until the window's reset time, conditional
hits (304) and ``/rate_limit`` spend nothing. Windows are measured with the injected clock so
tests can jump past a reset instead of sleeping. ``Scenario.rate_limit_lie`` then rewrites the headers of
the answers (never the decisions): the client is told something false about a limit that still holds.
"""

from __future__ import annotations

import email.utils
import math
import random
import threading
from dataclasses import dataclass
from typing import Literal

from gz_tui.clock import Clock
from gz_tui.forge_sim.scenario import Scenario

Fault = Literal[502, 503, "drop"]

_RETRY_AFTER_LIES = {"retry_after_negative": "-5", "retry_after_zero": "0", "retry_after_huge": "99999999999"}
_RESET_HEADERS = frozenset({"x-ratelimit-reset", "ratelimit-reset"})
LIE_SKEW = 3600
"""How far in the past the lying dates are (``retry_after_past_date``, ``reset_in_past``)."""

# Limits each forge advertises when the scenario sets none; they never refuse (see Bucket).
_DEFAULT_QUOTAS: dict[str, tuple[int, float]] = {
    "github": (5000, 3600.0),
    "gitlab": (2000, 60.0),
    "gitea": (5000, 3600.0),
    "bitbucket": (1000, 3600.0),
    "bitbucket-server": (60, 12.0),
    "sourcehut": (1000, 3600.0),
    "gogs": (5000, 3600.0),
}


@dataclass(frozen=True, slots=True)
class QuotaState:
    """Quota as reported in headers: ``reset`` is epoch seconds (int) like ``x-ratelimit-reset``."""

    limit: int
    used: int
    reset: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True, slots=True)
class Ticket:
    """Outcome of :meth:`Limiter.reserve`: refused, or allowed with the quota after this request."""

    blocked: bool
    charged: bool
    state: QuotaState
    provider: str


class _Bucket:
    """One provider's primary quota window.

    An unenforced bucket (no ``primary_limit``) starts a fresh window instead of refusing, so a
    long demo never stalls on a limit nobody asked for.
    """

    def __init__(self, limit: int, window: float, enforce: bool) -> None:
        self.limit = limit
        self.window = window
        self.enforce = enforce
        self.used = 0
        self.reset: int | None = None

    def roll(self, now: float) -> None:
        if self.reset is None or now >= self.reset:
            self.used = 0
            self.reset = math.ceil(now + self.window)

    def state(self) -> QuotaState:
        return QuotaState(self.limit, self.used, self.reset or 0)


class Limiter:
    """Thread-safe decisions for every refusal the scenario asks for."""

    def __init__(self, scenario: Scenario, clock: Clock) -> None:
        self._scenario = scenario
        self._clock = clock
        self._lock = threading.Lock()
        self._fault_rng = random.Random(scenario.seed)
        self._git_rng = random.Random(scenario.seed + 1_000_003)
        self._secondary_count = 0
        self._buckets: dict[str, _Bucket] = {}
        for provider, (limit, window) in _DEFAULT_QUOTAS.items():
            if scenario.primary_limit is not None:
                self._buckets[provider] = _Bucket(scenario.primary_limit, scenario.primary_window, True)
            else:
                self._buckets[provider] = _Bucket(limit, window, False)

    def now(self) -> float:
        return self._clock.now()

    def draw_fault(self) -> Fault | None:
        """Seeded draw: ``None`` (serve normally), 502, 503 or ``"drop"`` (close without answering)."""
        rate = self._scenario.fault_rate
        if rate <= 0:
            return None
        with self._lock:
            if self._fault_rng.random() >= rate:
                return None
            return (502, 503, "drop")[self._fault_rng.randrange(3)]

    def draw_git_throttle(self) -> int | None:
        """Seeded draw for a git ``info/refs`` request: ``None``, 429 or 503."""
        rate = self._scenario.git_throttle_rate
        if rate <= 0:
            return None
        with self._lock:
            if self._git_rng.random() >= rate:
                return None
            return (429, 503)[self._git_rng.randrange(2)]

    def secondary_hit(self) -> bool:
        """Count one authenticated API request; true when it is a multiple of ``secondary_every``."""
        every = self._scenario.secondary_every
        if not every:
            return False
        with self._lock:
            self._secondary_count += 1
            return self._secondary_count % every == 0

    def reserve(self, provider: str, counts: bool) -> Ticket:
        """Refuse if the window is spent, else charge one unit (when ``counts``) and report the quota."""
        bucket = self._buckets[provider]
        with self._lock:
            now = self._clock.now()
            bucket.roll(now)
            if counts and bucket.used >= bucket.limit:
                if bucket.enforce:
                    return Ticket(True, False, bucket.state(), provider)
                bucket.used = 0
                bucket.reset = math.ceil(now + bucket.window)
            if counts:
                bucket.used += 1
            return Ticket(False, counts, bucket.state(), provider)

    def refund(self, ticket: Ticket) -> QuotaState:
        """Give back a unit (a 304 is free) and return the quota as it now stands."""
        bucket = self._buckets[ticket.provider]
        with self._lock:
            if ticket.charged and bucket.used > 0:
                bucket.used -= 1
            return bucket.state()

    def retry_after(self, state: QuotaState) -> int:
        """Whole seconds until ``state`` resets (at least 1), for ``Retry-After`` on throttled answers."""
        return max(1, math.ceil(state.reset - self._clock.now()))

    def lie(self, headers: list[tuple[str, str]], throttled: bool) -> list[tuple[str, str]]:
        """``headers`` as ``Scenario.rate_limit_lie`` falsifies them (unchanged without a lie)."""
        lie = self._scenario.rate_limit_lie
        if lie is None:
            return headers
        now = int(self._clock.now())
        if lie.startswith("retry_after"):
            if not throttled:
                return headers
            value = email.utils.formatdate(now - LIE_SKEW, usegmt=True) if lie == "retry_after_past_date" else _RETRY_AFTER_LIES[lie]
            return [(k, v) for k, v in headers if k.lower() != "retry-after"] + [("Retry-After", value)]
        reset = "NaN" if lie == "reset_nan" else str(now - LIE_SKEW)
        lied = []
        for name, value in headers:
            lowered = name.lower()
            if lowered in _RESET_HEADERS:
                value = reset
            elif lowered == "ratelimit-resettime" and lie == "reset_in_past":
                value = email.utils.formatdate(now - LIE_SKEW, usegmt=True)
            lied.append((name, value))
        return lied
