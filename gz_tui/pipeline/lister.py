"""The lister: pages through the forge into the bounded buffer, journaling each page before queuing it.

An interrupted run's unfinished repos are queued first; listing then continues from the saved cursor.
``send`` blocks while the buffer is full, which is the whole of the backpressure: a paused pipeline stops
asking the API as soon as the buffer is full. Which repos are kept is ``selection``'s to say; the lister pages.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from urllib.parse import urlsplit

import anyio
import httpx
from anyio.abc import TaskGroup

from gz_tui.forges.errors import AuthError, ForgeError, NotFoundError, PageError, UnreachableError
from gz_tui.forges.http import ApiClient
from gz_tui.forges.provider import Provider
from gz_tui.forges.records import Page, RemoteRepo
from gz_tui.kinds import PlannedAction, RepoStatus
from gz_tui.pipeline.context import RunContext
from gz_tui.pipeline.credential import confirm_credential, own_listing
from gz_tui.pipeline.events import ListingFailed, PageListed, RepoPlanned, RepoSkipped, ServerIdentified
from gz_tui.pipeline.page_guard import PagesReceived
from gz_tui.pipeline.planning import planned_action
from gz_tui.pipeline.queue import Lane
from gz_tui.pipeline.selection import PRIVATE_OVER_SSH_ONLY, Selection
from gz_tui.pipeline.snapshot import ListerState, RunState
from gz_tui.pipeline.state import Ack, StoredRepo
from gz_tui.pipeline.stated_total import StatedTotal
from gz_tui.shard import Shard
from gz_tui.untrusted import inert, redact
from gz_tui.urls import rebase_onto


def scrub(repo: RemoteRepo) -> RemoteRepo:
    """A token a forge echoed into a listing entry is replaced before the entry is journaled or shown.

    The run refuses an entry holding ``***`` afterwards: its name or URL carried the token.
    """
    fields = (repo.full_name, repo.rel_path, repo.clone_url, repo.ssh_url or "", repo.owner)
    full_name, rel_path, clone_url, ssh_url, owner = (redact(text) for text in fields)
    if (full_name, rel_path, clone_url, ssh_url, owner) == fields:
        return repo
    return replace(repo, full_name=full_name, rel_path=rel_path, clone_url=clone_url, ssh_url=ssh_url or None, owner=owner)


AHEAD_SEND_SECONDS = 0.02
"""How long the lister lets the next page's request go out before it parses the current one (it is written in well
under a millisecond, unless it waits for the quota: then the page at hand is not held up)."""


async def fetch_page(
    client: ApiClient,
    provider: Provider,
    url: str,
    *,
    etag: str | None = None,
    quiet_404: bool = False,
    on_sent: Callable[[], None] | None = None,
) -> httpx.Response:
    """One listing page: GET ``url``, or the POST a forge asks for instead (``Provider.page_request``: GraphQL)."""
    request = provider.page_request(url)
    if request is None:
        return await client.get(url, etag=etag, quiet_404=quiet_404, on_sent=on_sent)
    endpoint, body = request
    return await client.post(endpoint, body, quiet_404=quiet_404, on_sent=on_sent)


class Lister:
    """Owns the listing side of one run; the pipeline reads ``error``, ``fatal`` and ``planned`` afterwards."""

    def __init__(self, ctx: RunContext, client: ApiClient, provider: Provider, *, shard: Shard | None = None) -> None:
        self.ctx = ctx
        self.client = client
        self.provider = provider
        self.shard = shard
        """A sharded run lists the whole org and keeps only its own repos (``gz_tui.shard``)."""
        self.selection = Selection(ctx.settings, provider, client)
        self.conditional = not self.selection.by_metadata
        """Pages are asked for with their ETag (a 304 re-lists them from the state), unless the selection reads
        what the state does not keep."""
        self.error: ForgeError | None = None
        self.fatal = False
        self.planned = {action: 0 for action in PlannedAction}
        self._lane: Lane[StoredRepo] | None = None
        self._put: Callable[[StoredRepo], Awaitable[None]] | None = None
        self.requeued = False
        """Repos an interrupted run left were queued again (their case twins are not known page by page)."""
        self._said_ssh_only = False
        self.total = StatedTotal(ctx, client, provider)
        """The forge's own count of the owner's repos, and whether the listing yielded them all."""

    async def feed(
        self,
        lane: Lane[StoredRepo],
        cursor: str | None,
        listing_done: bool,
        retry_failed: bool,
        put: Callable[[StoredRepo], Awaitable[None]],
    ) -> None:
        """Queue what an interrupted run left, then list page by page; errors end the listing, not the run.

        ``put`` puts into ``lane`` (blocking while it is full: the backpressure)."""
        ctx, stats = self.ctx, self.ctx.stats
        self._lane, self._put = lane, put
        try:
            await confirm_credential(self.client, self.provider, ctx.notice)  # before anything is listed, cloned or pruned
        except ForgeError as exc:
            self._failed(exc)
            self.fatal = True
            return
        # Work an interrupted run had listed but not finished goes first.
        if retry_failed:
            await self._requeue(ctx.store.repos.pending(ctx.run_id, failed_only=True))
        await self._requeue(ctx.store.repos.pending(ctx.run_id))
        if listing_done:
            stats.lister_state = ListerState.DONE
            return
        try:
            await self._list(cursor)
        except ForgeError as exc:
            self._failed(exc)
            if stats.lister_page <= 1 and stats.counts.listed == 0:
                self.fatal = True

    def _failed(self, exc: ForgeError) -> None:
        stats = self.ctx.stats
        self.error = exc
        stats.lister_state = ListerState.FAILED
        stats.message = str(exc)
        self.ctx.emit(ListingFailed(message=str(exc), exit_code=exc.exit_code))

    async def _requeue(self, batches: Iterator[list[StoredRepo]]) -> None:
        while batch := await self.ctx.db(next, batches, None):
            self.requeued = True
            for item in batch:
                await self.offer(item)

    async def _probe(self) -> None:
        """Ask the forge what it is before the first page (a resumed listing too): Gitea or Forgejo, and the page size it
        allows. A probe it does not answer leaves the defaults; a refused token or an unreachable forge ends the listing
        here, as its first page would."""
        ctx = self.ctx
        for url in self.provider.probe_urls():
            try:
                self.provider.read_probe(url, await self.client.get(url, quiet_404=True))
            except (AuthError, UnreachableError):
                raise
            except (ForgeError, ValueError):
                continue
        server = self.provider.server
        if server:
            ctx.stats.server = server
            ctx.emit(ServerIdentified(server=server, page_size=self.provider.page_size))
            await ctx.db(ctx.store.runs.note_option, ctx.run_id, "server", server)

    async def _list(self, cursor: str | None) -> None:
        await self._probe()
        error: Exception | None = None
        async with anyio.create_task_group() as group:
            try:
                await self._pages(cursor, group)
            except Exception as exc:  # noqa: BLE001 -- raised below as itself, not inside an ExceptionGroup
                error = exc
                group.cancel_scope.cancel()  # the page being fetched ahead is not wanted any more
        if error is not None:
            raise error

    async def _pages(self, cursor: str | None, group: TaskGroup) -> None:
        """Page by page. While a page is parsed, journaled and queued, the next one is already being fetched:
        still one request at a time per forge identity (the client's Quota), one page ahead at most."""
        ctx, stats = self.ctx, self.ctx.stats
        url: str | None = cursor
        ahead: _PageAhead | None = None
        page_number = 0
        seen, seen_all = 0, cursor is None
        pages = PagesReceived()  # a next link back to one of them would never end
        if cursor is None and not self.requeued:
            ctx.case_twins = False  # a fresh listing: each page says whether it brought a case twin
        while True:
            page_number += 1
            stats.lister_state = ListerState.FETCHING
            stats.lister_page = page_number
            url, response, next_url = await self._fetch(url, ahead)
            ahead = None
            pages.received(url)
            if next_url:
                pages.refuse_loop(page_number, next_url)
                # Asked for before this page is parsed, journaled and queued: its request is on the wire meanwhile.
                etag, after_next = await ctx.db(ctx.store.pages.cache, next_url)
                ahead = _PageAhead(next_url, after_next)
                group.start_soon(functools.partial(ahead.fetch, self.client, self.provider, etag if self.conditional else None))
                with anyio.move_on_after(AHEAD_SEND_SECONDS):  # never held up by a rate-limit wait or another target
                    await ahead.sent.wait()
            try:
                page = self.provider.parse_page(url, response)
            except ValueError as exc:  # JSON errors included
                reason = inert(str(exc), flatten=True, limit=120) or exc.__class__.__name__
                raise PageError(f"the forge sent an unreadable listing page ({reason}); run again to resume") from None
            del response  # parsed: the body (up to ~0.5 MB) is not kept while the next one comes in
            seen += len(page.repos)
            seen_all = seen_all and not page.not_modified  # a 304 page's repos are not parsed: its count is unknown
            page.repos = [scrub(repo) for repo in page.repos if self.shard is None or self.shard.owns(repo.key)]
            page.next_url = next_url
            if page.total is not None and self.shard is None:
                stats.set_total(page.total)
                self.total.saw(page.total)
            for item in await self._journal(page, page_number):
                await self.offer(item)
            if page.next_url and self.shard is None:
                self.total.ask_beside(group)  # after the first page's repos are queued: never delays a clone
            if page.next_url is None:
                break
            url = page.next_url
        if seen_all:
            await ctx.db(ctx.store.pages.set_seen, seen)
        if self.shard is None and not self.provider.listing_is_partial:  # a shard's or a filtered listing is no whole
            await self.total.prove_complete()
        stats.lister_state = ListerState.DONE
        stats.advance(RunState.RUNNING)

    async def _fetch(self, url: str | None, ahead: _PageAhead | None) -> tuple[str, httpx.Response, str | None]:
        """The page at ``url`` (None: the first), from the page fetched ahead when it is that one; with its URL
        and the URL of the page after it (rebased onto the API's origin; the stored one when this is a 304)."""
        ctx, store = self.ctx, self.ctx.store
        if url is None:
            url, response = await self._first_page()
            _, stored_next = await ctx.db(store.pages.cache, url)
        elif ahead is not None and ahead.url == url:
            stored_next, response = await ahead.result()
        else:
            etag, stored_next = await ctx.db(store.pages.cache, url)
            response = await fetch_page(self.client, self.provider, url, etag=etag if self.conditional else None)
        next_url = self.provider.next_url(url, response)
        if next_url and not self.client.same_origin(next_url):
            next_url = rebase_onto(next_url, ctx.settings.api_base)
        if response.status_code == 304:
            next_url = next_url or stored_next
        return url, response, next_url

    async def _journal(self, page: Page, number: int) -> list[StoredRepo]:
        """Journal a page (its repos, those the selection leaves out by metadata, the cursor after it) and say so;
        the repos this run has not seen yet that are to be offered."""
        ctx, store = self.ctx, self.ctx.store
        if page.not_modified:
            fresh = await ctx.db(store.pages.reuse, ctx.run_id, page)
            left_out: dict[str, str] = {}
        else:
            left_out = await self.selection.left_out_by_metadata(page.repos)
            fresh = await ctx.db(store.pages.record, ctx.run_id, page, page.repos, left_out)
            if not self._said_ssh_only and PRIVATE_OVER_SSH_ONLY in left_out.values():
                self._said_ssh_only = True
                ctx.notice(
                    f"{ctx.settings.provider} serves private repos over ssh only: this https run skips them "
                    "(run with --protocol ssh to back them up)"
                )
        if fresh and not ctx.case_twins and not ctx.settings.dry_run:  # a dry run has no workers to tell
            ctx.case_twins = await ctx.db(store.repos.any_case_twin, ctx.run_id, [item.repo.rel_path for item in fresh])
        ctx.stats.count(listed=len(fresh))
        ctx.emit(PageListed(number=number, repos=len(fresh), cached=page.not_modified))
        return self._without(fresh, left_out) if left_out else fresh

    async def _first_page(self) -> tuple[str, httpx.Response]:
        """The org listing, or the user listing when the owner is a user; a clear error when neither exists."""
        settings = self.ctx.settings
        for index, url in enumerate(self.provider.first_urls()):
            own = None
            if index or self.provider.own_listing_first:
                own = await own_listing(self.client, self.provider, self.ctx.settings)
                url = own or url
            etag, _ = await self.ctx.db(self.ctx.store.pages.cache, url)
            try:
                response = await fetch_page(self.client, self.provider, url, etag=etag if self.conditional else None, quiet_404=True)
            except NotFoundError:
                continue
            if settings.affiliation and (not index or own is None):
                self.ctx.notice(
                    f"--affiliation ignored: it selects among the repos of a GitHub user listed with that user's own token, "
                    f"and {settings.owner} is {'an organisation' if not index else 'not the token owner'}"
                )
            if (index or self.provider.own_listing_first) and own is None and self.provider.own_listing() is not None:
                self.ctx.notice(self.provider.own_listing_note())
            return url, response
        if settings.instance:
            raise NotFoundError(
                f"{settings.provider} at {urlsplit(settings.api_base).netloc} has no instance listing at "
                f"{urlsplit(self.provider.first_urls()[0]).path}; check --base-url (the API root)"
            )
        hint = "" if settings.token else " (if it is private, pass a token that can see it)"
        raise NotFoundError(
            f"{settings.provider} owner {settings.owner!r} not found at {urlsplit(settings.api_base).netloc}{hint}; check the spelling"
        )

    async def offer(self, item: StoredRepo) -> None:
        """Filter (``selection``), then put into the buffer — blocking while it is full (backpressure)."""
        ctx, stats, repo = self.ctx, self.ctx.stats, item.repo
        skip = self.selection.reason(repo)
        if skip:
            ctx.ack(Ack(repo.key, RepoStatus.SKIPPED, error_message=skip))
            stats.count(skipped=1)
            ctx.emit(RepoSkipped(repo=repo.full_name, reason=skip))
            return
        stats.count(selected=1)
        if ctx.settings.dry_run:
            action, why = planned_action(item, ctx, self.provider.info.signal_window)
            self.planned[action] += 1
            ctx.emit(RepoPlanned(repo=repo.full_name, action=action, reason=why))
            return
        assert self._lane is not None and self._put is not None
        if self._lane.full:
            stats.lister_state = ListerState.BLOCKED
        await self._put(item)
        if stats.lister_state == ListerState.BLOCKED:
            stats.lister_state = ListerState.FETCHING

    def _without(self, fresh: list[StoredRepo], left_out: dict[str, str]) -> list[StoredRepo]:
        """``fresh`` minus the repos left out (already journaled as skipped), each counted and reported."""
        ctx, kept = self.ctx, []
        for item in fresh:
            reason = left_out.get(item.repo.key)
            if reason:
                ctx.stats.count(skipped=1)
                ctx.emit(RepoSkipped(repo=item.repo.full_name, reason=reason))
            else:
                kept.append(item)
        return kept


class _PageAhead:
    """The next listing page, fetched while the current one is parsed, journaled and queued; its outcome (the
    stored ``next`` link and the response, or the error) is handed over where the request would otherwise be made.

    ``sent`` is set once the request has gone out (or failed): the lister waits for it before it parses, since
    parsing holds the event loop and a request not yet written would wait for it."""

    def __init__(self, url: str, stored_next: str | None) -> None:
        self.url = url
        self.stored_next = stored_next
        self.sent = anyio.Event()
        self._done = anyio.Event()
        self._outcome: tuple[str | None, httpx.Response] | None = None
        self._error: Exception | None = None

    async def fetch(self, client: ApiClient, provider: Provider, etag: str | None) -> None:
        try:
            self._outcome = self.stored_next, await fetch_page(client, provider, self.url, etag=etag, on_sent=self.sent.set)
        except Exception as exc:  # noqa: BLE001 -- raised by result(), in the lister's own order
            self._error = exc
        finally:
            self.sent.set()
            self._done.set()

    async def result(self) -> tuple[str | None, httpx.Response]:
        await self._done.wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        assert self._outcome is not None
        outcome, self._outcome = self._outcome, None
        return outcome
