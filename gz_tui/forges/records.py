"""The records a forge provider hands the pipeline: repos, listing pages, quota readings, and its own static facts."""

from __future__ import annotations

from dataclasses import dataclass

from gz_tui.kinds import ProviderName


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
    """What a forge declares about itself, so that ``config/`` and ``pipeline/`` never name a particular forge.

    Each provider class sets one (``Provider.info``); the registry (:mod:`gz_tui.forges.registry`) maps
    ``--provider NAME`` to the class.
    """

    name: ProviderName
    default_base_url: str
    """The API root when no ``--base-url`` is given (the forge's public instance); empty for a forge that has none
    (Bitbucket Data Center), whose runs must name their server."""
    token_env_vars: tuple[str, ...]
    """The environment variables a token for this forge is read from, in order (``GH_TOKEN``, ``GITLAB_TOKEN``…)."""
    git_username: str
    """User name paired with the token in git's Basic auth (GitHub ``x-access-token``, GitLab ``oauth2``)."""
    nested: bool = False
    """Whether repo paths may hold ``/`` (GitLab subgroups): owners may be paths and ``--subgroup-*`` apply; elsewhere
    a ``/`` in a name is refused."""
    archived_filtered_by_server: bool = False
    """Whether ``--skip-archived`` is asked of the server, so archived repos are then absent from the listing."""
    app_login: bool = False
    """Whether a GitHub App (``--github-app-id``/``--github-app-key``) can sign in to it."""
    affiliation: bool = False
    """Whether ``--affiliation`` selects among a user's repos (GitHub's ``/user/repos?affiliation=``)."""
    gh_cli: bool = False
    """Whether ``gh auth token`` knows its tokens (asked when no token was given)."""
    anonymous_note: str | None = None
    """Said on stderr when a run has no token and this forge limits anonymous use sharply."""
    projects: bool = False
    """Whether ``--project KEY`` keeps only the repos of those projects (Bitbucket Cloud groups a workspace's
    repos in projects, each with a key)."""
