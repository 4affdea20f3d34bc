"""The streaming pipeline: lister → bounded buffer → git workers, journaled in SQLite.

The lister pages through the forge into a bounded anyio memory stream; when the stream is full the
lister blocks (backpressure), so pausing the workers soon stops API traffic too. Acknowledgements are
written in batches; nothing about the whole org is held in memory.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from gz_tui.clock import SYSTEM_CLOCK, Clock
from gz_tui.config import Settings
from gz_tui.forges import make_provider
from gz_tui.forges.base import RateInfo, RemoteRepo
from gz_tui.forges.http import ApiClient, RetryPolicy
from gz_tui.logs import REDACTED, add_secret, redact
from gz_tui.pipeline.control import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from gz_tui.pipeline.gates import Gate, Governor
from gz_tui.pipeline.lister import Lister
from gz_tui.pipeline.git import (
    MIN_GIT_VERSION,
    GitRunner,
    allow_http_for,
    basic_auth_header,
    git_environment,
    git_origin,
    git_version,
)
from gz_tui.pipeline.lock import DestLock, LockedError
from gz_tui.pipeline.paths import UnsafeRepo, clone_url_for, destination
from gz_tui.pipeline.state import Ack, default_state_path, StateError, StateStore, StoredRepo
from gz_tui.pipeline.stats import ErrorView, ListerState, RunState, Snapshot, Stats, WorkerState
from gz_tui.pipeline.sync import TMP_DIR_NAME, Outcome, RepoSyncer

T = TypeVar("T")
log = logging.getLogger("gz_tui.pipeline")
_LOGGED_EVENTS = ("resume", "notice", "repo_failed", "rate_limit_wait", "listing_failed", "error", "summary", "paused", "resumed")
EventSink = Callable[[dict[str, Any]], None]

ACK_FLUSH_SECONDS = 0.25
ACK_FLUSH_COUNT = 200


class SetupError(Exception):
    """The run cannot start; one line for the user, exit 2."""


class Pipeline:
    """One run. Build it, then ``await run()``; pause/resume/cancel may be called from the UI meanwhile."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        events: EventSink | None = None,
        policy: RetryPolicy | None = None,
        environ: dict[str, str] | None = None,
        git_backoff: float = 2.0,
    ) -> None:
        self.settings = settings
        self.clock = clock
        add_secret(settings.token)  # every message this run shows or journals is redacted of it
        self._events = events
        self._policy = policy
        self._environ = dict(os.environ if environ is None else environ)
        self._git_backoff = git_backoff
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
        self._state_before_wait = RunState.LISTING
        self._nested = False
        self._complete_listing = True
        """False when the forge filters the listing itself (GitLab ``archived=false``): absent ≠ gone."""

    # -- control (RunControl) -----------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return not self._gate.is_open

    def pause(self) -> None:
        self._gate.close()
        self.stats.paused = True
        self._emit("paused")

    def resume(self) -> None:
        self._gate.open()
        self.stats.paused = False
        self._emit("resumed")

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
        if self.stats.run_state not in (RunState.CANCELLED, RunState.FAILED):
            self.stats.run_state = RunState.FINISHED
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
        lock = DestLock(self.dest / ".gz-tui" / "lock")
        try:
            lock.acquire()
        except (LockedError, OSError) as exc:
            return self._fail_setup(str(exc) if isinstance(exc, LockedError) else f"cannot lock {self.dest}: {exc.strerror}")
        try:
            try:
                self._store = StateStore(Path(self.stats.state_path), clock=self.clock.now)
                return await self._run_locked(self._store)
            except StateError as exc:
                return self._fail_setup(str(exc))
        finally:
            if self._store is not None:
                self._store.close()
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
        self.stats.run_state = RunState.FAILED
        self._emit("error", message=message)
        return EXIT_USAGE

    async def _run_locked(self, store: StateStore) -> int:
        settings = self.settings
        if settings.fresh:
            store.forget()
        store.check_identity(settings.provider, settings.owner)
        last = store.last_run()
        resume_failed = False
        if settings.dry_run:
            self._run_id = self._begin(store, dry_run=True)
            cursor, listing_done = None, False
        elif last is not None and (settings.retry_failed or not last.finished):
            self._run_id = last.id
            store.reopen_run(last.id)
            cursor, listing_done = last.cursor, last.listing_done
            resume_failed = settings.retry_failed
            self._emit("resume", run=last.id, listing_done=listing_done)
        else:
            self._run_id = self._begin(store, dry_run=False)
            cursor, listing_done = None, False
        resumed = self._run_id == (last.id if last else -1)
        if resumed:
            done = store.done_counts(self._run_id)
            finished_before = sum(n for status, n in done.items() if not (resume_failed and status == "failed"))
            self.stats.count(resumed_done=finished_before, listed=store.listed_count(self._run_id))
        tmp = self.dest / ".gz-tui" / TMP_DIR_NAME
        if tmp.exists():
            await anyio.to_thread.run_sync(shutil.rmtree, tmp, True)

        provider = make_provider(settings.provider, settings.api_base, skip_archived=settings.skip_archived)
        self._nested = provider.info.nested
        self._complete_listing = not (settings.skip_archived and provider.info.archived_filtered_by_server)
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
        allow_http = allow_http_for(settings.api_base, settings.insecure_http)
        env = git_environment(
            base=self._environ,
            protocol=settings.protocol,
            allow_http=allow_http,
            auth_origin=git_origin(settings.api_base) if token else None,
            auth_header=basic_auth_header(provider.info.git_username, token) if token else None,
        )
        syncer = RepoSyncer(
            runner=GitRunner(env, secrets=[token] if token else []),
            dest=self.dest,
            update_mode=settings.update,
            depth=settings.depth,
            inspect_limiter=anyio.CapacityLimiter(2),
        )
        governor = Governor(settings.workers, self.clock)
        self._lister = Lister(
            settings=settings,
            stats=self.stats,
            store=store,
            run_id=self._run_id,
            dest=self.dest,
            db_call=self._db_call,
            emit=self._emit,
            ack=self._ack,
            notice=self._notice,
            on_fatal=self._stop_workers,
        )
        send, receive = anyio.create_memory_object_stream[StoredRepo](max(1, settings.buffer))
        self._send = send
        self.stats.run_state = RunState.LISTING if not listing_done else RunState.RUNNING
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
                                    group.start_soon(self._worker, index, receive.clone(), syncer, governor)
                            receive.close()
                            group.start_soon(self._lister.feed, client, provider, send, cursor, listing_done, resume_failed)
                        journal.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._flush()
                if tmp.exists():
                    await anyio.to_thread.run_sync(shutil.rmtree, tmp, True)
        return self._finish(store)

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

    def _finish(self, store: StateStore) -> int:
        counts = self.stats.counts
        error = self._lister.error if self._lister else None
        if self._cancelled:
            store.finish_run(self._run_id, "cancelled")
            self.stats.run_state = RunState.CANCELLED
            return EXIT_INTERRUPTED
        if error is not None:
            store.finish_run(self._run_id, "failed")
            if self._lister and self._lister.fatal:
                self.stats.run_state = RunState.FAILED
                return error.exit_code
            return max(EXIT_FAILED, error.exit_code)
        if not self.settings.dry_run and self._complete_listing:
            self._report_gone(store)
        store.finish_run(self._run_id, "finished")
        return EXIT_FAILED if counts.failed else EXIT_OK

    def _report_gone(self, store: StateStore) -> None:
        """After a complete listing: say which clones the forge no longer lists (never delete them)."""
        gone = store.gone_from_forge(self._run_id, self.dest)
        if not gone:
            return
        self.stats.count(gone=len(gone))
        shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5:,} more" if len(gone) > 5 else "")
        self._notice(
            f"{len(gone):,} clone{'s' if len(gone) != 1 else ''} in {self.dest} {'are' if len(gone) != 1 else 'is'} no longer "
            f"listed by the forge (deleted, renamed, or not visible to this token) and left as they are: {shown}; "
            "`gz-tui status` lists them"
        )

    def _notice(self, message: str) -> None:
        """Worth telling the user, not an error: a JSON/headless event, a dashboard toast, the log."""
        self.stats.notices.append(message)
        self._emit("notice", message=message)

    async def _db_call(self, function: Callable[..., T], *args: Any) -> T:
        """State calls run one at a time on a worker thread, off the event loop."""
        async with self._db:
            return await anyio.to_thread.run_sync(function, *args)

    # -- workers --------------------------------------------------------------------------------
    async def _worker(
        self, index: int, receive: MemoryObjectReceiveStream[StoredRepo], syncer: RepoSyncer, governor: Governor
    ) -> None:
        async with receive:
            while True:
                await self._hold(index)
                try:
                    item = await receive.receive()
                except anyio.EndOfStream:
                    self.stats.set_worker(index, state=WorkerState.DONE, repo=None, phase="", percent=None)
                    return
                await self._hold(index)
                if self.stats.run_state == RunState.LISTING:
                    self.stats.run_state = RunState.RUNNING
                self._state_before_wait = RunState.RUNNING
                self.stats.count(active=1)
                try:
                    await self._sync_one(index, item, syncer, governor)
                finally:
                    self.stats.count(active=-1)
                    self.stats.set_worker(index, state=WorkerState.IDLE, repo=None, phase="", percent=None, received_bytes=0)

    async def _hold(self, index: int) -> None:
        if not self._gate.is_open:
            self.stats.set_worker(index, state=WorkerState.PAUSED, repo=None, phase="", percent=None)
            await self._gate.wait()
            self.stats.set_worker(index, state=WorkerState.IDLE)

    async def _sync_one(self, index: int, item: StoredRepo, syncer: RepoSyncer, governor: Governor) -> None:
        repo = item.repo
        settings = self.settings
        try:
            if any(REDACTED in text for text in (repo.full_name, repo.rel_path, repo.clone_url, repo.ssh_url or "")):
                raise UnsafeRepo("the forge put your token into this repository's name or URL; refused")
            if "/" in repo.rel_path and not self._nested:
                raise UnsafeRepo(f"repository name {repo.rel_path!r} contains '/'")
            final = destination(self.dest, repo.rel_path)
            url = clone_url_for(repo, api_base=settings.api_base, protocol=settings.protocol, allow_http=settings.insecure_http)
            self._check_owner(repo)
            assert self._store is not None
            twin = await self._db_call(self._store.case_twin, self._run_id, repo.key, repo.rel_path)
            if twin:
                raise UnsafeRepo(f"path differs only in case from {twin!r}; the two would collide on case-insensitive disks")
        except UnsafeRepo as exc:
            self._record(repo, Outcome("failed", "unsafe", str(exc)), attempts=1, max_attempts=1)
            return
        exists = final.exists()
        if exists and settings.update != "skip" and repo.pushed_at and item.synced_pushed_at == repo.pushed_at:
            self._record(repo, Outcome("unchanged", message="not pushed since the last sync"), attempts=1, max_attempts=1)
            return
        started = self.clock.now()
        attempt = item.attempts
        max_attempts = max(1, settings.attempts)
        while True:
            attempt += 1
            self.stats.set_worker(
                index,
                state=WorkerState.UPDATING if exists else WorkerState.CLONING,
                repo=repo.full_name,
                phase="queued",
                percent=None,
                received_bytes=0,
                started_at=started,
            )
            progress = self._progress_listener(index)
            if governor.active >= governor.allowed:
                self.stats.set_worker(index, phase=f"throttled, {governor.allowed} at a time")
            await governor.acquire()
            self.stats.set_worker(index, phase="connecting")
            try:
                if exists:
                    outcome = await syncer.update(repo, url, final, progress)
                else:
                    outcome = await syncer.clone(repo, url, final, progress)
            finally:
                governor.release()
            if outcome.error_class == "throttled":
                governor.throttled()
            if outcome.status != "failed" or not outcome.transient or attempt >= max_attempts:
                self._record(repo, outcome, attempts=attempt, max_attempts=max_attempts)
                return
            delay = self._git_backoff * 2 ** (attempt - 1)
            self.stats.add_error(
                ErrorView(self.clock.now(), repo.full_name, outcome.error_class, outcome.message, attempt, max_attempts, self.clock.now() + delay)
            )
            self._emit("repo_retry", repo=repo.full_name, error_class=outcome.error_class, message=outcome.message, attempt=attempt, delay=delay)
            self.stats.set_worker(index, state=WorkerState.RETRYING, phase=f"retry in {delay:.0f}s")
            await self.clock.sleep(delay)
            exists = final.exists()

    def _check_owner(self, repo: RemoteRepo) -> None:
        if repo.owner and repo.owner.lower() != self.settings.owner.strip("/").lower():
            raise UnsafeRepo(f"listed under {self.settings.owner!r} but owned by {repo.owner!r}")

    def _progress_listener(self, index: int) -> Callable[[str, float | None, int], None]:
        last = 0

        def listener(phase: str, percent: float | None, received: int) -> None:
            nonlocal last
            if received > last:
                self.stats.received(received - last)
                last = received
            self.stats.set_worker(index, phase=phase, percent=percent, received_bytes=received)

        return listener

    def _record(self, repo: RemoteRepo, outcome: Outcome, *, attempts: int, max_attempts: int) -> None:
        status = outcome.status
        outcome = replace(outcome, message=redact(outcome.message))
        self._ack(
            Ack(
                repo.key,
                status,
                attempts=attempts,
                error_class=outcome.error_class or None,
                error_message=outcome.message or None,
                last_commit=outcome.last_commit,
                pushed_at=repo.pushed_at,
            )
        )
        self.stats.count(**{status: 1})
        self.stats.completed(0)
        if status == "failed" or outcome.error_class == "dirty":
            self.stats.add_error(
                ErrorView(self.clock.now(), repo.full_name, outcome.error_class, outcome.message, attempts, max_attempts)
            )
        if status == "failed":
            self._emit(
                "repo_failed", repo=repo.full_name, error_class=outcome.error_class, message=outcome.message, attempts=attempts
            )
        else:
            self._emit("repo_done", repo=repo.full_name, outcome=status, commit=outcome.last_commit, bytes=outcome.received_bytes)

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
            await self._db_call(self._store.ack_many, self._run_id, batch)

    # -- observers ------------------------------------------------------------------------------
    def _on_wait(self, kind: str, seconds: float, until: float) -> None:
        if not kind:
            self.stats.set_rate(wait_kind=None, wait_until=None)
            if self.stats.run_state == RunState.WAITING:
                self.stats.run_state = self._state_before_wait
            if self.stats.lister_state == ListerState.WAITING:
                self.stats.lister_state = ListerState.FETCHING
            return
        self.stats.set_rate(wait_kind=kind, wait_until=until)
        self.stats.lister_state = ListerState.WAITING
        if kind != "pacing" and self.stats.run_state != RunState.WAITING:
            self._state_before_wait = self.stats.run_state
            self.stats.run_state = RunState.WAITING
        self._emit("rate_limit_wait", kind=kind, seconds=round(seconds, 3), until=until)

    def _on_rate(self, rate: RateInfo) -> None:
        self.stats.set_rate(limit=rate.limit, remaining=rate.remaining, reset_at=rate.reset_at)

    def _on_request(self, status: int) -> None:
        changes: dict[str, int] = {"requests": self.stats.rate.requests + 1}
        if status == 304:
            changes["not_modified"] = self.stats.rate.not_modified + 1
        self.stats.set_rate(**changes)

    def _emit(self, event: str, **fields: Any) -> None:
        if event in _LOGGED_EVENTS and not (event == "rate_limit_wait" and fields.get("kind") == "pacing"):
            log.info("%s %s", event, " ".join(f"{k}={v!r}" for k, v in fields.items()))
        if self._events is not None:
            self._events({"event": event, "time": round(self.clock.now(), 3), **fields})

    def _emit_summary(self, code: int) -> None:
        c = self.stats.counts
        fields: dict[str, Any] = {
            "exit_code": code,
            "listed": c.listed,
            "cloned": c.cloned,
            "updated": c.updated,
            "unchanged": c.unchanged,
            "skipped": c.skipped,
            "failed": c.failed,
            "resumed_done": c.resumed_done,
            "gone": c.gone,
            "seconds": round(self.stats.snapshot().elapsed, 3),
            "api_requests": self.stats.rate.requests,
            "not_modified": self.stats.rate.not_modified,
            "state": self.stats.state_path,
        }
        if self.settings.dry_run and self._lister is not None:
            fields.update({f"would_{action}": n for action, n in self._lister.planned.items()})
        if self.stats.message:
            fields["message"] = self.stats.message
        self._emit("summary", **fields)


def make_pipeline(settings: Settings) -> Pipeline:
    """The PipelineFactory the CLI and the dashboard use."""
    return Pipeline(settings)


__all__ = ["Pipeline", "make_pipeline", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]
