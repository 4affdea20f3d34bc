"""One target of a run: an owner on a forge, with its own destination, lock, state, listing and summary.

A run of several targets (``gz-tui sync``) holds one :class:`TargetRun` each; they share the worker pool,
the forge identities' quotas and the outage breakers (``runner``). A target keeps exactly the state file a
single-owner run would, so ``gz-tui apache`` and ``gz-tui sync`` resume each other's work.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import anyio

from gz_tui.clock import Clock
from gz_tui.config import Settings
from gz_tui.forges.auth import Credential
from gz_tui.forges.http import ApiClient, Quota, RetryPolicy
from gz_tui.forges.records import RateInfo
from gz_tui.forges.registry import git_origin, make_provider
from gz_tui.kinds import PERMANENT_ERRORS, Affiliation, CloneKind, PlannedAction, RepoStatus, WaitKind
from gz_tui.layout import STATE_DIR, WorkDir
from gz_tui.pipeline.context import Events, RunContext
from gz_tui.pipeline.control import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from gz_tui.pipeline.events import Notice, RateLimitWait, RepoKept, RepoMoved, Resume, RunError, Summary
from gz_tui.pipeline.gates import Governor
from gz_tui.pipeline.git import (
    MIN_GIT_VERSION,
    GitAuth,
    GitRunner,
    allow_http_for,
    git_environment,
    git_version,
)
from gz_tui.pipeline.lister import Lister
from gz_tui.pipeline.lock import LockedError, ProcessLock
from gz_tui.pipeline.outage import ForgeBreaker, ForgeDown
from gz_tui.pipeline.paths import copy_path, name_max
from gz_tui.pipeline.queue import Lane
from gz_tui.pipeline.repo_work import RepoWork
from gz_tui.pipeline.state import Ack, StateError, StateStore, StateWriteError, StoredRepo
from gz_tui.pipeline.stats import ListerState, PruneQuestion, RunState, Stats, TargetStats
from gz_tui.pipeline.sync import RepoSyncer, is_bare
from gz_tui.shard import parse_shard
from gz_tui.urls import origin_of

T = TypeVar("T")


POST_SYNC_SECONDS = 600
PRUNE_PAUSE_ENV = "GZ_TUI_TEST_PRUNE_PAUSE"
"""Seconds to wait after each move of a prune: lets a test kill a run in the middle of pruning."""


def kind_on_disk(dest: Path, limit: int = 2000) -> str | None:
    """``mirror`` or ``checkout``: the kind of the first clone found at the top of ``dest``, if any."""
    try:
        entries = os.scandir(dest)
    except OSError:
        return None
    with entries:
        for number, entry in enumerate(entries):
            if number >= limit:
                break
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            folder = Path(entry.path)
            if (folder / ".git").exists():
                return "checkout"
            if entry.name.endswith(".git") and is_bare(folder):
                return "mirror"
    return None


def _free_path(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``… when the attic already holds one of that name (the same repo pruned twice a day)."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate


class SetupError(Exception):
    """The target cannot start; one line for the user, exit 2."""


class TargetRun:
    """Everything one target does in a run; the pipeline drives it (open → list/work → finish → close)."""

    def __init__(
        self,
        settings: Settings,
        *,
        run_stats: Stats,
        events: Events,
        clock: Clock,
        environ: dict[str, str],
        policy: RetryPolicy | None,
        git_backoff: float,
        quota: Quota,
        credential: Credential,
        breaker: ForgeBreaker,
        governor: Governor,
        lane: Lane[StoredRepo],
        on_unwritable: Callable[[StateError], None],
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.clock = clock
        self.events = events
        self.run_stats = run_stats
        self.dest = settings.dest.expanduser().resolve()
        self.shard = replace(parse_shard(settings.shard), source=settings.shard_source or "--shard") if settings.shard else None
        self.layout = WorkDir(self.dest, self.shard)
        self.work_dir = self.layout.root
        """``DEST/.gz-tui`` (or ``…/shard-K-of-N``): this run's state, lock and temporary clones."""
        self.stats: TargetStats = run_stats.add_target(
            name=self.name,
            forge=settings.provider,
            owner=settings.owner,
            dest=str(self.dest),
            api_host=origin_of(settings.api_base)[1].removesuffix(":443").removesuffix(":80"),
            buffer_capacity=settings.buffer,
            state_path=str(settings.state_path or self.layout.state),
        )
        self.lane = lane
        self._environ = environ
        self._policy = policy
        self._git_backoff = git_backoff
        self._quota = quota
        self._credential = credential
        self._breaker = breaker
        self._governor = governor
        self._on_unwritable = on_unwritable
        self._locks: list[ProcessLock] = []
        self._created_dest = False
        self.store: StateStore | None = None
        self.syncer: RepoSyncer | None = None
        self._prune_answer: anyio.Event | None = None
        self._prune_yes = False
        self.client: ApiClient | None = None
        self.lister: Lister | None = None
        self.work: RepoWork | None = None
        self.ctx: RunContext | None = None
        self.run_id = 0
        self._cursor: str | None = None
        self._listing_done = False
        self._retry_failed = False
        self._complete_listing = True
        self._acks: list[Ack] = []
        self._db = anyio.CapacityLimiter(1)
        self.outstanding = 0
        """Repos put into the lane and not yet recorded."""
        self.listing_over = False
        self.code: int | None = None
        """The target's exit code once it has finished."""
        self.finishing = False
        self.gave_up: str | None = None
        self._list_scope: anyio.CancelScope | None = None
        """Why this target stopped itself (its forge stayed unreachable), if it did."""
        """Its finish has begun (it is started once, from whichever task saw the target's last repo recorded)."""
        self.started_at = clock.now()

    # -- opening ---------------------------------------------------------------------------------
    async def open(self) -> bool:
        """Lock, open the state, decide between a new pass and a resume; False (and exit 2) if it cannot."""
        self._created_dest = not self.dest.exists()
        if self.shard is not None:
            self.notice(self.shard.describe())
        try:
            self._preflight()
            self._lock()
            # --fresh on a damaged or unreadable state moves it aside (under the locks) and starts a new one.
            self.store = StateStore.open(Path(self.stats.state_path), fresh=self.settings.fresh, clock=self.clock.now)
            if self.store.notice:
                self.notice(self.store.notice)
            self._check_clone_kind(self.store)
            await self._reconcile_attic(self.store)
            await self._begin_or_resume(self.store)
        except StateWriteError as exc:
            self._on_unwritable(exc)
            self.finish_now(EXIT_FAILED, RunState.FAILED)
            return False
        except (SetupError, StateError) as exc:
            self._fail_setup(str(exc))
            return False
        self._wire()
        return True

    def _preflight(self) -> None:
        version = git_version()
        if version is None:
            raise SetupError("git is not installed or not on PATH; install git (2.31 or newer) and try again")
        if version < MIN_GIT_VERSION:
            raise SetupError(
                f"git {version[0]}.{version[1]} is too old (gz-tui needs 2.31+ to keep tokens out of process lists); upgrade git"
            )
        try:
            self.layout.base.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.work_dir.mkdir(exist_ok=True, mode=0o700)
        except OSError as exc:
            raise SetupError(f"cannot create {self.dest}: {exc.strerror}; choose a writable --dest") from None
        if not os.access(self.dest, os.W_OK):
            raise SetupError(f"{self.dest} is not writable; choose another --dest")

    def _lock(self) -> None:
        """The destination, then the state: --state can point two runs with different --dest at one state.

        A shard holds the destination's lock shared (its sibling shards work beside it; an unsharded run, which
        holds it exclusively, does not) and its own slot's lock exclusively."""
        state_path = Path(self.stats.state_path)
        locks = [(ProcessLock.for_dest(self.dest, shared=self.shard is not None), str(self.dest))]
        if self.shard is not None:
            locks.append((ProcessLock(self.layout.slot_lock, f"syncing {self.shard.dir_name} of {self.dest}"), str(self.work_dir)))
        locks.append((ProcessLock.for_state(state_path), f"the state {state_path}"))
        for lock, what in locks:
            try:
                lock.acquire()
            except LockedError as exc:
                raise SetupError(str(exc)) from None
            except OSError as exc:
                raise SetupError(f"cannot lock {what}: {exc.strerror}") from None
            self._locks.append(lock)

    def _check_clone_kind(self, store: StateStore) -> None:
        """A destination keeps one kind of clone: bare mirrors (``NAME.git``) or working clones (``NAME``)."""
        wanted = "mirror" if self.settings.mirror else "checkout"
        found = store.clone_kind() or kind_on_disk(self.dest)
        if found is not None and found != wanted:
            held = "bare mirrors (--mirror)" if found == "mirror" else "working clones"
            made = "bare mirrors (--mirror)" if wanted == "mirror" else "working clones (no --mirror)"
            raise SetupError(
                f"{self.dest} holds {held}; this run makes {made}, and one destination keeps one kind: use another --dest for them"
            )
        if not self.settings.dry_run and store.clone_kind() is None:
            store.set_clone_kind(wanted)

    async def _reconcile_attic(self, store: StateStore) -> None:
        """Moves to the attic a killed prune journaled: each clone is either still in place or whole in the attic
        (a rename is atomic); the journal is brought in line with what the disk shows."""
        for entry, source, attic in store.attic_moving():
            moved = attic.exists() and not source.exists()
            store.attic_done(entry, moved)
            if moved:
                self.notice(f"an interrupted prune had moved {source.name} to the attic: {attic}")

    async def _begin_or_resume(self, store: StateStore) -> None:
        settings = self.settings
        store.check_identity(settings.provider, settings.owner)
        last = store.last_run()
        self._moved_from = None
        if last is not None and origin_of(last.base_url) != origin_of(settings.api_base):
            self._moved_from = last.base_url
            last = None  # a cursor (or a failed URL) of another origin is never reused: list from the start
        if settings.dry_run:
            self.run_id = self._begin(store, dry_run=True)
        elif last is not None and (settings.retry_failed or not last.finished):
            self.run_id = last.id
            store.reopen_run(last.id)
            self._cursor, self._listing_done = last.cursor, last.listing_done
            self._retry_failed = settings.retry_failed
            self.emit(Resume(run=last.id, listing_done=self._listing_done))
            done = store.done_counts(self.run_id)
            finished_before = sum(n for status, n in done.items() if status != RepoStatus.FAILED)
            self.stats.count(resumed_done=finished_before, listed=store.listed_count(self.run_id))
            if not self._retry_failed:  # failures of the interrupted part stay failures of this run (and its exit code)
                classes = store.failure_classes(self.run_id)
                permanent = sum(n for error_class, n in classes.items() if error_class in PERMANENT_ERRORS)
                self.stats.count(failed=sum(classes.values()), failed_permanent=permanent)
        else:
            self.run_id = self._begin(store, dry_run=False)
        tmp = self.layout.tmp
        if tmp.exists():
            await anyio.to_thread.run_sync(shutil.rmtree, tmp, True)

    def _begin(self, store: StateStore, *, dry_run: bool) -> int:
        s = self.settings
        options = {
            "workers": s.workers,
            "buffer": s.buffer,
            "protocol": s.protocol,
            "update": s.update,
            "depth": s.depth,
            "mirror": s.mirror,
            "wikis": s.wikis,
            "filter": s.filter,
            "single_branch": s.single_branch,
            "branch": s.branch,
            "include": s.include,
            "exclude": s.exclude,
            "skip_archived": s.skip_archived,
            "skip_forks": s.skip_forks,
        }
        # What limits the repos a run covers, recorded only when given (``gz-tui status`` says it).
        covered = {
            "topics": list(s.topics),
            "language": s.language,
            "repos_file": str(s.repos_file) if s.repos_file else None,
            "affiliation": s.affiliation,
            "subgroup_include": s.subgroup_include,
            "subgroup_exclude": s.subgroup_exclude,
            "auth": "github-app" if s.github_app_id is not None else None,
        }
        options.update({key: value for key, value in covered.items() if value})
        return store.begin_run(forge=s.provider, base_url=s.api_base, owner=s.owner, dest=str(self.dest), options=options, dry_run=dry_run)

    def _wire(self) -> None:
        """The parts that list and sync this target: its client (on its identity's quota), syncer, lister."""
        settings, store = self.settings, self.store
        assert store is not None
        provider = make_provider(
            settings.provider,
            settings.api_base,
            settings.owner,
            skip_archived=settings.skip_archived,
            topics=settings.topics,
            affiliation=settings.affiliation,
        )
        self._complete_listing = not (
            (settings.skip_archived and provider.info.archived_filtered_by_server) or provider.topic_filtered_by_server
        )
        self.client = ApiClient(
            provider,
            settings.api_base,
            self._credential,
            clock=self.clock,
            policy=self._policy,
            on_wait=self._on_wait,
            on_rate=self._on_rate,
            on_request=self._on_request,
            quota=self._quota,
        )
        self.ctx = RunContext(
            settings=settings,
            stats=self.stats,
            run=self.run_stats,
            clock=self.clock,
            dest=self.dest,
            longest_name=name_max(self.dest),
            store=store,
            run_id=self.run_id,
            db=self.db_call,
            ack=self._acks.append,
            events=self.events,
        )
        env = git_environment(
            base=self._environ,
            protocol=settings.protocol,
            allow_http=allow_http_for(settings.api_base, settings.insecure_http),
        )
        token = settings.token
        auth = GitAuth(git_origin(settings.provider, settings.api_base), provider.info.git_username, self._credential)
        syncer = RepoSyncer(
            runner=GitRunner(env, secrets=[token] if token else [], auth=auth),
            dest=self.dest,
            tmp_root=self.layout.tmp,
            update_mode=settings.update,
            depth=settings.depth,
            mirror=settings.mirror,
            partial=settings.filter,
            single_branch=settings.single_branch,
            branch=settings.branch,
        )
        self.syncer = syncer
        kinds = [str(syncer.kind())] if syncer.kind() != CloneKind.CHECKOUT else []
        if settings.wikis:
            kinds.append("wikis")
        self.run_stats.kinds = tuple(dict.fromkeys([*self.run_stats.kinds, *kinds]))
        self.work = RepoWork(
            self.ctx,
            syncer=syncer,
            governor=self._governor,
            breaker=self._breaker,
            nested=provider.info.nested or settings.affiliation in (Affiliation.MEMBER, Affiliation.ALL),
            git_backoff=self._git_backoff,
            forge_moved=self._moved_from is not None,
        )
        if self._moved_from is not None:
            self.notice(
                f"the forge moved: the last run used {self._moved_from}, this one {settings.api_base}; listing starts over "
                "there, and clones of the same repos (same forge id) have their origin moved to it"
            )
        self.lister = Lister(self.ctx, self.client, provider, shard=self.shard)
        self.stats.advance(RunState.RUNNING if self._listing_done else RunState.LISTING)

    # -- listing and work ----------------------------------------------------------------------
    async def list_repos(self, on_over: Callable[[TargetRun], None]) -> None:
        """The listing, into this target's lane; the lane closes when it ends (however it ends)."""
        assert self.lister is not None and self.client is not None
        try:
            with anyio.CancelScope() as self._list_scope:
                if self.gave_up is None:
                    await self.lister.feed(self.lane, self._cursor, self._listing_done, self._retry_failed, self._put)
        finally:
            self.listing_over = True
            self.lane.close()
            with anyio.CancelScope(shield=True):
                await self.client.aclose()
        on_over(self)

    async def _put(self, item: StoredRepo) -> None:
        self.outstanding += 1
        await self.lane.put(item)

    @property
    def done(self) -> bool:
        """Listed everything it will list and recorded every repo it queued."""
        return self.listing_over and self.outstanding == 0

    async def sync(self, index: int, item: StoredRepo) -> None:
        assert self.work is not None
        try:
            await self.work.sync_one(index, item)
        except ForgeDown:
            if self.gave_up is None:
                self.lane.put_back(item)  # still outstanding: taken again once the forge answers
                return
        self.outstanding -= 1

    def give_up(self, message: str) -> None:
        """Its forge stayed unreachable: take nothing more (what is queued stays pending in the state)."""
        self.gave_up = message
        self.stats.message = message
        self.outstanding -= len(self.lane.items)
        self.lane.items.clear()
        self.lane.close()
        if self._list_scope is not None:
            self._list_scope.cancel()  # its lister lists no more

    # -- state ---------------------------------------------------------------------------------
    async def db_call(self, function: Callable[..., T], *args: Any) -> T:
        """State calls run one at a time on a worker thread, off the event loop.

        A write the disk refuses stops the whole run cleanly (``on_unwritable`` cancels it): the calling task
        is then cancelled with the rest, never left holding an exception that would tear the task groups down.
        """
        try:
            return await self._db_raw(function, *args)
        except StateError as exc:  # a full disk, or damage found mid-run
            self._on_unwritable(exc)
            await anyio.sleep_forever()  # the run's scope was just cancelled: this raises at once
            raise  # pragma: no cover

    async def _db_raw(self, function: Callable[..., T], *args: Any) -> T:
        async with self._db:
            return await anyio.to_thread.run_sync(function, *args)

    async def flush(self) -> None:
        """Journal the acknowledgements collected since the last flush, in one transaction."""
        if not self._acks or self.store is None:
            return
        batch, self._acks[:] = list(self._acks), []
        # Shielded: a cancel that lands while this batch waits for the state lock would drop it.
        with anyio.CancelScope(shield=True):
            try:
                await self._db_raw(self.store.ack_many, self.run_id, batch)
            except BaseException as exc:
                # Not written (a full disk: StateWriteError): the batch goes back in front, in order, for the next
                # flush; the run stops. Those repos are on disk, so the next run finds them and clones none again.
                self._acks[:0] = batch
                if not isinstance(exc, StateError):
                    raise
                self._on_unwritable(exc)

    # -- the end -------------------------------------------------------------------------------
    async def finish(self, *, cancelled: bool = False, state_failed: int | None = None) -> None:
        """``state_failed``: the exit code when a state could not be used mid-run (1 a full disk, 2 damage)."""
        unwritable = state_failed is not None
        """Write how this target ended, report it, and run its post_sync command."""
        if self.code is not None:
            return
        if not cancelled and state_failed is None and self.store is not None:
            # Not shielded: while the dashboard asks before a prune, Ctrl+C cancels the question (nothing moves).
            await self._gone_and_prune()
        with anyio.CancelScope(shield=True):
            await self.flush()
            code, state = self._outcome(cancelled=cancelled, state_failed=state_failed)
            if state == RunState.FINISHED and not cancelled and state_failed is None and await self._missing_names():
                code = max(code, EXIT_FAILED)
            status = {RunState.FINISHED: "finished", RunState.CANCELLED: "cancelled"}.get(state, "failed")
            if self.lister is not None and self.lister.error is not None and status == "finished":
                status = "failed"  # the listing stopped: the next run resumes from its cursor
            if self.store is not None and not unwritable:
                try:
                    await self._db_raw(self.store.finish_run, self.run_id, status)
                except StateError as exc:
                    self._on_unwritable(exc)
                    code, state = (EXIT_FAILED if isinstance(exc, StateWriteError) else EXIT_USAGE), RunState.FAILED
            if self.work is not None and self.work.moved_origins:
                moved = self.work.moved_origins
                self.notice(
                    f"{moved:,} clone{'s' if moved != 1 else ''} had {'their' if moved != 1 else 'its'} origin moved to "
                    f"{self.settings.api_base} (the same repos by forge id)"
                )
            self.finish_now(code, state)
        if code != EXIT_INTERRUPTED:  # not shielded: Ctrl+C stops a slow post_sync too
            await self._after()

    def _outcome(self, *, cancelled: bool, state_failed: int | None) -> tuple[int, RunState]:
        error = self.lister.error if self.lister else None
        if state_failed is not None:
            return state_failed, RunState.FAILED  # the run stays "running" in the state: the next run resumes it
        if self.gave_up is not None:
            return EXIT_FAILED, RunState.FAILED
        if cancelled:
            return EXIT_INTERRUPTED, RunState.CANCELLED
        if error is not None:
            if self.lister is not None and self.lister.fatal:
                return error.exit_code, RunState.FAILED
            return max(EXIT_FAILED, error.exit_code), RunState.FINISHED
        return (EXIT_FAILED if self.stats.counts.failed else EXIT_OK), RunState.FINISHED

    def finish_now(self, code: int, state: RunState) -> None:
        """Record the target's end in the stats and say so (its summary)."""
        self.code = code
        self.stats.exit_code = code
        self.stats.advance(state)
        self.stats.buffer_used = 0
        self.stats.lister_state = ListerState.DONE if self.stats.lister_state != ListerState.FAILED else ListerState.FAILED
        self.emit(self.summary())

    def _fail_setup(self, message: str) -> None:
        self.stats.message = message
        self.emit(RunError(message=message))
        self.finish_now(EXIT_USAGE, RunState.FAILED)

    async def _missing_names(self) -> list[str]:
        """After a complete listing: the ``--repos-file`` names the forge did not list, said in a notice."""
        lister = self.lister
        if lister is None or lister.wanted is None or lister.error is not None or self.gave_up or self.store is None:
            return []
        try:
            listed = await self._db_raw(self.store.listed_names, self.run_id)
        except StateError:
            return []
        missing = [name for lowered, name in lister.wanted.items() if lowered not in listed]
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10:,} more" if len(missing) > 10 else "")
            self.notice(
                f"{len(missing):,} name{'s' if len(missing) != 1 else ''} of --repos-file {self.settings.repos_file} "
                f"{'were' if len(missing) != 1 else 'was'} not listed by the forge (misspelt, deleted, or not visible to this "
                f"token): {shown}"
            )
        return missing

    def _prunable(self) -> bool:
        """The listing is complete and trustworthy: finished without error, not filtered by the server, not given up."""
        if self.lister is None or self.lister.error is not None or not self._complete_listing or self.gave_up is not None:
            return False
        _, state = self._outcome(cancelled=False, state_failed=None)
        return state == RunState.FINISHED

    async def _gone_and_prune(self) -> None:
        """After a complete listing: the clones the forge no longer lists; with ``--prune`` moved to the attic."""
        if not self._prunable():
            return
        store, settings = self.store, self.settings
        assert store is not None
        if settings.dry_run and not settings.prune:
            return
        await self.flush()
        gone = await self._db_raw(functools.partial(store.gone_clones, mirror=settings.mirror), self.run_id, self.dest)
        if not gone:
            return
        self.stats.count(gone=len(gone))
        names = [rel for _, rel, _ in gone]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5:,} more" if len(names) > 5 else "")
        plural = len(gone) != 1
        if not settings.prune or self.shard is not None:
            why = "; --prune does not run in a sharded run" if settings.prune else ""
            self.notice(
                f"{len(gone):,} clone{'s' if plural else ''} in {self.dest} {'are' if plural else 'is'} no longer "
                f"listed by the forge (deleted, renamed, or not visible to this token) and left as they are: {shown}; "
                f"`gz-tui status` lists them{why}"
            )
            return
        total = len(gone) + await self._db_raw(store.listed_count, self.run_id)
        share = 100 * len(gone) / max(1, total)
        if share > settings.prune_limit and not settings.prune_force:
            self.notice(
                f"not pruning: {len(gone):,} of {total:,} clones ({share:.0f} %) are no longer listed, more than "
                f"--prune-limit {settings.prune_limit} %; a listing that suddenly lacks that many repos is more often a "
                "token that lost access than repos deleted. Check with `gz-tui status`, then run with --prune-force "
                f"to move them anyway: {shown}"
            )
            return
        await self._prune(gone)

    async def _prune(self, gone: list[tuple[str, str, Path]]) -> None:
        """Move each gone clone without local work to ``DEST/.gz-tui/attic/DATE/PATH``; keep the others."""
        store, settings, syncer = self.store, self.settings, self.syncer
        assert store is not None and syncer is not None
        movable: list[tuple[str, str, Path]] = []
        for key, rel_path, folder in gone:
            reason = await syncer.local_work(folder)
            if reason is None:
                movable.append((key, rel_path, folder))
                continue
            self.stats.count(kept=1)
            self.emit(RepoKept(repo=rel_path, reason=reason))
            self.notice(f"kept: local work — {rel_path} ({reason}) is no longer listed by the forge and stays in place")
        if not movable:
            return
        attic_root = self.layout.attic(self.clock.now())
        names = [rel for _, rel, _ in movable]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5:,} more" if len(names) > 5 else "")
        if settings.dry_run:
            self.notice(f"--prune would move {len(movable):,} clone{'s' if len(movable) != 1 else ''} to {attic_root}: {shown}")
            return
        if not settings.headless and not await self._confirm_prune(movable, attic_root):
            self.notice(f"prune declined: {len(movable):,} clone{'s' if len(movable) != 1 else ''} no longer listed left in place")
            return
        pause = float(os.environ.get(PRUNE_PAUSE_ENV, "0") or 0)
        moved = 0
        for key, rel_path, folder in movable:
            attic = _free_path(attic_root / copy_path(rel_path, mirror=settings.mirror))
            if await self._move_to_attic(store, key, rel_path, folder, attic):
                moved += 1
                self.stats.count(moved=1)
                self.emit(RepoMoved(repo=rel_path, attic=str(attic)))
                wiki = folder.with_name(copy_path(folder.name.removesuffix(".git"), mirror=settings.mirror, wiki=True))
                if wiki.is_dir():
                    wiki_attic = attic.with_name(copy_path(attic.name.removesuffix(".git"), mirror=settings.mirror, wiki=True))
                    await self._move_to_attic(store, key, rel_path + ".wiki", wiki, _free_path(wiki_attic))
                if pause:
                    await anyio.sleep(pause)
        if moved:
            self.notice(
                f"moved {moved:,} clone{'s' if moved != 1 else ''} of repos the forge no longer lists to {attic_root} "
                "(nothing deleted; `gz-tui status` lists the attic)"
            )

    async def _move_to_attic(self, store: StateStore, key: str, rel_path: str, folder: Path, attic: Path) -> bool:
        """One crash-safe move: the intent is journaled first, then one atomic rename on the same file system.

        Killed in between, the next run finds the clone in place (or whole in the attic) and fixes the journal."""
        moved = False
        with anyio.CancelScope(shield=True):  # a started move is finished and recorded, even on Ctrl+C
            entry = await self._db_raw(store.attic_intent, key, rel_path, folder, attic)
            try:
                attic.parent.mkdir(parents=True, exist_ok=True)
                os.rename(folder, attic)
                moved = True
            except OSError as exc:
                self.notice(f"cannot move {rel_path} to the attic ({exc.strerror or exc}); it stays in place")
            await self._db_raw(store.attic_done, entry, moved)
        return moved

    async def _confirm_prune(self, movable: list[tuple[str, str, Path]], attic_root: Path) -> bool:
        """The dashboard's question (``Snapshot.prune_question``); the pipeline waits here without blocking."""
        total = len(movable) + await self._db_raw(self.store.listed_count, self.run_id) if self.store else len(movable)
        while self.run_stats.prune_question is not None:  # another target's question is on screen: one at a time
            await self.clock.sleep(0.1)
        self._prune_answer = anyio.Event()
        self._prune_yes = False
        self.run_stats.prune_question = PruneQuestion(
            target=self.name,
            count=len(movable),
            total=total,
            names=tuple(rel for _, rel, _ in movable[:5]),
            attic=str(attic_root),
            kept=self.stats.counts.kept,
        )
        try:
            await self._prune_answer.wait()
        finally:
            self.run_stats.prune_question = None
            self._prune_answer = None
        return self._prune_yes

    def answer_prune(self, yes: bool) -> None:
        """The user's answer to the prune question; nothing happens if none is asked."""
        if self._prune_answer is not None:
            self._prune_yes = yes
            self._prune_answer.set()

    def summary(self) -> Summary:
        c = self.stats.counts
        planned = self.lister.planned if self.settings.dry_run and self.lister is not None else None
        end = self.run_stats.ended_at if self.run_stats.ended_at is not None else self.clock.now()
        return Summary(
            exit_code=self.code if self.code is not None else EXIT_OK,
            listed=c.listed,
            cloned=c.cloned,
            updated=c.updated,
            unchanged=c.unchanged,
            skipped=c.skipped,
            failed=c.failed,
            resumed_done=c.resumed_done,
            gone=c.gone,
            moved=c.moved,
            kept=c.kept,
            wikis=c.wikis,
            seconds=round(max(0.0, end - self.started_at), 3),
            api_requests=self.stats.rate.requests,
            not_modified=self.stats.rate.not_modified,
            state=self.stats.state_path,
            would_clone=planned[PlannedAction.CLONE] if planned is not None else None,
            would_update=planned[PlannedAction.UPDATE] if planned is not None else None,
            would_refuse=planned[PlannedAction.REFUSE] if planned is not None else None,
            message=self.run_stats.message or self.stats.message or None,
            shard=self.shard.index if self.shard else None,
            shards=self.shard.count if self.shard else None,
        )

    async def _after(self) -> None:
        """The target's post_sync command (its summary as JSON on stdin) and its stats-file row."""
        summary = self.summary().as_dict(self.clock.now())
        summary["target"] = self.name
        stats_file = self.settings.stats_file
        if stats_file is not None:
            row = {
                "time": round(time.time(), 3),
                "target": self.name,
                "forge": str(self.settings.provider),
                "owner": self.settings.owner,
                "dest": str(self.dest),
                **{
                    k: summary[k] for k in ("exit_code", "listed", "cloned", "updated", "unchanged", "skipped", "failed", "gone", "seconds")
                },
                "bytes": self.stats.counts.received_bytes,
            }
            try:
                path = Path(stats_file).expanduser()
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(row, ensure_ascii=True) + "\n")
            except OSError as exc:
                self.notice(f"cannot append to the stats file {stats_file}: {exc.strerror or exc}")
        command = self.settings.post_sync
        if command and self.code != EXIT_USAGE and not self.settings.dry_run:
            await self._post_sync(list(command), json.dumps(summary).encode())

    async def _post_sync(self, command: list[str], summary: bytes) -> None:
        """Run the target's post_sync command: an argument list, no shell, its summary on stdin (a command that
        does not read it is fine), 10 minutes at most, killed if the run is cancelled; a failure is reported,
        never the run's."""
        errors = bytearray()
        try:
            async with await anyio.open_process(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as process:
                try:
                    with anyio.fail_after(POST_SYNC_SECONDS):
                        assert process.stdin is not None and process.stderr is not None
                        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                            await process.stdin.send(summary)
                        await process.stdin.aclose()
                        async for chunk in process.stderr:
                            errors.extend(chunk[: 4096 - len(errors)])
                        code = await process.wait()
                finally:
                    if process.returncode is None:
                        process.kill()
        except TimeoutError:
            self.notice(f"post_sync {command[0]} did not finish within {POST_SYNC_SECONDS // 60} minutes and was stopped")
            return
        except OSError as exc:
            self.notice(f"post_sync {command[0]} failed: {exc.strerror or exc} (the sync itself is done)")
            return
        if code != 0:
            said = errors.decode("utf-8", "replace").strip().splitlines()
            last = f": {said[-1][:200]}" if said else ""
            self.notice(f"post_sync {command[0]} exited with {code}{last} (the sync itself is done)")

    def close(self) -> None:
        """Close the state, release the locks; a typo'd owner leaves no empty destination behind."""
        if self.store is not None:
            self.store.close()
        for lock in reversed(self._locks):
            lock.release()
        self._locks.clear()
        if self._created_dest and self.code == EXIT_USAGE and self.stats.counts.listed == 0:
            self._remove_unused_dest()

    def _remove_unused_dest(self) -> None:
        """A typo'd owner or a refused token must not leave an empty ``./apahce/.gz-tui`` behind.

        Only this run's own folder goes (a shard's, never its siblings' live state), and the folders above it
        only when that leaves them empty."""
        state_dir = self.layout.base
        try:
            if [p.name for p in self.dest.iterdir()] != [STATE_DIR] or not Path(self.stats.state_path).is_relative_to(self.work_dir):
                return
            if self.shard is None and any(state_dir.glob("shard-*-of-*")):
                return
            shutil.rmtree(self.work_dir)
            if self.shard is not None:
                state_dir.rmdir()  # OSError while other shards keep state there: they stay
            self.dest.rmdir()
        except OSError:
            return
        self.stats.state_path = ""

    # -- events and observers ------------------------------------------------------------------
    def emit(self, event: Any) -> None:
        self.events.emit(event)

    def notice(self, message: str) -> None:
        self.run_stats.notices.append(message if len(self.run_stats.targets) <= 1 else f"{self.name}: {message}")
        self.emit(Notice(message=message))

    def _on_wait(self, kind: str, seconds: float, until: float) -> None:
        if not kind:  # a wait ended: cleared whatever this target's listing has come to
            self.stats.set_rate(wait_kind=None, wait_until=None)
            if self.stats.lister_state == ListerState.WAITING:
                self.stats.lister_state = ListerState.FETCHING
            return
        if self.listing_over:
            return  # another target's wait on the shared quota: this one lists nothing more
        self.stats.set_rate(wait_kind=WaitKind(kind), wait_until=until)
        self.stats.lister_state = ListerState.WAITING
        self.emit(RateLimitWait(kind=WaitKind(kind), seconds=round(seconds, 3), until=until))

    def _on_rate(self, rate: RateInfo) -> None:
        self.stats.set_rate(limit=rate.limit, remaining=rate.remaining, reset_at=rate.reset_at)

    def _on_request(self, status: int) -> None:
        changes: dict[str, int] = {"requests": self.stats.rate.requests + 1}
        if status == 304:
            changes["not_modified"] = self.stats.rate.not_modified + 1
        self.stats.set_rate(**changes)
