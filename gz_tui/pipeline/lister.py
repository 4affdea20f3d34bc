"""The lister: pages through the forge into the bounded buffer, journaling each page before queuing it.

An interrupted run's unfinished repos are queued first; listing then continues from the saved cursor.
``send`` blocks while the buffer is full, which is the whole of the backpressure: a paused pipeline stops
asking the API as soon as the buffer is full.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator
from urllib.parse import urlsplit

from anyio.streams.memory import MemoryObjectSendStream

from gz_tui.config import Settings
from gz_tui.forges.base import ForgeError, NotFoundError, PageError, RemoteRepo
from gz_tui.forges.http import ApiClient, rebase_onto
from gz_tui.pipeline.paths import UnsafeRepo, safe_relative_path
from gz_tui.pipeline.state import Ack, StateStore, StoredRepo
from gz_tui.pipeline.stats import ListerState, RunState, Stats
from gz_tui.untrusted import redact


def scrub(repo: RemoteRepo) -> RemoteRepo:
    """A token a forge echoed into a listing entry is replaced before the entry is journaled or shown.

    The run refuses an entry holding ``***`` afterwards: its name or URL carried the token.
    """
    fields = (repo.full_name, repo.rel_path, repo.clone_url, repo.ssh_url or "", repo.owner)
    full_name, rel_path, clone_url, ssh_url, owner = (redact(text) for text in fields)
    if (full_name, rel_path, clone_url, ssh_url, owner) == fields:
        return repo
    return replace(repo, full_name=full_name, rel_path=rel_path, clone_url=clone_url, ssh_url=ssh_url or None, owner=owner)


class Lister:
    """Owns the listing side of one run; the pipeline reads ``error``, ``fatal`` and ``planned`` afterwards."""

    def __init__(
        self,
        *,
        settings: Settings,
        stats: Stats,
        store: StateStore,
        run_id: int,
        dest: Path,
        db_call: Callable[..., Awaitable[Any]],
        emit: Callable[..., None],
        ack: Callable[[Ack], None],
        notice: Callable[[str], None],
        on_fatal: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.stats = stats
        self.store = store
        self.run_id = run_id
        self.dest = dest
        self._db = db_call
        self.emit = emit
        self.ack = ack
        self.notice = notice
        self.on_fatal = on_fatal
        self.include = re.compile(settings.include) if settings.include else None
        self.exclude = re.compile(settings.exclude) if settings.exclude else None
        self.error: ForgeError | None = None
        self.fatal = False
        self.planned = {"clone": 0, "update": 0, "refuse": 0}

    async def feed(
        self,
        client: ApiClient,
        provider: Any,
        send: MemoryObjectSendStream[StoredRepo],
        cursor: str | None,
        listing_done: bool,
        resume_failed: bool,
    ) -> None:
        """Queue what an interrupted run left, then list page by page; errors end the listing, not the run."""
        store = self.store
        async with send:
            # Work an interrupted run had listed but not finished goes first.
            if resume_failed:
                await self._requeue(send, store.pending(self.run_id, failed_only=True))
            await self._requeue(send, store.pending(self.run_id))
            if listing_done:
                self.stats.lister_state = ListerState.DONE
                return
            try:
                await self._list(client, provider, send, cursor)
            except ForgeError as exc:
                self.error = exc
                self.stats.lister_state = ListerState.FAILED
                self.stats.message = str(exc)
                self.emit("listing_failed", message=str(exc), exit_code=exc.exit_code)
                if self.stats.lister_page <= 1 and self.stats.counts.listed == 0:
                    self.fatal = True
                    self.on_fatal()

    async def _requeue(self, send: MemoryObjectSendStream[StoredRepo], batches: Iterator[list[StoredRepo]]) -> None:
        while batch := await self._db(next, batches, None):
            for item in batch:
                await self.offer(send, item)

    async def _list(self, client: ApiClient, provider: Any, send: MemoryObjectSendStream[StoredRepo], cursor: str | None) -> None:
        store = self.store
        candidates = [cursor] if cursor else provider.first_urls(self.settings.owner)
        url: str | None = candidates[0]
        total_task_started = False
        page_number = 0
        while url is not None:
            page_number += 1
            self.stats.lister_state = ListerState.FETCHING
            self.stats.lister_page = page_number
            etag, stored_next = await self._db(store.page_cache, url)
            if page_number == 1 and not cursor:
                url, response = await self._first_page(client, provider, candidates, etag)
                etag, stored_next = await self._db(store.page_cache, url)
            else:
                response = await client.get(url, etag=etag)
            try:
                page = provider.parse_page(url, response)
            except ValueError as exc:  # JSON errors included
                raise PageError(f"the forge sent an unreadable listing page ({exc.__class__.__name__}); run again to resume") from None
            page.repos = [scrub(repo) for repo in page.repos]
            if page.next_url and not client.same_origin(page.next_url):
                page.next_url = rebase_onto(page.next_url, self.settings.api_base)
            if page.total is not None:
                self.stats.set_total(page.total)
            if page.not_modified:
                page.next_url = page.next_url or stored_next
                fresh = await self._db(store.reuse_page, self.run_id, page)
            else:
                fresh = await self._db(store.record_page, self.run_id, page, page.repos)
            self.stats.count(listed=len(fresh))
            self.emit("page", number=page_number, repos=len(fresh), cached=page.not_modified)
            for item in fresh:
                await self.offer(send, item)
            if page.next_url and not total_task_started and self.stats.counts.total is None:
                total_task_started = True  # after the first page's repos are queued: never delays the first clone
                await self._fetch_total(client, provider)
            url = page.next_url
        self.stats.lister_state = ListerState.DONE
        if self.stats.run_state == RunState.LISTING:
            self.stats.run_state = RunState.RUNNING

    async def _first_page(self, client: ApiClient, provider: Any, urls: list[str], etag: str | None) -> tuple[str, Any]:
        """The org listing, or the user listing when the owner is a user; a clear error when neither exists."""
        for index, url in enumerate(urls):
            own = None
            if index:
                own = await self._own_listing(client, provider)
                url = own or url
                etag, _ = await self._db(self.store.page_cache, url)
            try:
                response = await client.get(url, etag=etag, quiet_404=True)
            except NotFoundError:
                continue
            if index and own is None and provider.own_listing(self.settings.owner) is not None:
                self.notice(
                    f"{self.settings.owner} is a user, not an organisation: only their public repos are listed "
                    "(their own token would list their private ones too)"
                )
            return url, response
        hint = "" if self.settings.token else " (if it is private, pass a token that can see it)"
        raise NotFoundError(
            f"{self.settings.provider} owner {self.settings.owner!r} not found at "
            f"{urlsplit(self.settings.api_base).netloc}{hint}; check the spelling"
        )

    async def _own_listing(self, client: ApiClient, provider: Any) -> str | None:
        """The listing that includes private repos, when the owner is the token's own user (one extra request)."""
        own = provider.own_listing(self.settings.owner)
        if own is None or not self.settings.token:
            return None
        viewer_url, listing_url = own
        try:
            login = (await client.get(viewer_url, quiet_404=True)).json().get("login")
        except (ForgeError, ValueError, AttributeError):
            return None
        if isinstance(login, str) and login.lower() == self.settings.owner.lower():
            return listing_url
        return None

    async def _fetch_total(self, client: ApiClient, provider: Any) -> None:
        url = provider.total_url(self.settings.owner)
        if not url:
            return
        try:
            response = await client.get(url, quiet_404=True)
            total = provider.parse_total(response)
        except (ForgeError, ValueError):
            return
        if total:
            self.stats.set_total(total)

    async def offer(self, send: MemoryObjectSendStream[StoredRepo], item: StoredRepo) -> None:
        """Filter, then put into the buffer — blocking while it is full (backpressure)."""
        repo = item.repo
        skip = self._filtered_out(repo)
        if skip:
            self.ack(Ack(repo.key, "skipped", error_message=skip))
            self.stats.count(skipped=1)
            self.emit("repo_skipped", repo=repo.full_name, reason=skip)
            return
        if self.settings.dry_run:
            try:  # validated segments, no resolve(): a dry run of 100,000 repos must not stat the world twice
                action = "update" if (self.dest / safe_relative_path(repo.rel_path)).exists() else "clone"
            except UnsafeRepo:
                action = "refuse"
            self.planned[action] += 1
            self.emit("repo_planned", repo=repo.full_name, action=action)
            return
        stats = send.statistics()
        if stats.current_buffer_used >= stats.max_buffer_size:
            self.stats.lister_state = ListerState.BLOCKED
        await send.send(item)
        if self.stats.lister_state == ListerState.BLOCKED:
            self.stats.lister_state = ListerState.FETCHING

    def _filtered_out(self, repo: RemoteRepo) -> str:
        s = self.settings
        if s.skip_archived and repo.archived:
            return "archived (--skip-archived)"
        if s.skip_forks and repo.fork:
            return "fork (--skip-forks)"
        if self.include and not self.include.search(repo.rel_path):
            return "not matched by --include"
        if self.exclude and self.exclude.search(repo.rel_path):
            return "matched by --exclude"
        return ""
