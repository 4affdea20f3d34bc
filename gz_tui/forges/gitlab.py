"""GitLab (gitlab.com or self-hosted): every project of a group tree, subgroup folders kept, or of a
user's personal namespace (``/users/:username/projects``) when the name is a user's.

``/groups/:id/projects`` only has offset pagination; above 10,000 results GitLab drops ``X-Total``,
``X-Total-Pages`` and ``rel="last"``, so the walk follows ``rel="next"`` (or ``X-Next-Page``) only.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx

from gz_tui.forges.base import Page, ProviderInfo, RateInfo, RemoteRepo
from gz_tui.forges.http import error_message, int_header, parse_link_header, rate_from_headers

PER_PAGE = 100


def api_root(base_url: str, suffix: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith(suffix) else base + suffix


class GitLab:
    info = ProviderInfo(name="gitlab", git_username="oauth2", nested=True, archived_filtered_by_server=True)

    def __init__(self, base_url: str, *, skip_archived: bool = False) -> None:
        self.api = api_root(base_url, "/api/v4")
        self.skip_archived = skip_archived
        self.group = ""

    def default_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"PRIVATE-TOKEN": token}

    def first_urls(self, owner: str) -> list[str]:
        self.group = owner.strip("/")
        params = {
            "include_subgroups": "true",
            "with_shared": "false",
            "order_by": "id",
            "sort": "asc",
            "per_page": str(PER_PAGE),
        }
        if self.skip_archived:
            params["archived"] = "false"
        urls = [f"{self.api}/groups/{quote(self.group, safe='')}/projects?{urlencode(params)}"]
        if "/" not in self.group:  # a top-level name may be a user's personal namespace instead
            personal = {key: value for key, value in params.items() if key not in ("include_subgroups", "with_shared")}
            urls.append(f"{self.api}/users/{quote(self.group, safe='')}/projects?{urlencode({'owned': 'true', **personal})}")
        return urls

    def own_listing(self, owner: str) -> tuple[str, str] | None:
        """Group listings already include private projects the token can see."""
        return None

    def total_url(self, owner: str) -> str | None:
        return None

    def parse_total(self, response: httpx.Response) -> int | None:
        return None

    def parse_page(self, url: str, response: httpx.Response) -> Page:
        links = parse_link_header(response.headers.get("link", ""))
        next_url = links.get("next")
        if next_url is None:
            next_page = response.headers.get("x-next-page", "").strip()
            if next_page:
                next_url = _with_page(url, next_page)
        etag = response.headers.get("etag")
        total = int_header(response, "x-total")
        if response.status_code == 304:
            return Page(url=url, repos=[], next_url=next_url, etag=etag, not_modified=True, total=total)
        body = response.json()
        if not isinstance(body, list):
            raise ValueError("expected a JSON list of projects")
        repos = [repo for item in body if (repo := self.parse_project(item)) is not None]
        return Page(url=url, repos=repos, next_url=next_url, etag=etag, total=total)

    def parse_project(self, item: object) -> RemoteRepo | None:
        if not isinstance(item, dict) or item.get("id") is None:
            return None
        full = item.get("path_with_namespace")
        if not isinstance(full, str):
            return None
        namespace = full.rsplit("/", 1)[0] if "/" in full else ""
        prefix = self.group.lower() + "/"
        inside = full.lower().startswith(prefix)
        http_url = item.get("http_url_to_repo")
        ssh_url = item.get("ssh_url_to_repo")
        return RemoteRepo(
            key=str(item["id"]),
            full_name=full,
            rel_path=full[len(prefix):] if inside else full,
            clone_url=http_url if isinstance(http_url, str) else "",
            ssh_url=ssh_url if isinstance(ssh_url, str) else None,
            archived=item.get("archived") is True,
            fork=isinstance(item.get("forked_from_project"), dict),
            pushed_at=item.get("last_activity_at") if isinstance(item.get("last_activity_at"), str) else None,
            default_branch=item.get("default_branch") if isinstance(item.get("default_branch"), str) else None,
            owner=self.group if inside else namespace,
        )

    def rate_info(self, response: httpx.Response, now: float) -> RateInfo:
        return rate_from_headers(response, now, "ratelimit-")

    def is_secondary_limit(self, response: httpx.Response) -> bool:
        return False

    def forbidden_message(self, response: httpx.Response) -> str:
        return f"access forbidden: {error_message(response)} (does the token have the read_api scope?)"


def _with_page(url: str, page: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    query.append(("page", page))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
