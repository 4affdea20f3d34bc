"""GitHub and GitHub Enterprise: ``/orgs/{owner}/repos``, falling back to ``/users/{owner}/repos``
(or ``/user/repos`` when the token belongs to that user, so private repos are included)."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote, urlsplit

import httpx

from gz_tui.forges.provider import Provider, text_field, topics_field
from gz_tui.forges.records import ProviderInfo, RemoteRepo
from gz_tui.forges.responses import error_message
from gz_tui.kinds import Affiliation, ProviderName

PER_PAGE = 100
_SECONDARY_MARKERS = (
    "secondary rate",
    "abuse detection",
    "you have exceeded a secondary rate limit",
    "please retry your request again later",
)
AFFILIATIONS = {
    Affiliation.OWNER: "owner",
    Affiliation.MEMBER: "collaborator,organization_member",
    Affiliation.ALL: "owner,collaborator,organization_member",
}
"""``--affiliation`` in GitHub's words (``GET /user/repos?affiliation=``)."""
_QUERY = f"per_page={PER_PAGE}&sort=created&direction=asc"
"""created/asc: repos created mid-walk append at the end instead of shifting earlier pages."""


class GitHub(Provider):
    """The GitHub REST dialect (api.github.com, or ``https://HOST/api/v3`` for Enterprise)."""

    info = ProviderInfo(
        name=ProviderName.GITHUB,
        default_base_url="https://api.github.com",
        token_env_vars=("GH_TOKEN", "GITHUB_TOKEN"),
        git_username="x-access-token",
        app_login=True,
        affiliation=True,
        gh_cli=True,
        anonymous_note="GitHub allows 60 API requests an hour without one (about 6,000 repos); set GH_TOKEN or pass --token",
    )

    @classmethod
    def git_origin(cls, api_base: str) -> str:
        """github.com serves its API at api.github.com and git at github.com; Enterprise serves both on one host."""
        parts = urlsplit(api_base)
        if (parts.hostname or "").lower() == "api.github.com":
            return "https://github.com/"
        return super().git_origin(api_base)

    def default_headers(self) -> dict[str, str]:
        return {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def first_urls(self) -> list[str]:
        name = quote(self.owner, safe="")
        return [f"{self.base_url}/orgs/{name}/repos?type=all&{_QUERY}", f"{self.base_url}/users/{name}/repos?type=owner&{_QUERY}"]

    def own_listing(self) -> tuple[str, str] | None:
        """``/users/X/repos`` shows only public repos, even to X's own token: X's private ones are under ``/user/repos``
        (``--affiliation`` adds the repos X is a collaborator on or a member of through an organisation)."""
        affiliation = AFFILIATIONS[Affiliation(self.affiliation or Affiliation.OWNER)]
        return f"{self.base_url}/user", f"{self.base_url}/user/repos?affiliation={affiliation}&{_QUERY}"

    def total_url(self) -> str | None:
        return f"{self.base_url}/orgs/{quote(self.owner, safe='')}"

    def parse_total(self, response: httpx.Response) -> int | None:
        body = response.json()
        if not isinstance(body, dict):
            return None
        public = body.get("public_repos")
        private = body.get("total_private_repos")
        if not isinstance(public, int):
            return None
        return public + (private if isinstance(private, int) else 0)

    def parse_repo(self, item: object) -> RemoteRepo | None:
        repo = parse_repo(item)
        if (
            repo is not None
            and self.affiliation in (Affiliation.MEMBER, Affiliation.ALL)
            and repo.owner.lower() not in ("", self.owner.lower())
        ):
            # Another owner's repo the user is a member of: in a folder of its owner, so two owners' "api" never collide.
            return replace(repo, rel_path=f"{repo.owner}/{repo.rel_path}")
        return repo

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


def parse_repo(item: object, *, change_signal: str = "pushed_at") -> RemoteRepo | None:
    """A GitHub ``minimal-repository`` object (Gitea's repo objects share its shape); optional fields may
    be absent or null. ``change_signal`` names the field that moves on every push."""
    if not isinstance(item, dict):
        return None
    key = item.get("id")
    name = text_field(item, "name")
    if key is None or name is None:
        return None
    full_name = text_field(item, "full_name") or name
    owner = full_name.split("/", 1)[0] if "/" in full_name else ""
    owner_obj = item.get("owner")
    if not owner and isinstance(owner_obj, dict) and isinstance(owner_obj.get("login"), str):
        owner = owner_obj["login"]
    return RemoteRepo(
        key=str(key),
        full_name=full_name,
        rel_path=name,
        clone_url=text_field(item, "clone_url") or "",
        ssh_url=text_field(item, "ssh_url"),
        archived=item.get("archived") is True,
        fork=item.get("fork") is True,
        has_wiki=item.get("has_wiki") is True,
        pushed_at=text_field(item, change_signal),
        default_branch=text_field(item, "default_branch"),
        owner=owner,
        topics=topics_field(item, "topics"),
        language=text_field(item, "language"),
    )
