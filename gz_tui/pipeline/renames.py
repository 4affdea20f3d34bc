"""A repo renamed upstream keeps its clone: the clone is moved to the new path (same forge id), nothing fetched again.

The state remembers where each repo's clone is (``disk_path``); when the listing gives a repo a new path and the
clone at the old one records the same forge id (``gz-tui.repo-id``), the clone (and its wiki) is moved there by one
journaled rename, crash-safe like a prune move (``store.attic`` with kind ``rename``; the next run settles a move a
kill interrupted), through directory descriptors that follow no link (``moves``). Linked worktrees are repaired.
"""

from __future__ import annotations

import functools
from pathlib import Path

import anyio

from gz_tui.forges.records import RemoteRepo
from gz_tui.pipeline.context import RunContext
from gz_tui.pipeline.events import RepoRenamed
from gz_tui.pipeline.git import GitRunner
from gz_tui.pipeline.moves import LinkInPath, move_folder
from gz_tui.pipeline.paths import UnsafeRepo, copy_path, destination
from gz_tui.pipeline.state.repos import recorded_id

RENAME = "rename"
"""The ``kind`` of a rename in the attic journal."""


async def follow_rename(ctx: RunContext, runner: GitRunner, repo: RemoteRepo, old_path: str | None, final: Path) -> str | None:
    """Move the clone of ``repo`` from ``old_path``, where it was last synced (``StoredRepo.disk_path``), to ``final``
    when the repo was renamed upstream; the old path below DEST when it moved, else None (nothing to move, or not
    provably this repo's clone)."""
    mirror = ctx.settings.mirror
    if not old_path or old_path == repo.rel_path or final.exists():
        return None
    try:
        old = destination(ctx.dest, copy_path(old_path, mirror=mirror), longest_name=ctx.longest_name)
    except UnsafeRepo:
        return None
    if not old.is_dir() or recorded_id(old, mirror=mirror) not in (None, repo.key):
        return None  # gone, or another repo's clone by now: this repo is cloned afresh
    if not await _journaled_move(ctx, repo.key, old_path, old, final):
        return None
    old_wiki = old.with_name(copy_path(old.name.removesuffix(".git"), mirror=mirror, wiki=True))
    if old_wiki.is_dir():
        new_wiki = final.with_name(copy_path(final.name.removesuffix(".git"), mirror=mirror, wiki=True))
        if not new_wiki.exists():
            await _journaled_move(ctx, repo.key, old_path + ".wiki", old_wiki, new_wiki)
    await ctx.db(ctx.store.repos.set_disk_path, repo.key, repo.rel_path)
    if not mirror:
        await runner.run(["worktree", "repair"], cwd=final)  # linked worktrees point at the clone's new place
    ctx.stats.count(renamed=1)
    ctx.emit(RepoRenamed(old=old_path, new=repo.rel_path))
    ctx.notice(f"renamed upstream: {old_path} → {repo.rel_path} (the clone moved, nothing fetched again)")
    return old_path


async def _journaled_move(ctx: RunContext, key: str, rel_path: str, source: Path, target: Path) -> bool:
    moved = False
    with anyio.CancelScope(shield=True):  # a started move is finished and recorded, even on Ctrl+C
        entry = await ctx.db(functools.partial(ctx.store.attic.intent, kind=RENAME), key, rel_path, source, target)
        try:
            await anyio.to_thread.run_sync(move_folder, ctx.dest, source, target)
            moved = True
        except (LinkInPath, OSError) as exc:
            ctx.notice(f"cannot move {rel_path} to its new path ({getattr(exc, 'strerror', None) or exc}); it stays in place")
        await ctx.db(ctx.store.attic.done, entry, moved)
    return moved
