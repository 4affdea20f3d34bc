"""Facts about URLs that every layer needs: loopback hosts, origins, and keeping a link on the configured origin.

A leaf: it imports nothing of gz-tui, so ``config/``, ``forges/`` and ``pipeline/`` all use the one definition.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine (plain http to it carries no token over a network)."""
    return bool(host) and (host in _LOOPBACK or str(host).startswith("127."))


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def origin_of(url: str) -> tuple[str, str]:
    """``(scheme, "host:port")`` with the port spelt out, so ``https://h`` and ``https://h:443`` are one origin."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or default_port(parts.scheme)
    return parts.scheme, f"{host}:{port}"


def origin_url(url: str) -> str:
    """``scheme://netloc/`` of ``url``: where git's per-origin settings (the auth header) apply."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def rebase_onto(url: str, base: str) -> str:
    """Keep a link's path and query but send it to the configured API origin.

    GitLab and Gitea build links from their configured public host, which may differ from the one the
    user configured; the token only ever goes to the origin the user named. A fragment (never sent: where a
    listing keeps its own place, as GitLab's ``--snippets`` walk does) is kept.
    """
    link, home = urlsplit(url), urlsplit(base)
    return urlunsplit((home.scheme, home.netloc, link.path, link.query, link.fragment))


def without_fragment(url: str) -> str:
    """``url`` without its ``#fragment`` (for messages: what was asked, not how it was linked)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def shown_url(url: str) -> str:
    """A URL whose path is a key (a healthchecks.io check's UUID, a ``?key=``) as messages show it: its scheme and
    host, then ``…``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"
