"""Gitea and Forgejo (Codeberg included): ``/api/v1/orgs/{org}/repos``, then the user of that name.

Servers silently clamp ``limit`` to ``MAX_RESPONSE_ITEMS`` (50 by default), so a short page never
means the end: only a missing ``rel="next"`` does.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from gz_tui.forges.base import Page, ProviderInfo, RateInfo
from gz_tui.forges.github import parse_repo
from gz_tui.forges.gitlab import api_root
from gz_tui.forges.http import error_message, int_header, parse_link_header, rate_from_headers

LIMIT = 50


class Gitea:
    info = ProviderInfo(name="gitea", git_username="gz-tui")

    def __init__(self, base_url: str) -> None:
        self.api = api_root(base_url, "/api/v1")

    def default_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"token {token}"}

    def first_urls(self, owner: str) -> list[str]:
        name = quote(owner, safe="")
        return [f"{self.api}/orgs/{name}/repos?limit={LIMIT}&page=1", f"{self.api}/users/{name}/repos?limit={LIMIT}&page=1"]

    def own_listing(self, owner: str) -> tuple[str, str] | None:
        """``/users/X/repos`` already includes X's private repos for X's own token."""
        return None

    def total_url(self, owner: str) -> str | None:
        return None

    def parse_total(self, response: httpx.Response) -> int | None:
        return None

    def parse_page(self, url: str, response: httpx.Response) -> Page:
        links = parse_link_header(response.headers.get("link", ""))
        etag = response.headers.get("etag")
        total = int_header(response, "x-total-count")
        if response.status_code == 304:
            return Page(url=url, repos=[], next_url=links.get("next"), etag=etag, not_modified=True, total=total)
        body = response.json()
        if not isinstance(body, list):
            raise ValueError("expected a JSON list of repositories")
        repos = [repo for item in body if (repo := parse_repo(item)) is not None]
        return Page(url=url, repos=repos, next_url=links.get("next"), etag=etag, total=total)

    def rate_info(self, response: httpx.Response, now: float) -> RateInfo:
        return rate_from_headers(response, now)

    def is_secondary_limit(self, response: httpx.Response) -> bool:
        return False

    def forbidden_message(self, response: httpx.Response) -> str:
        return f"access forbidden: {error_message(response)}"
