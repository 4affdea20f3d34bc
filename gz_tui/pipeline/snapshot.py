"""The UI's contract: the frozen views of a run that the dashboard and the headless reporter read.

The pipeline writes a live model (``stats``); a reader calls ``snapshot()`` on its own tick and gets these
immutable copies — never a live deque — so render rate is decoupled from event rate. Everything a front end
may know of a run is here.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from gz_tui.config import Settings
from gz_tui.kinds import ErrorClass, WaitKind


class RunState(enum.StrEnum):
    """Where a run is. STARTING → LISTING → RUNNING → one of the three ends; PAUSED and WAITING are shown
    over an active state while the gate is closed or the lister waits out a limit (``Stats.snapshot``)."""

    STARTING = "starting"
    LISTING = "listing"
    RUNNING = "running"
    PAUSED = "paused"
    WAITING = "waiting"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        """One of the three ends: FINISHED, CANCELLED or FAILED (a target may end while others go on)."""
        return self in (RunState.FINISHED, RunState.CANCELLED, RunState.FAILED)


class ListerState(enum.StrEnum):
    IDLE = "idle"
    FETCHING = "fetching"
    BLOCKED = "blocked"
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"
    """The target ended (cancelled, interrupted, given up) before its listing did: the next run resumes it."""


class WorkerState(enum.StrEnum):
    IDLE = "idle"
    CLONING = "cloning"
    UPDATING = "updating"
    RETRYING = "retrying"
    PAUSED = "paused"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class WorkerView:
    index: int
    state: WorkerState = WorkerState.IDLE
    repo: str | None = None
    phase: str = ""
    percent: float | None = None
    received_bytes: int = 0
    started_at: float | None = None
    """Clock ``now()`` when the current repo was taken; elapsed = snapshot.now - started_at."""
    target: str = ""
    """The target (``Settings.target``) whose repo this worker has, in a run of several targets."""
    waiting: bool = False
    """It has a repo but runs no git: queued for a git slot, or backing off before a retry."""

    @property
    def working(self) -> bool:
        """Running git for its repo (what ``Workers 6/8 busy`` counts)."""
        return self.state in (WorkerState.CLONING, WorkerState.UPDATING) and not self.waiting


@dataclass(frozen=True, slots=True)
class ErrorView:
    time: float
    repo: str
    error_class: ErrorClass
    message: str
    attempt: int
    max_attempts: int
    retry_at: float | None = None
    """When a retry is scheduled (epoch seconds), or None when the repo gave up."""
    target: str = ""
    """The target the repo belongs to."""


@dataclass(frozen=True, slots=True)
class RateLimitView:
    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None
    wait_kind: WaitKind | None = None
    """Why the lister is waiting (``primary``, ``secondary``, ``throttled``, ``backoff``, ``pacing``), else None."""
    wait_until: float | None = None
    requests: int = 0
    not_modified: int = 0
    git_throttled_until: float | None = None
    """While git servers throttle, when the reduced concurrency is next reconsidered."""
    quota_of: str = ""
    """In a run of several targets, the target (``TargetView.name``) whose quota and wait these are; the
    request counters are the whole run's."""


@dataclass(frozen=True, slots=True)
class OutageView:
    """The forge stopped answering git: workers wait while it is probed."""

    where: str
    """``host:port``."""
    since: float
    stops_at: float
    """When the run gives up if the forge is still down."""
    retry_at: float | None = None
    """The next probe."""


@dataclass(frozen=True, slots=True)
class Counts:
    listed: int = 0
    total: int | None = None
    """The forge's own total when it tells one (GitHub org public_repos, X-Total, X-Total-Count)."""
    queued: int = 0
    active: int = 0
    cloned: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    failed_permanent: int = 0
    """Of ``failed``, those a retry cannot cure (unsafe names, not found, refused credentials)."""
    resumed_done: int = 0
    """Repos finished by an earlier, interrupted run of the same pass (not redone)."""
    received_bytes: int = 0
    """Bytes git reported receiving in this run (for the average speed in the summary)."""
    gone: int = 0
    """Clones on disk whose repos the forge no longer lists (known once the listing is complete; kept on disk)."""
    wikis: int = 0
    """Wikis cloned, updated or found unchanged (``--wikis``); not part of ``done``."""
    no_wiki: int = 0
    """Wikis the forge says are enabled but nobody has written (``skipped: no wiki``)."""
    moved: int = 0
    """Clones ``--prune`` moved to the attic."""
    kept: int = 0
    """Clones ``--prune`` left in place because they hold local work."""
    selected: int = 0
    """Repos the filters kept: queued for the workers (or planned, in a dry run)."""
    checked: int = 0
    """Clones checked with ``git ls-remote`` (uncertain or no change signal, or ``--verify``)."""
    missed: int = 0
    """Of those, clones the forge had moved although its change signal had not (then fetched)."""
    renamed: int = 0
    """Clones moved to the new path of their repo, renamed upstream (same forge id)."""
    lfs_bytes: int = 0
    """Of ``received_bytes``, the bytes of Git LFS objects (``--lfs``)."""

    @property
    def done(self) -> int:
        return self.cloned + self.updated + self.unchanged + self.skipped + self.failed + self.resumed_done


@dataclass(frozen=True, slots=True)
class PruneQuestion:
    """The dashboard's question before ``--prune`` moves clones (``RunControl.answer_prune`` answers it)."""

    target: str
    count: int
    """Clones that would move to the attic."""
    total: int
    """The destination's clones."""
    names: tuple[str, ...]
    """The first few of them."""
    attic: str
    kept: int = 0
    """Clones left in place whatever the answer (local work)."""


@dataclass(frozen=True, slots=True)
class TargetView:
    """One target of a run (an owner on a forge, with its own destination and state), for the targets panel."""

    name: str
    forge: str
    owner: str
    dest: str
    api_host: str
    counts: Counts
    lister_state: ListerState
    lister_page: int
    rate: RateLimitView
    """Its forge identity's quota and wait (targets on one API origin with one token share them)."""
    buffer_used: int
    buffer_capacity: int
    paused: bool
    """Paused on its own (``RunControl.pause_target``): its buffer fills, its lister stops."""
    run_state: RunState
    """FINISHED (or CANCELLED/FAILED) once its own work is over, while other targets may still run."""
    exit_code: int | None = None
    message: str | None = None
    state_path: str = ""


@dataclass(frozen=True, slots=True)
class Snapshot:
    forge: str
    owner: str
    dest: str
    api_host: str
    run_state: RunState
    started_at: float
    now: float
    counts: Counts
    throughput: tuple[float, ...]
    repos_per_second: float
    bytes_per_second: float
    buffer_used: int
    buffer_capacity: int
    lister_state: ListerState
    lister_page: int
    rate: RateLimitView
    workers: tuple[WorkerView, ...]
    errors: tuple[ErrorView, ...]
    """Newest first."""
    error_count: int
    retried: int = 0
    """Of the error log's rows, failed attempts a retry followed (the repo may well have succeeded since)."""
    state_path: str = ""
    dry_run: bool = False
    exit_code: int | None = None
    message: str | None = None
    """A run-level message: why the run failed or stopped (already a plain one-line string)."""
    notices: tuple[str, ...] = ()
    """Things the user should know that are not errors (e.g. "only public repos are visible"), oldest first."""
    outage: OutageView | None = None
    """Set while the forge is unreachable (see ``pipeline.outage``)."""
    targets: tuple[TargetView, ...] = ()
    """Every target of the run, in the order they were given (one for a single-owner run). The fields above
    are the run's totals and, where a total makes no sense, the busiest target's (its rate, its lister)."""
    kinds: tuple[str, ...] = ()
    """What kind of copies the run makes when not plain working clones: ``mirror``, ``partial``, ``shallow``, ``wikis``."""
    prune_question: PruneQuestion | None = None
    """Set while a prune waits for the user's answer (dashboard only)."""

    @property
    def elapsed(self) -> float:
        return max(0.0, self.now - self.started_at)

    @classmethod
    def placeholder(cls, targets: Sequence[Settings], *, now: float, message: str | None) -> Snapshot:
        """What the dashboard shows when no run could be built from ``targets``: their settings, failed, and why."""
        first = targets[0]
        views = tuple(
            TargetView(
                name=s.name,
                forge=s.provider,
                owner=s.owner,
                dest=str(s.dest),
                api_host=urlsplit(s.api_base).netloc,
                counts=Counts(),
                lister_state=ListerState.IDLE,
                lister_page=0,
                rate=RateLimitView(),
                buffer_used=0,
                buffer_capacity=s.buffer,
                paused=False,
                run_state=RunState.FAILED,
            )
            for s in targets
        )
        return cls(
            forge=first.provider,
            owner=first.owner,
            dest=str(first.dest),
            api_host=urlsplit(first.api_base).netloc,
            run_state=RunState.FAILED,
            started_at=now,
            now=now,
            counts=Counts(),
            throughput=(),
            repos_per_second=0.0,
            bytes_per_second=0.0,
            buffer_used=0,
            buffer_capacity=first.buffer,
            lister_state=ListerState.IDLE,
            lister_page=0,
            rate=RateLimitView(),
            workers=(),
            errors=(),
            error_count=0,
            dry_run=first.dry_run,
            message=message,
            targets=views,
        )
