"""GitLab (gitlab.com or self-hosted): every project of a group tree, subgroup folders kept, or of a
user's personal namespace (``/users/:username/projects``) when the name is a user's.

``/groups/:id/projects`` only has offset pagination; above 10,000 results GitLab drops ``X-Total``,
``X-Total-Pages`` and ``rel="last"``, so the walk follows ``rel="next"`` (or ``X-Next-Page``) only.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx

from gz_tui.forges.gitea import api_root
from gz_tui.forges.provider import Provider, text_field, topics_field
from gz_tui.forges.records import ProviderInfo, RemoteRepo
from gz_tui.forges.responses import error_message
from gz_tui.kinds import ProviderName

PER_PAGE = 100


class GitLab(Provider):
    info = ProviderInfo(
        name=ProviderName.GITLAB,
        default_base_url="https://gitlab.com",
        token_env_vars=("GITLAB_TOKEN",),
        git_username="oauth2",
        nested=True,
        archived_filtered_by_server=True,
    )
    total_header = "x-total"
    rate_prefix = "ratelimit-"

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"PRIVATE-TOKEN": token}

    def first_urls(self) -> list[str]:
        api = api_root(self.base_url, "/api/v4")
        params = {
            "include_subgroups": "true",
            "with_shared": "false",
            "order_by": "id",
            "sort": "asc",
            "per_page": str(PER_PAGE),
        }
        if self.skip_archived:
            params["archived"] = "false"
        if self.topic_filtered_by_server:
            params["topic"] = self.topics[0]
        name = quote(self.owner, safe="")
        urls = [f"{api}/groups/{name}/projects?{urlencode(params)}"]
        if "/" not in self.owner:  # a top-level name may be a user's personal namespace instead
            personal = {key: value for key, value in params.items() if key not in ("include_subgroups", "with_shared")}
            urls.append(f"{api}/users/{name}/projects?{urlencode({'owned': 'true', **personal})}")
        return urls

    @property
    def topic_filtered_by_server(self) -> bool:
        """GitLab's ``topic=a,b`` keeps projects with *all* of them; ``--topic`` is any-of, so only one goes there."""
        return len(self.topics) == 1

    def language_url(self, repo: RemoteRepo) -> str | None:
        """GitLab's listing carries no language: ``/projects/:id/languages`` (one request a repo) does."""
        return f"{api_root(self.base_url, '/api/v4')}/projects/{quote(repo.key, safe='')}/languages"

    def parse_language(self, response: httpx.Response) -> str | None:
        body = response.json()
        if not isinstance(body, dict):
            return None
        shares = {name: share for name, share in body.items() if isinstance(name, str) and isinstance(share, (int, float))}
        return max(shares, key=lambda name: shares[name]) if shares else None

    def next_url(self, url: str, response: httpx.Response) -> str | None:
        found = super().next_url(url, response)
        if found is None:
            next_page = response.headers.get("x-next-page", "").strip()
            if next_page:
                found = _with_page(url, next_page)
        return found

    def parse_repo(self, item: object) -> RemoteRepo | None:
        if not isinstance(item, dict) or item.get("id") is None:
            return None
        full = text_field(item, "path_with_namespace")
        if full is None:
            return None
        namespace = full.rsplit("/", 1)[0] if "/" in full else ""
        prefix = self.owner.lower() + "/"
        inside = full.lower().startswith(prefix)
        return RemoteRepo(
            key=str(item["id"]),
            full_name=full,
            rel_path=full[len(prefix) :] if inside else full,
            clone_url=text_field(item, "http_url_to_repo") or "",
            ssh_url=text_field(item, "ssh_url_to_repo"),
            archived=item.get("archived") is True,
            fork=isinstance(item.get("forked_from_project"), dict),
            has_wiki=_wiki_enabled(item),
            pushed_at=text_field(item, "last_activity_at"),
            default_branch=text_field(item, "default_branch"),
            owner=self.owner if inside else namespace,
            topics=topics_field(item, "topics", "tag_list"),
        )

    def forbidden_message(self, response: httpx.Response) -> str:
        return f"access forbidden: {error_message(response)} (does the token have the read_api scope?)"


def _wiki_enabled(item: dict[str, object]) -> bool:
    """``wiki_access_level`` (GitLab 12.10+; ``disabled``, ``private`` or ``enabled``), else the older ``wiki_enabled``."""
    level = item.get("wiki_access_level")
    if isinstance(level, str):
        return level != "disabled"
    return item.get("wiki_enabled") is True


def _with_page(url: str, page: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    query.append(("page", page))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
