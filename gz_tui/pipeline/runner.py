"""The streaming pipeline: listers → bounded lanes → one git worker pool, journaled in SQLite.

A run syncs one or more targets (``target``). Each target's lister pages through its forge into its own
bounded lane (``queue``); when the lane is full the lister blocks (backpressure), so pausing soon stops API
traffic too. One pool of workers takes from the lanes in turn, so a small target is not starved behind a
big one. Targets on one forge identity (API origin and credential: a token, or a GitHub App installation) share
one quota, one wait and one credential; a wait on one
forge never stalls listing on another, and git transfers keep running. This module builds the targets,
drives the pool and ends the run; a target's phases live in ``target`` (with ``opening``, ``prune`` and
``report``), per-repo work in ``repo_work``, the listing in ``lister``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

import anyio
from anyio.abc import TaskGroup

from gz_tui.clock import SYSTEM_CLOCK, Clock
from gz_tui.config import Settings
from gz_tui.forges.auth import Credential
from gz_tui.forges.http import Quota, RetryPolicy
from gz_tui.forges.registry import git_origin, make_credential
from gz_tui.format import countdown
from gz_tui.kinds import ExitCode
from gz_tui.pipeline.context import Events, EventSink
from gz_tui.pipeline.events import ForgeReachable, ForgeUnreachable, Notice, Paused, RunError, Unpaused
from gz_tui.pipeline.gates import Gate, Governor
from gz_tui.pipeline.health import METRICS_EVERY_SECONDS, PING_TIMEOUT_SECONDS, RunHealth
from gz_tui.pipeline.lock import stop_note
from gz_tui.pipeline.outage import ForgeBreaker
from gz_tui.pipeline.prune import PruneQuestions
from gz_tui.pipeline.queue import FairQueue, Lane
from gz_tui.pipeline.report import total
from gz_tui.pipeline.snapshot import OutageView, RunState, Snapshot, WorkerState
from gz_tui.pipeline.state import StateError, StateWriteError, StoredRepo
from gz_tui.pipeline.stats import Stats
from gz_tui.pipeline.target import RunParts, TargetRun
from gz_tui.untrusted import add_secret
from gz_tui.urls import origin_of

ACK_FLUSH_SECONDS = 0.25


class Pipeline:
    """One run of one or more targets. Build it, then ``await run()``; pause/unpause/cancel (of the whole run
    or of one target) may be called from the UI meanwhile."""

    def __init__(
        self,
        targets: Settings | Sequence[Settings],
        *,
        clock: Clock = SYSTEM_CLOCK,
        events: EventSink | None = None,
        policy: RetryPolicy | None = None,
        environ: dict[str, str] | None = None,
        git_backoff: float = 2.0,
        metrics_every: float = METRICS_EVERY_SECONDS,
        ping_timeout: float = PING_TIMEOUT_SECONDS,
    ) -> None:
        chosen = [targets] if isinstance(targets, Settings) else list(targets)
        if not chosen:
            raise ValueError("a run needs at least one target")
        self.settings = chosen[0]
        self.clock = clock
        for settings in chosen:
            add_secret(settings.token)  # every message this run shows or journals is redacted of it
        single = chosen[0].name if len(chosen) == 1 else None
        self.stats = Stats(workers=max(s.workers for s in chosen), clock=clock, dry_run=all(s.dry_run for s in chosen))

        def health_notice(message: str) -> None:  # a ping or a metrics file that failed: worth knowing, not an error
            self.stats.notices.append(message)
            self._events.emit(Notice(message=message))

        self._health = RunHealth(chosen, clock, health_notice, metrics_every=metrics_every, ping_timeout=ping_timeout)
        self._events = Events(self._health.watch(events), clock, single)
        self._environ = dict(os.environ if environ is None else environ)
        self._gate = Gate()
        self._queue: FairQueue[StoredRepo] = FairQueue()
        self._governor = Governor(len(self.stats.workers), clock)
        self._questions = PruneQuestions(self.stats)
        self._cancel_scope: anyio.CancelScope | None = None
        self._cancelled = False
        self._state_unwritable: str | None = None
        """Why a state could not be written (a full disk) or used (damage found mid-run), if one could not."""
        self._state_code: ExitCode | None = None
        self._stop_note: str | None = None
        """Why the run stopped with its states still saying ``running`` (``lock.stop_note``)."""
        """The exit code that stop calls for (1 a full disk, 2 damage)."""
        self.credentials: dict[tuple[str, tuple[str, str], str], Credential] = {}
        """One credential per forge identity: targets on one GitHub App installation share its refreshes."""
        self._quotas: dict[tuple[str, tuple[str, str], str], Quota] = {}
        """One quota per forge identity (API origin and credential)."""
        self._group: TaskGroup | None = None
        self._policy = policy
        limits: dict[str, float] = {}
        for settings in chosen:  # one breaker per git host, with the longest outage limit of its targets
            origin = git_origin(settings.provider, settings.api_base)
            limits[origin] = max(limits.get(origin, settings.outage_limit), settings.outage_limit)
        self._breakers = {origin: self._breaker(origin, limit) for origin, limit in limits.items()}
        parts = RunParts(
            stats=self.stats,
            clock=clock,
            environ=self._environ,
            policy=policy,
            git_backoff=git_backoff,
            governor=self._governor,
            questions=self._questions,
            on_unwritable=self._stop_for_state,
        )
        self.targets: list[TargetRun] = []
        self._owners: dict[Lane[StoredRepo], TargetRun] = {}
        """Whose lane is whose: a worker's repo belongs to the target of the lane it came from."""
        for settings in chosen:
            self._add_target(settings, parts)

    def _add_target(self, settings: Settings, parts: RunParts) -> None:
        credential = make_credential(
            token=settings.token,
            token_cmd=settings.token_cmd,
            token_cmd_timeout=settings.token_cmd_timeout,
            app_id=settings.github_app_id,
            app_key=settings.github_app_key,
            app_installation_id=settings.github_app_installation_id,
            owner=settings.owner,
            api_base=settings.api_base,
            environ=self._environ,
            clock=self.clock,
            policy=self._policy,
            outage_limit=settings.outage_limit,
        )
        identity = (str(settings.provider), origin_of(settings.api_base), credential.identity)
        lane = self._queue.lane(settings.name, settings.buffer)
        shared = self.credentials.setdefault(identity, credential)
        target = TargetRun(
            settings,
            parts,
            events=self._events.for_target(settings.name),
            quota=self._quotas.setdefault(identity, Quota()),
            credential=shared,
            breaker=self._breakers[git_origin(settings.provider, settings.api_base)],
            lane=lane,
        )
        # No valid token any more (a GitHub App that cannot mint): its targets stop, their repos left pending.
        shared.watch(target.notice, lambda message: self._give_up(target, message))
        self.targets.append(target)
        self._owners[lane] = target

    # -- control (RunControl) -----------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return not self._gate.is_open

    def pause(self) -> None:
        self._gate.close()
        self.stats.set_paused(True)
        self._events.emit(Paused())

    def unpause(self) -> None:
        self._gate.open()
        self.stats.set_paused(False)
        self._events.emit(Unpaused())

    def pause_target(self, name: str) -> None:
        for target in self.targets:
            if target.name == name:
                target.pause(True)

    def unpause_target(self, name: str) -> None:
        for target in self.targets:
            if target.name == name:
                target.pause(False)

    def answer_prune(self, target: str, yes: bool) -> None:
        self._questions.answer(target, yes)

    def cancel(self) -> None:
        self._cancelled = True
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    def snapshot(self) -> Snapshot:
        self.stats.set_queued(sum(target.show_buffer() for target in self.targets))
        return self.stats.snapshot()

    # -- the run ------------------------------------------------------------------------------
    async def run(self) -> ExitCode:
        await self._health.begin()
        try:
            await self._run()
        finally:
            with anyio.CancelScope(shield=True):
                for target in self.targets:
                    await target.finish(cancelled=self._cancelled, state_failed=self._state_code, stop_note=self._stop_note)
                    target.close()
        code = self._exit_code()
        ended = {ExitCode.INTERRUPTED: RunState.CANCELLED}.get(code, RunState.FINISHED)
        if self._state_unwritable or all(t.stats.run_state == RunState.FAILED for t in self.targets):
            ended = RunState.FAILED if code != ExitCode.INTERRUPTED else ended
        self.stats.advance(ended)
        for index in range(1, len(self.stats.workers) + 1):
            self.stats.set_worker(index, state=WorkerState.DONE, repo=None, phase="", percent=None)
        self.stats.end(code)
        if len(self.targets) > 1:
            self._events.emit(total(code, self.stats))
        await self._health.end(code, self.targets)  # after the last summary: the metrics file, the end ping
        return code

    async def _run(self) -> None:
        opened = [target for target in self.targets if await target.open()]
        if not opened or self._state_unwritable:
            return
        with anyio.CancelScope() as scope:
            self._cancel_scope = scope
            if self._cancelled:
                scope.cancel()
            async with anyio.create_task_group() as journal:
                journal.start_soon(self._flush_loop)
                journal.start_soon(self._health.keep_fresh, self.targets)
                async with anyio.create_task_group() as group:
                    self._group = group
                    for index in range(1, len(self.stats.workers) + 1):
                        group.start_soon(self._worker, index, group)
                    for target in opened:
                        group.start_soon(target.list_repos, group)
                journal.cancel_scope.cancel()

    async def _worker(self, index: int, group: TaskGroup) -> None:
        stats = self.stats
        while True:
            await self._hold(index)
            taken = await self._queue.get()
            if taken is None:
                stats.set_worker(index, state=WorkerState.DONE, repo=None, phase="", percent=None)
                return
            lane, item = taken
            target = self._owners[lane]
            await target.sync(index, item)
            target.finish_when_done(group)  # a target ends once its last repo is recorded, while others go on

    async def _hold(self, index: int) -> None:
        if not self._gate.is_open:
            self.stats.set_worker(index, state=WorkerState.PAUSED, repo=None, phase="", percent=None)
            await self._gate.wait()
            self.stats.set_worker(index, state=WorkerState.IDLE)

    async def _flush_loop(self) -> None:
        while True:
            await anyio.sleep(ACK_FLUSH_SECONDS)
            for target in self.targets:
                await target.flush()

    def _exit_code(self) -> ExitCode:
        if self._cancelled:
            return ExitCode.INTERRUPTED
        codes = [t.code if t.code is not None else ExitCode.USAGE for t in self.targets]
        if ExitCode.INTERRUPTED in codes:
            return ExitCode.INTERRUPTED
        if self._state_code is not None:
            codes.append(self._state_code)
        return max(codes, default=ExitCode.OK)

    # -- stopping by itself ---------------------------------------------------------------------
    def _stop_for_state(self, exc: StateError) -> None:
        """A state cannot be written (full disk: exit 1) or turned out damaged (exit 2): stop cleanly, in one line;
        what is on disk is found by the next run."""
        if self._state_unwritable is None:
            self._state_unwritable = str(exc)
            self._stop_note = stop_note(exc, self.clock.now())
            self._state_code = ExitCode.FAILED if isinstance(exc, StateWriteError) else ExitCode.USAGE
            self.stats.set_message(str(exc))
            self._events.emit(RunError(message=str(exc)))
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    def _give_up(self, target: TargetRun, message: str) -> None:
        """``target`` cannot go on (its forge stayed unreachable, or no valid token can be had): it takes nothing
        more, its unfinished repos stay pending, and it finishes once the repos under way are back."""
        if target.code is None and target.gave_up is None:
            target.give_up(message)
            if self._group is not None:
                target.finish_when_done(self._group)

    def _breaker(self, origin: str, limit: float) -> ForgeBreaker:
        """The breaker of one git host; opening it holds only its targets' lanes, giving up stops only them."""

        def on_origin() -> list[TargetRun]:
            return [t for t in self.targets if git_origin(t.settings.provider, t.settings.api_base) == origin]

        def opened(where: str, since: float, stops_at: float) -> None:
            self.stats.set_outage(OutageView(where, since, stops_at))
            self._events.emit(ForgeUnreachable(host=where, stops_at=round(stops_at, 3)))
            for target in on_origin():
                target.lane.hold(True)
            if self._group is not None:
                self._group.start_soon(breaker.probe)

        def retrying(at: float) -> None:
            if self.stats.outage is not None:
                self.stats.set_outage(replace(self.stats.outage, retry_at=at))

        def closed(seconds: float) -> None:
            where = self.stats.outage.where if self.stats.outage else origin
            self.stats.set_outage(None)
            self._events.emit(ForgeReachable(host=where, seconds=round(seconds, 3)))
            for target in on_origin():
                target.lane.hold(False)

        def give_up(seconds: float) -> None:
            where = self.stats.outage.where if self.stats.outage else origin
            message = (
                f"the forge at {where} has been unreachable for {countdown(seconds)}; stopped with the unfinished repos "
                "still pending (no attempt spent on them): run again to resume"
            )
            self.stats.set_outage(None)
            for target in on_origin():
                self._give_up(target, message)

        breaker = ForgeBreaker(origin, self.clock, limit=limit, on_open=opened, on_retry=retrying, on_close=closed, on_give_up=give_up)
        return breaker


def make_pipeline(targets: Settings | Sequence[Settings]) -> Pipeline:
    """The PipelineFactory the CLI and the dashboard use."""
    return Pipeline(targets)


__all__ = ["Pipeline", "make_pipeline"]
