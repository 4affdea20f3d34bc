"""Unit tests of the HTTP client's rate-limit classification (httpx MockTransport; the e2e tests use the forge)."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from gz_tui.clock import FakeClock
from gz_tui.forges.errors import AuthError, ForbiddenError, PageError
from gz_tui.forges.gitea import Gitea
from gz_tui.forges.github import GitHub, parse_repo
from gz_tui.forges.gitlab import GitLab
from gz_tui.forges.http import ApiClient, RetryPolicy

BASE = "https://api.example.test"


def respond(*responses: httpx.Response) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    queue = list(responses)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    return httpx.MockTransport(handler), seen


def get(
    transport: httpx.MockTransport, clock: FakeClock, token: str | None = "tok", waits: list[tuple[str, float]] | None = None
) -> httpx.Response:
    async def main() -> httpx.Response:
        client = ApiClient(
            GitHub(BASE, "acme"),
            BASE,
            token,
            clock=clock,
            transport=transport,
            on_wait=(lambda k, s, u: waits.append((k, round(s, 3)))) if waits is not None else None,
            policy=RetryPolicy(backoff_base=1.0),
        )
        async with client:
            return await client.get(f"{BASE}/orgs/acme/repos")

    return anyio.run(main)


def test_secondary_limit_with_retry_after_waits_exactly_that() -> None:
    clock, waits = FakeClock(), list[tuple[str, float]]()
    body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
    transport, seen = respond(httpx.Response(403, json=body, headers={"retry-after": "42"}), httpx.Response(200, json=[]))
    assert get(transport, clock, waits=waits).status_code == 200
    assert waits[0] == ("secondary", 42.0)
    assert len(seen) == 2


def test_secondary_limit_without_retry_after_waits_at_least_a_minute_then_doubles() -> None:
    clock, waits = FakeClock(), list[tuple[str, float]]()
    body = {"message": "You have exceeded a secondary rate limit."}
    transport, _ = respond(httpx.Response(429, json=body), httpx.Response(403, json=body), httpx.Response(200, json=[]))
    get(transport, clock, waits=waits)
    assert [w for w in waits if w[0]] == [("secondary", 60.0), ("secondary", 120.0)]


def test_primary_limit_waits_until_reset_plus_one_second() -> None:
    clock, waits = FakeClock(), list[tuple[str, float]]()
    reset = int(clock.now()) + 300
    limited = httpx.Response(
        403,
        json={"message": "API rate limit exceeded for user ID 1."},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-limit": "5000", "x-ratelimit-reset": str(reset)},
    )
    transport, _ = respond(limited, httpx.Response(200, json=[]))
    get(transport, clock, waits=waits)
    assert waits[0][0] == "primary"
    assert clock.now() >= reset + 1


def test_a_200_with_remaining_zero_makes_the_next_request_wait() -> None:
    clock = FakeClock()
    reset = int(clock.now()) + 100
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-limit": "60", "x-ratelimit-reset": str(reset)}
    transport, seen = respond(httpx.Response(200, json=[], headers=headers), httpx.Response(200, json=[]))

    async def main() -> list[float]:
        times = []
        async with ApiClient(GitHub(BASE, "acme"), BASE, None, clock=clock, transport=transport) as client:
            for _ in range(2):
                await client.get(f"{BASE}/x")
                times.append(clock.now())
        return times

    times = anyio.run(main)
    assert times[1] >= reset + 1


def test_401_is_not_retried_and_other_403_names_sso() -> None:
    clock = FakeClock()
    transport, seen = respond(httpx.Response(401, json={"message": "Bad credentials"}))
    with pytest.raises(AuthError, match="rejected the credentials"):
        get(transport, clock)
    assert len(seen) == 1
    sso = httpx.Response(
        403,
        json={"message": "Resource protected by organization SAML enforcement."},
        headers={"x-github-sso": "required; url=https://github.com/orgs/acme/sso?authorization_request=1"},
    )
    transport, seen = respond(sso)
    with pytest.raises(ForbiddenError, match="single sign-on"):
        get(transport, clock)
    assert len(seen) == 1


def test_5xx_is_retried_with_backoff_then_gives_up() -> None:
    clock, waits = FakeClock(), list[tuple[str, float]]()
    transport, seen = respond(*[httpx.Response(502, text="bad gateway") for _ in range(5)])
    with pytest.raises(PageError):
        get(transport, clock, waits=waits)
    assert len(seen) == 5
    assert [k for k, _ in waits if k] == ["backoff"] * 4


def test_token_is_not_sent_to_another_origin() -> None:
    clock = FakeClock()
    transport, seen = respond(httpx.Response(200, json=[]))

    async def main() -> None:
        async with ApiClient(GitHub(BASE, "acme"), BASE, "tok", clock=clock, transport=transport) as client:
            await client.get("https://elsewhere.test/orgs/acme/repos")

    anyio.run(main)
    assert "authorization" not in seen[0].headers


def test_next_links_as_each_forge_sends_them_and_tolerant_repo_parsing() -> None:
    github = GitHub(BASE, "acme")
    page = github.parse_page(
        f"{BASE}/orgs/acme/repos",
        httpx.Response(
            200, json=[], headers={"link": '<https://a/organizations/1/repos?page=2>; rel="next", <https://a/x?page=9>; rel="last"'}
        ),
    )
    assert page.next_url == "https://a/organizations/1/repos?page=2"
    gitea = Gitea(BASE, "acme").parse_page(  # Gitea joins links with "," and no space
        f"{BASE}/api/v1/orgs/acme/repos?page=1",
        httpx.Response(200, json=[], headers={"link": '<a?page=2>; rel="next",<a?page=5>; rel="last"', "x-total-count": "120"}),
    )
    assert gitea.next_url == "a?page=2" and gitea.total == 120
    gitlab = GitLab(BASE, "acme").parse_page(  # no Link (above 10,000 projects some versions send only X-Next-Page)
        f"{BASE}/api/v4/groups/acme/projects?per_page=100&page=3",
        httpx.Response(200, json=[], headers={"x-next-page": "4"}),
    )
    assert gitlab.next_url == f"{BASE}/api/v4/groups/acme/projects?per_page=100&page=4"
    repo = parse_repo({"id": 7, "name": "x", "full_name": "acme/x", "pushed_at": None, "archived": None})
    assert repo is not None and repo.pushed_at is None and repo.archived is False and repo.clone_url == ""
    assert parse_repo({"name": "no id"}) is None
    assert json.dumps(repo.key) == '"7"'
