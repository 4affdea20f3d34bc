"""The streaming pipeline: lister → bounded buffer → git workers, journaled in SQLite.

The lister pages through the forge into a bounded anyio memory stream; when the stream is full the
lister blocks (backpressure), so pausing the workers soon stops API traffic too. Acknowledgements are
written in batches; nothing about the whole org is held in memory. The per-repo work lives in
``repo_work``, the listing in ``lister``; this module opens the state, wires the parts and ends the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from gz_tui.clock import SYSTEM_CLOCK, Clock
from gz_tui.config import Settings
from gz_tui.forges import make_provider
from gz_tui.forges.base import RateInfo
from gz_tui.forges.http import ApiClient, RetryPolicy, origin_of
from gz_tui.format import countdown
from gz_tui.kinds import PERMANENT_ERRORS, PlannedAction, RepoStatus, WaitKind
from gz_tui.pipeline.context import Events, EventSink, RunContext
from gz_tui.pipeline.control import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from gz_tui.pipeline.events import (
    ForgeReachable,
    ForgeUnreachable,
    Notice,
    Paused,
    RateLimitWait,
    Resume,
    RunError,
    Summary,
    Unpaused,
)
from gz_tui.pipeline.gates import Gate, Governor
from gz_tui.pipeline.git import (
    MIN_GIT_VERSION,
    GitRunner,
    allow_http_for,
    basic_auth_header,
    git_environment,
    git_origin,
    git_version,
)
from gz_tui.pipeline.lister import Lister
from gz_tui.pipeline.lock import LockedError, ProcessLock
from gz_tui.pipeline.outage import ForgeBreaker
from gz_tui.pipeline.paths import name_max
from gz_tui.pipeline.repo_work import RepoWork
from gz_tui.pipeline.state import Ack, StateError, StateStore, StateWriteError, StoredRepo, default_state_path
from gz_tui.pipeline.stats import ListerState, OutageView, RunState, Snapshot, Stats, WorkerState
from gz_tui.pipeline.sync import TMP_DIR_NAME, RepoSyncer
from gz_tui.untrusted import add_secret

T = TypeVar("T")

ACK_FLUSH_SECONDS = 0.25
ACK_FLUSH_COUNT = 200


class SetupError(Exception):
    """The run cannot start; one line for the user, exit 2."""


class Pipeline:
    """One run. Build it, then ``await run()``; pause/unpause/cancel may be called from the UI meanwhile."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        events: EventSink | None = None,
        policy: RetryPolicy | None = None,
        environ: dict[str, str] | None = None,
        git_backoff: float = 2.0,
        outage_limit: float = 600.0,
    ) -> None:
        self.settings = settings
        self.clock = clock
        add_secret(settings.token)  # every message this run shows or journals is redacted of it
        self._events = Events(events, clock)
        self._policy = policy
        self._environ = dict(os.environ if environ is None else environ)
        self._git_backoff = git_backoff
        self._outage_limit = outage_limit
        self._state_unwritable: str | None = None
        """Why the state could not be written (a full disk), if it could not."""
        self._gave_up: str | None = None
        """Why the run stopped itself (the forge stayed unreachable), if it did."""
        self.dest = settings.dest.expanduser().resolve()
        self.stats = Stats(
            forge=settings.provider,
            owner=settings.owner,
            dest=str(self.dest),
            api_host=urlsplit(settings.api_base).netloc,
            workers=settings.workers,
            buffer_capacity=settings.buffer,
            clock=clock,
            state_path=str(settings.state_path or default_state_path(self.dest)),
            dry_run=settings.dry_run,
        )
        self._gate = Gate()
        self._cancel_scope: anyio.CancelScope | None = None
        self._cancelled = False
        self._send: MemoryObjectSendStream[StoredRepo] | None = None
        self._acks: list[Ack] = []
        self._store: StateStore | None = None
        self._run_id = 0
        self._lister: Lister | None = None
        self._workers_scope: anyio.CancelScope | None = None
        self._db = anyio.CapacityLimiter(1)

    # -- control (RunControl) -----------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return not self._gate.is_open

    def pause(self) -> None:
        self._gate.close()
        self.stats.paused = True
        self._events.emit(Paused())

    def unpause(self) -> None:
        self._gate.open()
        self.stats.paused = False
        self._events.emit(Unpaused())

    def cancel(self) -> None:
        self._cancelled = True
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    def snapshot(self) -> Snapshot:
        if self._send is not None:
            self.stats.buffer_used = self._send.statistics().current_buffer_used
            self.stats.counts = replace(self.stats.counts, queued=self.stats.buffer_used)
        return self.stats.snapshot()

    # -- the run ------------------------------------------------------------------------------
    async def run(self) -> int:
        code = await self._run()
        self._send = None  # what the buffer still held is in the state, queued first next time
        self.stats.buffer_used = 0
        self.stats.exit_code = code
        self.stats.advance(RunState.FINISHED)
        for index in range(1, len(self.stats.workers) + 1):
            self.stats.set_worker(index, state=WorkerState.DONE, repo=None, phase="", percent=None)
        self.stats.end()
        self._emit_summary(code)
        return code

    async def _run(self) -> int:
        created = not self.dest.exists()
        code = await self._run_in_dest()
        if created and code == EXIT_USAGE and self.stats.counts.listed == 0:
            self._remove_unused_dest()
        return code

    def _remove_unused_dest(self) -> None:
        """A typo'd owner or a refused token must not leave an empty ``./apahce/.gz-tui`` behind."""
        state_dir = self.dest / ".gz-tui"
        try:
            if [p.name for p in self.dest.iterdir()] != [".gz-tui"] or not Path(self.stats.state_path).is_relative_to(state_dir):
                return
            shutil.rmtree(state_dir)
            self.dest.rmdir()
        except OSError:
            return
        self.stats.state_path = ""

    async def _run_in_dest(self) -> int:
        try:
            self._preflight()
        except SetupError as exc:
            return self._fail_setup(str(exc))
        state_path = Path(self.stats.state_path)
        # The destination, then the state: --state can point two runs with different --dest at one state.
        locks = [(ProcessLock.for_dest(self.dest), str(self.dest)), (ProcessLock.for_state(state_path), f"the state {state_path}")]
        held: list[ProcessLock] = []
        try:
            for lock, what in locks:
                try:
                    lock.acquire()
                except (LockedError, OSError) as exc:
                    return self._fail_setup(str(exc) if isinstance(exc, LockedError) else f"cannot lock {what}: {exc.strerror}")
                held.append(lock)
            try:
                # --fresh on a damaged or unreadable state moves it aside (under the locks) and starts a new one.
                self._store = StateStore.open(state_path, fresh=self.settings.fresh, clock=self.clock.now)
                if self._store.notice:
                    self.stats.notices.append(self._store.notice)
                    self._events.emit(Notice(message=self._store.notice))
                return await self._run_locked(self._store)
            except StateWriteError as exc:  # a full disk at the start or the end of the run
                self._stop_for_state(exc)
                self.stats.advance(RunState.FAILED)
                return EXIT_FAILED
            except StateError as exc:
                return self._fail_setup(str(exc))
            except BaseExceptionGroup as group:  # a state call that failed inside the run's task groups
                state_errors, others = group.split(StateError)
                if state_errors is None or others is not None:
                    raise
                first: BaseException = state_errors
                while isinstance(first, BaseExceptionGroup):
                    first = first.exceptions[0]
                return self._fail_setup(str(first))
        finally:
            if self._store is not None:
                self._store.close()
            for lock in reversed(held):
                lock.release()

    def _preflight(self) -> None:
        version = git_version()
        if version is None:
            raise SetupError("git is not installed or not on PATH; install git (2.31 or newer) and try again")
        if version < MIN_GIT_VERSION:
            raise SetupError(
                f"git {version[0]}.{version[1]} is too old (gz-tui needs 2.31+ to keep tokens out of process lists); upgrade git"
            )
        try:
            (self.dest / ".gz-tui").mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise SetupError(f"cannot create {self.dest}: {exc.strerror}; choose a writable --dest") from None
        if not os.access(self.dest, os.W_OK):
            raise SetupError(f"{self.dest} is not writable; choose another --dest")

    def _fail_setup(self, message: str) -> int:
        self.stats.message = message
        self.stats.advance(RunState.FAILED)
        self._events.emit(RunError(message=message))
        return EXIT_USAGE

    async def _run_locked(self, store: StateStore) -> int:
        settings = self.settings
        store.check_identity(settings.provider, settings.owner)
        last = store.last_run()
        moved_from = None
        if last is not None and origin_of(last.base_url) != origin_of(settings.api_base):
            moved_from = last.base_url
            last = None  # a cursor (or a failed URL) of another origin is never reused: list from the start
        retry_failed = False
        if settings.dry_run:
            self._run_id = self._begin(store, dry_run=True)
            cursor, listing_done = None, False
        elif last is not None and (settings.retry_failed or not last.finished):
            self._run_id = last.id
            store.reopen_run(last.id)
            cursor, listing_done = last.cursor, last.listing_done
            retry_failed = settings.retry_failed
            self._events.emit(Resume(run=last.id, listing_done=listing_done))
            done = store.done_counts(self._run_id)
            finished_before = sum(n for status, n in done.items() if status != RepoStatus.FAILED)
            self.stats.count(resumed_done=finished_before, listed=store.listed_count(self._run_id))
            if not retry_failed:  # failures of the interrupted part stay failures of this run (and its exit code)
                classes = store.failure_classes(self._run_id)
                permanent = sum(n for error_class, n in classes.items() if error_class in PERMANENT_ERRORS)
                self.stats.count(failed=sum(classes.values()), failed_permanent=permanent)
        else:
            self._run_id = self._begin(store, dry_run=False)
            cursor, listing_done = None, False
        tmp = self.dest / ".gz-tui" / TMP_DIR_NAME
        if tmp.exists():
            await anyio.to_thread.run_sync(shutil.rmtree, tmp, True)

        provider = make_provider(settings.provider, settings.api_base, settings.owner, skip_archived=settings.skip_archived)
        complete_listing = not (settings.skip_archived and provider.info.archived_filtered_by_server)
        token = settings.token
        client = ApiClient(
            provider,
            settings.api_base,
            token,
            clock=self.clock,
            policy=self._policy,
            on_wait=self._on_wait,
            on_rate=self._on_rate,
            on_request=self._on_request,
        )
        ctx = RunContext(
            settings=settings,
            stats=self.stats,
            clock=self.clock,
            dest=self.dest,
            longest_name=name_max(self.dest),
            store=store,
            run_id=self._run_id,
            db=self._db_call,
            ack=self._ack,
            events=self._events,
        )
        env = git_environment(
            base=self._environ,
            protocol=settings.protocol,
            allow_http=allow_http_for(settings.api_base, settings.insecure_http),
            auth_origin=git_origin(settings.api_base) if token else None,
            auth_header=basic_auth_header(provider.info.git_username, token) if token else None,
        )
        syncer = RepoSyncer(
            runner=GitRunner(env, secrets=[token] if token else []),
            dest=self.dest,
            update_mode=settings.update,
            depth=settings.depth,
        )
        work = RepoWork(
            ctx,
            syncer=syncer,
            governor=Governor(settings.workers, self.clock),
            gate=self._gate,
            breaker=self._breaker(git_origin(settings.api_base)),
            nested=provider.info.nested,
            git_backoff=self._git_backoff,
            forge_moved=moved_from is not None,
        )
        if moved_from is not None:
            ctx.notice(
                f"the forge moved: the last run used {moved_from}, this one {settings.api_base}; listing starts over there, "
                "and clones of the same repos (same forge id) have their origin moved to it"
            )
        self._lister = Lister(ctx, client, provider, on_fatal=self._stop_workers)
        send, receive = anyio.create_memory_object_stream[StoredRepo](max(1, settings.buffer))
        self._send = send
        self.stats.advance(RunState.RUNNING if listing_done else RunState.LISTING)
        try:
            async with client:
                with anyio.CancelScope() as scope:
                    self._cancel_scope = scope
                    if self._cancelled:
                        scope.cancel()
                    async with anyio.create_task_group() as journal:
                        journal.start_soon(self._flush_loop)
                        async with anyio.create_task_group() as group:
                            self._workers_scope = group.cancel_scope
                            if not settings.dry_run:
                                for index in range(1, settings.workers + 1):
                                    group.start_soon(work.worker, index, receive.clone())
                            receive.close()
                            group.start_soon(self._lister.feed, send, cursor, listing_done, retry_failed)
                        journal.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._flush()
                if tmp.exists():
                    await anyio.to_thread.run_sync(shutil.rmtree, tmp, True)
        if work.moved_origins:
            ctx.notice(
                f"{work.moved_origins:,} clone{'s' if work.moved_origins != 1 else ''} had {'their' if work.moved_origins != 1 else 'its'} "
                f"origin moved to {settings.api_base} (the same repos by forge id)"
            )
        return self._finish(ctx, complete_listing)

    def _breaker(self, origin: str) -> ForgeBreaker:
        def opened(where: str, since: float, stops_at: float) -> None:
            self.stats.outage = OutageView(where, since, stops_at)
            self._events.emit(ForgeUnreachable(host=where, stops_at=round(stops_at, 3)))

        def retrying(at: float) -> None:
            if self.stats.outage is not None:
                self.stats.outage = replace(self.stats.outage, retry_at=at)

        def closed(seconds: float) -> None:
            where = self.stats.outage.where if self.stats.outage else origin
            self.stats.outage = None
            self._events.emit(ForgeReachable(host=where, seconds=round(seconds, 3)))

        def give_up(seconds: float) -> None:
            where = self.stats.outage.where if self.stats.outage else origin
            self._gave_up = (
                f"the forge at {where} has been unreachable for {countdown(seconds)}; stopped with the unfinished repos "
                "still pending (no attempt spent on them): run again to resume"
            )
            self.stats.message = self._gave_up
            if self._cancel_scope is not None:
                self._cancel_scope.cancel()

        return ForgeBreaker(
            origin, self.clock, limit=self._outage_limit, on_open=opened, on_retry=retrying, on_close=closed, on_give_up=give_up
        )

    def _begin(self, store: StateStore, *, dry_run: bool) -> int:
        s = self.settings
        options = {
            "workers": s.workers,
            "buffer": s.buffer,
            "protocol": s.protocol,
            "update": s.update,
            "depth": s.depth,
            "include": s.include,
            "exclude": s.exclude,
            "skip_archived": s.skip_archived,
            "skip_forks": s.skip_forks,
        }
        return store.begin_run(
            forge=s.provider, base_url=s.api_base, owner=s.owner, dest=str(self.dest), options=options, dry_run=dry_run
        )

    def _stop_workers(self) -> None:
        """The listing failed before anything was listed: nothing for the workers to do."""
        if self._workers_scope is not None:
            self._workers_scope.cancel()

    def _finish(self, ctx: RunContext, complete_listing: bool) -> int:
        store = ctx.store
        error = self._lister.error if self._lister else None
        if self._state_unwritable is not None:
            self.stats.advance(RunState.FAILED)
            return EXIT_FAILED  # the run stays "running" in the state: the next run resumes it
        if self._gave_up is not None:
            store.finish_run(self._run_id, "failed")
            self.stats.advance(RunState.FAILED)
            return EXIT_FAILED
        if self._cancelled:
            store.finish_run(self._run_id, "cancelled")
            self.stats.advance(RunState.CANCELLED)
            return EXIT_INTERRUPTED
        if error is not None:
            store.finish_run(self._run_id, "failed")
            if self._lister and self._lister.fatal:
                self.stats.advance(RunState.FAILED)
                return error.exit_code
            return max(EXIT_FAILED, error.exit_code)
        if not self.settings.dry_run and complete_listing:
            self._report_gone(ctx)
        store.finish_run(self._run_id, "finished")
        return EXIT_FAILED if self.stats.counts.failed else EXIT_OK

    def _report_gone(self, ctx: RunContext) -> None:
        """After a complete listing: say which clones the forge no longer lists (never delete them)."""
        gone = ctx.store.gone_from_forge(self._run_id, self.dest)
        if not gone:
            return
        self.stats.count(gone=len(gone))
        shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5:,} more" if len(gone) > 5 else "")
        ctx.notice(
            f"{len(gone):,} clone{'s' if len(gone) != 1 else ''} in {self.dest} {'are' if len(gone) != 1 else 'is'} no longer "
            f"listed by the forge (deleted, renamed, or not visible to this token) and left as they are: {shown}; "
            "`gz-tui status` lists them"
        )

    async def _db_call(self, function: Callable[..., T], *args: Any) -> T:
        """State calls run one at a time on a worker thread, off the event loop.

        A write the disk refuses stops the whole run cleanly (``_stop_for_state``): the calling task is then
        cancelled with the rest, never left holding an exception that would tear the task groups down.
        """
        try:
            return await self._db_raw(function, *args)
        except StateWriteError as exc:
            if self._cancel_scope is None:
                raise
            self._stop_for_state(exc)
            await anyio.sleep_forever()  # the run's scope was just cancelled: this raises at once
            raise  # pragma: no cover

    async def _db_raw(self, function: Callable[..., T], *args: Any) -> T:
        async with self._db:
            return await anyio.to_thread.run_sync(function, *args)

    def _stop_for_state(self, exc: StateWriteError) -> None:
        """The state cannot be written (full disk): stop cleanly; what is on disk is found by the next run."""
        if self._state_unwritable is None:
            self._state_unwritable = str(exc)
            self.stats.message = str(exc)
            self._events.emit(RunError(message=str(exc)))
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    # -- journal --------------------------------------------------------------------------------
    def _ack(self, ack: Ack) -> None:
        self._acks.append(ack)

    async def _flush_loop(self) -> None:
        while True:
            await anyio.sleep(ACK_FLUSH_SECONDS)
            await self._flush()

    async def _flush(self) -> None:
        if not self._acks or self._store is None:
            return
        batch, self._acks = self._acks, []
        # Shielded: a cancel that lands while this batch waits for the state lock would drop it.
        with anyio.CancelScope(shield=True):
            try:
                await self._db_raw(self._store.ack_many, self._run_id, batch)
            except BaseException as exc:
                # Not written (a full disk: StateWriteError): the batch goes back in front, in order, for the next
                # flush; the run stops. Those repos are on disk, so the next run finds them and clones none again.
                self._acks[:0] = batch
                if not isinstance(exc, StateWriteError):
                    raise
                self._stop_for_state(exc)

    # -- observers ------------------------------------------------------------------------------
    def _on_wait(self, kind: str, seconds: float, until: float) -> None:
        if not kind:
            self.stats.set_rate(wait_kind=None, wait_until=None)
            if self.stats.lister_state == ListerState.WAITING:
                self.stats.lister_state = ListerState.FETCHING
            return
        self.stats.set_rate(wait_kind=WaitKind(kind), wait_until=until)
        self.stats.lister_state = ListerState.WAITING
        self._events.emit(RateLimitWait(kind=WaitKind(kind), seconds=round(seconds, 3), until=until))

    def _on_rate(self, rate: RateInfo) -> None:
        self.stats.set_rate(limit=rate.limit, remaining=rate.remaining, reset_at=rate.reset_at)

    def _on_request(self, status: int) -> None:
        changes: dict[str, int] = {"requests": self.stats.rate.requests + 1}
        if status == 304:
            changes["not_modified"] = self.stats.rate.not_modified + 1
        self.stats.set_rate(**changes)

    def _emit_summary(self, code: int) -> None:
        c = self.stats.counts
        planned = self._lister.planned if self.settings.dry_run and self._lister is not None else None
        self._events.emit(
            Summary(
                exit_code=code,
                listed=c.listed,
                cloned=c.cloned,
                updated=c.updated,
                unchanged=c.unchanged,
                skipped=c.skipped,
                failed=c.failed,
                resumed_done=c.resumed_done,
                gone=c.gone,
                seconds=round(self.stats.snapshot().elapsed, 3),
                api_requests=self.stats.rate.requests,
                not_modified=self.stats.rate.not_modified,
                state=self.stats.state_path,
                would_clone=planned[PlannedAction.CLONE] if planned is not None else None,
                would_update=planned[PlannedAction.UPDATE] if planned is not None else None,
                would_refuse=planned[PlannedAction.REFUSE] if planned is not None else None,
                message=self.stats.message or None,
            )
        )


def make_pipeline(settings: Settings) -> Pipeline:
    """The PipelineFactory the CLI and the dashboard use."""
    return Pipeline(settings)


__all__ = ["Pipeline", "make_pipeline", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]
