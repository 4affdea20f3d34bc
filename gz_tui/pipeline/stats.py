"""The live stats model of a run, which the pipeline writes and ``snapshot()`` freezes for readers.

The pipeline mutates a ``Stats`` object from its tasks; readers call ``snapshot()`` on their own tick and
get the frozen views of ``snapshot`` (the UI's contract), so render rate is decoupled from event rate and no
reader ever sees a live deque. Memory is bounded: per-second throughput buckets and the error log are
fixed-size deques.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from gz_tui.clock import SYSTEM_CLOCK, Clock
from gz_tui.kinds import WaitKind
from gz_tui.pipeline.snapshot import (
    Counts,
    ErrorView,
    ListerState,
    OutageView,
    PruneQuestion,
    RateLimitView,
    RunState,
    Snapshot,
    TargetView,
    WorkerView,
)

THROUGHPUT_SECONDS = 300
"""How many one-second throughput buckets are kept (the sparkline's history)."""

ERRORS_KEPT = 200
"""How many recent errors the model keeps for display; the state DB keeps them all."""

_ACTIVE = (RunState.STARTING, RunState.LISTING, RunState.RUNNING)
_ORDER = {RunState.STARTING: 0, RunState.LISTING: 1, RunState.RUNNING: 2}


@dataclass(slots=True)
class _Window:
    """Per-second buckets of completions and bytes, for sparkline and current rates."""

    repos: deque[float] = field(default_factory=lambda: deque(maxlen=THROUGHPUT_SECONDS))
    bytes: deque[float] = field(default_factory=lambda: deque(maxlen=THROUGHPUT_SECONDS))
    second: int | None = None

    def roll(self, now: float) -> None:
        second = int(now)
        if self.second is None:
            self.second = second
            self.repos.append(0.0)
            self.bytes.append(0.0)
            return
        gap = min(second - self.second, THROUGHPUT_SECONDS)
        for _ in range(max(0, gap)):
            self.repos.append(0.0)
            self.bytes.append(0.0)
        self.second = max(self.second, second)


class TargetStats:
    """One target's side of the statistics; its counters also add up into the run's (``Stats.counts``)."""

    def __init__(
        self,
        run: Stats,
        *,
        name: str,
        forge: str,
        owner: str,
        dest: str,
        api_host: str,
        buffer_capacity: int,
        state_path: str = "",
    ) -> None:
        self.run = run
        self.name = name
        self.forge = forge
        self.owner = owner
        self.dest = dest
        self.api_host = api_host
        self.state_path = state_path
        self.counts = Counts()
        self.buffer_used = 0
        self.buffer_capacity = buffer_capacity
        self.lister_state = ListerState.IDLE
        self.lister_page = 0
        self.rate = RateLimitView()
        self.paused = False
        self.exit_code: int | None = None
        self.message: str | None = None
        self._run_state = RunState.STARTING

    def count(self, **deltas: int) -> None:
        """Add to this target's counters and the run's, e.g. ``count(cloned=1, active=-1)``."""
        values = {name: getattr(self.counts, name) + delta for name, delta in deltas.items()}
        self.counts = replace(self.counts, **values)
        self.run.count(**deltas)

    def set_total(self, total: int | None) -> None:
        self.counts = replace(self.counts, total=total)
        totals = [t.counts.total for t in self.run.targets if t.counts.total is not None]
        self.run.counts = replace(self.run.counts, total=sum(totals) if totals else None)

    def set_rate(self, **changes: object) -> None:
        self.rate = replace(self.rate, **changes)  # type: ignore[arg-type]

    @property
    def run_state(self) -> RunState:
        return self._run_state

    def advance(self, state: RunState) -> None:
        """This target's own state (it may end while others go on); the run's moves forward with it."""
        self._run_state = _advanced(self._run_state, state)
        if not state.terminal:
            self.run.advance(state)

    def view(self) -> TargetView:
        shown = self._run_state
        if shown in _ACTIVE and (self.paused or self.run.paused):
            shown = RunState.PAUSED
        elif shown in _ACTIVE and self.rate.wait_kind not in (None, WaitKind.PACING):
            shown = RunState.WAITING
        return TargetView(
            name=self.name,
            forge=self.forge,
            owner=self.owner,
            dest=self.dest,
            api_host=self.api_host,
            counts=self.counts,
            lister_state=self.lister_state,
            lister_page=self.lister_page,
            rate=self.rate,
            buffer_used=self.buffer_used,
            buffer_capacity=self.buffer_capacity,
            paused=self.paused,
            run_state=shown,
            exit_code=self.exit_code,
            message=self.message,
            state_path=self.state_path,
        )


def _advanced(current: RunState, state: RunState) -> RunState:
    """States only move forward, and an ended one stays ended."""
    if current.terminal:
        return current
    if state.terminal or _ORDER[state] > _ORDER[current]:
        return state
    return current


_LISTER_PRIORITY = (
    ListerState.FETCHING,
    ListerState.WAITING,
    ListerState.BLOCKED,
    ListerState.IDLE,
    ListerState.FAILED,
    ListerState.DONE,
)
"""Which target's lister state stands for the run's when there are several: the busiest."""


class Stats:
    """Mutable run statistics; written by the pipeline, read only through ``snapshot()``.

    The run's own parts (workers, throughput, errors, totals) live here; each target's listing, buffer,
    quota and counters in its :class:`TargetStats` (``add_target``).
    """

    def __init__(self, *, workers: int, clock: Clock = SYSTEM_CLOCK, dry_run: bool = False) -> None:
        self.clock = clock
        self.ended_at: float | None = None
        """When the run returned: a finished run's clock stops there (elapsed, rates, countdowns)."""
        self.dry_run = dry_run
        self.targets: list[TargetStats] = []
        self._run_state = RunState.STARTING
        self.started_at = clock.now()
        self.counts = Counts()
        self.workers: list[WorkerView] = [WorkerView(index=i + 1) for i in range(workers)]
        self.errors: deque[ErrorView] = deque(maxlen=ERRORS_KEPT)
        self.error_count = 0
        self.exit_code: int | None = None
        self.message: str | None = None
        self.notices: list[str] = []
        self.paused = False
        self.outage: OutageView | None = None
        self.kinds: tuple[str, ...] = ()
        self.prune_question: PruneQuestion | None = None
        self.git_throttled_until: float | None = None
        """While git servers throttle (one worker pool for the run), when the reduced concurrency is reconsidered."""
        self._window = _Window()
        self._window.roll(self.started_at)

    def add_target(
        self, *, name: str, forge: str, owner: str, dest: str, api_host: str, buffer_capacity: int, state_path: str = ""
    ) -> TargetStats:
        target = TargetStats(
            self,
            name=name,
            forge=forge,
            owner=owner,
            dest=dest,
            api_host=api_host,
            buffer_capacity=buffer_capacity,
            state_path=state_path,
        )
        self.targets.append(target)
        return target

    # -- writers (pipeline side) -------------------------------------------------------------
    def count(self, **deltas: int) -> None:
        """Add to the run's counters (a target's ``count`` does this too)."""
        values = {name: getattr(self.counts, name) + delta for name, delta in deltas.items()}
        self.counts = replace(self.counts, **values)

    @property
    def run_state(self) -> RunState:
        """The underlying state; ``snapshot()`` shows PAUSED or WAITING over it."""
        return self._run_state

    def advance(self, state: RunState) -> None:
        """The one writer of the run state: it only moves forward, and an ended run stays ended."""
        self._run_state = _advanced(self._run_state, state)

    def completed(self) -> None:
        """Record one finished repo in the throughput window (its bytes came in through ``received``)."""
        self._window.roll(self.clock.now())
        self._window.repos[-1] += 1

    def received(self, nbytes: int) -> None:
        if nbytes > 0:
            self.counts = replace(self.counts, received_bytes=self.counts.received_bytes + nbytes)
            self._window.roll(self.clock.now())
            self._window.bytes[-1] += nbytes

    def set_paused(self, paused: bool) -> None:
        """The run's gate is closed (or open again): active states show as PAUSED."""
        self.paused = paused

    def set_queued(self, queued: int) -> None:
        """How many repos wait in the buffer, all targets' lanes together."""
        self.counts = replace(self.counts, queued=queued)

    def set_outage(self, outage: OutageView | None) -> None:
        self.outage = outage

    def set_message(self, message: str) -> None:
        """Why the run stopped (a state it cannot write): one plain line."""
        self.message = message

    def add_kinds(self, kinds: Iterable[str]) -> None:
        """Kinds of copies a target makes (``mirror``, ``wikis``…), added to the run's, each once."""
        self.kinds = tuple(dict.fromkeys([*self.kinds, *kinds]))

    def set_worker(self, index: int, **changes: object) -> None:
        self.workers[index - 1] = replace(self.workers[index - 1], **changes)  # type: ignore[arg-type]

    def add_error(self, error: ErrorView) -> None:
        self.errors.appendleft(error)
        self.error_count += 1

    # -- readers -----------------------------------------------------------------------------
    def end(self, exit_code: int) -> None:
        """The run has returned ``exit_code``: freeze the snapshot's clock."""
        self.exit_code = exit_code
        if self.ended_at is None:
            self.ended_at = self.clock.now()

    def _busiest(self) -> TargetStats | None:
        """The target whose lister and quota stand for the run's on one-line panels."""
        if not self.targets:
            return None
        waiting = [t for t in self.targets if t.rate.wait_kind not in (None, WaitKind.PACING)]
        if waiting:
            return min(waiting, key=lambda t: t.rate.wait_until or 0.0)
        return min(self.targets, key=lambda t: _LISTER_PRIORITY.index(t.lister_state))

    def _rate_view(self, busiest: TargetStats | None) -> RateLimitView:
        if busiest is None:
            return RateLimitView(git_throttled_until=self.git_throttled_until)
        if len(self.targets) == 1:
            return replace(busiest.rate, git_throttled_until=self.git_throttled_until)
        # One quota view for the line (the busiest identity's), request counters for the whole run.
        requests = sum(t.rate.requests for t in self.targets)
        not_modified = sum(t.rate.not_modified for t in self.targets)
        return replace(busiest.rate, requests=requests, not_modified=not_modified, git_throttled_until=self.git_throttled_until)

    def _shown_state(self, rate: RateLimitView) -> RunState:
        if self._run_state not in _ACTIVE:
            return self._run_state
        if self.paused:
            return RunState.PAUSED
        if self.outage is not None or rate.wait_kind not in (None, WaitKind.PACING):
            return RunState.WAITING
        return self._run_state

    def _message(self) -> str | None:
        if self.message or len(self.targets) <= 1:
            return self.message or (self.targets[0].message if self.targets else None)
        said = [f"{t.name}: {t.message}" for t in self.targets if t.message]
        return "; ".join(said) or None

    def snapshot(self) -> Snapshot:
        now = self.ended_at if self.ended_at is not None else self.clock.now()
        self._window.roll(now)
        repos = tuple(self._window.repos)
        byte_samples = tuple(self._window.bytes)
        busiest = self._busiest()
        rate = self._rate_view(busiest)
        single = self.targets[0] if len(self.targets) == 1 else None
        return Snapshot(
            forge=single.forge if single else "",
            owner=single.owner if single else f"{len(self.targets)} targets",
            dest=single.dest if single else "",
            api_host=single.api_host if single else "",
            run_state=self._shown_state(rate),
            started_at=self.started_at,
            now=now,
            counts=self.counts,
            throughput=repos,
            repos_per_second=_rate(repos),
            bytes_per_second=_rate(byte_samples),
            buffer_used=sum(t.buffer_used for t in self.targets),
            buffer_capacity=sum(t.buffer_capacity for t in self.targets),
            lister_state=busiest.lister_state if busiest else ListerState.IDLE,
            lister_page=sum(t.lister_page for t in self.targets),
            rate=rate,
            workers=tuple(self.workers),
            errors=tuple(self.errors),
            error_count=self.error_count,
            state_path=single.state_path if single else "",
            dry_run=self.dry_run,
            exit_code=self.exit_code,
            message=self._message(),
            notices=tuple(self.notices),
            outage=self.outage,
            targets=tuple(t.view() for t in self.targets),
            kinds=self.kinds,
            prune_question=self.prune_question,
        )


def _rate(samples: tuple[float, ...], seconds: int = 5) -> float:
    """Average over the last complete seconds (the current bucket is still filling)."""
    complete = samples[-(seconds + 1) : -1]
    if not complete:
        return samples[-1] if samples else 0.0
    return sum(complete) / len(complete)
