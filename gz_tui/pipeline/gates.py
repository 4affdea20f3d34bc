"""Flow control for workers: the pause gate and the git-throttle governor."""

from __future__ import annotations

import anyio

from gz_tui.clock import Clock


class Gate:
    """Open lets workers take work; closed holds them (pause is a gate, not a cancellation)."""

    def __init__(self) -> None:
        self._open = anyio.Event()
        self._open.set()

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def open(self) -> None:
        self._open.set()

    def close(self) -> None:
        if self._open.is_set():
            self._open = anyio.Event()

    async def wait(self) -> None:
        while not self._open.is_set():
            await self._open.wait()


class Governor:
    """Limits concurrent git transfers; halves the limit when a git server throttles, restores it when quiet.

    Restoration is one slot per ``quiet_seconds`` without a new throttle signal.
    """

    def __init__(self, limit: int, clock: Clock, *, quiet_seconds: float = 30.0) -> None:
        self.maximum = max(1, limit)
        self.allowed = self.maximum
        self.active = 0
        self.quiet_seconds = quiet_seconds
        self.clock = clock
        self.quiet_at: float | None = None
        self._changed = anyio.Event()

    def throttled(self) -> None:
        self.allowed = max(1, self.allowed // 2)
        self.quiet_at = self.clock.now() + self.quiet_seconds

    def restore_when_quiet(self) -> None:
        """One slot back once the git servers have been quiet for ``quiet_seconds`` (``acquire`` asks each time)."""
        if self.quiet_at is not None and self.clock.now() >= self.quiet_at:
            self.allowed = min(self.maximum, self.allowed + 1)
            self.quiet_at = None if self.allowed == self.maximum else self.clock.now() + self.quiet_seconds
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def acquire(self) -> None:
        while True:
            self.restore_when_quiet()
            if self.active < self.allowed:
                self.active += 1
                return
            changed = self._changed
            with anyio.move_on_after(1.0):
                await changed.wait()

    def release(self) -> None:
        self.active -= 1
        self._notify()
