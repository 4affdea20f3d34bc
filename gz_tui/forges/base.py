"""What every forge provider hands the pipeline: repos, pages, and errors a user can act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx


@dataclass(frozen=True, slots=True)
class RemoteRepo:
    """One repository as listed by a forge. Every string in it is untrusted."""

    key: str
    """Provider-unique id (as text), used to de-duplicate and as the state's primary key."""
    full_name: str
    """Shown to the user: ``owner/name`` or a GitLab ``path_with_namespace``."""
    rel_path: str
    """Where it lands below DEST, ``/``-separated, exactly as the forge said (validated later)."""
    clone_url: str
    ssh_url: str | None = None
    archived: bool = False
    fork: bool = False
    pushed_at: str | None = None
    default_branch: str | None = None
    owner: str = ""
    """The owner/namespace the forge claims this repo belongs to."""


@dataclass(slots=True)
class Page:
    """One listing page: its repos, where the next one is, and what makes a repeat request cheap."""

    url: str
    repos: list[RemoteRepo]
    next_url: str | None
    etag: str | None = None
    not_modified: bool = False
    total: int | None = None


class ForgeError(Exception):
    """A failure that stops the listing; ``str()`` is one line a user can act on."""

    exit_code = 1


class UsageError(ForgeError):
    exit_code = 2


class AuthError(ForgeError):
    """Bad or missing credentials: never retried (GitHub locks accounts out after repeated 401s)."""

    exit_code = 2


class NotFoundError(ForgeError):
    exit_code = 2


class ForbiddenError(ForgeError):
    """A 403 that is not a rate limit: SSO enforcement or missing permission."""

    exit_code = 2


class UnreachableError(ForgeError):
    """The API could not be reached at all (DNS, refused, TLS)."""

    exit_code = 2


class PageError(ForgeError):
    """A listing page kept failing after bounded retries; state is saved and a rerun resumes."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class RateInfo:
    """What a response says about the quota, normalised across forges."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None
    """Epoch seconds."""
    retry_after: float | None = None


@dataclass(slots=True)
class ProviderInfo:
    """Static facts the pipeline and git runner need from a provider."""

    name: str
    git_username: str
    """User name paired with the token in git's Basic auth (GitHub ``x-access-token``, GitLab ``oauth2``)."""
    nested: bool = False
    """Whether repo paths may hold ``/`` (GitLab subgroups); elsewhere a ``/`` in a name is refused."""
    archived_filtered_by_server: bool = False
    """Whether ``--skip-archived`` is asked of the server, so archived repos are then absent from the listing."""
    extra: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    """One forge's API dialect. Stateless: the HTTP client does waiting, retrying and auth."""

    info: ProviderInfo

    def auth_headers(self, token: str) -> dict[str, str]: ...

    def default_headers(self) -> dict[str, str]: ...

    def first_urls(self, owner: str) -> list[str]:
        """Listing URLs to try in order (e.g. the org, then the user of that name)."""

    def own_listing(self, owner: str) -> tuple[str, str] | None:
        """(who-am-I URL, listing URL) for a forge whose user listing hides the token owner's private repos."""

    def parse_page(self, url: str, response: httpx.Response) -> Page: ...

    def rate_info(self, response: httpx.Response, now: float) -> RateInfo: ...

    def is_secondary_limit(self, response: httpx.Response) -> bool: ...

    def forbidden_message(self, response: httpx.Response) -> str: ...

    def total_url(self, owner: str) -> str | None:
        """A URL whose JSON tells the owner's repo count, when the listing itself does not."""

    def parse_total(self, response: httpx.Response) -> int | None: ...
