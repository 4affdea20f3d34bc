"""The one registry of forges: ``--provider NAME`` → the provider class, and what each declares about itself.

``config/`` and ``pipeline/`` ask it (default base URL, token variables, where git goes, which credential signs
in) and never name a particular forge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from gz_tui.clock import SYSTEM_CLOCK, Clock
from gz_tui.forges.auth import CommandToken, Credential, StaticToken
from gz_tui.forges.bitbucket import Bitbucket
from gz_tui.forges.bitbucket_server import BitbucketServer
from gz_tui.forges.gitea import Gitea
from gz_tui.forges.github import GitHub
from gz_tui.forges.gitlab import GitLab
from gz_tui.forges.gogs import Gogs
from gz_tui.forges.http import RetryPolicy
from gz_tui.forges.provider import Provider
from gz_tui.forges.records import ProviderInfo
from gz_tui.forges.sourcehut import Sourcehut
from gz_tui.kinds import ProviderName

DEFAULT_PROVIDER = ProviderName.GITHUB
"""The forge of ``gz-tui OWNER`` when no ``--provider`` (or profile) says otherwise."""

PROVIDERS: dict[ProviderName, type[Provider]] = {
    ProviderName.GITHUB: GitHub,
    ProviderName.GITLAB: GitLab,
    ProviderName.GITEA: Gitea,
    ProviderName.BITBUCKET: Bitbucket,
    ProviderName.BITBUCKET_SERVER: BitbucketServer,
    ProviderName.SOURCEHUT: Sourcehut,
    ProviderName.GOGS: Gogs,
}


def provider_class(name: str) -> type[Provider]:
    """The class of ``--provider NAME``; ValueError for a name no provider has."""
    try:
        return PROVIDERS[ProviderName(name)]
    except (KeyError, ValueError):
        raise ValueError(f"unknown provider {name!r}") from None


def provider_info(name: str) -> ProviderInfo:
    return provider_class(name).info


def default_base_url(name: str) -> str:
    return provider_info(name).default_base_url


def git_origin(name: str, api_base: str) -> str:
    """Where git traffic of provider ``name`` goes for the API at ``api_base`` (``scheme://host:port/``)."""
    return provider_class(name).git_origin(api_base)


def git_auth_header(name: str, token: str) -> str:
    """The ``Authorization: …`` header git sends with ``token`` to provider ``name``'s git origin."""
    return provider_class(name).git_auth_header(token)


def wiki_url(name: str, clone_url: str) -> str:
    """Where provider ``name`` serves the wiki of the repo cloned from ``clone_url``."""
    return provider_class(name).wiki_url(clone_url)


TOKEN_ENV_VARS: dict[ProviderName, tuple[str, ...]] = {name: cls.info.token_env_vars for name, cls in PROVIDERS.items()}
"""Per provider, the environment variables a token is read from."""
KNOWN_TOKEN_VARS = frozenset(var for names in TOKEN_ENV_VARS.values() for var in names)
"""Every variable gz-tui reads a token from; none of them reaches a git child."""


def make_provider(
    name: str,
    base_url: str,
    owner: str,
    *,
    skip_archived: bool = False,
    topics: Sequence[str] = (),
    affiliation: str | None = None,
    projects: Sequence[str] = (),
    instance: bool = False,
    starred: bool = False,
    gists: bool = False,
    snippets: bool = False,
) -> Provider:
    """The provider for ``--provider NAME`` talking to the API root ``base_url`` about ``owner`` (``instance``: about every
    repository of the instance, with no owner)."""
    return provider_class(name)(
        base_url,
        owner,
        skip_archived=skip_archived,
        topics=topics,
        affiliation=affiliation,
        projects=projects,
        instance=instance,
        starred=starred,
        gists=gists,
        snippets=snippets,
    )


def make_credential(
    *,
    token: str | None,
    token_cmd: Sequence[str] = (),
    token_cmd_timeout: float,
    app_id: int | None = None,
    app_key: Path | None = None,
    app_installation_id: int | None = None,
    owner: str = "",
    api_base: str = "",
    environ: Mapping[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    policy: RetryPolicy | None = None,
    outage_limit: float,
) -> Credential:
    """What a target signs in with: a GitHub App (its mints retried like API requests, with ``policy``, for up to
    ``outage_limit`` seconds), a token command's token (run again on a 401), or a plain token."""
    if app_id is not None and app_key is not None:
        from gz_tui.forges.github_app import GitHubAppToken  # PyJWT and cryptography load only for an app

        return GitHubAppToken(
            app_id=app_id,
            key_path=app_key,
            installation_id=app_installation_id,
            owner=owner,
            api_base=api_base,
            clock=clock,
            policy=policy,
            outage_limit=outage_limit,
        )
    if token and token_cmd:
        return CommandToken(token, token_cmd, dict(environ or {}), limit=token_cmd_timeout)
    return StaticToken(token)
