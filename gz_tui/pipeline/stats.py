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
from gz_tui.forges.records import RateInfo
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
    """Per-second buckets of completions and bytes, for sparkline and current rates.

    Paused seconds get no bucket: the rate after a resume is the rate of the seconds that worked, not
    dragged toward zero by an hour of pause (nor the ETA stretched by it). What finishes while the gate is
    closed (a clone already running) counts in the last bucket."""

    repos: deque[float] = field(default_factory=lambda: deque(maxlen=THROUGHPUT_SECONDS))
    bytes: deque[float] = field(default_factory=lambda: deque(maxlen=THROUGHPUT_SECONDS))
    second: int | None = None
    paused: bool = False

    def pause(self, now: float) -> None:
        self.roll(now)
        self.paused = True

    def resume(self, now: float) -> None:
        """The clock's seconds since the pause are skipped: the next bucket is the next working second."""
        if self.paused:
            self.paused = False
            self.second = int(now)

    def roll(self, now: float) -> None:
        if self.paused:
            return
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


class Tally:
    """Counters written many times a second (a dry run of 10,000 repos counts 20,000 times) and read as one
    immutable :class:`Counts` at most once a tick: the frozen copy is made when it is read, not on every write."""

    __slots__ = ("_frozen", "_values")

    def __init__(self) -> None:
        self._values: dict[str, int | None] = {name: getattr(Counts(), name) for name in Counts.__dataclass_fields__}
        self._frozen: Counts | None = None

    def add(self, deltas: dict[str, int]) -> None:
        values = self._values
        for name, delta in deltas.items():
            values[name] = (values[name] or 0) + delta
        self._frozen = None

    def set(self, **values: int | None) -> None:
        self._values.update(values)
        self._frozen = None

    @property
    def counts(self) -> Counts:
        if self._frozen is None:
            self._frozen = Counts(**self._values)  # type: ignore[arg-type]
        return self._frozen


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
        self.tally = Tally()
        self.buffer_used = 0
        self.buffer_capacity = buffer_capacity
        self.lister_state = ListerState.IDLE
        self.lister_page = 0
        self._rate = RateLimitView()
        self._rate_heard: RateInfo | None = None
        """The forge identity's latest quota, not yet folded into ``rate`` (:meth:`heard_rate`)."""
        self.paused = False
        self.exit_code: int | None = None
        self.message: str | None = None
        self.server: str | None = None
        """What the forge said it is (``Forgejo 9.0.0``), where it says (Gitea and Forgejo)."""
        self.unmatched: str | None = None
        """The filters, when they left out every repo a complete listing held (said in the summary)."""
        self.expected: int | None = None
        """How many repos the forge said the owner has, once it said (compared with what the listing yielded)."""
        self.prune_refused: str | None = None
        """Why a requested ``--prune`` moved nothing (or stopped): ``PruneRefused``'s reason, for the summary."""
        self._run_state = RunState.STARTING

    def count(self, **deltas: int) -> None:
        """Add to this target's counters and the run's, e.g. ``count(cloned=1, active=-1)``."""
        self.tally.add(deltas)
        self.run.tally.add(deltas)

    @property
    def counts(self) -> Counts:
        """This target's counters as they are now (immutable)."""
        return self.tally.counts

    def received(self, nbytes: int) -> None:
        """Bytes git received for this target: its own count (its stats row, its metrics) and the run's rate."""
        if nbytes > 0:
            self.tally.add({"received_bytes": nbytes})
            self.run.received(nbytes)

    def set_total(self, total: int | None) -> None:
        self.tally.set(total=total)
        totals = [t.counts.total for t in self.run.targets if t.counts.total is not None]
        self.run.tally.set(total=sum(totals) if totals else None)

    @property
    def rate(self) -> RateLimitView:
        """What this target shows of its forge identity's quota: its waits, what is left, what it asked."""
        heard = self._rate_heard
        if heard is not None:
            self._rate_heard = None
            self._rate = replace(self._rate, limit=heard.limit, remaining=heard.remaining, reset_at=heard.reset_at)
        return self._rate

    def set_rate(self, **changes: object) -> None:
        self._rate = replace(self.rate, **changes)  # type: ignore[arg-type]

    def heard_rate(self, rate: RateInfo) -> None:
        """The identity's quota after a response: kept as is, folded in when read. Every target on one identity
        hears every response, so this must cost nothing: 5,000 targets on one token are 5,000 hearers each time."""
        self._rate_heard = rate

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
        elif shown in _ACTIVE and self.rate.wait_kind not in (None, WaitKind.PACING) and not self.tally.counts.active:
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
    ListerState.STOPPED,
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
        self.tally = Tally()
        self.workers: list[WorkerView] = [WorkerView(index=i + 1) for i in range(workers)]
        self.errors: deque[ErrorView] = deque(maxlen=ERRORS_KEPT)
        self.error_count = 0
        self.retried = 0
        """Failed attempts a retry followed (``Snapshot.retried``)."""
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
    @property
    def counts(self) -> Counts:
        """The run's counters as they are now (immutable)."""
        return self.tally.counts

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
            self.tally.add({"received_bytes": nbytes})
            self._window.roll(self.clock.now())
            self._window.bytes[-1] += nbytes

    def set_paused(self, paused: bool) -> None:
        """The run's gate is closed (or open again): active states show as PAUSED, and the paused time is
        not in the rate (:class:`_Window`)."""
        if paused != self.paused:
            (self._window.pause if paused else self._window.resume)(self.clock.now())
        self.paused = paused

    def set_queued(self, queued: int) -> None:
        """How many repos wait in the buffer, all targets' lanes together."""
        self.tally.set(queued=queued)

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
        if error.retry_at is not None:
            self.retried += 1

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
        return replace(
            busiest.rate, requests=requests, not_modified=not_modified, git_throttled_until=self.git_throttled_until, quota_of=busiest.name
        )

    def _shown_state(self, rate: RateLimitView) -> RunState:
        if self._run_state not in _ACTIVE:
            return self._run_state
        if self.paused:
            return RunState.PAUSED
        if self.outage is not None:
            return RunState.WAITING
        if rate.wait_kind not in (None, WaitKind.PACING) and not self.tally.counts.active:
            return RunState.WAITING  # only while nothing else goes on: a lister's wait shows in its own rows
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
            repos_per_second=0.0 if self.paused else _rate(repos),
            bytes_per_second=0.0 if self.paused else _rate(byte_samples),
            buffer_used=sum(t.buffer_used for t in self.targets),
            buffer_capacity=sum(t.buffer_capacity for t in self.targets),
            lister_state=busiest.lister_state if busiest else ListerState.IDLE,
            lister_page=sum(t.lister_page for t in self.targets),
            rate=rate,
            workers=tuple(self.workers),
            errors=tuple(self.errors),
            error_count=self.error_count,
            retried=self.retried,
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
