"""One target of a run: an owner on a forge, with its own destination, lock, state, listing and summary.

A run of several targets (``gz-tui sync``) holds one :class:`TargetRun` each; they share the worker pool,
the forge identities' quotas and the outage breakers (``runner``). A target keeps exactly the state file a
single-owner run would, so ``gz-tui apache`` and ``gz-tui sync`` resume each other's work.

The pipeline drives a target through its phases: open (``opening``) → list (``lister``) and sync
(``repo_work``), its acks flushed to the state as they come → finish (``prune``, then ``report``) → close.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import anyio
from anyio.abc import TaskGroup

from gz_tui.clock import Clock
from gz_tui.config import Settings
from gz_tui.forges.auth import Credential
from gz_tui.forges.http import ApiClient, Quota, RetryPolicy
from gz_tui.forges.provider import Provider
from gz_tui.forges.records import RateInfo
from gz_tui.forges.registry import git_origin, make_provider
from gz_tui.kinds import Affiliation, CloneKind, ExitCode, PlannedAction, RunStatus, WaitKind
from gz_tui.layout import WorkDir
from gz_tui.pipeline.confirm import Confirmer
from gz_tui.pipeline.context import Events, RunContext
from gz_tui.pipeline.events import Notice, Paused, RateLimitWait, RunError, Unpaused
from gz_tui.pipeline.gates import Governor
from gz_tui.pipeline.git import GitAuth, GitRunner, allow_http_for, git_environment
from gz_tui.pipeline.journal import Journal
from gz_tui.pipeline.lfs import LfsSync
from gz_tui.pipeline.lister import Lister
from gz_tui.pipeline.opening import Opening, SetupError, TargetPlan
from gz_tui.pipeline.outage import ForgeBreaker, ForgeDown
from gz_tui.pipeline.paths import name_max
from gz_tui.pipeline.prune import PruneQuestions, Pruner, prune_pause
from gz_tui.pipeline.queue import Lane
from gz_tui.pipeline.repo_work import RepoWork
from gz_tui.pipeline.report import TargetReport
from gz_tui.pipeline.snapshot import ListerState, RunState
from gz_tui.pipeline.state import StateError, StateWriteError, StoredRepo
from gz_tui.pipeline.stats import Stats, TargetStats
from gz_tui.pipeline.sync import RepoSyncer
from gz_tui.shard import parse_shard
from gz_tui.urls import origin_of


@dataclass(frozen=True, slots=True)
class RunParts:
    """What every target of a run shares; the pipeline makes it once."""

    stats: Stats
    clock: Clock
    environ: Mapping[str, str]
    policy: RetryPolicy | None
    git_backoff: float
    governor: Governor
    questions: PruneQuestions
    on_unwritable: Callable[[StateError], None]
    """Stops the run when a state cannot be written (a full disk) or turns out damaged."""


def make_syncer(settings: Settings, layout: WorkDir, environ: Mapping[str, str], provider: Provider, credential: Credential) -> RepoSyncer:
    """The git side of a target: its environment, its credential (by header, never in argv) and its options."""
    env = git_environment(
        base=environ,
        protocol=settings.protocol,
        allow_http=allow_http_for(settings.api_base, settings.insecure_http),
        low_speed_limit=settings.git_low_speed_limit,
        low_speed_time=settings.git_low_speed_time,
        lfs=settings.lfs,
    )
    token = settings.token
    auth = GitAuth(git_origin(settings.provider, settings.api_base), provider.git_auth_header, credential)
    runner = GitRunner(env, secrets=[token] if token else [], auth=auth, timeout=settings.git_timeout)
    lfs = LfsSync(runner, mirror=settings.mirror, forge_origin=auth.origin, ssh=settings.protocol == "ssh") if settings.lfs else None
    return RepoSyncer(
        runner=runner,
        lfs=lfs,
        dest=layout.dest,
        tmp_root=layout.tmp,
        update_mode=settings.update,
        depth=settings.depth,
        mirror=settings.mirror,
        partial=settings.filter,
        single_branch=settings.single_branch,
        branch=settings.branch,
    )


class _QuotaWatch:
    """What a target shows of its forge identity's quota: the waits it sits out, what is left, what it asked."""

    def __init__(self, stats: TargetStats, events: Events, listing_over: Callable[[], bool]) -> None:
        self.stats = stats
        self.events = events
        self.listing_over = listing_over

    def on_wait(self, kind: str, seconds: float, until: float) -> None:
        stats = self.stats
        if not kind:  # a wait ended: cleared whatever this target's listing has come to
            stats.set_rate(wait_kind=None, wait_until=None)
            if stats.lister_state == ListerState.WAITING:
                stats.lister_state = ListerState.FETCHING
            return
        if self.listing_over():
            return  # another target's wait on the shared quota: this one lists nothing more
        stats.set_rate(wait_kind=WaitKind(kind), wait_until=until)
        stats.lister_state = ListerState.WAITING
        self.events.emit(RateLimitWait(kind=WaitKind(kind), seconds=round(seconds, 3), until=until))

    def on_rate(self, rate: RateInfo) -> None:
        self.stats.heard_rate(rate)

    def on_request(self, status: int) -> None:
        changes: dict[str, int] = {"requests": self.stats.rate.requests + 1}
        if status == 304:
            changes["not_modified"] = self.stats.rate.not_modified + 1
        self.stats.set_rate(**changes)


class TargetRun:
    """Everything one target does in a run; the pipeline calls it (open → list/sync → finish → close)."""

    def __init__(
        self,
        settings: Settings,
        parts: RunParts,
        *,
        events: Events,
        quota: Quota,
        credential: Credential,
        breaker: ForgeBreaker,
        lane: Lane[StoredRepo],
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.parts = parts
        self.events = events
        self.dest = settings.dest.expanduser().resolve()
        self.shard = replace(parse_shard(settings.shard), source=settings.shard_source or "--shard") if settings.shard else None
        self.layout = WorkDir(self.dest, self.shard)
        self.stats: TargetStats = parts.stats.add_target(
            name=self.name,
            forge=settings.provider,
            owner=settings.owner or ("*" if settings.instance else ""),
            dest=str(self.dest),
            api_host=origin_of(settings.api_base)[1].removesuffix(":443").removesuffix(":80"),
            buffer_capacity=settings.buffer,
            state_path=str(settings.state_path or self.layout.state),
        )
        self.lane = lane
        self._quota = quota
        self._credential = credential
        self._breaker = breaker
        self.journal = Journal(parts.on_unwritable)
        self._opening = Opening(settings, self.layout, self.stats, clock=parts.clock, events=events, notice=self.notice)
        self._report = TargetReport(
            settings, self.stats, parts.stats, clock=parts.clock, shard=self.shard, db=self.journal.raw, notice=self.notice
        )
        self.plan: TargetPlan | None = None
        """What opening decided; None until the target has opened."""
        self.client: ApiClient | None = None
        self.lister: Lister | None = None
        self.work: RepoWork | None = None
        self._pruner: Pruner | None = None
        self.outstanding = 0
        """Repos put into the lane and not yet recorded."""
        self.listing_over = False
        """Its listing has ended, however it ended: its lane is closed."""
        self.code: ExitCode | None = None
        """The target's exit code once it has finished."""
        self.gave_up: str | None = None
        """Why this target stopped itself (its forge stayed unreachable), if it did."""
        self._finishing = False
        """Its finish has begun (it is started once, from whichever task saw the target's last repo recorded)."""
        self._list_scope: anyio.CancelScope | None = None
        self._stop_note: str | None = None
        """Why the run stopped with its state still saying ``running`` (left in the state's lock file)."""

    # -- opening ---------------------------------------------------------------------------------
    async def open(self) -> bool:
        """Open the target (``opening``) and wire its parts; False if it cannot start: its summary then says so
        and its lane is closed (the workers must not wait for it)."""
        try:
            plan = await self._opening.open()
        except StateWriteError as exc:
            self.parts.on_unwritable(exc)
            self._finish_now(ExitCode.FAILED, RunState.FAILED)
        except (SetupError, StateError) as exc:
            self.stats.message = str(exc)
            self.events.emit(RunError(message=str(exc)))
            self._finish_now(ExitCode.USAGE, RunState.FAILED)
        else:
            self._wire(plan)
            return True
        self.lane.close()
        return False

    def _wire(self, plan: TargetPlan) -> None:
        """The parts that list this target: its provider, its client (on its identity's quota), its lister."""
        settings, parts = self.settings, self.parts
        self.plan = plan
        self.journal.begin(plan.store, plan.run_id)
        provider = provider_for(settings)
        watch = _QuotaWatch(self.stats, self.events, lambda: self.listing_over)
        self.client = ApiClient(
            provider,
            settings.api_base,
            self._credential,
            clock=parts.clock,
            policy=parts.policy,
            on_wait=watch.on_wait,
            on_rate=watch.on_rate,
            on_request=watch.on_request,
            quota=self._quota,
            on_notice=self.notice,
        )
        ctx = RunContext(
            settings=settings,
            stats=self.stats,
            run=parts.stats,
            clock=parts.clock,
            dest=self.dest,
            longest_name=name_max(self.dest),
            store=plan.store,
            run_id=plan.run_id,
            db=self.journal.call,
            ack=self.journal.ack,
            events=self.events,
        )
        self.lister = Lister(ctx, self.client, provider, shard=self.shard)
        self._wire_syncing(ctx, provider, plan)
        self.stats.advance(RunState.RUNNING if plan.listing_done else RunState.LISTING)

    def _wire_syncing(self, ctx: RunContext, provider: Provider, plan: TargetPlan) -> None:
        """The parts that sync and prune this target: its syncer (git), its repo work, its pruner."""
        settings, parts = self.settings, self.parts
        syncer = make_syncer(settings, self.layout, parts.environ, provider, self._credential)
        kinds = [str(syncer.kind())] if syncer.kind() != CloneKind.CHECKOUT else []
        parts.stats.add_kinds([*kinds, *(["wikis"] if settings.wikis else []), *(["lfs"] if settings.lfs else [])])
        self.work = RepoWork(
            ctx,
            syncer=syncer,
            governor=parts.governor,
            breaker=self._breaker,
            nested=provider.info.nested
            or settings.instance
            or settings.starred
            or settings.affiliation in (Affiliation.MEMBER, Affiliation.ALL),
            git_backoff=parts.git_backoff,
            forge_moved=plan.moved_from is not None,
            signal_window=provider.info.signal_window,
            credential=self._credential,
            extra_git_host=provider.extra_git_host,
        )
        server_filtered = (settings.skip_archived and provider.info.archived_filtered_by_server) or provider.listing_is_partial
        self._pruner = Pruner(
            ctx,
            plan.store,
            syncer=syncer,
            layout=self.layout,
            db=self.journal.raw,
            ask=None if settings.headless else parts.questions.ask,
            pause=prune_pause(parts.environ),
            complete=not server_filtered,
            confirmer=Confirmer(self.client, provider, settings.owner) if self.client is not None else None,
            incomplete=lambda: self.lister.total.incomplete if self.lister is not None else None,
        )

    # -- listing and syncing --------------------------------------------------------------------
    async def list_repos(self, group: TaskGroup) -> None:
        """The listing, into this target's lane; the lane closes when it ends (however it ends), and the target
        finishes in ``group`` once every repo it queued is recorded."""
        assert self.lister is not None and self.client is not None and self.plan is not None
        plan = self.plan
        try:
            with anyio.CancelScope() as self._list_scope:
                if self.gave_up is None:
                    await self.lister.feed(self.lane, plan.cursor, plan.listing_done, plan.retry_failed, self._put)
        finally:
            self.listing_over = True
            self.lane.close()
        self.finish_when_done(group)

    async def _put(self, item: StoredRepo) -> None:
        self.outstanding += 1
        await self.lane.put(item)

    async def sync(self, index: int, item: StoredRepo) -> None:
        """Worker ``index`` syncs one of this target's repos (taken from its lane)."""
        assert self.work is not None
        try:
            await self.work.sync_one(index, item)
        except ForgeDown:
            if self.gave_up is None:
                self.lane.put_back(item)  # still outstanding: taken again once the forge answers
                return
        self.outstanding -= 1

    def pause(self, paused: bool) -> None:
        """Pause (or unpause) this target on its own: its repos are not taken, so its buffer fills and its lister stops."""
        if self.stats.paused == paused:
            return
        self.lane.pause(paused)
        self.stats.paused = paused
        self.events.emit(Paused() if paused else Unpaused())

    def give_up(self, message: str) -> None:
        """Its forge stayed unreachable: take nothing more (what is queued stays pending in the state)."""
        self.gave_up = message
        self.stats.message = message
        self.outstanding -= self.lane.drop()
        if self._list_scope is not None:
            self._list_scope.cancel()  # its lister lists no more

    def show_buffer(self) -> int:
        """Its lane's fill (none once it has ended), shown on its buffer gauge and returned."""
        self.stats.buffer_used = self.lane.used if self.code is None else 0
        return self.stats.buffer_used

    async def flush(self) -> None:
        """Journal the acks collected since the last flush, in one transaction."""
        await self.journal.flush()

    # -- the end --------------------------------------------------------------------------------
    def finish_when_done(self, group: TaskGroup) -> None:
        """Once its listing is over and every repo it queued is recorded, its finish starts in ``group`` (once)."""
        if self.listing_over and self.outstanding == 0 and not self._finishing:
            self._finishing = True
            group.start_soon(self.finish)

    async def finish(self, *, cancelled: bool = False, state_failed: ExitCode | None = None, stop_note: str | None = None) -> None:
        """Prune after a whole listing, write how this target ended, report it and run its post_sync command;
        once (a target that has ended ignores the call).

        ``state_failed``: the exit code when a state could not be used mid-run (1 a full disk, 2 damage); the run
        then stays ``running`` in its state (the next run resumes it) and ``stop_note`` says why in its lock file."""
        self._stop_note = stop_note if state_failed is not None else None
        if self.code is not None:
            return
        plan, lister = self.plan, self.lister
        whole = not cancelled and state_failed is None and lister is not None and lister.error is None and self.gave_up is None
        if whole and self._pruner is not None:
            await self.flush()  # gone is what the journal does not list: it must hold every ack first
            await self._pruner.run()  # not shielded: Ctrl+C cancels the dashboard's question (nothing moves)
        with anyio.CancelScope(shield=True):
            await self.flush()
            code, state = self._outcome(cancelled=cancelled, state_failed=state_failed)
            if whole and lister is not None:
                self._report.say_if_nothing_matched(lister.selection.described())
            if self._pruner is not None and self._pruner.stopped and code == ExitCode.OK:
                code = ExitCode.FAILED  # a link on the way stopped the prune: the user must look
            wanted = lister.selection.wanted if whole and state == RunState.FINISHED and lister is not None else None
            if wanted is not None and plan is not None and await self._report.missing_names(wanted, plan.store, plan.run_id):
                code = max(code, ExitCode.FAILED)
            status = {RunState.FINISHED: RunStatus.FINISHED, RunState.CANCELLED: RunStatus.CANCELLED}.get(state, RunStatus.FAILED)
            if lister is not None and lister.error is not None and status == RunStatus.FINISHED:
                status = RunStatus.FAILED  # the listing stopped: the next run resumes from its cursor
            if plan is not None and state_failed is None:  # a state that failed keeps the run "running": it resumes
                try:
                    await self.journal.raw(plan.store.runs.finish, plan.run_id, status)
                except StateError as exc:
                    self.parts.on_unwritable(exc)
                    code, state = (ExitCode.FAILED if isinstance(exc, StateWriteError) else ExitCode.USAGE), RunState.FAILED
            if self.work is not None:
                self._report.say_moved_origins(self.work.moved_origins)
            self._finish_now(code, state)
            if self.client is not None:  # open until now: prune asks the forge about each clone it would move
                await self.client.aclose()
        if code != ExitCode.INTERRUPTED:  # not shielded: Ctrl+C stops a slow post_sync too
            await self._report.after(code, self.planned)

    def _outcome(self, *, cancelled: bool, state_failed: ExitCode | None) -> tuple[ExitCode, RunState]:
        error = self.lister.error if self.lister else None
        if state_failed is not None:
            return state_failed, RunState.FAILED  # the run stays "running" in the state: the next run resumes it
        if self.gave_up is not None:
            return ExitCode.FAILED, RunState.FAILED
        if cancelled:
            return ExitCode.INTERRUPTED, RunState.CANCELLED
        if error is not None:
            if self.lister is not None and self.lister.fatal:
                return ExitCode(error.exit_code), RunState.FAILED
            return max(ExitCode.FAILED, ExitCode(error.exit_code)), RunState.FINISHED
        return (ExitCode.FAILED if self.stats.counts.failed else ExitCode.OK), RunState.FINISHED

    @property
    def planned(self) -> Mapping[PlannedAction, int] | None:
        """A dry run's count of what it would do with each repo."""
        return self.lister.planned if self.settings.dry_run and self.lister is not None else None

    def _finish_now(self, code: ExitCode, state: RunState) -> None:
        """Record the target's end in its stats and say so (its summary)."""
        self.code = code
        self.stats.exit_code = code
        self.stats.advance(state)
        self.stats.buffer_used = 0
        if self.stats.lister_state not in (ListerState.DONE, ListerState.FAILED):
            self.stats.lister_state = ListerState.STOPPED  # never "listing done" for a listing a cancel cut short
        self.stats.set_rate(wait_kind=None, wait_until=None)  # a wait that no longer runs shows no frozen countdown
        self.events.emit(self._report.summary(code, self.planned))

    def close(self) -> None:
        """Close the state, release the locks; a typo'd owner leaves no empty destination behind."""
        self._opening.close(unused=self.code == ExitCode.USAGE and self.stats.counts.listed == 0, stop_note=self._stop_note)

    def notice(self, message: str) -> None:
        """Worth telling the user, not an error (in a run of several targets, said with this one's name)."""
        run = self.parts.stats
        run.notices.append(message if len(run.targets) <= 1 else f"{self.name}: {message}")
        self.events.emit(Notice(message=message))


def provider_for(settings: Settings) -> Provider:
    """The target's provider: its forge's dialect for its owner and what of theirs it lists."""
    return make_provider(
        settings.provider,
        settings.api_base,
        settings.owner,
        skip_archived=settings.skip_archived,
        topics=settings.topics,
        affiliation=settings.affiliation,
        projects=settings.projects,
        instance=settings.instance,
        starred=settings.starred,
        gists=settings.gists,
        snippets=settings.snippets,
    )
