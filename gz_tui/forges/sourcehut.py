"""Sourcehut's git service (git.sr.ht, or a self-hosted one): a user's repositories, over GraphQL only.

``POST {base}/query`` with ``user(username:) { repositories(cursor:) { results {…} cursor } }``, asked again with the
cursor it gave until the cursor is null. Never the top-level ``repositories``: it lists only the token owner's own
repos (git.sr.ht ``api/graph/schema.graphqls``), which is how another tool's Sourcehut support sees no one else's.
A leading ``~`` of the owner (``~alice``, as Sourcehut writes users) is dropped for ``user(username:)``.

The query asks for as little as it needs, because git.sr.ht prices a query (``api/graph/complexity.go``): a page
after the first costs its fields times the cursor's count (25), and a query over the cap (200, as reported) is
refused whole. ``id name visibility HEAD { target }`` costs 7 a repo-page: 176 in all. Asking for ``updated``,
``owner`` or ``HEAD.name`` too would pass 200 on every page after the first.

- **Clone URLs** are not in the schema: they are built, ``https://HOST/~user/name`` and ``git@HOST:~user/name``, and
  then checked like any forge's.
- **git auth:** Sourcehut takes no token over https: the token goes to the API only, never to git. Private repos are
  served over ssh only, so a run with ``--protocol https`` skips them and says so once (``ProviderInfo``'s
  ``private_over_https``).
- **Change signal:** ``HEAD.target``, the commit the default branch points at (exact for that branch; a push to
  another branch alone does not move it). A repo with no commits has no ``HEAD``: it is fetched on every sync.
- **Credentials:** a personal access token (meta.sr.ht/oauth2, ``REPOSITORIES:RO``) as ``Authorization: Bearer``. A
  token Sourcehut does not know is a 403, a malformed one a 400, none at all a 401, each saying
  ``Authentication error`` (core-go ``auth/middleware.go``): all three are a refused credential (exit 2).
- No wikis (they live in man.sr.ht, not beside the repo), no archived or fork flags, no orgs.
- **Limits:** no published request quota; the price cap above and a per-request time cap. One request at a time
  (gz-tui's rule everywhere) keeps well inside both.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx

from gz_tui.forges.errors import NotFoundError, PageError
from gz_tui.forges.provider import Provider, json_body, text_field
from gz_tui.forges.records import Page, ProviderInfo, RemoteRepo
from gz_tui.forges.responses import error_message
from gz_tui.kinds import ProviderName

QUERY = (
    "query gzTuiRepos($user: String!, $cursor: Cursor) { user(username: $user) { "
    "repositories(cursor: $cursor) { results { id name visibility HEAD { target } } cursor } } }"
)
"""The listing query (priced 7 on the first page, 176 on later ones: see the module's docs)."""
LOOKUP = (
    "query gzTuiRepo($user: String!, $name: String!) { user(username: $user) { "
    "repository(name: $name) { id name visibility HEAD { target } } } }"
)
"""Prune's question about one repo, by name (git.sr.ht's ``User.repository``): null when it is gone."""
_AUTH_ERROR = "authentication error"


def endpoint_of(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith("/query") else base + "/query"


class Sourcehut(Provider):
    """The git.sr.ht GraphQL dialect (``https://git.sr.ht/query``)."""

    info = ProviderInfo(
        name=ProviderName.SOURCEHUT,
        default_base_url="https://git.sr.ht",
        token_env_vars=("SRHT_TOKEN", "SOURCEHUT_TOKEN"),
        ghorg_token_vars=("GHORG_SOURCEHUT_TOKEN",),
        git_username="",  # git_auth_header: no token goes to git (Sourcehut takes none over https)
        private_over_https=False,
        anonymous_note="Sourcehut's API answers no one without a token; create a personal access token at meta.sr.ht/oauth2 "
        "(REPOSITORIES read) and set SRHT_TOKEN",
    )

    @property
    def username(self) -> str:
        return self.owner.removeprefix("~")

    @classmethod
    def git_origin(cls, api_base: str) -> str:
        return super().git_origin(endpoint_of(api_base))

    @classmethod
    def git_auth_header(cls, token: str) -> str:
        """None: git.sr.ht accepts no token over https (public and unlisted repos need none; private ones go by ssh)."""
        return ""

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def first_urls(self) -> list[str]:
        return [f"{endpoint_of(self.base_url)}?{urlencode({'user': self.username})}"]

    def page_request(self, url: str) -> tuple[str, object] | None:
        """The page's URL names the user and the cursor (its key in the journal), or the repo a lookup asks about;
        the request is the query's POST."""
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query))
        endpoint = f"{parts.scheme}://{parts.netloc}{parts.path}"
        if "repo" in params:
            return endpoint, {"query": LOOKUP, "variables": {"user": params.get("user", self.username), "name": params["repo"]}}
        variables = {"user": params.get("user", self.username), "cursor": params.get("cursor") or None}
        return endpoint, {"query": QUERY, "variables": variables}

    def lookup_urls(self, key: str, rel_path: str) -> list[str]:
        """By name only (the schema has no lookup by id): a repo renamed upstream is followed by the listing's id."""
        return [f"{endpoint_of(self.base_url)}?{urlencode({'user': self.username, 'repo': rel_path})}"]

    def parse_lookup(self, response: httpx.Response) -> RemoteRepo | None:
        """The repo the lookup names; NotFoundError when the forge answers null (no such repo, or none we may see)."""
        body = json_body(response)
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors:
            raise ValueError("the forge refused the lookup")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ValueError("the lookup's answer holds no data")
        user = data.get("user")
        if user is None:
            raise NotFoundError(f"no Sourcehut user {self.username!r}")
        item = user.get("repository") if isinstance(user, dict) else None
        if isinstance(user, dict) and item is None:
            raise NotFoundError("no such repository")
        return self.parse_repo(item)

    def next_url(self, url: str, response: httpx.Response) -> str | None:
        """This page's URL with the cursor the answer gave; none when it is null (the last page) or unreadable."""
        try:
            listing = self._listing(json_body(response))
        except ValueError:
            return None
        cursor = listing.get("cursor") if listing is not None else None
        if not isinstance(cursor, str) or not cursor:
            return None
        parts = urlsplit(url)
        user = dict(parse_qsl(parts.query)).get("user", self.username)
        return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode({'user': user, 'cursor': cursor})}"

    def parse_page(self, url: str, response: httpx.Response) -> Page:
        body = json_body(response)
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors:
            raise PageError(f"the forge refused the listing query: {error_message(response)}")
        listing = self._listing(body)
        if listing is None:
            host = urlsplit(url).netloc
            raise NotFoundError(f"sourcehut user {self.owner!r} not found at {host}; check the spelling")
        results = listing.get("results")
        if not isinstance(results, list):
            raise ValueError("expected a list of results")
        repos = [repo for item in results if (repo := self.parse_repo(item)) is not None]
        return Page(url=url, repos=repos, next_url=self.next_url(url, response))

    def _listing(self, body: object) -> dict[str, object] | None:
        """``data.user.repositories``; None when the user is null (no such user). ValueError on another shape."""
        data = body.get("data") if isinstance(body, dict) else None
        if data is None and isinstance(body, dict) and body.get("errors"):
            return None
        if not isinstance(data, dict):
            raise ValueError("expected a GraphQL answer with data")
        user = data.get("user")
        if user is None:
            return None
        listing = user.get("repositories") if isinstance(user, dict) else None
        if not isinstance(listing, dict):
            raise ValueError("expected the user's repositories")
        return listing

    def parse_repo(self, item: object) -> RemoteRepo | None:
        if not isinstance(item, dict):
            return None
        number, name = item.get("id"), text_field(item, "name")
        if not isinstance(number, int) or isinstance(number, bool) or not name:
            return None
        head = item.get("HEAD")
        target = text_field(head, "target") if isinstance(head, dict) else None
        parts = urlsplit(self.base_url)
        path = f"~{self.username}/{name}"  # a name holding "/" or worse is refused by the pipeline's checks
        return RemoteRepo(
            key=str(number),
            full_name=f"{self.owner}/{name}",
            rel_path=name,
            clone_url=f"{parts.scheme}://{parts.netloc}/{quote(path, safe='~/')}",
            ssh_url=f"git@{parts.hostname or ''}:{path}",
            pushed_at=target or None,
            owner=self.owner,
            private=text_field(item, "visibility") == "PRIVATE",
        )

    def credentials_refused(self, response: httpx.Response) -> bool:
        if response.status_code == 401:
            return True
        return response.status_code in (400, 403) and error_message(response).lower().startswith(_AUTH_ERROR)

    def forbidden_message(self, response: httpx.Response) -> str:
        return f"access forbidden: {error_message(response)} (does the token grant REPOSITORIES read access?)"
