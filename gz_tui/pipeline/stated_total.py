"""How many repos the forge says the owner has, and whether the listing yielded them all.

The count comes with the pages where the forge sends it (GitLab's ``X-Total``, Gitea's ``X-Total-Count``,
Bitbucket's ``size``); GitHub states it only at ``/orgs/{org}``, asked once beside the listing. That question never
holds back repos already in hand: it runs in a task of its own while the pages go on, and it is not asked at all
while the quota is short (its slot is a page's). A prune depends on the count, so before one it is asked (or
awaited) in any case. A listing that yields fewer repos than the most the forge stated has missed some (a repo
deleted behind the cursor shifts every later one back a place): said, recorded, and prune refuses after it.
"""

from __future__ import annotations

import anyio
from anyio.abc import TaskGroup

from gz_tui.forges.errors import ForgeError
from gz_tui.forges.http import ApiClient
from gz_tui.forges.provider import Provider
from gz_tui.pipeline.context import RunContext

QUOTA_SHORT = 50
"""With fewer API requests than this left, the count is not asked beside the listing (it would take a page's slot)."""


class StatedTotal:
    """One listing's view of the forge's own count (``stated``) and of its completeness (``incomplete``)."""

    def __init__(self, ctx: RunContext, client: ApiClient, provider: Provider) -> None:
        self.ctx = ctx
        self.client = client
        self.provider = provider
        self.stated: int | None = None
        """The most repos the forge said the owner has during this listing (a total shrinks with a deletion mid-walk)."""
        self.incomplete: str | None = None
        """Why this complete listing cannot prove it holds every repo (fewer listed than the forge stated); prune refuses."""
        self._asked: anyio.Event | None = None
        self._beside = anyio.CancelScope()
        """The question asked beside the listing: cancelled when the listing ends and nothing depends on it (a count
        waiting for an exhausted quota must not keep a finished listing open for an hour)."""

    def saw(self, total: int) -> None:
        """A count the forge sent with a page."""
        self.stated = max(self.stated or 0, total)
        self.ctx.stats.expected = self.stated

    def ask_beside(self, group: TaskGroup) -> None:
        """Ask for the count in ``group``, beside the listing, unless it is known, asked already, or the quota short."""
        stats = self.ctx.stats
        if self._asked is not None or stats.counts.total is not None or not self.provider.total_url():
            return
        if stats.rate.remaining is not None and stats.rate.remaining < QUOTA_SHORT:
            return
        self._asked = anyio.Event()
        group.start_soon(self._ask_beside, self._asked)

    async def prove_complete(self) -> None:
        """After the last page: compare what the listing yielded with what the forge stated, and record both."""
        ctx = self.ctx
        if self.stated is None and ctx.settings.prune:
            await self._ask_now()  # asked once when a prune depends on it
        else:
            self._beside.cancel()
        listed = await ctx.db(ctx.store.repos.listed_count, ctx.run_id)
        await ctx.db(ctx.store.pages.set_expected, ctx.run_id, listed, self.stated)
        if self.stated is not None and listed < self.stated:
            self.incomplete = (
                f"the listing yielded {listed:,} repos but the forge says {ctx.settings.owner} has {self.stated:,} "
                "(repos deleted or made while it paged shift the pages); run again"
            )
            ctx.notice(f"incomplete listing: {self.incomplete}")

    async def _ask_now(self) -> None:
        if self._asked is None:
            self._asked = anyio.Event()
            await self._ask(self._asked)
        else:
            await self._asked.wait()

    async def _ask_beside(self, done: anyio.Event) -> None:
        with self._beside:
            await self._ask(done)
        done.set()

    async def _ask(self, done: anyio.Event) -> None:
        try:
            url = self.provider.total_url()
            if not url:
                return
            try:
                response = await self.client.get(url, quiet_404=True)
                total = self.provider.parse_total(response)
            except (ForgeError, ValueError):
                return
            if total:
                self.ctx.stats.set_total(total)
                self.saw(total)
        finally:
            done.set()
