"""Gitea and Forgejo (Codeberg included): ``/api/v1/orgs/{org}/repos``, then the user of that name; with ``--all``,
``/api/v1/repos/search`` (every repo the token may see, in a ``{"ok": true, "data": [...]}`` envelope).

Servers silently clamp ``limit`` to ``MAX_RESPONSE_ITEMS`` (50 as shipped, raised on some instances), so a short page
never means the end: only a missing ``rel="next"`` does. Before listing, the provider asks the server what it is
(``/api/v1/version``: Forgejo v7 and later say ``9.0.0+gitea-1.22.0``, Gitea a plain ``1.23.0``) and its cap
(``/api/v1/settings/api`` ``max_response_items``), and pages at that cap. Repo objects carry no ``pushed_at``:
``updated_at`` (which moves on every push, and on settings changes) is the change signal.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

import httpx

from gz_tui.forges.github import parse_repo
from gz_tui.forges.provider import Provider, json_body, text_field
from gz_tui.forges.records import Page, ProviderInfo, RemoteRepo
from gz_tui.kinds import ProviderName

LIMIT = 50
"""``MAX_RESPONSE_ITEMS`` as Gitea and Forgejo ship it: the page size when the server does not say its own."""
LIMIT_MOST = 1000
"""The largest cap taken from a server's word (a page of 1,000 repos is about 5 MB)."""
_FORGEJO_MARK = "+gitea-"


def api_root(base_url: str, suffix: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith(suffix) else base + suffix


def server_name(version: str) -> str:
    """``Forgejo 9.0.0`` for Forgejo's ``9.0.0+gitea-1.22.0``, else ``Gitea 1.23.0`` (Forgejo before v7 said a plain
    Gitea version too, and cannot be told apart)."""
    if _FORGEJO_MARK in version:
        return f"Forgejo {version.split(_FORGEJO_MARK, 1)[0]}"
    return f"Gitea {version}"


class Gitea(Provider):
    info = ProviderInfo(
        name=ProviderName.GITEA,
        default_base_url="https://codeberg.org",
        token_env_vars=("GITEA_TOKEN",),
        ghorg_token_vars=("GHORG_GITEA_TOKEN",),
        git_username="gz-tui",
        instance_listing=True,
        starred=True,
    )
    total_header = "x-total-count"
    limit = LIMIT
    """The page size asked for: the server's ``max_response_items`` once :meth:`read_probe` has read it."""

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"token {token}"}

    def probe_urls(self) -> list[str]:
        api = api_root(self.base_url, "/api/v1")
        return [f"{api}/version", f"{api}/settings/api"]

    def read_probe(self, url: str, response: httpx.Response) -> None:
        body = json_body(response)
        if not isinstance(body, dict):
            return
        version = text_field(body, "version")
        if url.endswith("/version") and version:
            self.server = server_name(version.strip()[:60])
        cap = body.get("max_response_items")
        if url.endswith("/settings/api") and isinstance(cap, int) and not isinstance(cap, bool) and cap > 0:
            self.limit = min(cap, LIMIT_MOST)

    @property
    def page_size(self) -> int | None:
        return self.limit

    def first_urls(self) -> list[str]:
        api = api_root(self.base_url, "/api/v1")
        if self.instance:
            return [f"{api}/repos/search?sort=id&order=asc&limit={self.limit}&page=1"]
        name = quote(self.owner, safe="")
        if self.starred:
            return [f"{api}/users/{name}/starred?limit={self.limit}&page=1"]
        return [f"{api}/orgs/{name}/repos?limit={self.limit}&page=1", f"{api}/users/{name}/repos?limit={self.limit}&page=1"]

    def parse_page(self, url: str, response: httpx.Response) -> Page:
        if not self.instance or response.status_code == 304:
            return super().parse_page(url, response)
        body = json_body(response)
        if not isinstance(body, dict) or not isinstance(data := body.get("data"), list):
            raise ValueError("expected a search result with a list of data")
        total = response.headers.get(self.total_header or "")
        repos = [repo for item in data if (repo := self.parse_repo(item)) is not None]
        next_url = self.next_url(url, response)
        return Page(
            url=url,
            repos=repos,
            next_url=next_url,
            etag=response.headers.get("etag"),
            total=int(total) if (total or "").isdigit() else None,
        )

    def topics_url(self, repo: RemoteRepo) -> str | None:
        """Gitea before 1.23 lists no ``topics``: ``/repos/{owner}/{repo}/topics`` (every version) does."""
        return self._repo_url(repo, "topics")

    def language_url(self, repo: RemoteRepo) -> str | None:
        """Gitea before 1.17 lists no ``language``: ``/repos/{owner}/{repo}/languages`` (bytes per language) does."""
        return self._repo_url(repo, "languages")

    def _repo_url(self, repo: RemoteRepo, part: str) -> str:
        owner, _, name = repo.full_name.partition("/")
        return f"{api_root(self.base_url, '/api/v1')}/repos/{quote(owner, safe='')}/{quote(name, safe='')}/{part}"

    def viewer_url(self) -> str | None:
        return f"{api_root(self.base_url, '/api/v1')}/user"

    def lookup_urls(self, key: str, rel_path: str) -> list[str]:
        """``/repositories/{id}``: 404 once deleted; a renamed repo answers with its name of now."""
        return [f"{api_root(self.base_url, '/api/v1')}/repositories/{quote(key, safe='')}"] if key.isdigit() else []

    def star_check_url(self, key: str, rel_path: str) -> tuple[str, bool] | None:
        """``GET /user/starred/{owner}/{repo}``: 204 if the token's user stars it, 404 if not (their own token only)."""
        owner, _, name = rel_path.partition("/")
        return f"{api_root(self.base_url, '/api/v1')}/user/starred/{quote(owner, safe='')}/{quote(name, safe='')}", True

    def parse_repo(self, item: object) -> RemoteRepo | None:
        if isinstance(item, dict) and isinstance(item.get("pushed_at"), str):
            repo = parse_repo(item)  # a forge that does send pushed_at (Forgejo may, one day): the sharper signal
        else:
            repo = parse_repo(item, change_signal="updated_at")
        if repo is not None and (self.instance or self.starred) and repo.owner:
            return replace(repo, rel_path=f"{repo.owner}/{repo.rel_path}")  # DEST/OWNER/NAME
        return repo
