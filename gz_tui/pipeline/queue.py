"""The buffer between the listers and the workers: one bounded lane per target, taken from in turn.

Each target's lister puts into its own lane and blocks while the lane is full (backpressure per target;
memory is bounded by the sum of the lanes). Workers take from the lanes round-robin, so a 20-repo group is
not starved behind a 10,000-repo org, and a lane paused on its own is passed over: its buffer fills and its
lister stops asking the API.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")


class Lane(Generic[T]):
    """One target's bounded buffer."""

    def __init__(self, queue: FairQueue[T], name: str, capacity: int) -> None:
        self._queue = queue
        self.name = name
        self.capacity = max(1, capacity)
        self.items: deque[T] = deque()
        self.closed = False
        self.paused = False
        self.held = False

    @property
    def used(self) -> int:
        return len(self.items)

    @property
    def full(self) -> bool:
        return len(self.items) >= self.capacity

    async def put(self, item: T) -> None:
        """Add an item, waiting while the lane is full."""
        while self.full:
            await self._queue.changed()
        self.items.append(item)
        self._queue.notify()

    def close(self) -> None:
        """No more items will come (the listing ended); workers drain what is left."""
        self.closed = True
        self._queue.notify()

    def pause(self, paused: bool) -> None:
        self.paused = paused
        self._queue.notify()

    def hold(self, held: bool) -> None:
        """Its forge is (or is no longer) unreachable: its repos wait, workers take other lanes'."""
        self.held = held
        self._queue.notify()

    def drop(self) -> int:
        """Close the lane and let go of what it holds (its repos stay pending in the state); returns how many."""
        dropped = len(self.items)
        self.items.clear()
        self.close()
        return dropped

    def put_back(self, item: T) -> None:
        """An item taken but not worked on goes back to the front (no capacity check: it was already counted)."""
        self.items.appendleft(item)
        self._queue.notify()


class FairQueue(Generic[T]):
    """The lanes of every target; ``get`` takes from them in turn."""

    def __init__(self) -> None:
        self.lanes: list[Lane[T]] = []
        self._next = 0
        self._event = anyio.Event()

    def lane(self, name: str, capacity: int) -> Lane[T]:
        lane = Lane(self, name, capacity)
        self.lanes.append(lane)
        return lane

    def notify(self) -> None:
        self._event.set()
        self._event = anyio.Event()

    async def changed(self) -> None:
        await self._event.wait()

    async def get(self) -> tuple[Lane[T], T] | None:
        """The next item, round-robin over the lanes that have one and are not paused; None once every lane
        is closed and empty."""
        while True:
            count = len(self.lanes)
            for step in range(count):
                index = (self._next + step) % count
                lane = self.lanes[index]
                if lane.items and not lane.paused and not lane.held:
                    self._next = (index + 1) % count
                    item = lane.items.popleft()
                    self.notify()
                    return lane, item
            if all(lane.closed and not lane.items for lane in self.lanes):
                return None
            await self.changed()
