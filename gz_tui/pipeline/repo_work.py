"""What a worker does with one repo it took from a lane: check it, clone or update it with retries, record the outcome.

The worker loop itself (take from the lanes, hand the repo to its target) is :class:`~gz_tui.pipeline.runner.Pipeline`'s;
:meth:`RepoWork.sync_one` is the rest. What goes wrong with one repo — an unsafe name, a git failure, an ``OSError`` from the file system — is
that repo's failure, recorded in the state and shown; it never ends the run.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from gz_tui.config import Settings
from gz_tui.forges.auth import Credential
from gz_tui.forges.records import RemoteRepo
from gz_tui.forges.registry import wiki_url as forge_wiki_url
from gz_tui.kinds import PERMANENT_ERRORS, Affiliation, CloneKind, ErrorClass, RepoStatus, UpdateMode
from gz_tui.pipeline.context import RunContext
from gz_tui.pipeline.events import RepoDone, RepoFailed, RepoRetry, SignalMissed
from gz_tui.pipeline.gates import Governor
from gz_tui.pipeline.outage import ForgeBreaker, ForgeDown
from gz_tui.pipeline.paths import UnsafeRepo, clone_url_for, copy_path, destination
from gz_tui.pipeline.refs import CheckReason, check_reason, signal_moved
from gz_tui.pipeline.renames import follow_rename
from gz_tui.pipeline.snapshot import ErrorView, RunState, WorkerState
from gz_tui.pipeline.state import Ack, StoredRepo
from gz_tui.pipeline.stats import Stats
from gz_tui.pipeline.sync import Outcome, RepoSyncer
from gz_tui.untrusted import REDACTED, redact

_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ENAMETOOLONG, errno.EIO}


class RepoWork:
    """What the worker pool does with the repos of one target: :meth:`sync_one` takes one repo start to end."""

    def __init__(
        self,
        ctx: RunContext,
        *,
        syncer: RepoSyncer,
        governor: Governor,
        breaker: ForgeBreaker,
        nested: bool,
        git_backoff: float,
        forge_moved: bool = False,
        signal_window: float = 1.0,
        credential: Credential | None = None,
        extra_git_host: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.extra_git_host = extra_git_host
        """The one host besides the API's that clone URLs may name (github.com's gists: ``gist.github.com``)."""
        self.credential = credential
        """What the target signs in with: once no valid token can be had, its repos stay pending (no attempt spent)."""
        self.breaker = breaker
        self.syncer = syncer
        self.governor = governor
        self.nested = nested
        self.git_backoff = git_backoff
        self.forge_moved = forge_moved
        """The forge's address changed since the last run: every clone on disk is checked (and re-pointed)."""
        self.signal_window = signal_window
        """Seconds within which a push may leave the forge's change signal where it was (``ProviderInfo.signal_window``)."""
        self.moved_origins = 0
        self._name = ctx.settings.name

    async def sync_one(self, index: int, item: StoredRepo) -> None:
        """One repo, start to end, by worker ``index``; whatever happens is recorded, never raised."""
        run = self.ctx.run
        self.ctx.stats.advance(RunState.RUNNING)
        self.ctx.stats.count(active=1)
        run.set_worker(index, target=self._name)
        try:
            await self._sync_one(index, item)
        finally:
            self.ctx.stats.count(active=-1)
            run.set_worker(index, state=WorkerState.IDLE, repo=None, phase="", percent=None, received_bytes=0, waiting=False)

    async def _sync_one(self, index: int, item: StoredRepo) -> None:
        repo = item.repo
        try:
            final, url = await self._checked(repo)
        except UnsafeRepo as exc:
            self._record(repo, Outcome(RepoStatus.FAILED, ErrorClass.UNSAFE, str(exc)), attempts=1, max_attempts=1)
            return
        try:
            await self._sync_checked(index, item, final, url)
        except OSError as exc:  # the file system refused something about this one repo
            error_class = ErrorClass.DISK if exc.errno in _DISK_ERRNOS else ErrorClass.OTHER
            message = f"{exc.strerror or exc}" + (f": {Path(exc.filename).name}" if exc.filename else "")
            self._record(repo, Outcome(RepoStatus.FAILED, error_class, message), attempts=item.attempts + 1, max_attempts=1)

    async def _checked(self, repo: RemoteRepo) -> tuple[Path, str]:
        """The repo's final directory and clone URL, or UnsafeRepo saying why it is refused."""
        settings = self.ctx.settings
        if any(REDACTED in text for text in (repo.full_name, repo.rel_path, repo.clone_url, repo.ssh_url or "")):
            raise UnsafeRepo("the forge put your token into this repository's name or URL; refused")
        if "/" in repo.rel_path and not self.nested:
            raise UnsafeRepo(f"repository name {repo.rel_path!r} contains '/'")
        final = destination(self.ctx.dest, copy_path(repo.rel_path, mirror=settings.mirror), longest_name=self.ctx.longest_name)
        url = _clone_url(repo, settings, self.extra_git_host)
        owner = settings.owner.strip("/").lower()
        member = (
            settings.affiliation in (Affiliation.MEMBER, Affiliation.ALL)
            and repo.rel_path.lower() == f"{repo.owner}/{repo.full_name.rpartition('/')[2]}".lower()
        )
        every_owner = settings.instance or settings.starred  # --all, --starred: repos of any owner, each in its folder
        if repo.owner and repo.owner.lower() != owner and not member and not every_owner:
            raise UnsafeRepo(f"listed under {settings.owner!r} but owned by {repo.owner!r}")
        twin = await self.ctx.db(self.ctx.store.repos.case_twin, self.ctx.run_id, repo.key, repo.rel_path) if self.ctx.case_twins else None
        if twin:
            raise UnsafeRepo(f"path differs only in case from {twin!r}; the two would collide on case-insensitive disks")
        return final, url

    async def _sync_checked(self, index: int, item: StoredRepo, final: Path, url: str) -> None:
        repo, settings, stats, governor = item.repo, self.ctx.settings, self.ctx.run, self.governor
        if not final.exists():
            await follow_rename(self.ctx, self.syncer.runner, repo, item.disk_path, final)  # renamed upstream: it moves here
        exists = final.exists()
        if exists and settings.update != UpdateMode.SKIP and not self.forge_moved:
            reason = check_reason(item, window=self.signal_window, verify=settings.verify)
            if reason is None and not signal_moved(item):
                kind = self.syncer.kind()
                self._record(
                    repo, Outcome(RepoStatus.UNCHANGED, message="not pushed since the last sync", kind=kind), attempts=1, max_attempts=1
                )
                await self._sync_wiki(index, repo, url)
                return
            if reason is not None and await self._refs_unchanged(index, item, final, url, reason):
                await self._sync_wiki(index, repo, url)
                return
        started = self.ctx.clock.now()
        attempt = item.attempts
        max_attempts = max(1, settings.attempts)
        while True:
            if self.breaker.is_open or signed_out(self.credential):
                raise ForgeDown(self.breaker.where)  # back to the lane: no attempt spent on a dead forge
            attempt += 1
            stats.set_worker(
                index,
                state=WorkerState.UPDATING if exists else WorkerState.CLONING,
                repo=repo.full_name,
                phase="queued",
                percent=None,
                received_bytes=0,
                started_at=started,
                waiting=True,
            )
            progress = progress_listener(self.ctx, index, self.syncer.kind())
            if governor.active >= governor.allowed:
                stats.set_worker(index, phase=f"throttled, {governor.allowed} at a time")
            await governor.acquire()
            show_git_throttle(self.ctx.run, governor)
            stats.set_worker(index, phase="connecting", waiting=False)
            began = self.ctx.clock.now()  # what the forge held from here on is in the copy
            try:
                if exists:
                    outcome = await self.syncer.update(repo, url, final, progress, known=item.synced_pushed_at is not None)
                else:
                    outcome = await self.syncer.clone(repo, url, final, progress)
            finally:
                governor.release()
            if outcome.error_class == ErrorClass.THROTTLED:
                governor.throttled()
                show_git_throttle(self.ctx.run, governor)
            if outcome.moved_origin:
                self.moved_origins += 1
            if outcome.status == RepoStatus.FAILED and outcome.error_class == ErrorClass.AUTH and signed_out(self.credential):
                raise ForgeDown(self.breaker.where)  # no token could be had for it: pending, not failed
            if outcome.status != RepoStatus.FAILED:
                self.breaker.succeeded()
            elif outcome.error_class == ErrorClass.NETWORK and self.breaker.failed(outcome.message):
                raise ForgeDown(self.breaker.where)  # the forge is gone, not this repo: the attempt does not count
            if outcome.status != RepoStatus.FAILED or not outcome.transient or attempt >= max_attempts:
                self._record(repo, outcome, attempts=attempt, max_attempts=max_attempts, synced_at=began)
                if outcome.status != RepoStatus.FAILED:
                    await self._sync_wiki(index, repo, url)
                return
            delay = self.git_backoff * 2 ** (attempt - 1)
            now = self.ctx.clock.now()
            message = redact(outcome.message)
            error_class = outcome.reported_class
            stats.add_error(ErrorView(now, repo.full_name, error_class, message, attempt, max_attempts, now + delay, target=self._name))
            self.ctx.emit(RepoRetry(repo=repo.full_name, error_class=error_class, message=message, attempt=attempt, delay=delay))
            stats.set_worker(index, state=WorkerState.RETRYING, phase=f"retry in {delay:.0f}s", waiting=True)
            await self.ctx.clock.sleep(delay)
            exists = final.exists()

    async def _refs_unchanged(self, index: int, item: StoredRepo, final: Path, url: str, reason: CheckReason) -> bool:
        """A clone the signal cannot vouch for, checked with ``git ls-remote``: True (recorded unchanged) when the forge
        holds what the clone holds; False when it is to be fetched (moved, or the check could not tell)."""
        ctx, repo = self.ctx, item.repo
        checked_at = ctx.clock.now()
        ctx.run.set_worker(
            index,
            state=WorkerState.UPDATING,
            repo=repo.full_name,
            phase="ls-remote",
            percent=None,
            received_bytes=0,
            started_at=checked_at,
            waiting=False,
        )
        await self.governor.acquire()
        try:
            moved = await self.syncer.moved_refs(url, final)
        finally:
            self.governor.release()
        if moved is None:
            return False
        ctx.stats.count(checked=1)
        if not moved:
            outcome = Outcome(RepoStatus.UNCHANGED, message="refs unchanged (git ls-remote)", kind=self.syncer.kind())
            self._record(repo, outcome, attempts=1, max_attempts=1, synced_at=checked_at)
            return True
        if reason != CheckReason.NO_SIGNAL:
            ctx.stats.count(missed=1)
            note = f"{repo.full_name}: {len(moved):,} ref{'s' if len(moved) != 1 else ''} moved although the change signal did not; fetched"
            ctx.run.notices.append(note if len(ctx.run.targets) <= 1 else f"{self._name}: {note}")
            ctx.emit(SignalMissed(repo=repo.full_name, signal=repo.pushed_at or "", refs=len(moved), reason=reason))
        return False

    async def _sync_wiki(self, index: int, repo: RemoteRepo, url: str) -> None:
        """``--wikis``: the repo's wiki, where the forge says it has one, after the repo itself; one attempt.

        Always fetched: a wiki edit moves no change signal of the repo. An enabled wiki nobody has written is
        ``skipped: no wiki``; any other failure is a failure (of ``NAME.wiki``), never the run's.
        """
        settings, stats = self.ctx.settings, self.ctx.run
        if not settings.wikis or not repo.has_wiki:
            return
        name = f"{repo.full_name}.wiki"
        try:
            final = destination(
                self.ctx.dest, copy_path(repo.rel_path, mirror=settings.mirror, wiki=True), longest_name=self.ctx.longest_name
            )
        except UnsafeRepo as exc:
            self._record_wiki(name, Outcome(RepoStatus.FAILED, ErrorClass.UNSAFE, str(exc), kind=CloneKind.WIKI))
            return
        wiki_url = forge_wiki_url(settings.provider, url)
        exists = final.exists()
        stats.set_worker(
            index, state=WorkerState.UPDATING if exists else WorkerState.CLONING, repo=name, phase="wiki", percent=None, waiting=True
        )
        await self.governor.acquire()
        stats.set_worker(index, waiting=False)
        try:
            progress = progress_listener(self.ctx, index, CloneKind.WIKI)
            if exists:
                outcome = await self.syncer.update(repo, wiki_url, final, progress, known=True, wiki=True)
            else:
                outcome = await self.syncer.clone(repo, wiki_url, final, progress, wiki=True)
        finally:
            self.governor.release()
        self._record_wiki(name, outcome)

    def _record_wiki(self, name: str, outcome: Outcome) -> None:
        """A wiki's outcome: counted and reported like a repo's, never journaled (the state holds repos)."""
        ctx, stats = self.ctx, self.ctx.stats
        outcome = replace(outcome, message=redact(outcome.message), kind=CloneKind.WIKI)
        if outcome.status == RepoStatus.FAILED:
            outcome = replace(outcome, error_class=outcome.reported_class)
            stats.count(failed=1, failed_permanent=int(outcome.reported_class in PERMANENT_ERRORS))
            ctx.run.add_error(ErrorView(ctx.clock.now(), name, outcome.reported_class, outcome.message, 1, 1, target=self._name))
        elif outcome.status == RepoStatus.SKIPPED:
            stats.count(no_wiki=1)
        else:
            stats.count(wikis=1)
        self._emit_outcome(name, outcome, attempts=1)

    def _record(self, repo: RemoteRepo, outcome: Outcome, *, attempts: int, max_attempts: int, synced_at: float | None = None) -> None:
        """``synced_at``: when git began to talk to the forge for this outcome (kept only for a copy now up to date)."""
        ctx, stats, run = self.ctx, self.ctx.stats, self.ctx.run
        status = outcome.status
        outcome = replace(outcome, message=redact(outcome.message))
        ctx.ack(
            Ack(
                repo.key,
                status,
                attempts=attempts,
                error_class=outcome.error_class,
                error_message=outcome.message or None,
                last_commit=outcome.last_commit,
                pushed_at=repo.pushed_at,
                synced_at=synced_at if status in (RepoStatus.CLONED, RepoStatus.UPDATED, RepoStatus.UNCHANGED) else None,
            )
        )
        if status == RepoStatus.FAILED:
            permanent = int(outcome.error_class in PERMANENT_ERRORS)
            stats.count(failed=1, failed_permanent=permanent)
        else:
            stats.count(**{status: 1}, lfs_bytes=outcome.lfs_bytes)
        run.completed()
        if status == RepoStatus.FAILED or outcome.error_class == ErrorClass.DIRTY:
            run.add_error(
                ErrorView(
                    ctx.clock.now(), repo.full_name, outcome.reported_class, outcome.message, attempts, max_attempts, target=self._name
                )
            )
        self._emit_outcome(repo.full_name, outcome, attempts=attempts)

    def _emit_outcome(self, name: str, outcome: Outcome, *, attempts: int) -> None:
        """``repo_failed``, or ``repo_done`` with the kind of copy (and why, when skipped)."""
        status = outcome.status
        if status == RepoStatus.FAILED:
            self.ctx.emit(RepoFailed(repo=name, error_class=outcome.reported_class, message=outcome.message, attempts=attempts))
            return
        self.ctx.emit(
            RepoDone(
                repo=name,
                outcome=status,
                commit=outcome.last_commit,
                bytes=outcome.received_bytes,
                kind=outcome.kind,
                message=outcome.message or None if status == RepoStatus.SKIPPED else None,
            )
        )


def show_git_throttle(run: Stats, governor: Governor) -> None:
    """The rate-limit panel's "git throttled" line: until when the reduced concurrency is reconsidered."""
    run.git_throttled_until = governor.quiet_at if governor.allowed < governor.maximum else None


def progress_listener(ctx: RunContext, index: int, kind: str) -> Callable[[str, float | None, int], None]:
    """Git's progress into worker ``index``'s row; a copy other than a plain working clone says its kind first."""
    last = 0
    run, target = ctx.run, ctx.stats
    prefix = "" if kind == CloneKind.CHECKOUT else f"{kind} · "

    def listener(phase: str, percent: float | None, received: int) -> None:
        nonlocal last
        if received > last:
            target.received(received - last)  # the run's count and rate too
            last = received
        run.set_worker(index, phase=prefix + phase, percent=percent, received_bytes=received)

    return listener


def signed_out(credential: Credential | None) -> bool:
    """No valid token can be had for this credential any more: its repos stay pending, no attempt spent."""
    return credential is not None and credential.unavailable is not None


def _clone_url(repo: RemoteRepo, settings: Settings, extra_host: str | None) -> str:
    """The URL git is given for ``repo`` (:func:`clone_url_for` with the target's settings), or UnsafeRepo."""
    return clone_url_for(
        repo,
        api_base=settings.api_base,
        protocol=settings.protocol,
        allow_http=settings.insecure_http,
        ssh_hostname=settings.ssh_hostname,
        extra_host=extra_host,
    )
