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
    topics: tuple[str, ...] | None = None
    """The forge's topics (GitLab: ``topics``, or ``tag_list`` on older servers); None when the listing does not say
    (Gitea before 1.23, Bitbucket): ``--topic`` then asks the forge per repo, or cannot filter. Not journaled."""
    language: str | None = None
    """The primary language, ``""`` for none; None when the listing does not say (GitLab, Gitea before 1.17):
    ``--language`` then asks the forge per repo, or cannot filter. Not journaled."""
    private: bool = False
    """The forge says only those it lets in may see the repo (read where a forge serves private repos to git otherwise
    than public ones: Sourcehut, over ssh only). Not journaled."""
    empty: bool = False
    """The forge says nothing has been pushed to the repo yet (Gogs ``empty``): there is nothing to clone, so the run
    skips it. Not journaled."""


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
    anonymous_note_public_only: bool = False
    """Whether ``anonymous_note`` is about the public instance only (GitHub's 60 requests an hour are api.github.com's;
    a GitHub Enterprise server sets its own limits, or none)."""
    ghorg_token_vars: tuple[str, ...] = ()
    """The variables ghorg reads this forge's token from: one set while gz-tui found no token gets a hint naming
    the variable gz-tui reads (``GHORG_GITHUB_TOKEN is set; gz-tui reads GH_TOKEN``)."""
    signal_window: float = 1.0
    """Seconds within which a push may leave the listing's change signal where it was: its resolution (whole
    seconds), or GitLab's hour (``last_activity_at`` moves at most once an hour, gitlab-org/gitlab#16729). A clone
    synced that close to its signal is checked with ``git ls-remote`` on the next run instead of trusted."""
    projects: bool = False
    """Whether ``--project KEY`` keeps only the repos of those projects (Bitbucket Cloud groups a workspace's
    repos in projects, each with a key)."""
    private_over_https: bool = True
    """Whether git can clone a private repo over https with the token (Sourcehut takes no token over https: its
    private repos are cloned over ssh only, and an https run skips them, saying so)."""
    starred: bool = False
    """Whether ``--starred`` can list the repos a user starred (GitHub ``/users/U/starred``, Gitea
    ``/users/U/starred``, GitLab ``/users/U/starred_projects``)."""
    gists: bool = False
    """Whether ``--gists`` can list a user's gists (GitHub ``/users/U/gists``, ``/gists`` to their own token)."""
    snippets: bool = False
    """Whether ``--snippets`` can list the snippets of an owner's projects (GitLab ``/projects/:id/snippets``) and a
    user's personal ones (``/snippets``, to their own token)."""
    instance_listing: bool = False
    """Whether ``--all`` can list every repository the token sees on an instance (GitLab ``/projects``, Gitea
    ``/repos/search``, Bitbucket Data Center ``/repos``, GitHub Enterprise ``/repositories``)."""
