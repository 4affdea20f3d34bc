"""The lister's request seam, as a forge that pages with POSTed queries (GraphQL) would use it.

A parser-level unit test with ``httpx.MockTransport``: the embedded forge speaks no GraphQL yet, and what is
tested is only how the lister asks for a page — the first page, the page it fetches ahead while the current
one is journaled, and the page a resumed run starts from — once ``Provider.page_request`` says "POST this".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx

from gz_tui.clock import FakeClock
from gz_tui.config import Settings
from gz_tui.forges.github import parse_repo
from gz_tui.forges.http import ApiClient
from gz_tui.forges.provider import Provider
from gz_tui.forges.records import Page, ProviderInfo
from gz_tui.kinds import ProviderName
from gz_tui.pipeline.context import Events, RunContext
from gz_tui.pipeline.lister import Lister
from gz_tui.pipeline.queue import FairQueue
from gz_tui.pipeline.state import StateStore
from gz_tui.pipeline.stats import Stats

BASE = "https://forge.example.test"
ENDPOINT = f"{BASE}/graphql"
PAGES = {None: ("p2", ["one", "two"]), "p2": ("p3", ["three"]), "p3": (None, ["four", "five"])}
"""The owner's listing: cursor → (the next cursor, the repos of that page)."""


class QueryForge(Provider):
    """Pages by POSTing a query; the cursor rides in the page URL (the state's key for the page)."""

    info = ProviderInfo(name=ProviderName.GITEA, default_base_url=BASE, token_env_vars=(), git_username="gz-tui")

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"bearer {token}"}

    def first_urls(self) -> list[str]:
        return [f"{ENDPOINT}?owner={self.owner}"]

    def page_request(self, url: str) -> tuple[str, object] | None:
        after = parse_qs(urlsplit(url).query).get("after", [None])[0]
        return ENDPOINT, {"query": "repositories", "owner": self.owner, "after": after}

    def next_url(self, url: str, response: httpx.Response) -> str | None:
        after = response.json()["next"]
        return f"{ENDPOINT}?owner={self.owner}&after={after}" if after else None

    def parse_page(self, url: str, response: httpx.Response) -> Page:
        repos = [repo for item in response.json()["repos"] if (repo := parse_repo(item)) is not None]
        return Page(url=url, repos=repos, next_url=self.next_url(url, response))


def answer(request: httpx.Request) -> httpx.Response:
    if request.method != "POST" or str(request.url) != ENDPOINT:
        return httpx.Response(404, json={"message": "not found"})
    after = json.loads(request.content)["after"]
    following, names = PAGES[after]
    repos = [{"id": name, "name": name, "full_name": f"acme/{name}", "clone_url": f"{BASE}/acme/{name}.git"} for name in names]
    return httpx.Response(200, json={"repos": repos, "next": following})


def list_all(tmp_path: Path, cursor: str | None) -> tuple[list[str], list[httpx.Request]]:
    """One run's listing into a lane; the names queued and the requests sent."""
    seen: list[httpx.Request] = []
    clock = FakeClock()
    settings = Settings(owner="acme", base_url=BASE, dest=tmp_path / "acme", headless=True)
    stats = Stats(workers=1, clock=clock)
    target = stats.add_target(name="acme", forge="gitea", owner="acme", dest=str(settings.dest), api_host="forge", buffer_capacity=50)
    store = StateStore(tmp_path / f"state-{cursor}.sqlite3", clock=clock.now)

    async def db(function: Any, *args: Any) -> Any:
        return function(*args)

    async def main() -> list[str]:
        provider = QueryForge(BASE, "acme")

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return answer(request)

        transport = httpx.MockTransport(handler)
        async with ApiClient(provider, BASE, None, clock=clock, transport=transport) as client:
            run_id = store.runs.begin(forge="gitea", base_url=BASE, owner="acme", dest=str(settings.dest), options={}, dry_run=False)
            ctx = RunContext(
                settings=settings,
                stats=target,
                run=stats,
                clock=clock,
                dest=settings.dest,
                longest_name=255,
                store=store,
                run_id=run_id,
                db=db,
                ack=lambda ack: None,
                events=Events(None, clock),
            )
            lane = FairQueue[Any]().lane("acme", 50)
            lister = Lister(ctx, client, provider)
            await lister.feed(lane, cursor, False, False, lane.put)
            assert lister.error is None
            return [item.repo.full_name for item in lane.items]

    try:
        return anyio.run(main), seen
    finally:
        store.close()


def test_a_forge_that_posts_its_page_queries_is_listed_through_every_page(tmp_path: Path) -> None:
    names, requests = list_all(tmp_path, None)
    assert names == ["acme/one", "acme/two", "acme/three", "acme/four", "acme/five"]
    assert [(r.method, str(r.url)) for r in requests] == [("POST", ENDPOINT)] * 3  # the first page, then two fetched ahead
    assert [json.loads(r.content)["after"] for r in requests] == [None, "p2", "p3"]


def test_a_resumed_listing_posts_the_query_of_the_page_it_stopped_at(tmp_path: Path) -> None:
    names, requests = list_all(tmp_path, f"{ENDPOINT}?owner=acme&after=p2")
    assert names == ["acme/three", "acme/four", "acme/five"]
    assert [(r.method, json.loads(r.content)["after"]) for r in requests] == [("POST", "p2"), ("POST", "p3")]
