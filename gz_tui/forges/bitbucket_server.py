"""Bitbucket Data Center (formerly Server), self-hosted: a project's repositories, or a user's.

``GET {base}/rest/api/1.0/projects/{KEY}/repos`` (a user's personal repos: owner ``~SLUG``, or the user's slug, then
``/users/{slug}/repos``), paged by ``start`` and ``limit``: the body says whether this is the last page
(``isLastPage``) and where the next one starts (``nextPageStart``). ``size`` is the number of repos on *this* page,
never a total, and ``nextPageStart`` need not be ``start + size`` (the server skips what the caller may not see), so
it is read, never computed. ``limit=1000`` is the usual cap; the server applies its own (an admin setting).

There is no public instance: ``--base-url`` names the server, with its context path if it has one
(``https://git.example.com/bitbucket``). An HTTP access token (personal, project or repository) goes as
``Authorization: Bearer`` to the API and to git (project and repository tokens work with Bearer only); a credential
written ``USER:TOKEN`` (or ``USER:PASSWORD`` on a server without tokens) goes as Basic to both.

The listing carries no change signal: ``pushed_at`` stays empty, so every repo is fetched on every sync. The stable id
is the numeric ``id``; clone links are ``http`` (plain http on an internal host needs ``--insecure-http``) and ``ssh``
(``ssh://git@HOST:7999/key/slug.git``); forks name their ``origin``; recent servers say ``archived``.

``--all``: ``/rest/api/1.0/repos``, every repository the token may see, paged the same way; each lands at
``DEST/KEY/SLUG`` (a user's personal repo at ``DEST/_users/SLUG/REPO``: ``~`` is no folder name gz-tui makes).
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx

from gz_tui.forges.bitbucket import api_root, atlassian_error, clone_links, user_and_secret
from gz_tui.forges.provider import Provider, basic_credentials, json_body, text_field
from gz_tui.forges.records import Page, ProviderInfo, RateInfo, RemoteRepo
from gz_tui.forges.responses import RESET_HORIZON, int_header
from gz_tui.kinds import ProviderName

LIMIT = 1000


class BitbucketServer(Provider):
    """The Bitbucket Data Center REST 1.0 dialect (``{base}/rest/api/1.0``)."""

    info = ProviderInfo(
        name=ProviderName.BITBUCKET_SERVER,
        default_base_url="",
        token_env_vars=("BITBUCKET_SERVER_TOKEN",),
        ghorg_token_vars=("GHORG_BITBUCKET_API_TOKEN", "GHORG_BITBUCKET_APP_PASSWORD", "GHORG_BITBUCKET_OAUTH_TOKEN"),
        git_username="",  # git_auth_header sends the token as Bearer: Basic needs the token owner's own user name
        instance_listing=True,
    )

    def auth_headers(self, token: str) -> dict[str, str]:
        pair = user_and_secret(token)
        return {"Authorization": basic_credentials(*pair) if pair else f"Bearer {token}"}

    @classmethod
    def git_auth_header(cls, token: str) -> str:
        pair = user_and_secret(token)
        return f"Authorization: {basic_credentials(*pair) if pair else f'Bearer {token}'}"

    def first_urls(self) -> list[str]:
        api = api_root(self.base_url, "/rest/api/1.0")
        query = urlencode({"start": "0", "limit": str(LIMIT)})
        if self.instance:
            return [f"{api}/repos?{query}"]
        name = quote(self.owner, safe="~")
        if self.owner.startswith("~"):
            return [f"{api}/projects/{name}/repos?{query}"]
        return [f"{api}/projects/{name}/repos?{query}", f"{api}/users/{name}/repos?{query}"]

    def lookup_urls(self, key: str, rel_path: str) -> list[str]:
        """By name, as a project's repo and as a user's (the owner may be either); gone when neither knows this id."""
        api, name, slug = api_root(self.base_url, "/rest/api/1.0"), quote(self.owner, safe="~"), quote(rel_path, safe="")
        urls = [f"{api}/projects/{name}/repos/{slug}"]
        return urls if self.owner.startswith("~") else [*urls, f"{api}/users/{name}/repos/{slug}"]

    def next_url(self, url: str, response: httpx.Response) -> str | None:
        """This page's URL starting at ``nextPageStart``, unless ``isLastPage``; none on a 304 or a body that says
        nothing usable (:meth:`parse_page` then refuses the page)."""
        if response.status_code == 304:
            return None
        try:
            body = json_body(response)
        except ValueError:
            return None
        if not isinstance(body, dict) or body.get("isLastPage") is not False:
            return None
        start = body.get("nextPageStart")
        if not isinstance(start, int) or isinstance(start, bool) or start <= _start_of(url):
            return None
        return _with_start(url, start)

    def parse_page(self, url: str, response: httpx.Response) -> Page:
        next_url = self.next_url(url, response)
        if response.status_code == 304:
            return Page(url=url, repos=[], next_url=next_url, etag=response.headers.get("etag"), not_modified=True)
        body = json_body(response)
        if not isinstance(body, dict) or not isinstance(values := body.get("values"), list):
            raise ValueError("expected a page with a list of values")
        if body.get("isLastPage") is not True and next_url is None:
            raise ValueError("the page is not the last one but names no later nextPageStart")
        repos = [repo for item in values if (repo := self.parse_repo(item)) is not None]
        return Page(url=url, repos=repos, next_url=next_url, etag=response.headers.get("etag"))

    def parse_repo(self, item: object) -> RemoteRepo | None:
        if not isinstance(item, dict):
            return None
        number, slug = item.get("id"), text_field(item, "slug")
        project = item.get("project")
        key = text_field(project, "key") if isinstance(project, dict) else None
        if not isinstance(number, int) or isinstance(number, bool) or not slug or not key:
            return None
        # The owner as the user wrote it when the project is theirs (``acme`` for ``ACME``, ``alice`` for ``~ALICE``).
        owner = self.owner if key.lower() in (self.owner.lower(), "~" + self.owner.lower().lstrip("~")) else key
        clone_url, ssh_url = clone_links(item, "http")
        folder = f"_users/{key[1:]}" if key.startswith("~") else key
        return RemoteRepo(
            key=str(number),
            full_name=f"{owner}/{slug}",
            rel_path=f"{folder}/{slug}" if self.instance else slug,
            clone_url=clone_url,
            ssh_url=ssh_url,
            archived=item.get("archived") is True,
            fork=isinstance(item.get("origin"), dict),
            owner=owner,
            private=item.get("public") is False,
        )

    def rate_info(self, response: httpx.Response, now: float) -> RateInfo:
        """Data Center's token bucket: ``X-RateLimit-Remaining`` tokens left; when none is, ``Retry-After`` (else
        ``X-RateLimit-Interval-Seconds``, the refill period) says when the next one comes."""
        rate = super().rate_info(response, now)
        if rate.remaining == 0 and rate.reset_at is None:
            wait = rate.retry_after if rate.retry_after is not None else int_header(response, "x-ratelimit-interval-seconds")
            if wait is not None and wait > 0:
                return replace(rate, reset_at=now + min(max(wait, 0), RESET_HORIZON))
        return rate

    def forbidden_message(self, response: httpx.Response) -> str:
        return f"access forbidden: {atlassian_error(response)} (does the token have PROJECT_READ / REPO_READ?)"


def _start_of(url: str) -> int:
    value = dict(parse_qsl(urlsplit(url).query)).get("start", "0")
    return int(value) if value.isdigit() else 0


def _with_start(url: str, start: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "start"]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode([("start", str(start)), *query]), ""))
