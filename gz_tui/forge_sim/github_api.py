"""GitHub REST (2022-11-28) listing endpoints, shaped after recorded traffic (FORGE-APIS §1).

Served at the root and under ``/api/v3`` (GitHub Enterprise layout). Pagination links point at
``/organizations/{id}/repos`` or ``/user/{id}/repos`` like github.com's, so a client that rebuilds
URLs from the org name instead of following ``rel="next"`` verbatim is caught.

Per repo: ``/repos/{owner}/{name}`` and ``/repositories/{id}`` (each with ``/topics`` and ``/languages``). A renamed
repo's old name answers ``301 Moved Permanently`` with ``Location: …/repositories/{id}`` (the rest of the path
kept), as recorded in octokit/fixtures ``scenarios/api.github.com/rename-repository``.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlencode

from gz_tui.forge_sim.api_common import (
    TOKEN_USER,
    ApiRequest,
    JsonCache,
    PageCut,
    Response,
    Site,
    bearer_or_token,
    cut_page,
    iso,
    json_bytes,
    spoiled_page,
)
from gz_tui.forge_sim.app_auth import AppAuthority
from gz_tui.forge_sim.catalog import BASE_EPOCH, Catalog, RepoMeta
from gz_tui.forge_sim.limits import QuotaState
from gz_tui.forge_sim.pastes import PasteMeta, Pastes
from gz_tui.forge_sim.scenario import Scenario

DOCS = "https://docs.github.com/rest"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID "
    "E2A7:0C53:962B79:9A9281:6462B949."
)
REDIRECT_DOCS = "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects"
INTEGRATION_MESSAGE = "Resource not accessible by integration"
"""GitHub's 403 for an installation token on a user's own endpoints (``/user``, ``/user/repos``)."""
OTHER_OWNER_ID = 4242
_SORT_KEYS: dict[str, Callable[[RepoMeta], tuple[Any, ...]]] = {
    "created": lambda m: (m.created, m.id),
    "updated": lambda m: (m.updated, m.id),
    "pushed": lambda m: (m.pushed or 0, m.id),
    "full_name": lambda m: (f"{m.owner or ''}/{m.name}".lower(), m.id),
}
_TYPE_FILTERS: dict[str, Callable[[RepoMeta], bool]] = {
    "public": lambda m: not m.private,
    "private": lambda m: m.private,
    "forks": lambda m: m.fork,
    "sources": lambda m: not m.fork,
}
_REPO_URL_SUFFIXES = (
    ("forks_url", "/forks"),
    ("keys_url", "/keys{/key_id}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("teams_url", "/teams"),
    ("hooks_url", "/hooks"),
    ("issue_events_url", "/issues/events{/number}"),
    ("events_url", "/events"),
    ("assignees_url", "/assignees{/user}"),
    ("branches_url", "/branches{/branch}"),
    ("tags_url", "/tags"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("trees_url", "/git/trees{/sha}"),
    ("statuses_url", "/statuses/{sha}"),
    ("languages_url", "/languages"),
    ("stargazers_url", "/stargazers"),
    ("contributors_url", "/contributors"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("commits_url", "/commits{/sha}"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("comments_url", "/comments{/number}"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("contents_url", "/contents/{+path}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("merges_url", "/merges"),
    ("archive_url", "/{archive_format}{/ref}"),
    ("downloads_url", "/downloads"),
    ("issues_url", "/issues{/number}"),
    ("pulls_url", "/pulls{/number}"),
    ("milestones_url", "/milestones{/number}"),
    ("notifications_url", "/notifications{?since,all,participating}"),
    ("labels_url", "/labels{/name}"),
    ("releases_url", "/releases{/id}"),
    ("deployments_url", "/deployments"),
)


def owner_id(login: str) -> int:
    """Stable numeric id for an owner login (what ``/organizations/{id}`` links use)."""
    return 1_000_000 + zlib.crc32(login.lower().encode()) % 9_000_000


def _node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def _authenticated(request: ApiRequest) -> bool:
    """The dispatcher already refused a wrong token; here any credential counts as the owner's own (a wrong one
    served as anonymous does not)."""
    return bool(request.header("authorization")) and not request.anonymous


def _error(status: int, message: str, docs: str = DOCS) -> bytes:
    return json_bytes({"message": message, "documentation_url": docs, "status": str(status)})


_INSTANCE_PAGE = 100
_SHORT_KEYS = ("id", "node_id", "name", "full_name", "private", "owner", "html_url", "description", "fork", "url")
"""What a ``/repositories`` entry holds (then the ``*_url`` templates, left out here)."""


class GitHubApi:
    """GitHub flavour of :class:`~gz_tui.forge_sim.api_common.ForgeApi`."""

    provider = "github"

    def __init__(
        self, site: Site, catalog: Catalog, scenario: Scenario, app: AppAuthority | None = None, pastes: Pastes | None = None
    ) -> None:
        self._app = app
        self._pastes = pastes
        self._site = site
        self._catalog = catalog
        self._scenario = scenario
        self._org_id = owner_id(site.org)
        self._cache = JsonCache()
        self._owners: dict[str, dict[str, Any]] = {}

    # -- checks the dispatcher runs --

    def authorized(self, request: ApiRequest, token: str) -> bool:
        return bearer_or_token(request.header("authorization"), token)

    def unauthorized(self, request: ApiRequest) -> Response:
        return self._common(Response(401, _error(401, "Bad credentials")))

    def error(self, request: ApiRequest, status: int) -> Response:
        message = "Server Error" if status >= 500 else "Error"
        return self._common(Response(status, _error(status, message)))

    def counts_quota(self, request: ApiRequest) -> bool:
        return request.path.rstrip("/") != "/rate_limit"

    def rate_headers(self, state: QuotaState) -> list[tuple[str, str]]:
        return [
            ("x-ratelimit-limit", str(state.limit)),
            ("x-ratelimit-remaining", str(state.remaining)),
            ("x-ratelimit-reset", str(state.reset)),
            ("x-ratelimit-used", str(state.used)),
            ("x-ratelimit-resource", "core"),
        ]

    def primary_limited(self, request: ApiRequest, state: QuotaState, retry_after: int) -> Response:
        body = _error(403, "API rate limit exceeded for user ID 1.", RATE_DOCS)
        return self._common(Response(403, body, self.rate_headers(state)))

    def secondary_limited(self, request: ApiRequest, retry_after: int | None) -> Response:
        headers = [] if retry_after is None else [("retry-after", str(retry_after))]
        body = json_bytes({"message": SECONDARY_MESSAGE, "documentation_url": SECONDARY_DOCS})
        return self._common(Response(self._scenario.secondary_status, body, headers))

    # -- routes --

    def handle(self, request: ApiRequest, state: QuotaState) -> Response:
        return self._common(self._route(request, state))

    def _common(self, response: Response) -> Response:
        response.headers += [
            ("x-github-api-version-selected", "2022-11-28"),
            ("x-github-media-type", "github.v3; format=json"),
        ]
        return response

    def _route(self, request: ApiRequest, state: QuotaState) -> Response:
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        is_org = self._site.owner_kind == "org"
        if self._app is not None:  # the dispatcher has verified the app's JWT on these routes
            match (request.method, parts):
                case ("GET", ["app"]):
                    return self._json({"id": self._app.app.app_id, "slug": self._app.app.slug, "name": "gz-tui mirror"})
                case ("GET", [("orgs" | "users") as kind, name, "installation"]) if self._is_owner(name) and (kind == "orgs") == is_org:
                    return self._json(self._installation())
                case ("POST", ["app", "installations", number, "access_tokens"]) if number == str(self._app.app.installation_id):
                    failure = self._app.mint_failure
                    after = self._scenario.app_mints_before_failure
                    if failure is None and after is not None and self._app.issued >= after:
                        failure = self._scenario.app_mint_failure
                    if failure == "hang":
                        return Response(0, hold=True)
                    if failure is not None:
                        return Response(failure, _error(failure, "Server Error" if failure >= 500 else "Error"))
                    token, expires = self._app.mint()
                    body = {
                        "token": token,
                        "expires_at": iso(expires),
                        "permissions": {"contents": "read", "metadata": "read"},
                        "repository_selection": "all",
                    }
                    return Response(201, json_bytes(body))
        if request.method not in ("GET", "HEAD"):
            return self._not_found()
        match parts:
            case ["rate_limit"]:
                return Response(200, self._rate_limit_body(state))
            case ["orgs", name] if is_org and self._is_owner(name):
                return self._json(self._owner_object(request))
            case ["orgs", name, "repos"] if is_org and self._is_owner(name):
                return self._listing(request, f"/organizations/{self._org_id}/repos", user_endpoint=False)
            case ["organizations", number, "repos"] if is_org and number == str(self._org_id):
                return self._listing(request, f"/organizations/{self._org_id}/repos", user_endpoint=False)
            case ["users", name, "starred"] if name.lower() == self._starrer.lower():
                return self._starred(request)
            case ["user", "starred", owner, name]:
                if not _authenticated(request):
                    return Response(401, _error(401, "Requires authentication"))
                starred = {m.id for m, _ in self._catalog.starred()}
                meta = self._catalog.find(name) if self._is_owner(owner) else None
                return Response(204, b"") if meta is not None and meta.id in starred else self._not_found()
            case ["users", name, "gists"] if name.lower() == self._starrer.lower():
                return self._gists(request, f"/users/{self._starrer}/gists", secret=False)
            case ["users", name, "gists"] if self._is_owner(name):
                return Response(200, b"[]", cacheable=True)  # an organisation has no gists
            case ["gists"]:  # the token's user's, secret ones too; to an anonymous caller every public gist
                return self._gists(request, "/gists", secret=_authenticated(request))
            case ["gists", number]:
                gist = self._pastes.find("gist", number) if self._pastes is not None else None
                return self._json(self._gist_object(gist)) if gist is not None else self._not_found()
            case ["users", name] if self._is_owner(name):
                return self._json(self._owner_object(request))
            case ["users", name, "repos"] if self._is_owner(name):
                # Public repos only, even for the user's own token: GitHub lists private ones under /user/repos.
                return self._listing(request, f"/user/{self._org_id}/repos", user_endpoint=True, public_only=not is_org)
            case ["user", number, "repos"] if number == str(self._org_id):
                return self._listing(request, f"/user/{self._org_id}/repos", user_endpoint=True, public_only=not is_org)
            case ["user"]:
                if not _authenticated(request):
                    return Response(401, _error(401, "Requires authentication"))
                if request.credential.startswith("installation:"):
                    return Response(
                        403, _error(403, INTEGRATION_MESSAGE, "https://docs.github.com/rest/users/users#get-the-authenticated-user")
                    )
                if is_org:
                    return self._json(self._user_object(TOKEN_USER, 1))
                return self._json(self._owner_object(request))
            case ["user", "repos"]:
                if not _authenticated(request):
                    return Response(401, _error(401, "Requires authentication"))
                if request.credential.startswith("installation:"):
                    return Response(403, _error(403, INTEGRATION_MESSAGE))
                if is_org:  # the viewer (forge-sim-user) owns nothing here
                    return Response(200, b"[]", cacheable=True)
                # affiliation (default: all three): their own repos, and the shared ones they collaborate on.
                affiliation = set((request.param("affiliation") or "owner,collaborator,organization_member").split(","))
                return self._listing(
                    request,
                    "/user/repos",
                    user_endpoint=True,
                    public_only=False,
                    own="owner" in affiliation,
                    shared=bool(affiliation & {"collaborator", "organization_member"}),
                )
            case ["repos", owner, name, *rest] if self._is_owner(owner) and len(rest) <= 1:
                meta = self._catalog.find(name) if "/" not in name else None  # an escaped slash names no repo
                if meta is None or meta.owner is not None:
                    moved = self._catalog.moved(name)
                    if moved is not None and self._visible(request, moved):
                        return self._moved(request, moved, rest)
                    return self._not_found()
                return self._repo_part(request, meta, rest)
            case ["repositories"]:
                return self._all_repositories(request)
            case ["repositories", number, *rest] if number.isdigit() and len(rest) <= 1:
                meta = self._catalog.by_id(int(number))
                if meta is None or meta.owner is not None:
                    return self._not_found()
                return self._repo_part(request, meta, rest)
        return self._not_found()

    def _visible(self, request: ApiRequest, meta: RepoMeta) -> bool:
        """Whether this caller may know the repo exists (GitHub answers 404 for a private repo it may not see)."""
        return not (meta.private and request.anonymous)

    def _repo_part(self, request: ApiRequest, meta: RepoMeta, rest: list[str]) -> Response:
        """``/repos/o/r`` and ``/repositories/id``, or their ``/topics`` and ``/languages``."""
        if not self._visible(request, meta):
            return self._not_found()
        match rest:
            case []:
                return Response(200, self._repo_json(meta), cacheable=True)
            case ["topics"]:
                return self._json({"names": list(meta.topics)})
            case ["languages"]:
                return self._json({meta.language: 1_000 + meta.id % 50_000} if meta.language else {})
        return self._not_found()

    def _moved(self, request: ApiRequest, meta: RepoMeta, rest: list[str]) -> Response:
        """GitHub's answer at a renamed repo's old name: 301, ``Location`` and body ``url`` naming it by id."""
        query = f"?{urlencode(request.query)}" if request.query else ""
        location = f"http://{request.host}{request.prefix}/repositories/{meta.id}{''.join('/' + p for p in rest)}{query}"
        body = json_bytes({"message": "Moved Permanently", "url": location, "documentation_url": REDIRECT_DOCS})
        return Response(301, body, [("Location", location)])

    def _not_found(self) -> Response:
        return Response(404, _error(404, "Not Found"))

    def _is_owner(self, name: str) -> bool:
        return name.lower() == self._site.org.lower()

    def _json(self, value: Any) -> Response:
        return Response(200, json_bytes(value), cacheable=True)

    # -- listings --

    def _view(self, sort: str, direction: str, kind: str, own: bool = True, shared: bool = False) -> tuple[RepoMeta, ...]:
        def build(repos: Sequence[RepoMeta]) -> list[RepoMeta]:
            keep = _TYPE_FILTERS.get(kind)
            candidates = [*(repos if own else ()), *(self._catalog.shared if shared else ())]
            chosen = [m for m in candidates if keep(m)] if keep else candidates
            chosen.sort(key=_SORT_KEYS[sort], reverse=direction == "desc")
            return chosen

        return self._catalog.view(("github", sort, direction, kind, own, shared), build)

    @property
    def _starrer(self) -> str:
        """The user whose stars the forge knows: the token's (the org's sims), or the user who is the owner."""
        return TOKEN_USER if self._site.owner_kind == "org" else self._site.org

    def _starred(self, request: ApiRequest) -> Response:
        """``/users/{user}/starred``: the repos the user starred, by when (``sort=created``, the default) or by the repo's
        last update (``sort=updated``), newest first unless ``direction=asc``; public ones only to an anonymous caller."""
        sort = request.param("sort") if request.param("sort") in ("created", "updated") else "created"
        direction = request.param("direction") if request.param("direction") in ("asc", "desc") else "desc"
        stars = [(m, when) for m, when in self._catalog.starred() if not (m.private and request.anonymous)]
        stars.sort(key=(lambda pair: pair[1]) if sort == "created" else (lambda pair: pair[0].updated), reverse=direction == "desc")
        per_page = min(100, max(1, request.int_param("per_page", 30)))
        page = max(1, request.int_param("page", 1))
        cut = cut_page([m for m, _ in stars], page, per_page, self._scenario, hostile=False)
        link = self._link(request, f"/users/{self._starrer}/starred", cut)
        body = b"[" + b",".join(self._repo_json(m) for m in cut.items) + b"]"
        return Response(200, body, [("link", link)] if link else [], cacheable=True)

    def _gists(self, request: ApiRequest, link_path: str, *, secret: bool) -> Response:
        """A gist listing: newest first (GitHub does not document the order; this is what its pages show), paged by
        ``page``/``per_page`` (30, at most 100) with a ``Link`` header like the repo listings; ``secret``: the secret
        ones too (``/gists`` to its owner's token), else the public ones only (``/users/U/gists``, even to U)."""
        gists = self._pastes.gists() if self._pastes is not None else []
        chosen = [g for g in reversed(gists) if secret or g.public]
        per_page = min(100, max(1, request.int_param("per_page", 30)))
        page = max(1, request.int_param("page", 1))
        cut = cut_page(chosen, page, per_page, self._scenario, hostile=False)
        link = self._link(request, link_path, cut)
        body = json_bytes([self._gist_object(g) for g in cut.items])
        return Response(200, body, [("link", link)] if link else [], cacheable=True)

    def _gist_object(self, gist: PasteMeta) -> dict[str, Any]:
        """A ``base-gist``: GitHub Enterprise's git URLs (``/gist/ID.git`` on the API's host; github.com's are on
        ``gist.github.com``)."""
        base = self._site.base_url
        api = f"{base}/gists/{gist.id}"
        return {
            "url": api,
            "forks_url": f"{api}/forks",
            "commits_url": f"{api}/commits",
            "id": gist.id,
            "node_id": base64.b64encode(f"04:Gist{gist.id}".encode()).decode(),
            "git_pull_url": f"{base}/gist/{gist.id}.git",
            "git_push_url": f"{base}/gist/{gist.id}.git",
            "html_url": f"{base}/gist/{gist.id}",
            "files": {"README.md": {"filename": "README.md", "type": "text/markdown", "language": "Markdown", "size": 40}},
            "public": gist.public,
            "created_at": iso(gist.created),
            "updated_at": iso(gist.updated),
            "description": f"Generated {gist.title}",
            "comments": 0,
            "user": None,
            "comments_url": f"{api}/comments",
            "owner": self._owner(self._starrer),
            "truncated": False,
        }

    def _installation(self) -> dict[str, Any]:
        assert self._app is not None
        return {
            "id": self._app.app.installation_id,
            "app_id": self._app.app.app_id,
            "app_slug": self._app.app.slug,
            "account": self._owner(self._site.org),
            "repository_selection": "all",
            "target_type": "Organization" if self._site.owner_kind == "org" else "User",
            "permissions": {"contents": "read", "metadata": "read"},
        }

    def _listing(
        self, request: ApiRequest, link_path: str, user_endpoint: bool, public_only: bool = False, own: bool = True, shared: bool = False
    ) -> Response:
        default_sort = "full_name" if user_endpoint else "created"
        sort = request.param("sort") or default_sort
        if sort not in _SORT_KEYS:
            sort = default_sort
        direction = request.param("direction") or ("asc" if sort == "full_name" else "desc")
        if direction not in ("asc", "desc"):
            direction = "asc" if sort == "full_name" else "desc"
        kind = request.param("type") or "all"
        if public_only or request.anonymous:  # anonymous callers see public repos only, whatever they ask for
            if kind == "private":
                return Response(200, b"[]", cacheable=True)
            kind = "public"
        per_page = min(100, max(1, request.int_param("per_page", 30)))
        page = max(1, request.int_param("page", 1))
        view = self._view(sort, direction, kind, own, shared)
        cut = cut_page(view, page, per_page, self._scenario)
        headers = []
        link = self._link(request, link_path, cut)
        if link:
            headers.append(("link", link))

        def on_served() -> None:
            self._catalog.page_served(view, page, per_page, self._scenario.churn)

        if cut.spoiled is not None:
            return spoiled_page(cut, headers, on_served)
        body = b"[" + b",".join(self._repo_json(m) for m in cut.items) + b"]"
        return Response(200, body, headers, cacheable=True, on_served=on_served)

    def _all_repositories(self, request: ApiRequest) -> Response:
        """``/repositories?since=ID``: the repos every user of the instance may see (public ones here), by id, 100 a page,
        each in its short form (no ``clone_url``, ``pushed_at`` or ``archived``: the ``/repositories`` objects carry
        the identity and URL fields only); paged "exclusively by the ``since`` parameter", in ``Link: rel="next"``."""
        since = request.int_param("since", 0)

        def build(repos: Sequence[RepoMeta]) -> list[RepoMeta]:
            return sorted((m for m in [*repos, *self._catalog.shared] if not m.private and not m.hostile), key=lambda m: m.id)

        view = self._catalog.view(("github-instance",), build)
        rest = [m for m in view if m.id > since]
        chosen = rest[:_INSTANCE_PAGE]
        headers = []
        if len(rest) > len(chosen):
            base = f"http://{request.host}{request.prefix}/repositories"
            headers.append(("link", f'<{base}?since={chosen[-1].id}>; rel="next", <{base}{{?since}}>; rel="first"'))
        served_page = 1 + (len(view) - len(rest)) // _INSTANCE_PAGE
        body = b"[" + b",".join(json_bytes(self._short_object(m)) for m in chosen) + b"]"
        response = Response(200, body, headers, cacheable=True)
        response.on_served = lambda: self._catalog.page_served(view, served_page, _INSTANCE_PAGE, self._scenario.churn)
        return response

    def _short_object(self, meta: RepoMeta) -> dict[str, Any]:
        full = self._repo_object(meta)
        return {key: full[key] for key in _SHORT_KEYS if key in full}

    def _link(self, request: ApiRequest, link_path: str, cut: PageCut) -> str | None:
        """GitHub's rel order: page 1 ``next, last``; middle ``prev, next, last, first``; last ``prev, first``."""
        page, last = cut.page, cut.last
        if last <= 1 and page <= 1 and cut.next_page is None:
            return None
        base = f"http://{request.host}{request.prefix}{link_path}"
        params = [(k, v) for k, v in request.query if k != "page"]

        def url(number: int) -> str:
            return f"<{base}?{urlencode([*params, ('page', str(number))])}>"

        rels = []
        if page > 1:
            rels.append(f'{url(page - 1)}; rel="prev"')
        if cut.next_page is not None:
            rels.append(f'{url(cut.next_page)}; rel="next"')
        if page != last:
            rels.append(f'{url(last)}; rel="last"')
        if page > 1:
            rels.append(f'{url(1)}; rel="first"')
        return ", ".join(rels)

    # -- objects --

    def _rate_limit_body(self, state: QuotaState) -> bytes:
        core = {"limit": state.limit, "used": state.used, "remaining": state.remaining, "reset": state.reset}
        other = {"limit": 5000, "used": 0, "remaining": 5000, "reset": state.reset}
        search = {"limit": 30, "used": 0, "remaining": 30, "reset": state.reset}
        resources = {"core": core, "search": search, "graphql": other, "integration_manifest": other}
        return json_bytes({"resources": resources, "rate": core})

    def _owner(self, login: str) -> dict[str, Any]:
        """The ``owner`` block of a repo (cached: identical for all repos of an owner)."""
        cached = self._owners.get(login)
        if cached is None:
            base = self._site.base_url
            is_org = login == self._site.org and self._site.owner_kind == "org"
            number = owner_id(login) if login != "other" else OTHER_OWNER_ID
            cached = {
                "login": login,
                "id": number,
                "node_id": _node_id("Organization" if is_org else "User", number),
                "avatar_url": f"https://avatars.githubusercontent.com/u/{number}?v=4",
                "gravatar_id": "",
                "url": f"{base}/users/{login}",
                "html_url": f"{base}/{login}",
                "followers_url": f"{base}/users/{login}/followers",
                "following_url": f"{base}/users/{login}/following{{/other_user}}",
                "gists_url": f"{base}/users/{login}/gists{{/gist_id}}",
                "starred_url": f"{base}/users/{login}/starred{{/owner}}{{/repo}}",
                "subscriptions_url": f"{base}/users/{login}/subscriptions",
                "organizations_url": f"{base}/users/{login}/orgs",
                "repos_url": f"{base}/users/{login}/repos",
                "events_url": f"{base}/users/{login}/events{{/privacy}}",
                "received_events_url": f"{base}/users/{login}/received_events",
                "type": "Organization" if is_org else "User",
                "site_admin": False,
            }
            self._owners[login] = cached
        return cached

    def _owner_object(self, request: ApiRequest) -> dict[str, Any]:
        """The org (or user) profile; its members also get the private counts (``total_private_repos``, which with
        ``public_repos`` adds up to what the org listing holds)."""
        owner = dict(self._owner(self._site.org))
        public = len(self._view("created", "asc", "public"))
        owner.update(
            name=self._site.org.capitalize(),
            company=None,
            blog="",
            location=None,
            email=None,
            bio=None,
            twitter_username=None,
            public_repos=public,
            public_gists=0,
            followers=0,
            following=0,
            created_at=iso(BASE_EPOCH - 86_400),
            updated_at=iso(BASE_EPOCH),
        )
        if owner["type"] == "Organization":
            owner.update(description="Embedded forge organisation", is_verified=False, archived_at=None)
        if _authenticated(request):
            private = len(self._view("created", "asc", "private"))
            owner.update(total_private_repos=private, owned_private_repos=private)
        return owner

    def _user_object(self, login: str, number: int) -> dict[str, Any]:
        user = dict(self._owner(login))
        user.update(id=number, type="User", node_id=_node_id("User", number), name="Forge Sim User")
        return user

    def _repo_json(self, meta: RepoMeta) -> bytes:
        return self._cache.get((meta.id, meta.rev), lambda: json_bytes(self._repo_object(meta)))

    def _repo_object(self, meta: RepoMeta) -> dict[str, Any]:
        """A ``minimal-repository`` (~5 KB), every field a client might read present and typed."""
        base = self._site.base_url
        login = meta.owner or self._site.org
        full_name = f"{login}/{meta.name}"
        api = f"{base}/repos/{full_name}"
        clone_url = self._site.fill(meta.clone_url) if meta.clone_url else f"{base}/{full_name}.git"
        host = self._site.hostport.split(":")[0]
        stars = (meta.id * 31) % 500
        repo: dict[str, Any] = {
            "id": meta.id,
            "node_id": _node_id("Repository", meta.id),
            "name": meta.name,
            "full_name": full_name,
            "private": meta.private,
            "owner": self._owner(login),
            "html_url": f"{base}/{full_name}",
            "description": f"Generated repository {meta.name}",
            "fork": meta.fork,
            "url": api,
        }
        for key, suffix in _REPO_URL_SUFFIXES:
            repo[key] = api + suffix
        repo.update(
            created_at=iso(meta.created),
            updated_at=iso(meta.updated),
            pushed_at=iso(meta.pushed),
            git_url=f"git://{host}/{full_name}.git",
            ssh_url=f"git@{host}:{full_name}.git",
            clone_url=clone_url,
            svn_url=f"{base}/{full_name}",
            mirror_url=None,
            homepage=None,
            size=max(1, self._scenario.repo_size_kb) + meta.id % 7,
            stargazers_count=stars,
            watchers_count=stars,
            language=meta.language,
            has_issues=True,
            has_projects=True,
            has_downloads=True,
            has_wiki=meta.wiki != "off",
            has_pages=False,
            has_discussions=False,
            forks_count=meta.id % 5,
            archived=meta.archived,
            disabled=False,
            open_issues_count=meta.id % 9,
            license=None,
            allow_forking=True,
            is_template=False,
            web_commit_signoff_required=False,
            topics=list(meta.topics),
            visibility="private" if meta.private else "public",
            forks=meta.id % 5,
            open_issues=meta.id % 9,
            watchers=stars,
            default_branch=meta.default_branch,
            permissions={"admin": False, "maintain": False, "push": False, "triage": False, "pull": True},
        )
        return repo
