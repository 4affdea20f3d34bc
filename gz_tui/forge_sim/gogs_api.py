"""Gogs v1 (FORGE-APIS §7.7, §7.12), served as a Gogs installed at the sub-path ``/gogs/`` (``/gogs/api/v1``, git at
``/gogs/{owner}/{name}.git``), since ``/api/v1`` is Gitea's here.

``GET /orgs/{org}/repos``, ``/users/{user}/repos`` and ``/user/repos`` answer every repo at once: one JSON array, no
``Link``, no total header (gogs ``internal/route/api/v1/repo/repo.go`` ``listUserRepositories`` pages with
``PageSize: user.NumRepos``); ``limit`` and ``page`` are ignored. Like Gogs, ``/orgs/{name}/repos`` also answers for
a user's name (it looks the name up without asking what it is). A user's listing asked with that user's own token
(the sim's token is ``forge-sim-user``'s) holds their collaborations too: repos of other owners (the catalog's
shared projects).

A repo object is ``APIFormatLegacy``'s: ``id owner name full_name description private fork parent empty mirror size
html_url ssh_url clone_url website stars_count forks_count watchers_count open_issues_count default_branch
created_at updated_at permissions``, and no ``archived``, ``has_wiki``, ``topics`` or ``language``. ``empty`` is true
for the repos of ``Scenario.empty_repos``.

Credentials: ``Authorization: token TOKEN`` (or ``?token=``); Gogs reads no Bearer. A refused or missing token is a
``401`` with an empty body (``reqToken``). Gogs has no rate limit of its own: a spent ``Scenario.primary_limit`` is
answered as a proxy in front of it would, ``429`` with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from gz_tui.forge_sim.api_common import TOKEN_USER, ApiRequest, JsonCache, PageCut, Response, Site, iso, json_bytes, spoiled_page
from gz_tui.forge_sim.catalog import Catalog, RepoMeta
from gz_tui.forge_sim.github_api import OTHER_OWNER_ID, owner_id
from gz_tui.forge_sim.limits import QuotaState
from gz_tui.forge_sim.scenario import Scenario

SUBPATH = "/gogs"
"""Where the sim's Gogs is installed (its ``ROOT_URL`` path)."""
_JSON = "application/json; charset=UTF-8"


def _empty(status: int) -> Response:
    return Response(status, b"", content_type=None)


class GogsApi:
    """Gogs flavour of :class:`~gz_tui.forge_sim.api_common.ForgeApi`."""

    provider = "gogs"

    def __init__(self, site: Site, catalog: Catalog, scenario: Scenario) -> None:
        self._site = site
        self._catalog = catalog
        self._scenario = scenario
        self._cache = JsonCache()

    # -- checks the dispatcher runs --

    def authorized(self, request: ApiRequest, token: str) -> bool:
        scheme, _, given = (request.header("authorization") or "").strip().partition(" ")
        return (scheme == "token" and given.strip() == token) or request.param("token") == token

    def unauthorized(self, request: ApiRequest) -> Response:
        return _empty(401)

    def error(self, request: ApiRequest, status: int) -> Response:
        return Response(status, json_bytes({"message": "Internal Server Error" if status >= 500 else "Bad Request"}), content_type=_JSON)

    def counts_quota(self, request: ApiRequest) -> bool:
        return True

    def rate_headers(self, state: QuotaState) -> list[tuple[str, str]]:
        return []

    def primary_limited(self, request: ApiRequest, state: QuotaState, retry_after: int) -> Response:
        return Response(429, b"Too Many Requests\n", [("Retry-After", str(retry_after))], content_type="text/plain; charset=utf-8")

    def secondary_limited(self, request: ApiRequest, retry_after: int | None) -> Response:
        headers = [] if retry_after is None else [("Retry-After", str(retry_after))]
        return Response(429, b"Too Many Requests\n", headers, content_type="text/plain; charset=utf-8")

    # -- routes --

    def handle(self, request: ApiRequest, state: QuotaState) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _empty(405)
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        match parts:
            case ["user"]:
                if request.anonymous or not (request.header("authorization") or request.param("token")):
                    return _empty(401)
                return self._json(self._user(TOKEN_USER, 1))
            case ["user", "repos"]:
                return self._listing(request, TOKEN_USER)
            case ["orgs" | "users", name, "repos"] if self._is_owner(name):
                return self._listing(request, name)
            case ["users", name] if self._is_owner(name):
                return self._json(self._user(self._site.org, owner_id(self._site.org)))
            case ["repos", owner, name] if self._is_owner(owner):
                meta = self._catalog.find(name)
                if meta is None or meta.owner is not None or (meta.private and request.anonymous):
                    return _empty(404)
                return Response(200, self._repo_json(meta), content_type=_JSON)
        return _empty(404)

    def _is_owner(self, name: str) -> bool:
        return name.lower() == self._site.org.lower()

    def _json(self, value: Any) -> Response:
        return Response(200, json_bytes(value), content_type=_JSON)

    def _listing(self, request: ApiRequest, name: str) -> Response:
        anonymous = request.anonymous
        own = name.lower() == TOKEN_USER.lower() and not anonymous

        def build(repos: Sequence[RepoMeta]) -> list[RepoMeta]:
            shown = [m for m in repos if not (anonymous and m.private)]
            return shown + list(self._catalog.shared) if own else shown

        if name.lower() != self._site.org.lower():
            return self._json([])
        view = self._catalog.view(("gogs", anonymous, own), build)
        kind = self._scenario.hostile_listing
        if kind in ("deep_json", "gzip_bomb"):  # the one page there is: a body that attacks its parser
            return spoiled_page(PageCut(view, 1, 1, len(view), None, kind), [], lambda: None, content_type=_JSON)
        body = b"[" + b",".join(self._repo_json(m) for m in view) + b"]"
        return Response(200, body, content_type=_JSON)

    # -- objects --

    def _user(self, login: str, number: int) -> dict[str, Any]:
        return {
            "id": number,
            "username": login,
            "login": login,
            "full_name": login.capitalize(),
            "email": f"{login}@noreply.example.invalid",
            "avatar_url": f"{self._site.base_url}{SUBPATH}/avatars/{number}",
        }

    def _repo_json(self, meta: RepoMeta) -> bytes:
        empty = meta.name in self._scenario.empty_repos
        return self._cache.get((meta.id, meta.rev, empty), lambda: json_bytes(self._repo_object(meta, empty)))

    def _repo_object(self, meta: RepoMeta, empty: bool) -> dict[str, Any]:
        base = f"{self._site.base_url}{SUBPATH}"
        host = self._site.hostport.split(":")[0]
        login = meta.owner or self._site.org
        full_name = f"{login}/{meta.name}"
        number = OTHER_OWNER_ID if meta.owner else owner_id(login)
        clone_url = self._site.fill(meta.clone_url) if meta.clone_url else f"{base}/{full_name}.git"
        parent = None
        if meta.fork:
            parent = {"id": meta.id + 1_000_000, "name": meta.name, "full_name": f"upstream/{meta.name}"}
        return {
            "id": meta.id,
            "owner": self._user(login, number),
            "name": meta.name,
            "full_name": full_name,
            "description": f"Generated repository {meta.name}",
            "private": meta.private,
            "fork": meta.fork,
            "parent": parent,
            "empty": empty,
            "mirror": False,
            "size": (max(1, self._scenario.repo_size_kb) + meta.id % 7) * 1024,
            "html_url": f"{base}/{full_name}",
            "ssh_url": f"git@{host}:{full_name}.git",
            "clone_url": clone_url,
            "website": "",
            "stars_count": (meta.id * 31) % 500,
            "forks_count": meta.id % 5,
            "watchers_count": 1,
            "open_issues_count": meta.id % 9,
            "default_branch": meta.default_branch,
            "created_at": iso(meta.created),
            "updated_at": iso(meta.updated),
            "permissions": {"admin": True, "push": True, "pull": True},
        }
