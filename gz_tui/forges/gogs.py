"""Gogs, self-hosted: ``/api/v1/orgs/{org}/repos``, then the user of that name (``/api/v1/users/{user}/repos``).

Both listings come whole, in one unpaginated answer with no ``Link`` (gogs ``internal/route/api/v1/repo/repo.go``
``listUserRepositories``: ``PageSize: user.NumRepos``): one request lists any owner. Both need a token (``reqToken``),
sent as ``Authorization: token …`` (Gogs reads no other scheme there); git takes it as the Basic password.

What Gogs says of a repo is Gitea's shape without ``archived``, ``has_wiki``, ``topics`` or ``language`` (gogs
``APIFormatLegacy``). So ``--skip-archived`` keeps everything, ``--topic`` keeps nothing, and with ``--wikis`` every
repo's ``NAME.wiki.git`` is tried (Gogs enables wikis by default; one nobody wrote is ``skipped: no wiki``). The
change signal is ``updated_at``. A repo marked ``empty`` has had nothing pushed yet: it is ``skipped``, not cloned.

A user's own token lists their private repos too, and the repos they collaborate on, which belong to others: a repo
of another owner is left out of any Gogs listing (it is its owner's to back up), never cloned. ``/orgs/{name}/repos``
answers for a user's name as well (Gogs looks the name up without asking what it is), so the first URL serves both.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

import httpx

from gz_tui.forges.github import parse_repo
from gz_tui.forges.provider import Provider
from gz_tui.forges.records import Page, ProviderInfo, RemoteRepo
from gz_tui.kinds import ProviderName


def api_root(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith("/api/v1") else base + "/api/v1"


class Gogs(Provider):
    """The Gogs v1 dialect (``{base}/api/v1``)."""

    info = ProviderInfo(
        name=ProviderName.GOGS,
        default_base_url="",
        token_env_vars=("GOGS_TOKEN",),
        git_username="gz-tui",  # any name: Gogs tries the password as a token when the pair is no user's
    )

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"token {token}"}

    def first_urls(self) -> list[str]:
        api, name = api_root(self.base_url), quote(self.owner, safe="")
        return [f"{api}/orgs/{name}/repos", f"{api}/users/{name}/repos"]

    def lookup_urls(self, key: str, rel_path: str) -> list[str]:
        """``/repos/{owner}/{name}``, by name (Gogs has no lookup by id): 404 once deleted; an answer about another id
        means the name now belongs to another repo."""
        return [f"{api_root(self.base_url)}/repos/{quote(self.owner, safe='')}/{quote(rel_path, safe='')}"]

    def parse_page(self, url: str, response: httpx.Response) -> Page:
        """The owner's repos of the listing; another owner's are the user's collaborations (see the module's docs)."""
        page = super().parse_page(url, response)
        page.repos = [repo for repo in page.repos if repo.owner.lower() == self.owner.lower()]
        return page

    def parse_repo(self, item: object) -> RemoteRepo | None:
        repo = parse_repo(item, change_signal="updated_at")
        if repo is None or not isinstance(item, dict):
            return None
        return replace(repo, has_wiki=True, private=item.get("private") is True, empty=item.get("empty") is True)
