"""GitLab REST v4 group listing (FORGE-APIS §2): nested groups, offset pagination, its quirks.

Quirks reproduced on purpose: ``include_subgroups`` defaults to false, ``with_shared`` to true,
``X-Next-Page``/``X-Prev-Page`` are always sent (empty at the ends), and above 10,000 records
``X-Total``, ``X-Total-Pages`` and ``rel="last"`` disappear. Link URLs use the configured host.

Per project: ``/projects/{id}`` and ``/projects/{url-encoded full path}`` (and their ``/languages``). An old path
of a renamed project answers ``301`` with ``Location: …/api/v4/projects/{id}`` and a plain-text body "This resource
has been moved permanently to …" (gitlabhq ``lib/api/helpers.rb`` ``find_project!``/``project_moved?``,
``lib/api/api.rb`` ``MovedPermanentlyError``); by id the project answers as it is now.
"""

from __future__ import annotations

import email.utils
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
    cut_page,
    iso,
    json_bytes,
    spoiled_page,
)
from gz_tui.forge_sim.catalog import BASE_EPOCH, SHARED_GROUP_ID, SHARED_NAMESPACE, Catalog, GroupMeta, RepoMeta
from gz_tui.forge_sim.github_api import OTHER_OWNER_ID
from gz_tui.forge_sim.limits import QuotaState
from gz_tui.forge_sim.pastes import PasteMeta, Pastes
from gz_tui.forge_sim.scenario import Scenario

MAX_COUNT = 10_000
"""Above this many records GitLab stops counting (Kaminari ``without_count``)."""

_ORDER_KEYS: dict[str, Callable[[RepoMeta], tuple[Any, ...]]] = {
    "id": lambda m: (m.id,),
    "name": lambda m: (m.name.lower(), m.id),
    "path": lambda m: (m.name.lower(), m.id),
    "created_at": lambda m: (m.created, m.id),
    "updated_at": lambda m: (m.updated, m.id),
    "last_activity_at": lambda m: (m.last_activity, m.id),
}
_PLAIN_TEXT = "text/plain; charset=utf-8"


class GitLabApi:
    """GitLab flavour of :class:`~gz_tui.forge_sim.api_common.ForgeApi`."""

    provider = "gitlab"

    def __init__(self, site: Site, catalog: Catalog, scenario: Scenario, pastes: Pastes | None = None) -> None:
        self._pastes = pastes
        self._site = site
        self._catalog = catalog
        self._scenario = scenario
        self._cache = JsonCache()

    # -- checks the dispatcher runs --

    def authorized(self, request: ApiRequest, token: str) -> bool:
        if (request.header("private-token") or "").strip() == token:
            return True
        scheme, _, credential = (request.header("authorization") or "").strip().partition(" ")
        return scheme.lower() == "bearer" and credential.strip() == token

    def unauthorized(self, request: ApiRequest) -> Response:
        return Response(401, json_bytes({"message": "401 Unauthorized"}))

    def error(self, request: ApiRequest, status: int) -> Response:
        return Response(status, json_bytes({"message": f"{status} Internal Server Error" if status >= 500 else str(status)}))

    def counts_quota(self, request: ApiRequest) -> bool:
        return True

    def rate_headers(self, state: QuotaState) -> list[tuple[str, str]]:
        return [
            ("RateLimit-Name", "throttle_authenticated_api"),
            ("RateLimit-Limit", str(state.limit)),
            ("RateLimit-Observed", str(state.used)),
            ("RateLimit-Remaining", str(state.remaining)),
            ("RateLimit-Reset", str(state.reset)),
            ("RateLimit-ResetTime", email.utils.formatdate(state.reset, usegmt=True)),
        ]

    def primary_limited(self, request: ApiRequest, state: QuotaState, retry_after: int) -> Response:
        headers = [*self.rate_headers(state), ("Retry-After", str(retry_after))]
        return Response(429, b"Retry later\n", headers, content_type=_PLAIN_TEXT)

    def secondary_limited(self, request: ApiRequest, retry_after: int | None) -> Response:
        headers = [] if retry_after is None else [("Retry-After", str(retry_after))]
        return Response(429, b"Retry later\n", headers, content_type=_PLAIN_TEXT)

    # -- routes --

    def handle(self, request: ApiRequest, state: QuotaState) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, json_bytes({"error": "405 Method Not Allowed"}))
        raw = request.path.strip("/").split("/")
        match raw:
            case ["version"]:
                return self._json({"version": "17.5.0", "revision": "forgesim"})
            case ["user"]:
                if request.anonymous or not (request.header("private-token") or request.header("authorization")):
                    return self.unauthorized(request)
                return self._json({"id": 1, "username": TOKEN_USER, "name": "Forge Sim User", "state": "active", "locked": False})
            case ["groups", *_] if self._user_site:
                return self._group_not_found()  # the owner is a user: their namespace is no group
            case ["groups", ref]:
                group = self._catalog.group_by_ref(unquote(ref))
                return self._json(self._group_object(group)) if group else self._group_not_found()
            case ["groups", ref, "projects"]:
                group = self._catalog.group_by_ref(unquote(ref))
                return self._projects(request, group) if group else self._group_not_found()
            case ["users", ref, "projects"] if self._user_site and unquote(ref).lower() == self._site.org.lower():
                return self._projects(request, self._catalog.groups[""], user_namespace=True)
            case ["users", ref, "starred_projects"]:
                if unquote(ref).lower() != TOKEN_USER:
                    return Response(404, json_bytes({"message": "404 User Not Found"}))
                return self._starred(request)
            case ["projects", ref, "starrers"] if ref.isdigit():
                return self._starrers(request, int(ref))
            case ["users", _, "projects"]:
                return Response(404, json_bytes({"message": "404 User Not Found"}))
            case ["projects"]:
                return self._instance_projects(request)
            case ["projects", ref, "snippets", *number] if len(number) <= 1:
                return self._project_snippets(request, unquote(ref), number[0] if number else None)
            case ["snippets"]:  # the token's user's own snippets (GitLab refuses an anonymous caller here)
                if request.anonymous or not (request.header("private-token") or request.header("authorization")):
                    return self.unauthorized(request)
                return self._paged(request, self._pastes.snippets(None) if self._pastes else [], self._snippet_json)
            case ["snippets", number] if number.isdigit():
                snippet = self._pastes.find("snippet", number) if self._pastes else None
                if snippet is None or snippet.project_id is not None or (not snippet.public and request.anonymous):
                    return Response(404, json_bytes({"message": "404 Snippet Not Found"}))
                return Response(200, self._snippet_json(snippet), cacheable=True)
            case ["projects", ref, *rest] if len(rest) <= 1:
                return self._project_part(request, unquote(ref), rest)
            case ["groups", ref, ("subgroups" | "descendant_groups") as which]:
                group = self._catalog.group_by_ref(unquote(ref))
                return self._subgroups(request, group, which == "descendant_groups") if group else self._group_not_found()
        return Response(404, json_bytes({"error": "404 Not Found"}))

    def _project_part(self, request: ApiRequest, ref: str, rest: list[str]) -> Response:
        """``/projects/:id`` (a numeric id or a full path) and ``/projects/:id/languages``."""
        if ref.isdigit():
            meta = self._catalog.by_id(int(ref))
        else:
            meta = self._by_full_path(ref)
            if meta is None:
                moved = self._moved(ref)
                if moved is not None and self._visible(request, moved):
                    query = f"?{urlencode(request.query)}" if request.query else ""
                    location = f"http://{request.host}{request.prefix}/projects/{moved.id}"  # Rack: the request's host
                    location += "".join(f"/{part}" for part in rest) + query
                    body = f"This resource has been moved permanently to {location}".encode()
                    return Response(301, body, [("Location", location)], content_type=None)
        if meta is None or meta.hostile or not self._visible(request, meta):
            return self._project_not_found()
        match rest:
            case []:
                return Response(200, self._project_json(meta), cacheable=True)
            case ["languages"]:
                return self._json({meta.language: 100.0} if meta.language else {})
        return Response(404, json_bytes({"error": "404 Not Found"}))

    def _project_snippets(self, request: ApiRequest, ref: str, number: str | None) -> Response:
        """``/projects/:id/snippets`` (offset-paged, oldest first) and ``/projects/:id/snippets/:snippet_id``; a private
        snippet only to a caller the forge lets in."""
        meta = self._catalog.by_id(int(ref)) if ref.isdigit() else self._by_full_path(ref)
        if meta is None or meta.hostile or not self._visible(request, meta) or self._pastes is None:
            return self._project_not_found()
        snippets = [m for m in self._pastes.snippets(meta.id) if m.public or not request.anonymous]
        if number is None:
            return self._paged(request, snippets, self._snippet_json)
        found = next((m for m in snippets if m.id == number), None)
        if found is None:
            return Response(404, json_bytes({"message": "404 Snippet Not Found"}))
        return Response(200, self._snippet_json(found), cacheable=True)

    def _snippet_json(self, snippet: PasteMeta) -> bytes:
        """A snippet as ``Entities::Snippet`` (``Entities::ProjectSnippet``: with ``project_id``) has it."""
        base = self._site.base_url
        host = self._site.hostport.split(":")[0]
        project = self._pastes.project_of(snippet) if self._pastes is not None else None
        path = f"{self._namespace(project)['full_path']}/{project.name}" if project is not None else ""
        web = f"{base}/{path}/-/snippets/{snippet.id}" if path else f"{base}/-/snippets/{snippet.id}"
        repo = f"{path}/snippets/{snippet.id}" if path else f"snippets/{snippet.id}"
        author = {"id": 1, "username": TOKEN_USER, "name": "Forge Sim User", "state": "active", "locked": False}
        return json_bytes(
            {
                "id": int(snippet.id),
                "title": f"Generated {snippet.title}",
                "description": None,
                "visibility": "public" if snippet.public else "private",
                "author": author,
                "created_at": iso(snippet.created, millis=True),
                "updated_at": iso(snippet.updated, millis=True),
                "project_id": project.id if project is not None else None,
                "web_url": web,
                "raw_url": f"{web}/raw",
                "file_name": "README.md",
                "files": [{"path": "README.md", "raw_url": f"{web}/raw/main/README.md"}],
                "ssh_url_to_repo": f"git@{host}:{repo}.git",
                "http_url_to_repo": f"{base}/{repo}.git",
                "imported": False,
                "imported_from": "none",
                "repository_storage": "default",
            }
        )

    def _rel(self, meta: RepoMeta) -> str:
        """A project's path below the owner (a user's namespace has no subgroups)."""
        return meta.name if self._user_site else meta.gitlab_rel_path

    def _by_full_path(self, full: str) -> RepoMeta | None:
        """The project whose full path is ``full`` (case-insensitive), shared-in projects included."""
        owner, _, rel = full.strip("/").partition("/")
        if owner.lower() == SHARED_NAMESPACE:
            return next((m for m in self._catalog.shared if m.name.lower() == rel.lower()), None)
        if owner.lower() != self._site.org.lower() or not rel:
            return None
        meta = self._catalog.find(rel)
        if meta is None or meta.owner is not None or self._rel(meta).lower() != rel.lower():
            return None
        return meta

    def _moved(self, full: str) -> RepoMeta | None:
        owner, _, rel = full.strip("/").partition("/")
        return self._catalog.moved(rel) if owner.lower() == self._site.org.lower() and rel else None

    def _visible(self, request: ApiRequest, meta: RepoMeta) -> bool:
        """GitLab hides a private project from callers who may not see it behind a 404."""
        return not (meta.private and request.anonymous)

    def _project_not_found(self) -> Response:
        return Response(404, json_bytes({"message": "404 Project Not Found"}))

    def _group_not_found(self) -> Response:
        return Response(404, json_bytes({"message": "404 Group Not Found"}))

    def _json(self, value: Any) -> Response:
        return Response(200, json_bytes(value), cacheable=True)

    # -- listings --

    @property
    def _user_site(self) -> bool:
        return self._site.owner_kind == "user"

    def _projects(self, request: ApiRequest, group: GroupMeta, user_namespace: bool = False) -> Response:
        """A group's projects, or (``user_namespace``) every project of the user: a user has no subgroups."""
        subgroups = user_namespace or bool(request.bool_param("include_subgroups", False))
        shared = bool(request.bool_param("with_shared", True))
        archived = request.bool_param("archived", None)
        visibility = "public" if request.anonymous else request.param("visibility")
        wanted_topics = tuple(t for t in (request.param("topic") or "").split(",") if t)
        order_by = request.param("order_by") or "created_at"
        if order_by not in _ORDER_KEYS:
            order_by = "created_at"
        sort = request.param("sort") if request.param("sort") in ("asc", "desc") else "desc"

        def build(repos: Sequence[RepoMeta]) -> list[RepoMeta]:
            prefix = group.rel + "/"

            def inside(meta: RepoMeta) -> bool:
                if meta.owner is not None:  # hostile foreign-namespace entry, planted in the top group
                    return group.rel == ""
                return meta.group == group.rel or (subgroups and (group.rel == "" or meta.group.startswith(prefix)))

            chosen = [m for m in repos if inside(m)]
            if shared and group.rel == "" and not user_namespace:
                chosen += self._catalog.shared
            if archived is not None:
                chosen = [m for m in chosen if m.archived == archived]
            if request.anonymous and request.param("visibility") not in (None, "", "public"):
                chosen = []  # nobody's view holds no private projects
            if visibility in ("public", "private", "internal"):
                chosen = [m for m in chosen if _visibility(m) == visibility]
            if wanted_topics:  # GitLab keeps the projects carrying every topic named
                chosen = [m for m in chosen if set(wanted_topics) <= set(m.topics)]
            chosen.sort(key=_ORDER_KEYS[order_by], reverse=sort == "desc")
            return chosen

        key = ("gitlab", group.rel, subgroups, shared and not user_namespace, archived, request.param("visibility"), request.anonymous)
        view = self._catalog.view((*key, wanted_topics, order_by, sort), build)
        return self._served(request, view)

    def _served(self, request: ApiRequest, view: Sequence[RepoMeta]) -> Response:
        """A page of ``view``: the projects after ``id_after`` (before ``id_before``) when asked, as GitLab's project finder
        filters them (gitlabhq ``lib/api/helpers.rb`` ``project_finder_params_ce``), then offset-paged. The page a deletion
        or churn waits for is the page of the whole listing this one starts in."""
        page, per_page = self._page_args(request)
        after, before = request.int_param("id_after", 0), request.int_param("id_before", 0)
        chosen: Sequence[RepoMeta] = view
        if after or before:
            chosen = [m for m in view if (not after or m.id > after) and (not before or m.id < before)]
        served_page = page + (len(view) - len(chosen)) // per_page if after and not before else page
        kind, spoiled_at = self._scenario.hostile_listing, self._scenario.hostile_listing_page
        if after and not before and kind in ("self_next", "next_cycle") and served_page == spoiled_at + 1:
            # A client paging by id_after reads no link: the loop is the page after the spoiled one repeating an earlier
            # page's projects (the spoiled page again, or page 1), so its last id names a cursor already asked for.
            chosen = view[(spoiled_at - 1) * per_page if kind == "self_next" else 0 :]
        response = self._paged(request, chosen, lambda m: self._project_json(m), hostile=True, listing_page=served_page)
        response.on_served = lambda: self._catalog.page_served(view, served_page, per_page, self._scenario.churn)
        return response

    def _instance_projects(self, request: ApiRequest) -> Response:
        """``/projects``: every project the caller may see on the instance (the group tree's and the shared-in
        namespace's), offset-paged up to ``Scenario.gitlab_offset_limit`` and keyset-paged (``pagination=keyset``,
        ``order_by=id`` only) beyond: ``Link: rel="next"`` with ``id_after`` and no other paging header, no ``Link``
        at the end (gitlabhq ``doc/api/rest/_index.md``, "Keyset-based pagination")."""
        archived = request.bool_param("archived", None)
        anonymous = request.anonymous
        order_by = request.param("order_by") or "created_at"
        sort = request.param("sort") if request.param("sort") in ("asc", "desc") else "desc"
        keyset = request.param("pagination") == "keyset"
        if keyset and order_by != "id":
            return Response(
                405, json_bytes({"message": "405 Method Not Allowed - Keyset pagination is not yet available for this type of request"})
            )
        if order_by not in _ORDER_KEYS:
            order_by = "created_at"

        def build(repos: Sequence[RepoMeta]) -> list[RepoMeta]:
            chosen = [m for m in [*repos, *self._catalog.shared] if not (anonymous and m.private)]
            if archived is not None:
                chosen = [m for m in chosen if m.archived == archived]
            chosen.sort(key=_ORDER_KEYS[order_by], reverse=sort == "desc")
            return chosen

        view = self._catalog.view(("gitlab-instance", archived, anonymous, order_by, sort), build)
        page, per_page = self._page_args(request)
        if not keyset:
            limit = self._scenario.gitlab_offset_limit
            if page * per_page > limit:
                message = (
                    f"Offset pagination has a maximum allowed offset of {limit} for requests that return objects of type "
                    "Project. Remaining records can be retrieved using keyset pagination."
                )
                return Response(405, json_bytes({"message": message}))
            return self._served(request, view)
        after = request.int_param("id_after", 0)
        rest = [m for m in view if m.id > after] if sort == "asc" else [m for m in view if not after or m.id < after]
        chosen = rest[:per_page]
        headers: list[tuple[str, str]] = []
        served_page = 1 + (len(view) - len(rest)) // per_page
        host = self._scenario.gitlab_host or request.host
        params = [(k, v) for k, v in request.query if k not in ("id_after", "page")]
        kind = self._scenario.hostile_listing if served_page == self._scenario.hostile_listing_page else None
        if len(rest) > per_page or kind in ("self_next", "next_cycle"):
            cursor = [] if kind == "next_cycle" else [("id_after" if sort == "asc" else "id_before", str(chosen[-1].id))]
            if kind == "self_next":  # the keyset link names this very page
                cursor = [(k, v) for k, v in request.query if k in ("id_after", "id_before")]
            query = urlencode(sorted([*params, *cursor]))
            headers.append(("Link", f'<http://{host}{request.prefix}{request.path}?{query}>; rel="next"'))
        if kind in ("deep_json", "gzip_bomb"):
            return spoiled_page(PageCut(chosen, served_page, served_page, len(view), None, kind), headers, lambda: None)
        body = b"[" + b",".join(self._project_json(m) for m in chosen) + b"]"
        response = Response(200, body, headers, cacheable=True)
        response.on_served = lambda: self._catalog.page_served(view, served_page, per_page, self._scenario.churn)
        return response

    def _starred(self, request: ApiRequest) -> Response:
        """``/users/:id/starred_projects``: the projects the user starred, ordered like ``/projects`` (``order_by``
        ``id``, ``created_at``…, ``sort``), offset-paged; public ones only to an anonymous caller."""
        order_by = request.param("order_by") or "created_at"
        if order_by not in _ORDER_KEYS:
            order_by = "created_at"
        sort = request.param("sort") if request.param("sort") in ("asc", "desc") else "desc"
        chosen = [m for m, _ in self._catalog.starred() if not (m.private and request.anonymous)]
        chosen.sort(key=_ORDER_KEYS[order_by], reverse=sort == "desc")
        return self._paged(request, chosen, lambda m: self._project_json(m))

    def _starrers(self, request: ApiRequest, number: int) -> Response:
        """``/projects/:id/starrers?search=``: the users who starred the project (here the token's user, or nobody)."""
        meta = self._catalog.by_id(number)
        if meta is None or meta.hostile or not self._visible(request, meta):
            return self._project_not_found()
        search = (request.param("search") or "").lower()
        users = [
            {"starred_since": iso(when), "user": {"id": 1, "username": TOKEN_USER, "name": "Forge Sim User", "state": "active"}}
            for m, when in self._catalog.starred()
            if m.id == number and search in TOKEN_USER
        ]
        return self._paged(request, users, json_bytes)

    def _subgroups(self, request: ApiRequest, group: GroupMeta, descendants: bool) -> Response:
        groups = [
            g
            for g in self._catalog.groups.values()
            if g.rel and (g.parent_id == group.id or (descendants and (group.rel == "" or g.rel.startswith(group.rel + "/"))))
        ]
        return self._paged(request, groups, lambda g: json_bytes(self._group_object(g)))

    def _page_args(self, request: ApiRequest) -> tuple[int, int]:
        per_page = request.int_param("per_page", 20)
        per_page = 20 if per_page < 1 else min(100, per_page)
        return max(1, request.int_param("page", 1)), per_page

    def _paged(
        self, request: ApiRequest, items: Sequence[Any], render: Any, hostile: bool = False, listing_page: int | None = None
    ) -> Response:
        page, per_page = self._page_args(request)
        cut = cut_page(items, page, per_page, self._scenario, hostile=hostile, listing_page=listing_page)
        counted = cut.total <= MAX_COUNT
        headers = [
            ("X-Page", str(page)),
            ("X-Per-Page", str(per_page)),
            ("X-Next-Page", str(cut.next_page) if cut.next_page is not None else ""),
            ("X-Prev-Page", str(page - 1) if page > 1 else ""),
        ]
        if counted:
            headers += [("X-Total", str(cut.total)), ("X-Total-Pages", str(cut.last))]
        headers.append(("Link", self._link(request, cut, per_page, cut.last if counted else None)))
        if cut.spoiled is not None:
            return spoiled_page(cut, headers, lambda: None)
        body = b"[" + b",".join(render(item) for item in cut.items) + b"]"
        return Response(200, body, headers, cacheable=True)

    def _link(self, request: ApiRequest, cut: PageCut, per_page: int, last: int | None) -> str:
        """GitLab order ``prev, next, first, last``; query keys sorted (Rails ``to_query``)."""
        host = self._scenario.gitlab_host or request.host
        base = f"http://{host}{request.prefix}{request.path}"
        params = [(k, v) for k, v in request.query if k not in ("page", "per_page")]

        def url(number: int) -> str:
            query = sorted([*params, ("page", str(number)), ("per_page", str(per_page))])
            return f"<{base}?{urlencode(query)}>"

        page = cut.page
        rels = []
        if page > 1:
            rels.append(f'{url(page - 1)}; rel="prev"')
        if cut.next_page is not None:
            rels.append(f'{url(cut.next_page)}; rel="next"')
        rels.append(f'{url(1)}; rel="first"')
        if last is not None:
            rels.append(f'{url(last)}; rel="last"')
        return ", ".join(rels)

    # -- objects --

    def _group_object(self, group: GroupMeta) -> dict[str, Any]:
        org = self._site.org
        full_path = group.full_path(org)
        return {
            "id": group.id,
            "web_url": f"{self._site.base_url}/groups/{full_path}",
            "name": group.path.capitalize() if group.rel else org.capitalize(),
            "path": group.path if group.rel else org,
            "description": "",
            "visibility": "public",
            "share_with_group_lock": False,
            "require_two_factor_authentication": False,
            "two_factor_grace_period": 48,
            "project_creation_level": "developer",
            "auto_devops_enabled": None,
            "subgroup_creation_level": "maintainer",
            "emails_disabled": False,
            "mentions_disabled": None,
            "lfs_enabled": True,
            "default_branch_protection": 2,
            "avatar_url": None,
            "request_access_enabled": True,
            "full_name": group.full_name(org),
            "full_path": full_path,
            "created_at": iso(BASE_EPOCH - 86_400, millis=True),
            "parent_id": group.parent_id,
        }

    def _namespace(self, meta: RepoMeta) -> dict[str, Any]:
        if meta.owner is not None:
            number = SHARED_GROUP_ID if meta.owner == SHARED_NAMESPACE else OTHER_OWNER_ID
            return {
                "id": number,
                "name": meta.owner.capitalize(),
                "path": meta.owner,
                "kind": "group",
                "full_path": meta.owner,
                "parent_id": None,
                "avatar_url": None,
                "web_url": f"{self._site.base_url}/groups/{meta.owner}",
            }
        if self._user_site:  # every project sits directly in the user's namespace
            return {
                "id": 1,
                "name": self._site.org.capitalize(),
                "path": self._site.org,
                "kind": "user",
                "full_path": self._site.org,
                "parent_id": None,
                "avatar_url": None,
                "web_url": f"{self._site.base_url}/{self._site.org}",
            }
        group = self._catalog.groups[meta.group]
        full_path = group.full_path(self._site.org)
        return {
            "id": group.id,
            "name": group.path.capitalize() if group.rel else self._site.org.capitalize(),
            "path": group.path if group.rel else self._site.org,
            "kind": "group",
            "full_path": full_path,
            "parent_id": group.parent_id,
            "avatar_url": None,
            "web_url": f"{self._site.base_url}/groups/{full_path}",
        }

    def _project_json(self, meta: RepoMeta) -> bytes:
        return self._cache.get((meta.id, meta.rev), lambda: json_bytes(self._project_object(meta)))

    def _project_object(self, meta: RepoMeta) -> dict[str, Any]:
        base = self._site.base_url
        host = self._site.hostport.split(":")[0]
        namespace = self._namespace(meta)
        path_with_namespace = f"{namespace['full_path']}/{meta.name}"
        name_with_namespace = " / ".join([*(p.capitalize() for p in namespace["full_path"].split("/")), meta.name])
        http_url = self._site.fill(meta.clone_url) if meta.clone_url else f"{base}/{path_with_namespace}.git"
        project: dict[str, Any] = {
            "id": meta.id,
            "description": f"Generated project {meta.name}",
            "name": meta.name,
            "name_with_namespace": name_with_namespace,
            "path": meta.name,
            "path_with_namespace": path_with_namespace,
            "created_at": iso(meta.created, millis=True),
            "default_branch": meta.default_branch,
            "tag_list": list(meta.topics),
            "topics": list(meta.topics),
            "ssh_url_to_repo": f"git@{host}:{path_with_namespace}.git",
            "http_url_to_repo": http_url,
            "web_url": f"{base}/{path_with_namespace}",
            "readme_url": f"{base}/{path_with_namespace}/-/blob/{meta.default_branch}/README.md",
            "forks_count": meta.id % 5,
            "avatar_url": None,
            "star_count": (meta.id * 31) % 500,
            "last_activity_at": iso(meta.last_activity, millis=True),
            "namespace": namespace,
            "empty_repo": False,
            "archived": meta.archived,
            "visibility": _visibility(meta),
            "repository_access_level": "enabled",
            "issues_enabled": True,
            "merge_requests_enabled": True,
            "wiki_enabled": meta.wiki != "off",
            "wiki_access_level": "disabled" if meta.wiki == "off" else "enabled",
            "jobs_enabled": True,
            "snippets_enabled": True,
            "snippets_access_level": "enabled",
            "container_registry_enabled": False,
            "lfs_enabled": True,
            "creator_id": 1,
            "open_issues_count": meta.id % 9,
            "updated_at": iso(meta.updated, millis=True),
        }
        if meta.fork:
            project["forked_from_project"] = {
                "id": meta.id + 1_000_000,
                "name": meta.name,
                "name_with_namespace": f"Upstream / {meta.name}",
                "path": meta.name,
                "path_with_namespace": f"upstream/{meta.name}",
                "created_at": iso(meta.created - 86_400, millis=True),
                "default_branch": "main",
                "http_url_to_repo": f"{base}/upstream/{meta.name}.git",
                "web_url": f"{base}/upstream/{meta.name}",
            }
        return project


def _visibility(meta: RepoMeta) -> str:
    return "private" if meta.private else "public"
