"""Prune: the clones the forge no longer lists, and with ``--prune`` their move to the attic.

Nothing is deleted. After a complete listing, a clone whose repo the forge did not list is *gone*: it is
reported, and with ``--prune`` moved to ``DEST/.gz-tui/attic/DATE/PATH`` unless it holds local work, unless so
many are gone that a token that lost access is the likelier cause (``--prune-limit``), and — on the dashboard —
only once the user says yes. Each move is journaled before it happens, so a run killed in the middle leaves
every clone in place or whole in the attic, and the next run's :func:`reconcile_attic` says which.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import anyio

from gz_tui.format import some_of
from gz_tui.layout import WorkDir
from gz_tui.pipeline.context import DbCall, RunContext
from gz_tui.pipeline.events import RepoKept, RepoMoved
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
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.syncer = syncer
        self.layout = layout
        self.db = db
        self.ask = ask
        self.pause = pause
        self.complete = complete

    async def run(self) -> None:
        """After a complete listing (its acks journaled): the gone clones, reported; with ``--prune`` moved."""
        ctx, settings = self.ctx, self.ctx.settings
        if not self.complete or (settings.dry_run and not settings.prune):
            return
        gone = await self.db(functools.partial(self.store.repos.gone_clones, mirror=settings.mirror), ctx.run_id, ctx.dest)
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
        total = len(gone) + await self.db(self.store.repos.listed_count, ctx.run_id)
        share = 100 * len(gone) / max(1, total)
        if share > settings.prune_limit and not settings.prune_force:
            ctx.notice(
                f"not pruning: {len(gone):,} of {total:,} clones ({share:.0f} %) are no longer listed, more than "
                f"--prune-limit {settings.prune_limit} %; a listing that suddenly lacks that many repos is more often a "
                "token that lost access than repos deleted. Check with `gz-tui status`, then run with --prune-force "
                f"to move them anyway: {shown}"
            )
            return
        await self._prune(await self._without_local_work(gone))

    async def _without_local_work(self, gone: list[Gone]) -> list[Gone]:
        """The gone clones that may move; the others are kept in place, each said."""
        ctx, movable = self.ctx, []
        for key, rel_path, folder in gone:
            reason = await self.syncer.local_work(folder)
            if reason is None:
                movable.append((key, rel_path, folder))
                continue
            ctx.stats.count(kept=1)
            ctx.emit(RepoKept(repo=rel_path, reason=reason))
            ctx.notice(f"kept: local work — {rel_path} ({reason}) is no longer listed by the forge and stays in place")
        return movable

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
        moved = 0
        for key, rel_path, folder in movable:
            attic = _free_path(attic_root / copy_path(rel_path, mirror=mirror))
            if not await self._move(key, rel_path, folder, attic):
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
                attic.parent.mkdir(parents=True, exist_ok=True)
                os.rename(folder, attic)
                moved = True
            except OSError as exc:
                self.ctx.notice(f"cannot move {rel_path} to the attic ({exc.strerror or exc}); it stays in place")
            await self.db(self.store.attic.done, entry, moved)
        return moved

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
