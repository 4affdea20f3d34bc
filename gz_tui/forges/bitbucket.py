"""Bitbucket Cloud (bitbucket.org): a workspace's repositories, ``GET /2.0/repositories/{workspace}``.

A user's repositories are those of their personal workspace, so one listing serves both. The page is in the body:
``values``, and a ``next`` URL followed verbatim until it is absent; ``size`` (the total) and ``page`` may be absent,
and ``pagelen=100`` is the largest page Bitbucket allows (10,000 repos in 100 requests, where the default of 10
would spend a whole hour's 1,000-request quota). ``--project KEY`` is asked of the server (BBQL ``q=project.key=``).

The change signal is ``updated_on``; the stable id is ``uuid``; a repo with ``has_wiki`` has its wiki at
``…/{slug}.git/wiki``; forks name their ``parent``; there is no archived flag. Clone hrefs carry the caller's user
name (``https://USER@bitbucket.org/…``): it is dropped before the URL is checked and handed to git.

Two kinds of credential (app passwords are gone):

- an Atlassian **API token**, written ``EMAIL:TOKEN`` (as ``curl -u`` takes it): the API gets Basic ``EMAIL:TOKEN``,
  git Basic ``x-bitbucket-api-token-auth:TOKEN``;
- a workspace, project or repository **access token**, written alone: the API gets ``Authorization: Bearer``, git
  Basic ``x-token-auth:TOKEN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import httpx

from gz_tui.forges.provider import Provider, basic_credentials, json_body, listed_text, text_field
from gz_tui.forges.records import Page, ProviderInfo, RemoteRepo
from gz_tui.forges.responses import error_message
from gz_tui.kinds import ProviderName
from gz_tui.untrusted import SECRETS, add_secret, inert
from gz_tui.urls import origin_url

PAGELEN = 100
API_TOKEN_USER = "x-bitbucket-api-token-auth"
"""git's user name with an Atlassian API token (support.atlassian.com/bitbucket-cloud/docs/using-api-tokens)."""
ACCESS_TOKEN_USER = "x-token-auth"
"""git's user name with a workspace, project or repository access token."""


def user_and_secret(token: str) -> tuple[str, str] | None:
    """``(USER, SECRET)`` of a credential written ``USER:SECRET`` (an e-mail and an API token; a Data Center user
    name and token), or None for a token written alone. An access token never holds a ``:``.

    The secret alone is registered with the process-wide redactor: git's header carries it without the user."""
    user, colon, secret = token.partition(":")
    if not colon or not user.strip() or not secret.strip():
        return None
    add_secret(secret)
    return user, secret


def without_user(url: str) -> str:
    """``url`` without a user name alone (``https://USER@host/…`` → ``https://host/…``), as Bitbucket writes clone
    hrefs. A ``USER:PASSWORD@`` is left in place, so the clone URL check refuses it as the credential it is."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at or ":" in userinfo or parts.scheme not in ("https", "http"):
        return url
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def clone_links(item: Mapping[str, object], https_name: str) -> tuple[str, str | None]:
    """``(https URL, ssh URL)`` of ``links.clone`` (``[{"name": "https" | "ssh", "href": …}]``); "" when absent."""
    links = item.get("links")
    clone = links.get("clone") if isinstance(links, dict) else None
    found: dict[str, str] = {}
    for entry in clone if isinstance(clone, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("href"), str):
            found.setdefault(entry["name"], entry["href"])
    return without_user(found.get(https_name, "")), found.get("ssh")


def atlassian_error(response: httpx.Response) -> str:
    """The error text of an Atlassian answer, inert and redacted: Cloud's ``{"error": {"message"}}``, Data Center's
    ``{"errors": [{"message"}]}``, else whatever the body says."""
    try:
        body = json_body(response)
    except ValueError:
        return error_message(response)
    error = body.get("error") if isinstance(body, dict) else None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        error = errors[0]
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str) and message.strip():
        return inert(message, flatten=True, limit=300, redactor=SECRETS)
    return error_message(response)


def api_root(base_url: str, suffix: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith(suffix) else base + suffix


class Bitbucket(Provider):
    """The Bitbucket Cloud REST 2.0 dialect (``https://api.bitbucket.org``)."""

    info = ProviderInfo(
        name=ProviderName.BITBUCKET,
        default_base_url="https://api.bitbucket.org",
        token_env_vars=("BITBUCKET_TOKEN",),
        ghorg_token_vars=("GHORG_BITBUCKET_API_TOKEN", "GHORG_BITBUCKET_APP_PASSWORD", "GHORG_BITBUCKET_OAUTH_TOKEN"),
        git_username=ACCESS_TOKEN_USER,
        projects=True,
        anonymous_note=(
            "Bitbucket Cloud allows 60 API requests an hour without one and lists public repos only; set BITBUCKET_TOKEN "
            "to EMAIL:API_TOKEN (an Atlassian API token) or to an access token"
        ),
    )

    @classmethod
    def git_origin(cls, api_base: str) -> str:
        """bitbucket.org serves its API at api.bitbucket.org and git at bitbucket.org."""
        if (urlsplit(api_base).hostname or "").lower() == "api.bitbucket.org":
            return "https://bitbucket.org/"
        return origin_url(api_base)

    def auth_headers(self, token: str) -> dict[str, str]:
        pair = user_and_secret(token)
        return {"Authorization": basic_credentials(*pair) if pair else f"Bearer {token}"}

    @classmethod
    def git_auth_header(cls, token: str) -> str:
        pair = user_and_secret(token)
        return f"Authorization: {basic_credentials(API_TOKEN_USER, pair[1]) if pair else basic_credentials(ACCESS_TOKEN_USER, token)}"

    @classmethod
    def wiki_url(cls, clone_url: str) -> str:
        """``https://bitbucket.org/{workspace}/{slug}.git/wiki``."""
        base = clone_url.removesuffix("/")
        return (base if base.endswith(".git") else base + ".git") + "/wiki"

    def first_urls(self) -> list[str]:
        params = {"pagelen": str(PAGELEN), "sort": "created_on"}  # oldest first: repos made mid-walk land at the end
        if self.projects:
            params["q"] = " OR ".join(f'project.key="{_bbql_text(key)}"' for key in self.projects)
        return [f"{api_root(self.base_url, '/2.0')}/repositories/{quote(self.owner, safe='')}?{urlencode(params)}"]

    def lookup_urls(self, key: str, rel_path: str) -> list[str]:
        """``/repositories/{workspace}/{slug}``, by name: an answer about another uuid means this repo is gone."""
        return [f"{api_root(self.base_url, '/2.0')}/repositories/{quote(self.owner, safe='')}/{quote(rel_path, safe='')}"]

    @property
    def listing_is_partial(self) -> bool:
        return bool(self.projects) or super().listing_is_partial

    def next_url(self, url: str, response: httpx.Response) -> str | None:
        """``next`` of the body, verbatim (an opaque cursor, sometimes); none on a 304 (the state has it)."""
        if response.status_code == 304:
            return None
        body = json_body(response)
        found = body.get("next") if isinstance(body, dict) else None
        return found if isinstance(found, str) and found else None

    def parse_page(self, url: str, response: httpx.Response) -> Page:
        etag = response.headers.get("etag")
        next_url = self.next_url(url, response)
        if response.status_code == 304:
            return Page(url=url, repos=[], next_url=next_url, etag=etag, not_modified=True)
        body = json_body(response)
        if not isinstance(body, dict) or not isinstance(values := body.get("values"), list):
            raise ValueError("expected a page with a list of values")
        size = body.get("size")
        total = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
        repos = [repo for item in values if (repo := self.parse_repo(item)) is not None]
        return Page(url=url, repos=repos, next_url=next_url, etag=etag, total=total)

    def parse_repo(self, item: object) -> RemoteRepo | None:
        if not isinstance(item, dict):
            return None
        key, full_name = text_field(item, "uuid"), text_field(item, "full_name")
        if not key or not full_name:
            return None
        owner, _, slug = full_name.partition("/")  # a slug never holds "/": one that does is refused by the pipeline
        if not owner or not slug:
            return None
        clone_url, ssh_url = clone_links(item, "https")
        mainbranch = item.get("mainbranch")
        return RemoteRepo(
            key=key,
            full_name=full_name,
            rel_path=slug,
            clone_url=clone_url,
            ssh_url=ssh_url,
            fork=isinstance(item.get("parent"), dict),
            has_wiki=item.get("has_wiki") is True,
            private=item.get("is_private") is True,
            pushed_at=text_field(item, "updated_on"),
            default_branch=text_field(mainbranch, "name") if isinstance(mainbranch, dict) else None,
            owner=owner,
            language=listed_text(item, "language"),
        )

    def forbidden_message(self, response: httpx.Response) -> str:
        return f"access forbidden: {atlassian_error(response)} (does the token have the read:repository:bitbucket scope?)"


def _bbql_text(value: str) -> str:
    """A value inside a BBQL string literal: its quotes and backslashes escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
