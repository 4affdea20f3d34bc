"""Bitbucket Cloud REST 2.0 (FORGE-APIS §7.4, §7.8): a workspace's repositories, paged in the body.

``GET /2.0/repositories/{workspace}`` answers ``{"pagelen", "values", "page", "size", "next"}``: ``pagelen`` defaults to
10 and is capped at 100, ``next`` is a full URL to follow verbatim (absent on the last page), ``size`` counts the
whole listing. With ``Scenario.bitbucket_cursor_pages`` the pages are the cursor kind some endpoints serve: ``next``
carries an opaque ``page`` token and the body has neither ``page`` nor ``size``. ``q`` understands the BBQL a client
filters projects with (``project.key="A" OR project.key="B"``); ``sort`` takes ``created_on`` and ``updated_on``
(``-`` for descending).

A repo object carries ``uuid`` (its stable id, ``{…}``), ``full_name`` (``workspace/slug``), ``links.clone`` (an
``https`` href naming the caller, ``https://USER@host/ws/slug.git``, and an ``ssh`` one), ``updated_on`` (moves on
every push), ``mainbranch``, ``project``, ``has_wiki``, ``is_private``, ``parent`` for a fork, and no archived flag.
Each repo is in one project: ``MAIN`` (the top group's own repos), ``PLATFORM`` or ``TOOLS`` (by the catalog group).

Credentials: an access token as ``Authorization: Bearer``, or an Atlassian API token (the forge's token written
``EMAIL:TOKEN``) as Basic ``EMAIL:TOKEN``. Access tokens also get the scaled rate-limit headers
(``X-RateLimit-Limit``, ``X-RateLimit-Resource``, ``X-RateLimit-NearLimit``: bitbucket.org blog, "Introducing scaled
rate limits"); a spent quota is ``429`` with ``Retry-After``. Errors are ``{"type": "error", "error": {"message"}}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, unquote, urlencode

from gz_tui.forge_sim.api_common import (
    TOKEN_USER,
    ApiRequest,
    JsonCache,
    Response,
    Site,
    cut_page,
    json_bytes,
    spoiled_page,
)
from gz_tui.forge_sim.catalog import Catalog, RepoMeta
from gz_tui.forge_sim.limits import QuotaState
from gz_tui.forge_sim.scenario import Scenario

DEFAULT_PAGELEN = 10
MAX_PAGELEN = 100
NEAR_LIMIT_SHARE = 0.2
"""``X-RateLimit-NearLimit: true`` once less than this share of the hour's quota is left."""
PROJECTS = {"": "MAIN", "platform": "PLATFORM", "tools": "TOOLS"}
"""A repo's project key, by the top segment of its catalog group."""
_SORT_KEYS: dict[str, Callable[[RepoMeta], tuple[Any, ...]]] = {
    "created_on": lambda m: (m.created, m.id),
    "updated_on": lambda m: (m.updated, m.id),
}
_PROJECT_TERM = re.compile(r'^\s*project\.key\s*=\s*"((?:[^"\\]|\\.)*)"\s*$')


def project_key(meta: RepoMeta) -> str:
    return PROJECTS.get(meta.group.split("/", 1)[0], "MAIN")


def repo_uuid(number: int, kind: int = 0) -> str:
    """A stable ``{…}`` uuid for a repo (kind 0), workspace (1) or project (2) number."""
    return f"{{{number & 0xFFFFFFFF:08x}-{kind:04x}-4000-8000-{number:012x}}}"


def cloud_time(ts: float) -> str:
    """Bitbucket Cloud's timestamps: ``2019-01-01T00:00:00.000000+00:00``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".000000+00:00"


def basic_credential(value: str | None) -> str | None:
    """The ``USER:PASSWORD`` of a Basic ``Authorization`` value, or None."""
    scheme, _, credential = (value or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(credential.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def bearer_token(value: str | None) -> str | None:
    scheme, _, credential = (value or "").strip().partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else None


def projects_of(query: str | None) -> frozenset[str] | None:
    """The project keys a BBQL ``q`` selects (terms ``project.key="K"`` joined by ``OR``); None: no filter. A query
    of any other shape selects nothing (the sim knows no other field)."""
    if not query or not query.strip():
        return None
    keys = []
    for term in re.split(r"\s+OR\s+", query.strip()):
        match = _PROJECT_TERM.match(term)
        if match is None:
            return frozenset()
        keys.append(re.sub(r"\\(.)", r"\1", match.group(1)))
    return frozenset(keys)


def _error(status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> Response:
    return Response(status, json_bytes({"type": "error", "error": {"message": message}}), list(headers))


class BitbucketApi:
    """Bitbucket Cloud flavour of :class:`~gz_tui.forge_sim.api_common.ForgeApi`."""

    provider = "bitbucket"

    def __init__(self, site: Site, catalog: Catalog, scenario: Scenario) -> None:
        self._site = site
        self._catalog = catalog
        self._scenario = scenario
        self._cache = JsonCache()

    # -- checks the dispatcher runs --

    def authorized(self, request: ApiRequest, token: str) -> bool:
        authorization = request.header("authorization")
        if bearer_token(authorization) == token:
            return True
        return ":" in token and basic_credential(authorization) == token  # an API token: Basic EMAIL:TOKEN

    def unauthorized(self, request: ApiRequest) -> Response:
        return _error(401, "Token is invalid, expired, or not supported for this endpoint.")

    def error(self, request: ApiRequest, status: int) -> Response:
        return _error(status, "Something went wrong" if status >= 500 else "Bad request")

    def counts_quota(self, request: ApiRequest) -> bool:
        return True

    def rate_headers(self, state: QuotaState) -> list[tuple[str, str]]:
        return []  # sent to access tokens only, by handle()

    def primary_limited(self, request: ApiRequest, state: QuotaState, retry_after: int) -> Response:
        return _error(429, "Rate limit for this resource has been exceeded", [("Retry-After", str(retry_after))])

    def secondary_limited(self, request: ApiRequest, retry_after: int | None) -> Response:
        headers = [] if retry_after is None else [("Retry-After", str(retry_after))]
        return _error(429, "Rate limit for this resource has been exceeded", headers)

    # -- routes --

    def handle(self, request: ApiRequest, state: QuotaState) -> Response:
        response = self._route(request)
        if bearer_token(request.header("authorization")) is not None and response.status == 200:
            near = state.remaining < state.limit * NEAR_LIMIT_SHARE
            response.headers += [
                ("X-RateLimit-Limit", str(state.limit)),
                ("X-RateLimit-Resource", "api"),
                ("X-RateLimit-NearLimit", "true" if near else "false"),
            ]
        return response

    def _route(self, request: ApiRequest) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _error(405, "Method not allowed")
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        match parts:
            case ["user"]:
                if request.anonymous or not request.header("authorization"):
                    return _error(
                        401, "This API is only accessible with the following authentication types: session, password, apppassword"
                    )
                return self._json({"type": "user", "username": TOKEN_USER, "display_name": "Forge Sim User", "uuid": repo_uuid(1, 3)})
            case ["workspaces", workspace] if self._is_owner(workspace):
                return self._json(self._workspace())
            case ["repositories", workspace] if self._is_owner(workspace):
                return self._listing(request)
            case ["repositories", workspace, slug] if self._is_owner(workspace):
                meta = self._catalog.find(slug)
                if meta is None or meta.owner is not None or meta.hostile or (meta.private and request.anonymous):
                    return _error(404, f"Repository {workspace}/{slug} not found")
                return Response(200, self._repo_json(meta, request), cacheable=True)
            case ["repositories" | "workspaces", workspace, *_]:
                return _error(404, f"Workspace {workspace} not found")
        return _error(404, "Resource not found")

    def _is_owner(self, name: str) -> bool:
        return name.lower() == self._site.org.lower()

    def _json(self, value: Any) -> Response:
        return Response(200, json_bytes(value), cacheable=True)

    # -- listing --

    def _listing(self, request: ApiRequest) -> Response:
        scenario = self._scenario
        pagelen = request.int_param("pagelen", DEFAULT_PAGELEN)
        if not 1 <= pagelen <= MAX_PAGELEN:
            return _error(400, f"Invalid pagelen: must be between 1 and {MAX_PAGELEN}")
        page = self._page_number(request.param("page"))
        if page is None:
            return _error(400, "Invalid page")
        sort = request.param("sort") or "created_on"
        key = _SORT_KEYS.get(sort.removeprefix("-"))
        if key is None:
            return _error(400, f"Invalid sort field: {sort}")
        projects = projects_of(request.param("q"))
        anonymous = request.anonymous

        def build(repos: Sequence[RepoMeta]) -> list[RepoMeta]:
            shown = (m for m in repos if not (anonymous and m.private) and (projects is None or project_key(m) in projects))
            return sorted(shown, key=key, reverse=sort.startswith("-"))

        view = self._catalog.view(("bitbucket", anonymous, sort, projects), build)
        cut = cut_page(view, page, pagelen, scenario)

        def on_served() -> None:
            self._catalog.page_served(view, page, pagelen, scenario.churn)

        if cut.spoiled is not None:
            return spoiled_page(cut, [], on_served)
        values = b",".join(self._repo_json(m, request) for m in cut.items)
        head: dict[str, Any] = {"pagelen": pagelen}
        if not scenario.bitbucket_cursor_pages:
            head |= {"size": cut.total, "page": page}
        if cut.next_page is not None:
            head["next"] = self._next_link(request, cut.next_page)
        body = json_bytes(head)[:-1] + b',"values":[' + values + b"]}"
        return Response(200, body, cacheable=True, on_served=on_served)

    def _page_number(self, raw: str | None) -> int | None:
        """A page number, or the page an opaque cursor token names (``Scenario.bitbucket_cursor_pages``)."""
        if raw is None or raw == "":
            return 1
        if raw.isdigit():
            return max(1, int(raw))
        try:
            cursor = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except (binascii.Error, ValueError):
            return None
        number = cursor.get("p") if isinstance(cursor, dict) else None
        return number if isinstance(number, int) and number >= 1 else None

    def _next_link(self, request: ApiRequest, page: int) -> str:
        """A full URL on the host the client used (or ``Scenario.gitlab_host``), the request's query kept."""
        if self._scenario.bitbucket_cursor_pages:
            raw = json.dumps({"p": page, "o": self._site.org}, separators=(",", ":")).encode()
            token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        else:
            token = str(page)
        query = [(k, v) for k, v in request.query if k != "page"] + [("page", token)]
        host = self._scenario.gitlab_host or request.host
        return f"http://{host}{request.prefix}{quote(request.path)}?{urlencode(query)}"

    # -- objects --

    def _workspace(self) -> dict[str, Any]:
        org = self._site.org
        return {
            "type": "workspace",
            "uuid": repo_uuid(len(org), 1),
            "name": org.capitalize(),
            "slug": org,
            "is_private": False,
            "links": {"html": {"href": f"{self._site.base_url}/{org}/"}},
        }

    def _repo_json(self, meta: RepoMeta, request: ApiRequest) -> bytes:
        named = bool(request.header("authorization")) and not request.anonymous  # the clone href names the caller
        return self._cache.get((meta.id, meta.rev, named), lambda: json_bytes(self._repo_object(meta, named)))

    def _repo_object(self, meta: RepoMeta, named: bool) -> dict[str, Any]:
        base, hostport, org = self._site.base_url, self._site.hostport, self._site.org
        workspace = meta.owner or org
        full_name = f"{workspace}/{meta.name}"
        host = hostport.split(":")[0]
        user = f"{TOKEN_USER}@" if named else ""
        https = self._site.fill(meta.clone_url) if meta.clone_url else f"http://{user}{hostport}/{full_name}.git"
        key = project_key(meta)
        api = f"{base}/2.0/repositories/{full_name}"
        repo: dict[str, Any] = {
            "type": "repository",
            "full_name": full_name,
            "links": {
                "self": {"href": api},
                "html": {"href": f"{base}/{full_name}"},
                "avatar": {"href": f"{base}/{full_name}/avatar/32"},
                "pullrequests": {"href": f"{api}/pullrequests"},
                "commits": {"href": f"{api}/commits"},
                "forks": {"href": f"{api}/forks"},
                "watchers": {"href": f"{api}/watchers"},
                "downloads": {"href": f"{api}/downloads"},
                "clone": [{"name": "https", "href": https}, {"name": "ssh", "href": f"git@{host}:{full_name}.git"}],
                "hooks": {"href": f"{api}/hooks"},
            },
            "name": meta.name,
            "slug": meta.name,
            "description": f"Generated repository {meta.name}",
            "scm": "git",
            "website": None,
            "owner": {"display_name": workspace.capitalize(), "type": "team", "uuid": repo_uuid(len(workspace), 1), "username": workspace},
            "workspace": {"type": "workspace", "uuid": repo_uuid(len(workspace), 1), "name": workspace.capitalize(), "slug": workspace},
            "is_private": meta.private,
            "project": {"type": "project", "key": key, "uuid": repo_uuid(len(key), 2), "name": key.capitalize()},
            "fork_policy": "allow_forks",
            "created_on": cloud_time(meta.created),
            "updated_on": cloud_time(meta.updated),
            "size": (max(1, self._scenario.repo_size_kb) + meta.id % 7) * 1024,
            "language": (meta.language or "").lower(),
            "uuid": repo_uuid(meta.id),
            "mainbranch": {"name": meta.default_branch, "type": "branch"},
            "override_settings": {"default_merge_strategy": True, "branching_model": True},
            "enforced_signed_commits": None,
            "has_issues": meta.id % 2 == 0,
            "has_wiki": meta.wiki != "off",
        }
        if meta.fork:
            upstream = f"upstream/{meta.name}"
            repo["parent"] = {"type": "repository", "full_name": upstream, "name": meta.name, "uuid": repo_uuid(meta.id + 1_000_000)}
        return repo
