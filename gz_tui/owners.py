"""Owners as users type them: ``apache/`` is ``apache``, and a forge URL copied from the browser
(``https://github.com/apache``, ``https://gitlab.example.com/group/sub``) is an owner on a forge.

Where the host says which forge it is (github.com, gitlab.com, codeberg.org, bitbucket.org, git.sr.ht) the URL
gives the owner, the provider and its public API; elsewhere ``--provider`` must say it, or the user is told the
command line that would (:class:`OwnerError`, one line)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from gz_tui.forges.registry import provider_info
from gz_tui.kinds import ProviderName

KNOWN_HOSTS: dict[str, ProviderName] = {
    "github.com": ProviderName.GITHUB,
    "www.github.com": ProviderName.GITHUB,
    "gitlab.com": ProviderName.GITLAB,
    "codeberg.org": ProviderName.GITEA,
    "bitbucket.org": ProviderName.BITBUCKET,
    "git.sr.ht": ProviderName.SOURCEHUT,
}
"""Hosts whose forge is known: each is its provider's public instance (the provider's default base URL)."""

_HOST_WORDS: tuple[tuple[str, ProviderName], ...] = (
    ("gitlab", ProviderName.GITLAB),
    ("github", ProviderName.GITHUB),
    ("forgejo", ProviderName.GITEA),
    ("gitea", ProviderName.GITEA),
    ("gogs", ProviderName.GOGS),
    ("bitbucket", ProviderName.BITBUCKET_SERVER),
)
"""A self-hosted forge's host name often says what it runs (``gitlab.example.com``): a guess for "did you mean"."""


class OwnerError(ValueError):
    """An owner that cannot be read: the message is one line, often a "did you mean" command line."""


@dataclass(frozen=True)
class Owner:
    name: str
    provider: str | None = None
    """The forge the URL named; None when the owner was a plain name (the flags and config decide)."""
    base_url: str | None = None
    """The API root the URL named; None for the provider's default (or a plain name)."""


def _server_base(provider: str, origin: str) -> str:
    """The ``--base-url`` of a self-hosted server at ``origin`` (``https://host``): GitHub Enterprise's API is
    under ``/api/v3``; the other clients add their API path to the server's root themselves."""
    return f"{origin}/api/v3" if provider == ProviderName.GITHUB else origin


def _guess(host: str) -> str:
    return next((str(name) for word, name in _HOST_WORDS if word in host), "PROVIDER")


def read_owner(text: str, *, provider: str | None, base_url: str | None) -> Owner:
    """``text`` as an owner: a plain name without its trailing ``/``, or a forge URL read as the owner it shows.
    ``provider`` and ``base_url`` are the flags given (None: not given); a URL that contradicts them, or whose
    forge cannot be told from its host without ``--provider``, raises :class:`OwnerError`."""
    if "://" not in text:
        name = text.strip().rstrip("/")
        if not name:
            raise OwnerError(f"{text!r} names no owner")
        return Owner(name)
    parts = urlsplit(text.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise OwnerError(f"{text!r} is not a forge URL (https://HOST/OWNER) nor an owner")
    segments = [s for s in parts.path.split("/") if s]
    if "-" in segments:  # GitLab's /-/tree/main, /-/issues…: what follows is a page of the project, not a path
        segments = segments[: segments.index("-")]
    if segments:
        segments[-1] = segments[-1].removesuffix(".git")
    if not segments:
        raise OwnerError(f"{text!r} names no owner: https://{host}/OWNER")
    origin = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
    known = KNOWN_HOSTS.get(host)
    if known is None and provider is None:
        guessed = _guess(host)
        path = "/".join(segments)
        raise OwnerError(
            f"which forge runs {host}? did you mean: gz-tui --provider {guessed} --base-url {_server_base(guessed, origin)} {path}"
        )
    chosen = str(known) if known is not None else str(provider)
    if known is not None and provider is not None and provider != known:
        raise OwnerError(f"{text} is on {host}, a {known} forge; --provider {provider} contradicts it")
    default = provider_info(chosen).default_base_url
    if base_url is not None and urlsplit(base_url).hostname not in (host, urlsplit(default).hostname if known else host):
        raise OwnerError(f"{text} is on {host}; --base-url {base_url} is another host")
    if not provider_info(chosen).nested and len(segments) > 1:
        owner, repo = segments[0], segments[1]
        raise OwnerError(
            f"{text} is the repository {owner}/{repo}; gz-tui syncs whole owners: gz-tui {owner} (only that repo: --include '^{repo}$')"
        )
    name = "/".join(segments)
    if known is not None:  # its public instance, whatever a profile or the config's defaults say
        return Owner(name, chosen, base_url if base_url is not None else default)
    return Owner(name, chosen, base_url if base_url is not None else _server_base(chosen, origin))


def read_owners(texts: Sequence[str], *, provider: str | None, base_url: str | None) -> tuple[list[str], str | None, str | None]:
    """The owners of a run and the provider and base URL flags they imply: ``(owners, provider, base_url)``.
    Owners given as URLs must all be on one forge (a run's flags apply to each of its owners)."""
    read = [read_owner(text, provider=provider, base_url=base_url) for text in texts]
    forges = {(o.provider, o.base_url) for o in read if o.provider is not None}
    if len(forges) > 1:
        raise OwnerError("these owner URLs are on different forges; run gz-tui once per forge")
    if forges:
        provider, base_url = next(iter(forges))
    return [o.name for o in read], provider, base_url


API_PATHS: dict[str, tuple[ProviderName, ...]] = {
    "/api/v3": (ProviderName.GITHUB,),
    "/api/v4": (ProviderName.GITLAB,),
    "/api/v1": (ProviderName.GITEA, ProviderName.GOGS),
    "/rest/api/1.0": (ProviderName.BITBUCKET_SERVER,),
    "/2.0": (ProviderName.BITBUCKET,),
    "/query": (ProviderName.SOURCEHUT,),
}
"""The API path each forge's base URL may end in: one that ends in another forge's was meant for that forge."""


def misfit_base_url(provider: str, base_url: str) -> str | None:
    """One line when ``base_url`` ends in the API path of another forge than ``provider`` (``/api/v3`` with
    gitlab, ``/api/v4`` with github): the provider meant, or the base URL this provider takes."""
    parts = urlsplit(base_url.strip())
    path = parts.path.rstrip("/").lower()
    for suffix, owners in API_PATHS.items():
        if path.endswith(suffix) and provider not in owners:
            root = base_url.strip().rstrip("/")[: -len(suffix)]
            meant = " or ".join(f"--provider {name}" for name in owners)
            return f"the base URL {base_url} is a {'/'.join(owners)} API root, not {provider}'s: did you mean {meant}, or --base-url {_server_base(provider, root)}?"
    return None
