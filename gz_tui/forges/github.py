"""GitHub and GitHub Enterprise: ``/orgs/{owner}/repos``, falling back to ``/users/{owner}/repos``
(or ``/user/repos`` when the token belongs to that user, so private repos are included)."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from gz_tui.forges.base import Page, ProviderInfo, RateInfo, RemoteRepo
from gz_tui.forges.http import error_message, parse_link_header, rate_from_headers

PER_PAGE = 100
_SECONDARY_MARKERS = (
    "secondary rate",
    "abuse detection",
    "you have exceeded a secondary rate limit",
    "please retry your request again later",
)


class GitHub:
    """The GitHub REST dialect (api.github.com, or ``https://HOST/api/v3`` for Enterprise)."""

    info = ProviderInfo(name="github", git_username="x-access-token")

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def default_headers(self) -> dict[str, str]:
        return {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def first_urls(self, owner: str) -> list[str]:
        # created/asc: repos created mid-walk append at the end instead of shifting earlier pages.
        query = f"per_page={PER_PAGE}&sort=created&direction=asc"
        name = quote(owner, safe="")
        return [f"{self.base_url}/orgs/{name}/repos?type=all&{query}", f"{self.base_url}/users/{name}/repos?type=owner&{query}"]

    def own_listing(self, owner: str) -> tuple[str, str] | None:
        """``/users/X/repos`` shows only public repos, even to X's own token: X's private ones are under ``/user/repos``."""
        query = f"affiliation=owner&per_page={PER_PAGE}&sort=created&direction=asc"
        return f"{self.base_url}/user", f"{self.base_url}/user/repos?{query}"

    def total_url(self, owner: str) -> str | None:
        return f"{self.base_url}/orgs/{quote(owner, safe='')}"

    def parse_total(self, response: httpx.Response) -> int | None:
        body = response.json()
        if not isinstance(body, dict):
            return None
        public = body.get("public_repos")
        private = body.get("total_private_repos")
        if not isinstance(public, int):
            return None
        return public + (private if isinstance(private, int) else 0)

    def parse_page(self, url: str, response: httpx.Response) -> Page:
        links = parse_link_header(response.headers.get("link", ""))
        etag = response.headers.get("etag")
        if response.status_code == 304:
            return Page(url=url, repos=[], next_url=links.get("next"), etag=etag, not_modified=True)
        body = response.json()
        if not isinstance(body, list):
            raise ValueError("expected a JSON list of repositories")
        repos = [repo for item in body if (repo := parse_repo(item)) is not None]
        return Page(url=url, repos=repos, next_url=links.get("next"), etag=etag)

    def rate_info(self, response: httpx.Response, now: float) -> RateInfo:
        return rate_from_headers(response, now)

    def is_secondary_limit(self, response: httpx.Response) -> bool:
        message = error_message(response).lower()
        return any(marker in message for marker in _SECONDARY_MARKERS)

    def forbidden_message(self, response: httpx.Response) -> str:
        sso = response.headers.get("x-github-sso")
        if sso:
            url = sso.partition("url=")[2].strip()
            hint = f" — authorize the token at {url}" if url else ""
            return f"the organisation enforces SAML single sign-on and this token is not authorized for it{hint}"
        accepted = response.headers.get("x-accepted-github-permissions")
        need = f" (needs: {accepted})" if accepted else ""
        return f"access forbidden: {error_message(response)}{need}"


def parse_repo(item: object) -> RemoteRepo | None:
    """A ``minimal-repository`` object; optional fields may be absent or null."""
    if not isinstance(item, dict):
        return None
    key = item.get("id")
    name = item.get("name")
    if key is None or not isinstance(name, str):
        return None
    full_name = item.get("full_name") if isinstance(item.get("full_name"), str) else name
    owner = full_name.split("/", 1)[0] if "/" in full_name else ""
    owner_obj = item.get("owner")
    if not owner and isinstance(owner_obj, dict) and isinstance(owner_obj.get("login"), str):
        owner = owner_obj["login"]
    clone_url = item.get("clone_url")
    ssh_url = item.get("ssh_url")
    pushed = item.get("pushed_at")
    branch = item.get("default_branch")
    return RemoteRepo(
        key=str(key),
        full_name=full_name,
        rel_path=name,
        clone_url=clone_url if isinstance(clone_url, str) else "",
        ssh_url=ssh_url if isinstance(ssh_url, str) else None,
        archived=item.get("archived") is True,
        fork=item.get("fork") is True,
        pushed_at=pushed if isinstance(pushed, str) else None,
        default_branch=branch if isinstance(branch, str) else None,
        owner=owner,
    )
