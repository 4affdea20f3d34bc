"""Bitbucket Data Center REST 1.0 (FORGE-APIS §7.6, §7.9): a project's repositories (or a user's), paged by offset.

``GET /rest/api/1.0/projects/{KEY}/repos?start=S&limit=L`` answers ``{"size", "limit", "isLastPage", "values",
"start", "filter", "nextPageStart"}`` (docs.atlassian.com/bitbucket-server/rest, "Paged APIs"): ``limit`` defaults to
25 and is clamped to the server's cap (``Scenario.bitbucket_server_page_max``, 1000 as shipped), ``size`` counts
*this* page, and ``nextPageStart`` (present unless ``isLastPage``) is where the next page starts. The server cuts a
page from everything in the project and then leaves out what the caller may not see, so with
``Scenario.bitbucket_server_hidden_every`` a page holds fewer than ``limit`` values and ``nextPageStart`` jumps past
the hidden ones. The org is project ``ACME`` (key in capitals; looked up case-insensitively); a user owner
(``owner_kind="user"``) is the personal project ``~ALICE``, also at ``/rest/api/1.0/users/alice/repos``.

A repo object has ``slug``, the numeric ``id``, ``project.key``, ``public``, ``archived``, ``origin`` for a fork, and
``links.clone``: ``http`` (``http://USER@host/scm/acme/slug.git``, naming the caller) and ``ssh``
(``ssh://git@host:7999/acme/slug.git``). No change signal. Errors are ``{"errors": [{"message", …}]}``.

Credentials: an HTTP access token as ``Authorization: Bearer``, or Basic with the token owner's user name and the
token (or the forge's token written ``USER:SECRET``). With ``Scenario.primary_limit`` set the server rate-limits like
Data Center's token bucket: ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Interval-Seconds`` / ``-FillRate`` and
``Retry-After`` on every answer, 429 once the bucket is empty (a fixed window standing in for the bucket).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from gz_tui.clock import Clock
from gz_tui.forge_sim.api_common import (
    TOKEN_USER,
    ApiRequest,
    JsonCache,
    PageCut,
    Response,
    Site,
    json_bytes,
    spoiled_page,
    with_duplicates,
)
from gz_tui.forge_sim.bitbucket_api import basic_credential, bearer_token
from gz_tui.forge_sim.catalog import Catalog, RepoMeta
from gz_tui.forge_sim.limits import QuotaState
from gz_tui.forge_sim.scenario import Scenario

DEFAULT_LIMIT = 25
SSH_PORT = 7999
VERSION = "8.19.1"


def _errors(status: int, message: str, exception: str, headers: Sequence[tuple[str, str]] = ()) -> Response:
    body = {"errors": [{"context": None, "message": message, "exceptionName": f"com.atlassian.bitbucket.{exception}"}]}
    return Response(status, json_bytes(body), list(headers))


class BitbucketServerApi:
    """Bitbucket Data Center flavour of :class:`~gz_tui.forge_sim.api_common.ForgeApi`."""

    provider = "bitbucket-server"

    def __init__(self, site: Site, catalog: Catalog, scenario: Scenario, clock: Clock) -> None:
        self._site = site
        self._catalog = catalog
        self._scenario = scenario
        self._clock = clock
        self._cache = JsonCache()
        org = site.org
        self.project_key = f"~{org.upper()}" if site.owner_kind == "user" else org.upper()

    # -- checks the dispatcher runs --

    def authorized(self, request: ApiRequest, token: str) -> bool:
        authorization = request.header("authorization")
        if bearer_token(authorization) == token:
            return True
        basic = basic_credential(authorization)
        return basic is not None and basic in ({token} if ":" in token else {f"{TOKEN_USER}:{token}"})

    def unauthorized(self, request: ApiRequest) -> Response:
        return _errors(
            401, "Authentication failed. Please check your credentials and try again.", "auth.IncorrectPasswordAuthenticationException"
        )

    def error(self, request: ApiRequest, status: int) -> Response:
        return _errors(status, "An error occurred while processing the request.", "ServiceException")

    def counts_quota(self, request: ApiRequest) -> bool:
        return True

    def rate_headers(self, state: QuotaState) -> list[tuple[str, str]]:
        if self._scenario.primary_limit is None:
            return []  # rate limiting is off unless an admin turns it on
        window = max(1, round(self._scenario.primary_window))
        wait = 0 if state.remaining else max(1, state.reset - int(self._clock.now()))
        return [
            ("X-RateLimit-Limit", str(state.limit)),
            ("X-RateLimit-Remaining", str(state.remaining)),
            ("X-RateLimit-Interval-Seconds", str(window)),
            ("X-RateLimit-FillRate", str(state.limit)),
            ("Retry-After", str(wait)),
        ]

    def primary_limited(self, request: ApiRequest, state: QuotaState, retry_after: int) -> Response:
        headers = [(k, v) for k, v in self.rate_headers(state) if k != "Retry-After"] + [("Retry-After", str(retry_after))]
        return _errors(429, "You have been rate limited. Please try again later.", "throttle.ThrottledException", headers)

    def secondary_limited(self, request: ApiRequest, retry_after: int | None) -> Response:
        headers = [] if retry_after is None else [("Retry-After", str(retry_after))]
        return _errors(429, "You have been rate limited. Please try again later.", "throttle.ThrottledException", headers)

    # -- routes --

    def handle(self, request: ApiRequest, state: QuotaState) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _errors(405, "Method not allowed", "web.MethodNotAllowedException")
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        match parts:
            case ["application-properties"]:
                return self._json({"version": VERSION, "buildNumber": "8019001", "buildDate": "1735689600000", "displayName": "Bitbucket"})
            case ["projects", key, "repos"] if self._is_project(key):
                return self._listing(request)
            case ["repos"]:  # every repository the caller may see: here, the one project's
                return self._listing(request)
            case ["users", slug, "repos"] if self._site.owner_kind == "user" and slug.lower() == self._site.org.lower():
                return self._listing(request)
            case ["users", slug, *_]:
                return _errors(404, f"User {slug} does not exist.", "user.NoSuchUserException")
            case ["projects", key, "repos", slug] if self._is_project(key):
                meta = self._catalog.find(slug)
                if meta is None or meta.owner is not None or meta.hostile or not self._visible(request, meta):
                    return _errors(404, f"Repository {key}/{slug} does not exist.", "repository.NoSuchRepositoryException")
                return Response(200, self._repo_json(meta, request))
            case ["projects", key, *_]:
                return _errors(404, f"Project {key} does not exist.", "project.NoSuchProjectException")
        return _errors(404, "The requested resource does not exist.", "web.NotFoundException")

    def _is_project(self, key: str) -> bool:
        return key.lower() == self.project_key.lower()

    def _visible(self, request: ApiRequest, meta: RepoMeta) -> bool:
        return not (meta.private and request.anonymous)

    def _json(self, value: Any) -> Response:
        return Response(200, json_bytes(value))

    # -- listing --

    def _listing(self, request: ApiRequest) -> Response:
        scenario = self._scenario
        start = max(0, request.int_param("start", 0))
        limit = request.int_param("limit", DEFAULT_LIMIT)
        limit = DEFAULT_LIMIT if limit <= 0 else min(limit, scenario.bitbucket_server_page_max)
        anonymous = request.anonymous

        def build(repos: Sequence[RepoMeta]) -> list[RepoMeta]:
            return [m for m in repos if m.owner is None or m.hostile]  # the project's own, in creation order

        view = self._catalog.view(("bitbucket-server",), build)
        slots = self._slots(view, anonymous, limit)
        page = start // limit + 1
        chosen = slots[start : start + limit]
        values = [m for m in chosen if m is not None]
        last = start + limit >= len(slots)
        next_start: int | None = None if last else start + limit
        spoiled = None
        if scenario.hostile_listing is not None and page == scenario.hostile_listing_page:
            if scenario.hostile_listing == "self_next":
                last, next_start = False, start
            elif scenario.hostile_listing == "next_cycle":
                last, next_start = False, 0
            elif scenario.hostile_listing in ("deep_json", "gzip_bomb"):
                spoiled = scenario.hostile_listing

        def on_served() -> None:
            self._catalog.page_served(view, page, limit, scenario.churn)

        if spoiled is not None:
            return spoiled_page(PageCut(values, page, page, len(values), None, spoiled), [], on_served)
        head: dict[str, Any] = {"size": len(values), "limit": limit, "isLastPage": last}
        tail: dict[str, Any] = {"start": start, "filter": None}
        if next_start is not None:
            tail["nextPageStart"] = next_start
        body = (
            json_bytes(head)[:-1] + b',"values":[' + b",".join(self._repo_json(m, request) for m in values) + b"]," + json_bytes(tail)[1:]
        )
        return Response(200, body, on_served=on_served)

    def _slots(self, view: Sequence[RepoMeta], anonymous: bool, limit: int) -> list[RepoMeta | None]:
        """The server's ordering of the project: every repo, with ``None`` where the caller may not look (a private
        repo for an anonymous caller; one more after every ``bitbucket_server_hidden_every`` repos)."""
        scenario = self._scenario
        items: Sequence[RepoMeta] = with_duplicates(view, limit) if scenario.hostile_listing == "duplicates" else view
        every = scenario.bitbucket_server_hidden_every
        slots: list[RepoMeta | None] = []
        for index, meta in enumerate(items):
            slots.append(None if anonymous and meta.private else meta)
            if every and (index + 1) % every == 0:
                slots.append(None)
        return slots

    # -- objects --

    def _repo_json(self, meta: RepoMeta, request: ApiRequest) -> bytes:
        named = bool(request.header("authorization")) and not request.anonymous  # the http href names the caller
        return self._cache.get((meta.id, meta.rev, named), lambda: json_bytes(self._repo_object(meta, named)))

    def _project(self) -> dict[str, Any]:
        key, org, base = self.project_key, self._site.org, self._site.base_url
        project: dict[str, Any] = {"key": key, "id": 1, "name": org.capitalize(), "public": False, "type": "NORMAL"}
        if key.startswith("~"):
            project |= {"type": "PERSONAL", "owner": {"name": org, "slug": org, "id": 2, "displayName": org.capitalize(), "active": True}}
        project["links"] = {"self": [{"href": f"{base}/{'users/' + org if key.startswith('~') else 'projects/' + key}"}]}
        return project

    def _repo_object(self, meta: RepoMeta, named: bool) -> dict[str, Any]:
        base, hostport = self._site.base_url, self._site.hostport
        host = hostport.split(":")[0]
        path_key = self.project_key.lower()
        user = f"{TOKEN_USER}@" if named else ""
        owner_key = self.project_key if meta.owner is None else meta.owner.upper()
        http = self._site.fill(meta.clone_url) if meta.clone_url else f"http://{user}{hostport}/scm/{path_key}/{meta.name}.git"
        project = self._project() if meta.owner is None else {"key": owner_key, "id": 3, "name": meta.owner, "type": "NORMAL"}
        repo: dict[str, Any] = {
            "slug": meta.name,
            "id": meta.id,
            "name": meta.name,
            "description": f"Generated repository {meta.name}",
            "hierarchyId": f"{meta.id:020x}"[-20:],
            "scmId": "git",
            "state": "AVAILABLE",
            "statusMessage": "Available",
            "forkable": True,
            "project": project,
            "public": not meta.private,
            "archived": meta.archived,
            "links": {
                "clone": [
                    {"href": f"ssh://git@{host}:{SSH_PORT}/{path_key}/{meta.name}.git", "name": "ssh"},
                    {"href": http, "name": "http"},
                ],
                "self": [{"href": f"{base}/projects/{owner_key}/repos/{meta.name}/browse"}],
            },
        }
        if meta.fork:
            repo["origin"] = {"slug": meta.name, "id": meta.id + 1_000_000, "name": meta.name, "project": {"key": "UPSTREAM", "id": 9}}
        return repo
