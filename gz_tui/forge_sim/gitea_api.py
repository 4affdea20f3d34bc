"""Gitea / Forgejo v1 org listing (FORGE-APIS §3): ``limit`` silently clamped to ``MAX_RESPONSE_ITEMS`` (50 unless
``Scenario.gitea_max_response_items`` says otherwise; ``/settings/api`` tells it), ``X-Total-Count``, ``Link`` rels
joined by ``","`` with URLs built from the configured app URL, ordered by id. ``/repos/search`` (every repo the caller
may see, in a ``{"ok": true, "data": [...]}`` envelope) pages the same way. ``/version`` says ``1.23.0``, or Forgejo's
``9.0.0+gitea-1.22.0`` shape when ``Scenario.forgejo_version`` is set.

Per repo: ``/repos/{owner}/{name}`` (with ``/topics`` → ``{"topics": [...]}`` and ``/languages`` → bytes per
language) and ``/repositories/{id}``. A renamed repo's old name answers ``307`` (``302`` before 1.17) with a
relative ``Location`` naming the new one, the rest of the path and the query kept (go-gitea/gitea
``services/context/repo.go`` ``RedirectToRepo``, reached from the API's ``repoAssignment``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlencode

from gz_tui.forge_sim.api_common import (
    TOKEN_USER,
    ApiRequest,
    JsonCache,
    Response,
    Site,
    bearer_or_token,
    cut_page,
    iso,
    json_bytes,
    spoiled_page,
)
from gz_tui.forge_sim.catalog import BASE_EPOCH, Catalog, RepoMeta
from gz_tui.forge_sim.github_api import OTHER_OWNER_ID, owner_id
from gz_tui.forge_sim.limits import QuotaState
from gz_tui.forge_sim.scenario import Scenario

CURRENT_VERSION = (1, 23)
"""What the sim imitates when ``Scenario.gitea_version`` is None."""
TOPICS_SINCE = (1, 23)
LANGUAGE_SINCE = (1, 17)
TEMPORARY_REDIRECT_SINCE = (1, 17)
SETTINGS_SINCE = (1, 13)
"""The ``/settings/*`` endpoints came with Gitea 1.13 (go-gitea/gitea PRs #11758 and #11854, June 2020); before, 404."""
DEFAULT_PAGING_NUM = 30
FORGEJO_GITEA_COMPAT = "1.22.0"
"""The Gitea release a simulated Forgejo says it is compatible with (``+gitea-1.22.0``)."""
_JSON = "application/json;charset=utf-8"
_ZERO_TIME = "0001-01-01T00:00:00Z"


class GiteaApi:
    """Gitea flavour of :class:`~gz_tui.forge_sim.api_common.ForgeApi`."""

    provider = "gitea"

    def __init__(self, site: Site, catalog: Catalog, scenario: Scenario) -> None:
        self._site = site
        self._catalog = catalog
        self._scenario = scenario
        self._cache = JsonCache()
        self._version = scenario.gitea_version or CURRENT_VERSION

    def _swagger(self, request: ApiRequest) -> str:
        return f"http://{self._scenario.gitlab_host or request.host}/api/swagger"

    def _message(self, request: ApiRequest, status: int, message: str) -> Response:
        return Response(status, json_bytes({"message": message, "url": self._swagger(request)}), content_type=_JSON)

    # -- checks the dispatcher runs --

    def authorized(self, request: ApiRequest, token: str) -> bool:
        return bearer_or_token(request.header("authorization"), token)

    def unauthorized(self, request: ApiRequest) -> Response:
        return self._message(request, 401, "token is required")

    def error(self, request: ApiRequest, status: int) -> Response:
        return self._message(request, status, "internal server error" if status >= 500 else "error")

    def counts_quota(self, request: ApiRequest) -> bool:
        return True

    def rate_headers(self, state: QuotaState) -> list[tuple[str, str]]:
        return []  # Gitea sends no quota headers; only a 429 with Retry-After when throttled

    def primary_limited(self, request: ApiRequest, state: QuotaState, retry_after: int) -> Response:
        response = self._message(request, 429, "rate limit exceeded")
        response.headers.append(("Retry-After", str(retry_after)))
        return response

    def secondary_limited(self, request: ApiRequest, retry_after: int | None) -> Response:
        response = self._message(request, 429, "rate limit exceeded")
        if retry_after is not None:
            response.headers.append(("Retry-After", str(retry_after)))
        return response

    # -- routes --

    def handle(self, request: ApiRequest, state: QuotaState) -> Response:
        if request.method not in ("GET", "HEAD"):
            return self._message(request, 405, "method not allowed")
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        is_org = self._site.owner_kind == "org"
        match parts:
            case ["version"]:
                forgejo = self._scenario.forgejo_version
                if forgejo:
                    return self._json({"version": f"{forgejo}+gitea-{FORGEJO_GITEA_COMPAT}"})
                return self._json({"version": f"{self._version[0]}.{self._version[1]}.0"})
            case ["settings", "api"] if self._version >= SETTINGS_SINCE:
                return self._json(
                    {
                        "max_response_items": self._scenario.gitea_max_response_items,
                        "default_paging_num": DEFAULT_PAGING_NUM,
                        "default_git_trees_per_page": 1000,
                        "default_max_blob_size": 10_485_760,
                    }
                )
            case ["user"]:
                if request.anonymous or not request.header("authorization"):
                    return self.unauthorized(request)
                return self._json(self._user(TOKEN_USER, 1))
            case ["repositories", number] if number.isdigit():
                meta = self._catalog.by_id(int(number))
                if meta is None or meta.owner is not None or not self._visible(request, meta):
                    return self._not_found(request)
                return Response(200, self._repo_json(meta), content_type=_JSON, cacheable=True)
            case ["repos", "search"]:
                return self._listing(request, envelope=True)
            case ["repos", owner, name, *rest] if len(rest) <= 1:
                return self._repo_part(request, owner, name, rest)
            case ["orgs", name]:
                if is_org and self._is_owner(name):
                    return self._json(self._org_object())
                return self._message(request, 404, "GetOrgByName")
            case ["orgs", name, "repos"]:
                if is_org and self._is_owner(name):
                    return self._listing(request)
                return self._message(request, 404, "GetOrgByName")
            case ["users", name, "starred"]:
                if name.lower() == TOKEN_USER:
                    return self._starred(request)
                return self._message(request, 404, "GetUserByName")
            case ["user", "starred", owner, name]:
                if request.anonymous or not request.header("authorization"):
                    return self.unauthorized(request)
                starred = {m.id for m, _ in self._catalog.starred()}
                meta = self._catalog.find(name) if self._is_owner(owner) else None
                return Response(204, b"", content_type=None) if meta is not None and meta.id in starred else self._not_found(request)
            case ["users", name]:
                if self._is_owner(name):
                    return self._json(self._user(self._site.org, owner_id(self._site.org)))
                return self._message(request, 404, "GetUserByName")
            case ["users", name, "repos"]:
                if self._is_owner(name):
                    return self._listing(request)
                return self._message(request, 404, "GetUserByName")
        return self._message(request, 404, "The target couldn't be found.")

    def _not_found(self, request: ApiRequest) -> Response:
        return self._message(request, 404, "The target couldn't be found.")

    def _visible(self, request: ApiRequest, meta: RepoMeta) -> bool:
        """Gitea answers 404 for a private repo the caller may not see."""
        return not (meta.private and request.anonymous)

    def _repo_part(self, request: ApiRequest, owner: str, name: str, rest: list[str]) -> Response:
        """``/repos/o/r``, ``/repos/o/r/topics`` and ``/repos/o/r/languages``; an old name redirects to the new one."""
        meta = self._catalog.find(name) if self._is_owner(owner) else None
        if meta is not None and meta.owner is not None:
            meta = None
        if meta is None:
            moved = self._catalog.moved(name) if self._is_owner(owner) else None
            if moved is None or not self._visible(request, moved):
                return self._not_found(request)
            status = 307 if self._version >= TEMPORARY_REDIRECT_SINCE else 302
            location = f"{request.prefix}/repos/{owner}/{moved.name}" + "".join(f"/{part}" for part in rest)
            if request.query:
                location += f"?{urlencode(request.query)}"
            return Response(status, b"", [("Location", location)], content_type=None)
        if not self._visible(request, meta):
            return self._not_found(request)
        match rest:
            case []:
                return Response(200, self._repo_json(meta), content_type=_JSON, cacheable=True)
            case ["topics"]:
                return self._json({"topics": list(meta.topics)})
            case ["languages"]:
                return self._json({meta.language: 1_000 + meta.id % 50_000} if meta.language else {})
        return self._not_found(request)

    def _is_owner(self, name: str) -> bool:
        return name.lower() == self._site.org.lower()

    def _json(self, value: Any) -> Response:
        return Response(200, json_bytes(value), content_type=_JSON, cacheable=True)

    # -- listing --

    def _listing(self, request: ApiRequest, *, envelope: bool = False) -> Response:
        """An owner's repos, or (``envelope``: ``/repos/search``) every repo the caller may see, shared-in ones of
        other owners included, as ``{"ok": true, "data": [...]}``."""
        limit = request.int_param("limit", DEFAULT_PAGING_NUM)
        limit = DEFAULT_PAGING_NUM if limit <= 0 else min(limit, self._scenario.gitea_max_response_items)
        page = max(1, request.int_param("page", 1))

        anonymous = request.anonymous

        def build(repos: Sequence[RepoMeta]) -> list[RepoMeta]:
            everything = [*repos, *self._catalog.shared] if envelope else repos
            return sorted((m for m in everything if not (anonymous and m.private)), key=lambda m: m.id)

        view = self._catalog.view(("gitea", anonymous, envelope), build)
        cut = cut_page(view, page, limit, self._scenario)
        headers = [("X-Total-Count", str(cut.total)), ("Access-Control-Expose-Headers", "X-Total-Count, Link")]
        link = self._link(request, page, cut.next_page, cut.last if cut.total else 0)
        if link:
            headers.append(("Link", link))

        def on_served() -> None:
            self._catalog.page_served(view, page, limit, self._scenario.churn)

        if cut.spoiled is not None:
            return spoiled_page(cut, headers, on_served, content_type=_JSON)
        body = b"[" + b",".join(self._repo_json(m) for m in cut.items) + b"]"
        if envelope:
            body = b'{"ok":true,"data":' + body + b"}"
        return Response(200, body, headers, content_type=_JSON, cacheable=True, on_served=on_served)

    def _starred(self, request: ApiRequest) -> Response:
        """``/users/{user}/starred``: the repos the user starred, most recent star first (Gitea orders stars by their
        id, descending), ``limit`` clamped to ``MAX_RESPONSE_ITEMS`` like every listing."""
        limit = request.int_param("limit", DEFAULT_PAGING_NUM)
        limit = DEFAULT_PAGING_NUM if limit <= 0 else min(limit, self._scenario.gitea_max_response_items)
        page = max(1, request.int_param("page", 1))
        stars = [m for m, _ in reversed(self._catalog.starred()) if not (m.private and request.anonymous)]
        cut = cut_page(stars, page, limit, self._scenario, hostile=False)
        headers = [("X-Total-Count", str(cut.total)), ("Access-Control-Expose-Headers", "X-Total-Count, Link")]
        link = self._link(request, page, cut.next_page, cut.last if cut.total else 0)
        if link:
            headers.append(("Link", link))
        body = b"[" + b",".join(self._repo_json(m) for m in cut.items) + b"]"
        return Response(200, body, headers, content_type=_JSON, cacheable=True)

    def _link(self, request: ApiRequest, page: int, next_page: int | None, last: int) -> str:
        """Gitea's ``genAPILinks``: ``next``, ``last``, ``first``, ``prev``; sorted query (Go ``Encode``)."""
        app_url = f"http://{self._scenario.gitlab_host or request.host}/"
        path = f"{request.prefix}{request.path}".lstrip("/")
        params = [(k, v) for k, v in request.query if k != "page"]

        def url(number: int) -> str:
            return f"<{app_url}{path}?{urlencode(sorted([*params, ('page', str(number))]))}>"

        links = []
        if next_page is not None:
            links.append(f'{url(next_page)}; rel="next"')
        if page != last and last > 0:
            links.append(f'{url(last)}; rel="last"')
        if page != 1:
            links.append(f'{url(1)}; rel="first"')
        if page > 1:
            links.append(f'{url(page - 1)}; rel="prev"')
        return ",".join(links)

    # -- objects --

    def _user(self, login: str, number: int) -> dict[str, Any]:
        return {
            "id": number,
            "login": login,
            "login_name": "",
            "full_name": login.capitalize(),
            "email": f"{login}@noreply.example.invalid",
            "avatar_url": f"{self._site.base_url}/avatars/{number}",
            "language": "",
            "is_admin": False,
            "last_login": _ZERO_TIME,
            "created": iso(BASE_EPOCH - 86_400),
            "restricted": False,
            "active": False,
            "prohibit_login": False,
            "location": "",
            "website": "",
            "description": "",
            "visibility": "public",
            "followers_count": 0,
            "following_count": 0,
            "starred_repos_count": 0,
            "username": login,
        }

    def _org_object(self) -> dict[str, Any]:
        org = self._site.org
        return {
            "id": owner_id(org),
            "name": org,
            "full_name": org.capitalize(),
            "email": "",
            "avatar_url": f"{self._site.base_url}/avatars/{owner_id(org)}",
            "description": "Embedded forge organisation",
            "website": "",
            "location": "",
            "visibility": "public",
            "repo_admin_change_team_access": False,
            "username": org,
        }

    def _repo_json(self, meta: RepoMeta) -> bytes:
        return self._cache.get((meta.id, meta.rev), lambda: json_bytes(self._repo_object(meta)))

    def _repo_object(self, meta: RepoMeta) -> dict[str, Any]:
        base = self._site.base_url
        host = self._site.hostport.split(":")[0]
        login = meta.owner or self._site.org
        full_name = f"{login}/{meta.name}"
        number = OTHER_OWNER_ID if meta.owner else owner_id(login)
        clone_url = self._site.fill(meta.clone_url) if meta.clone_url else f"{base}/{full_name}.git"
        parent = None
        if meta.fork:
            parent = {"id": meta.id + 1_000_000, "name": meta.name, "full_name": f"upstream/{meta.name}"}
        repo: dict[str, Any] = {
            "id": meta.id,
            "owner": self._user(login, number),
            "name": meta.name,
            "full_name": full_name,
            "description": f"Generated repository {meta.name}",
            "empty": False,
            "private": meta.private,
            "fork": meta.fork,
            "template": False,
            "parent": parent,
            "mirror": False,
            "size": max(1, self._scenario.repo_size_kb) + meta.id % 7,
            "language": meta.language or "",
            "topics": list(meta.topics),
            "languages_url": f"{base}/api/v1/repos/{full_name}/languages",
            "html_url": f"{base}/{full_name}",
            "url": f"{base}/api/v1/repos/{full_name}",
            "link": "",
            "ssh_url": f"git@{host}:{full_name}.git",
            "clone_url": clone_url,
            "original_url": "",
            "website": "",
            "stars_count": (meta.id * 31) % 500,
            "forks_count": meta.id % 5,
            "watchers_count": 1,
            "open_issues_count": meta.id % 9,
            "open_pr_counter": 0,
            "release_counter": 0,
            "default_branch": meta.default_branch,
            "archived": meta.archived,
            "created_at": iso(meta.created),
            "updated_at": iso(meta.updated),
            "archived_at": iso(meta.updated) if meta.archived else "1970-01-01T00:00:00Z",
            "permissions": {"admin": False, "push": False, "pull": True},
            "has_issues": True,
            "has_wiki": meta.wiki != "off",
            "has_pull_requests": True,
            "has_projects": True,
            "has_releases": True,
            "has_packages": True,
            "has_actions": False,
            "ignore_whitespace_conflicts": False,
            "allow_merge_commits": True,
            "allow_rebase": True,
            "allow_squash_merge": True,
            "default_merge_style": "merge",
            "avatar_url": "",
            "internal": False,
            "mirror_interval": "",
            "mirror_updated": _ZERO_TIME,
            "repo_transfer": None,
        }
        if self._version < TOPICS_SINCE:
            del repo["topics"]
        if self._version < LANGUAGE_SINCE:
            del repo["language"]
        return repo
