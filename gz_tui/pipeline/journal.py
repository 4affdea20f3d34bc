"""A target's way to its state: calls one at a time on a worker thread, off the event loop, and the repos'
outcomes (acks) collected as they come and written in batches, one transaction each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio

from gz_tui.pipeline.state import Ack, StateError, StateStore

T = TypeVar("T")


class Journal:
    """``on_unwritable`` stops the run when the state cannot be written (a full disk) or turns out damaged."""

    def __init__(self, on_unwritable: Callable[[StateError], None]) -> None:
        self._on_unwritable = on_unwritable
        self._limiter = anyio.CapacityLimiter(1)
        self._acks: list[Ack] = []
        self._run: tuple[StateStore, int] | None = None

    def begin(self, store: StateStore, run_id: int) -> None:
        """From now on acks are written to run ``run_id`` of ``store``."""
        self._run = store, run_id

    def ack(self, ack: Ack) -> None:
        """One repo's outcome, written by the next :meth:`flush`."""
        self._acks.append(ack)

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """A state call; a write the disk refuses stops the whole run cleanly (``on_unwritable`` cancels it): the
        calling task is then cancelled with the rest, never left holding an exception that would tear the task
        groups down."""
        try:
            return await self.raw(function, *args)
        except StateError as exc:  # a full disk, or damage found mid-run
            self._on_unwritable(exc)
            await anyio.sleep_forever()  # the run's scope was just cancelled: this raises at once
            raise  # pragma: no cover

    async def raw(self, function: Callable[..., T], *args: Any) -> T:
        """A state call whose ``StateError`` is the caller's to handle."""
        async with self._limiter:
            return await anyio.to_thread.run_sync(function, *args)

    async def flush(self) -> None:
        """Write the acks collected since the last flush, in one transaction."""
        if not self._acks or self._run is None:
            return
        store, run_id = self._run
        batch, self._acks[:] = list(self._acks), []
        # Shielded: a cancel that lands while this batch waits for the state lock would drop it.
        with anyio.CancelScope(shield=True):
            try:
                await self.raw(store.repos.ack_many, run_id, batch)
            except BaseException as exc:
                # Not written (a full disk: StateWriteError): the batch goes back in front, in order, for the next
                # flush; the run stops. Those repos are on disk, so the next run finds them and clones none again.
                self._acks[:0] = batch
                if not isinstance(exc, StateError):
                    raise
                self._on_unwritable(exc)
