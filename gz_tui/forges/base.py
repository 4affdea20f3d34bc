"""What every forge provider hands the pipeline: repos, pages, and errors a user can act on."""

from __future__ import annotations

from dataclasses import dataclass


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
    has_wiki: bool = False
    """The forge says the repo has a wiki enabled (GitHub/Gitea ``has_wiki``, GitLab ``wiki_enabled`` or
    ``wiki_access_level``); an enabled wiki may still be empty."""
    pushed_at: str | None = None
    """The forge's change signal: GitHub ``pushed_at``, GitLab ``last_activity_at``, Gitea ``updated_at``.
    Unchanged since the last sync means the clone need not be fetched."""
    default_branch: str | None = None
    owner: str = ""
    """The owner/namespace the forge claims this repo belongs to."""
    topics: tuple[str, ...] = ()
    """The forge's topics (GitLab: ``topics``, or ``tag_list`` on older servers). Not journaled in the state."""
    language: str | None = None
    """The primary language when the listing says (GitHub, Gitea; GitLab's listing does not). Not journaled."""


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


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """Static facts the pipeline and git runner need from a provider."""

    name: str
    git_username: str
    """User name paired with the token in git's Basic auth (GitHub ``x-access-token``, GitLab ``oauth2``)."""
    nested: bool = False
    """Whether repo paths may hold ``/`` (GitLab subgroups); elsewhere a ``/`` in a name is refused."""
    archived_filtered_by_server: bool = False
    """Whether ``--skip-archived`` is asked of the server, so archived repos are then absent from the listing."""
