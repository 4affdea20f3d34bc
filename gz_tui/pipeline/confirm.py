"""Asking the forge about one repo before prune takes it for gone: a listing can miss a repo that still exists.

Offset-paginated listings shift when a repo before the cursor is deleted, so one surviving repo is never seen in
that walk; a token may see less than it did. So each clone prune would move is confirmed first, one request each,
through the target's own client (the same quota and the same waits as the listing): by id where the forge can
(GitHub ``/repositories/{id}``, GitLab ``/projects/{id}``, Gitea ``/repositories/{id}``), else by name (Bitbucket,
Sourcehut's GraphQL ``User.repository``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gz_tui.forges.errors import ForgeError, NotFoundError
from gz_tui.forges.http import ApiClient
from gz_tui.forges.provider import Provider
from gz_tui.forges.records import RemoteRepo
from gz_tui.pipeline.lister import fetch_page, scrub


class Answer(StrEnum):
    GONE = "gone"
    """Not found (or its name now belongs to another repo): the clone may move to the attic."""
    EXISTS = "exists"
    """Still there under the same name: the listing missed it."""
    RENAMED = "renamed"
    """Still there, same owner, another name."""
    ELSEWHERE = "elsewhere"
    """Still there, under another owner (transferred)."""
    UNKNOWN = "unknown"
    """The forge could not say (an error, or a forge that cannot be asked): nothing moves."""


@dataclass(frozen=True, slots=True)
class Confirmation:
    answer: Answer
    repo: RemoteRepo | None = None
    """The repo as the forge describes it now (EXISTS, RENAMED, ELSEWHERE)."""
    why: str = ""
    """UNKNOWN: what went wrong."""


class Confirmer:
    """One target's per-repo questions to its forge."""

    def __init__(self, client: ApiClient, provider: Provider, owner: str) -> None:
        self.client = client
        self.provider = provider
        self.owner = owner.strip("/").lower()
        self.requests = 0
        self._viewer: str | None = None
        """Who the token belongs to, once asked (``--starred``: only the user's own token may ask about their stars)."""

    async def ask(self, key: str, rel_path: str) -> Confirmation:
        """Whether the repo of id ``key`` (last seen at ``rel_path``) is truly gone."""
        if self.provider.starred:
            return await self._ask_starred(key, rel_path)
        urls = self.provider.lookup_urls(key, rel_path)
        if not urls:
            return Confirmation(Answer.UNKNOWN, why="this forge cannot be asked about one repo")
        for url in urls:
            self.requests += 1
            try:
                response = await fetch_page(self.client, self.provider, url, quiet_404=True)  # a GET, or GraphQL's POST
            except NotFoundError:
                continue
            except ForgeError as exc:
                return Confirmation(Answer.UNKNOWN, why=str(exc))
            try:
                repo = self.provider.parse_lookup(response)
            except NotFoundError:  # a forge that answers "none" in the body (GraphQL: null)
                continue
            except ValueError:
                return Confirmation(Answer.UNKNOWN, why="the forge's answer could not be read")
            if repo is None:
                return Confirmation(Answer.UNKNOWN, why="the forge's answer names no repository")
            if repo.key != key:
                continue  # the name is another repo's now: this one is gone
            repo = scrub(repo)
            if repo.owner and repo.owner.lower() != self.owner:
                return Confirmation(Answer.ELSEWHERE, repo)
            if repo.rel_path.lower() == rel_path.lower():
                return Confirmation(Answer.EXISTS, repo)
            return Confirmation(Answer.RENAMED, repo)
        return Confirmation(Answer.GONE)

    async def _ask_starred(self, key: str, rel_path: str) -> Confirmation:
        """``--starred``: a repo the listing of the user's stars lacked is gone from it once the forge says the user no
        longer stars it (a deleted repo is starred by nobody); still starred, the listing missed it."""
        check = self.provider.star_check_url(key, rel_path)
        if check is None:
            return Confirmation(Answer.UNKNOWN, why="this forge cannot be asked whether a repo is still starred")
        url, own_token_only = check
        if own_token_only and not await self._token_is_the_users():
            return Confirmation(Answer.UNKNOWN, why=f"only {self.owner}'s own token may ask whether {self.owner} still stars it")
        self.requests += 1
        try:
            response = await self.client.get(url, quiet_404=True)
        except NotFoundError:
            return Confirmation(Answer.GONE)
        except ForgeError as exc:
            return Confirmation(Answer.UNKNOWN, why=str(exc))
        try:
            starred = self.provider.still_starred(response)
        except ValueError:
            return Confirmation(Answer.UNKNOWN, why="the forge's answer could not be read")
        return Confirmation(Answer.EXISTS) if starred else Confirmation(Answer.GONE)

    async def _token_is_the_users(self) -> bool:
        if self._viewer is None:
            url = self.provider.viewer_url()
            if url is None:
                return False
            self.requests += 1
            try:
                self._viewer = (self.provider.viewer_login(await self.client.get(url, quiet_404=True)) or "").lower()
            except (ForgeError, ValueError):
                return False
        return self._viewer == self.owner
