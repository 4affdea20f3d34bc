"""Prune: the clones the forge no longer lists, and with ``--prune`` their move to the attic.

Nothing is deleted. After a complete listing, a clone whose repo the forge did not list is *gone*: it is
reported, and with ``--prune`` moved to ``DEST/.gz-tui/attic/DATE/PATH`` unless it holds local work, unless so
many are gone that a token that lost access is the likelier cause (``--prune-limit``), and — on the dashboard —
only once the user says yes. Each move is journaled before it happens, so a run killed in the middle leaves
every clone in place or whole in the attic, and the next run's :func:`reconcile_attic` says which.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import anyio

from gz_tui.format import some_of
from gz_tui.layout import WorkDir
from gz_tui.pipeline.confirm import Answer, Confirmation, Confirmer
from gz_tui.pipeline.context import DbCall, RunContext
from gz_tui.pipeline.events import PruneRefused, RepoKept, RepoMoved
from gz_tui.pipeline.local_work import local_work
from gz_tui.pipeline.moves import LinkInPath, check_folder, move_folder
from gz_tui.pipeline.paths import copy_path
from gz_tui.pipeline.snapshot import PruneQuestion
from gz_tui.pipeline.state import StateStore
from gz_tui.pipeline.stats import Stats
from gz_tui.pipeline.sync import RepoSyncer

PRUNE_PAUSE_ENV = "GZ_TUI_TEST_PRUNE_PAUSE"
"""Seconds to wait after each move of a prune: lets a test kill a run in the middle of pruning."""

Ask = Callable[[PruneQuestion], Awaitable[bool]]
"""Puts a question to the user and returns the answer (yes: move the clones)."""

Gone = tuple[str, str, Path]
"""A gone clone: its repo's key, its path below DEST, its folder on disk."""


def prune_pause(environ: Mapping[str, str]) -> float:
    """The test knob ``GZ_TUI_TEST_PRUNE_PAUSE``, read once where a pruner is made."""
    return float(environ.get(PRUNE_PAUSE_ENV, "0") or 0)


def reconcile_attic(store: StateStore, notice: Callable[[str], None]) -> None:
    """Moves to the attic a killed prune journaled: each clone is either still in place or whole in the attic
    (a rename is atomic); the journal is brought in line with what the disk shows."""
    for entry, source, attic in store.attic.moving():
        moved = attic.exists() and not source.exists()
        store.attic.done(entry, moved)
        if moved:
            notice(f"an interrupted prune had moved {source.name} to the attic: {attic}")


def _kept_because(found: Confirmation) -> str:
    """Why a clone the forge did not confirm gone stays (``repo_kept``'s reason)."""
    repo = found.repo
    if found.answer == Answer.EXISTS:
        return "still on the forge (the listing missed it)"
    if found.answer == Answer.RENAMED and repo is not None:
        return f"renamed on the forge to {repo.full_name}"
    if found.answer == Answer.ELSEWHERE and repo is not None:
        return f"moved on the forge to {repo.full_name}"
    return f"the forge could not confirm it is gone: {found.why}"


def _free_path(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``… when the attic already holds one of that name (the same repo pruned twice a day)."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate


class PruneQuestions:
    """The dashboard's question before a prune moves clones (``Snapshot.prune_question``): one on screen at a
    time, whichever of the run's targets asks; the pipeline waits for the answer without blocking."""

    def __init__(self, stats: Stats) -> None:
        self._stats = stats
        self._turn = anyio.Lock()
        self._answer: anyio.Event | None = None
        self._asking = ""
        self._yes = False

    async def ask(self, question: PruneQuestion) -> bool:
        async with self._turn:  # another target's question is on screen: this one waits its turn
            self._answer, self._asking, self._yes = anyio.Event(), question.target, False
            self._stats.prune_question = question
            try:
                await self._answer.wait()
            finally:
                self._stats.prune_question = None
                self._answer = None
            return self._yes

    def answer(self, target: str, yes: bool) -> None:
        """The user's answer to target ``target``'s question; nothing happens if it asks none."""
        if self._answer is not None and self._asking == target:
            self._yes = yes
            self._answer.set()


class Pruner:
    """One target's prune, after its listing. ``ask`` is None where nobody can answer (headless: ``--prune``
    is the answer); ``complete`` is False when the server filtered the listing (it then proves nothing gone)."""

    def __init__(
        self,
        ctx: RunContext,
        store: StateStore,
        *,
        syncer: RepoSyncer,
        layout: WorkDir,
        db: DbCall,
        ask: Ask | None,
        pause: float,
        complete: bool,
        confirmer: Confirmer | None = None,
        incomplete: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.syncer = syncer
        self.layout = layout
        self.db = db
        self.ask = ask
        self.pause = pause
        self.complete = complete
        self.confirmer = confirmer
        """Asks the forge about each clone before it moves (None: nothing can be confirmed, so nothing moves)."""
        self.incomplete = incomplete
        """Why the listing cannot prove it is complete (the lister's), if it cannot: nothing moves then."""
        self.stopped: str | None = None
        """Why the prune stopped before moving what it meant to (a link on the way): the run then exits 1."""

    async def run(self) -> None:
        """After a complete listing (its acks journaled): the gone clones, reported; with ``--prune`` moved."""
        ctx, settings = self.ctx, self.ctx.settings
        if not self.complete or (settings.dry_run and not settings.prune):
            return
        gone_clones = functools.partial(self.store.repos.gone_clones, mirror=settings.mirror, unclaimed=self.layout.shard is None)
        gone = await self.db(gone_clones, ctx.run_id, ctx.dest)
        if not gone:
            return
        ctx.stats.count(gone=len(gone))
        shown = some_of([rel for _, rel, _ in gone], 5)
        plural = len(gone) != 1
        if not settings.prune or self.layout.shard is not None:
            why = "; --prune does not run in a sharded run" if settings.prune else ""
            ctx.notice(
                f"{len(gone):,} clone{'s' if plural else ''} in {ctx.dest} {'are' if plural else 'is'} no longer "
                f"listed by the forge (deleted, renamed, or not visible to this token) and left as they are: {shown}; "
                f"`gz-tui status` lists them{why}"
            )
            return
        refusal = self.incomplete()
        reason = "incomplete"
        if refusal is None and not settings.prune_force:
            listed_private, unlisted_private = await self.db(self.store.repos.private_counts, ctx.run_id)
            if unlisted_private and not listed_private:
                reason = "visibility"
                refusal = (
                    f"the listing holds no private repo, but {unlisted_private:,} private repo"
                    f"{'s' if unlisted_private != 1 else ''} listed before {'are' if unlisted_private != 1 else 'is'} "
                    "missing: the token lost access (or none was given) rather than they were all deleted; "
                    "check the token (`gz-tui status` lists them), or run with --prune-force if they really are gone"
                )
        if refusal is not None:
            self._refuse(reason, f"not pruning: {refusal}")
            return
        # One denominator, said with the share: the clones of this destination, listed now or gone.
        total = len(gone) + await self.db(self.store.repos.listed_count, ctx.run_id)
        share = 100 * len(gone) / max(1, total)
        if share > settings.prune_limit and not settings.prune_force:
            self._refuse(
                "limit",
                f"not pruning: {len(gone):,} of {total:,} clones, {share:.1f} %, are no longer listed, more than "
                f"--prune-limit {settings.prune_limit} %; a listing that suddenly lacks that many repos is more often a "
                "token that lost access than repos deleted. Check with `gz-tui status`, then run with --prune-force "
                f"to move them anyway: {shown}",
            )
            return
        await self._prune(await self._confirmed(await self._without_local_work(gone)))

    async def _without_local_work(self, gone: list[Gone]) -> list[Gone]:
        """The gone clones that may move; the others are kept in place, each said."""
        ctx, movable = self.ctx, []
        for key, rel_path, folder in gone:
            reason = await local_work(self.syncer.runner, folder)
            if reason is None:
                movable.append((key, rel_path, folder))
                continue
            ctx.stats.count(kept=1)
            ctx.emit(RepoKept(repo=rel_path, reason=reason))
            ctx.notice(f"kept: local work — {rel_path} ({reason}) is no longer listed by the forge and stays in place")
        return movable

    async def _confirmed(self, movable: list[Gone]) -> list[Gone]:
        """The clones the forge confirms gone, one request each; the others are kept in place, each said."""
        ctx, gone = self.ctx, []
        for key, rel_path, folder in movable:
            if self.confirmer is None:
                found = Confirmation(Answer.UNKNOWN, why="no way to ask the forge")
            else:
                found = await self.confirmer.ask(key, rel_path)
            if found.answer == Answer.GONE:
                gone.append((key, rel_path, folder))
                continue
            reason = _kept_because(found)
            ctx.stats.count(kept=1)
            ctx.emit(RepoKept(repo=rel_path, reason=reason))
            ctx.notice(f"kept: {rel_path} is missing from the listing, but {reason}; it stays in place")
        return gone

    async def _prune(self, movable: list[Gone]) -> None:
        """Move each clone to ``DEST/.gz-tui/attic/DATE/PATH`` (and its wiki beside it), once the user agrees."""
        ctx, mirror = self.ctx, self.ctx.settings.mirror
        if not movable:
            return
        attic_root = self.layout.attic(ctx.clock.now())
        clones = f"{len(movable):,} clone{'s' if len(movable) != 1 else ''}"
        if ctx.settings.dry_run:
            ctx.notice(f"--prune would move {clones} to {attic_root}: {some_of([rel for _, rel, _ in movable], 5)}")
            return
        if self.ask is not None and not await self._confirm(movable, attic_root):
            ctx.notice(f"prune declined: {clones} no longer listed left in place")
            return
        try:  # before anything moves: a link on any path it would take stops the whole prune
            for path in (attic_root, *(folder for _, _, folder in movable)):
                await anyio.to_thread.run_sync(check_folder, ctx.dest, path)
        except LinkInPath as exc:
            self._stop(str(exc))
            return
        moved = 0
        for key, rel_path, folder in movable:
            attic = _free_path(attic_root / copy_path(rel_path, mirror=mirror))
            if not await self._move(key, rel_path, folder, attic):
                if self.stopped:
                    break
                continue
            moved += 1
            ctx.stats.count(moved=1)
            ctx.emit(RepoMoved(repo=rel_path, attic=str(attic)))
            wiki = folder.with_name(copy_path(folder.name.removesuffix(".git"), mirror=mirror, wiki=True))
            if wiki.is_dir():
                wiki_attic = attic.with_name(copy_path(attic.name.removesuffix(".git"), mirror=mirror, wiki=True))
                await self._move(key, rel_path + ".wiki", wiki, _free_path(wiki_attic))
            if self.pause:
                await anyio.sleep(self.pause)
        if moved:
            ctx.notice(
                f"moved {moved:,} clone{'s' if moved != 1 else ''} of repos the forge no longer lists to {attic_root} "
                "(nothing deleted; `gz-tui status` lists the attic)"
            )

    async def _move(self, key: str, rel_path: str, folder: Path, attic: Path) -> bool:
        """One crash-safe move: the intent is journaled first, then one atomic rename on the same file system.

        Killed in between, the next run finds the clone in place (or whole in the attic) and fixes the journal."""
        moved = False
        with anyio.CancelScope(shield=True):  # a started move is finished and recorded, even on Ctrl+C
            entry = await self.db(self.store.attic.intent, key, rel_path, folder, attic)
            try:
                await anyio.to_thread.run_sync(move_folder, self.ctx.dest, folder, attic)
                moved = True
            except LinkInPath as exc:  # planted between the check and this move: caught here, at the move itself
                self._stop(str(exc))
            except OSError as exc:
                self.ctx.notice(f"cannot move {rel_path} to the attic ({exc.strerror or exc}); it stays in place")
            await self.db(self.store.attic.done, entry, moved)
        return moved

    def _refuse(self, reason: str, message: str) -> None:
        """A requested prune moves nothing: the event, the summary's ``prune_refused`` (a cron job tests it), a notice."""
        self.ctx.stats.prune_refused = reason
        self.ctx.emit(PruneRefused(reason=reason, message=message))
        self.ctx.notice(message)

    def _stop(self, why: str) -> None:
        """The prune stops here, said in one line; the run exits 1."""
        self.stopped = why
        self.ctx.stats.prune_refused = "link"
        self.ctx.emit(PruneRefused(reason="link", message=why))
        self.ctx.notice(f"prune stopped: {why}")

    async def _confirm(self, movable: list[Gone], attic_root: Path) -> bool:
        """The dashboard's question; Ctrl+C while it is asked cancels it (nothing moves)."""
        assert self.ask is not None
        ctx = self.ctx
        total = len(movable) + await self.db(self.store.repos.listed_count, ctx.run_id)
        question = PruneQuestion(
            target=ctx.settings.name,
            count=len(movable),
            total=total,
            names=tuple(rel for _, rel, _ in movable[:5]),
            attic=str(attic_root),
            kept=ctx.stats.counts.kept,
        )
        return await self.ask(question)
