"""GitLab (gitlab.com or self-hosted): every project of a group tree, subgroup folders kept, or of a
user's personal namespace (``/users/:username/projects``) when the name is a user's.

``/groups/:id/projects`` has offset pagination only, and a deep offset is a slow query that shifts when a project is
deleted mid-listing (the next page then skips one). Its project finder honours ``id_after``, though: ordered by
``id`` ascending, each next page asks for the projects after the last id seen, a range scan whose URL is a cursor a
killed run resumes from. Whether there is a next page is the server's word (``rel="next"`` or ``X-Next-Page``):
above 10,000 results GitLab drops ``X-Total``, ``X-Total-Pages`` and ``rel="last"``.

``--all``: ``/projects`` with keyset pagination (``pagination=keyset&order_by=id&sort=asc``; offset pages are refused
past 50,000 there), following ``rel="next"``, whose URL carries the ``id_after`` to resume from. Each project lands at
its ``path_with_namespace`` below DEST.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx

from gz_tui.forges.gitea import api_root
from gz_tui.forges.provider import Provider, json_body, text_field, topics_field
from gz_tui.forges.records import Page, ProviderInfo, RemoteRepo
from gz_tui.forges.responses import error_message
from gz_tui.kinds import ProviderName
from gz_tui.urls import without_fragment

PER_PAGE = 100


class GitLab(Provider):
    info = ProviderInfo(
        name=ProviderName.GITLAB,
        default_base_url="https://gitlab.com",
        token_env_vars=("GITLAB_TOKEN",),
        ghorg_token_vars=("GHORG_GITLAB_TOKEN",),
        git_username="oauth2",
        nested=True,
        archived_filtered_by_server=True,
        instance_listing=True,
        signal_window=3600.0,
        starred=True,
        snippets=True,
    )
    total_header = "x-total"
    rate_prefix = "ratelimit-"

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"PRIVATE-TOKEN": token}

    def first_urls(self) -> list[str]:
        api = api_root(self.base_url, "/api/v4")
        params = {
            "include_subgroups": "true",
            "with_shared": "false",
            "order_by": "id",
            "sort": "asc",
            "per_page": str(PER_PAGE),
        }
        if self.skip_archived:
            params["archived"] = "false"
        if self.topic_filtered_by_server:
            params["topic"] = self.topics[0]
        if self.instance:  # keyset: offset pages of /projects are refused past 50,000
            return [f"{api}/projects?{urlencode({'pagination': 'keyset', **params_without_tree(params)})}"]
        name = quote(self.owner, safe="")
        if self.starred:  # a user's stars: projects of any namespace, each at its path_with_namespace
            return [f"{api}/users/{name}/starred_projects?{urlencode(params_without_tree(params))}"]
        if self.snippets:
            params.pop("topic", None)  # --topic is refused with --snippets; the projects are only the way to them
        urls = [f"{api}/groups/{name}/projects?{urlencode(params)}"]
        if "/" not in self.owner:  # a top-level name may be a user's personal namespace instead
            personal = params_without_tree(params)
            urls.append(f"{api}/users/{name}/projects?{urlencode({'owned': 'true', **personal})}")
        return urls

    def own_listing(self) -> tuple[str, str] | None:
        """``--snippets`` of a user, with their own token: their projects' snippets, then their personal ones
        (``/snippets`` lists the token's user's: asked only when that user is the owner)."""
        if not self.snippets or "/" in self.owner:
            return None
        api = api_root(self.base_url, "/api/v4")
        return f"{api}/user", f"{self.first_urls()[-1]}#{urlencode({'personal': '1'})}"

    def own_listing_note(self) -> str:
        if self.snippets:
            return f"{self.owner} is a user: their personal snippets are listed only to their own token"
        return super().own_listing_note()

    def viewer_url(self) -> str | None:
        return f"{api_root(self.base_url, '/api/v4')}/user"

    def lookup_urls(self, key: str, rel_path: str) -> list[str]:
        """``/projects/{id}``: ``404 Project Not Found`` once deleted; a moved project answers with its path of now.
        A snippet: ``/projects/{id}/snippets/{sid}`` or ``/snippets/{sid}`` (404 once deleted, or with its project)."""
        api = api_root(self.base_url, "/api/v4")
        if self.snippets:
            url = snippet_lookup(api, key)
            return [url] if url else []
        return [f"{api}/projects/{quote(key, safe='')}"] if key.isdigit() else []

    def parse_page(self, url: str, response: httpx.Response) -> Page:
        """``--snippets``: a page of projects holds no snippets (it only says which projects to ask next), and no
        count of them (``X-Total`` counts projects, or one project's snippets)."""
        page = super().parse_page(url, response)
        if self.snippets:
            page.total = None
            if _is_projects_page(url):
                page.repos = []
        return page

    def star_check_url(self, key: str, rel_path: str) -> tuple[str, bool] | None:
        """``/projects/{id}/starrers?search=USER``: the users starring a project, asked of anyone's token."""
        query = urlencode({"search": self.owner, "per_page": str(PER_PAGE)})
        return f"{api_root(self.base_url, '/api/v4')}/projects/{quote(key, safe='')}/starrers?{query}", False

    def still_starred(self, response: httpx.Response) -> bool:
        body = json_body(response)
        users = [item.get("user") for item in body if isinstance(item, dict)] if isinstance(body, list) else []
        return any(isinstance(user, dict) and str(user.get("username", "")).lower() == self.owner.lower() for user in users)

    @property
    def topic_filtered_by_server(self) -> bool:
        """GitLab's ``topic=a,b`` keeps projects with *all* of them; ``--topic`` is any-of, so only one goes there."""
        return len(self.topics) == 1

    def language_url(self, repo: RemoteRepo) -> str | None:
        """GitLab's listing carries no language: ``/projects/:id/languages`` (one request a repo) does."""
        return f"{api_root(self.base_url, '/api/v4')}/projects/{quote(repo.key, safe='')}/languages"

    def next_url(self, url: str, response: httpx.Response) -> str | None:
        if self.snippets:
            return self._snippets_next(url, response)
        return self._projects_next(url, response)

    def _snippets_next(self, url: str, response: httpx.Response) -> str | None:
        """``--snippets`` walks one chain of pages, each URL saying where it is (a killed run resumes from it): a page
        of projects, then the snippets of each of its projects with snippets on, then the next page of projects; a
        user's personal snippets last. The walk's own state rides in the URL's fragment, which is never sent:
        ``rest`` (the page's projects still to ask), ``after`` (the next page of projects), ``personal``."""
        state = dict(parse_qsl(urlsplit(url).fragment))
        personal = state.get("personal") == "1"
        if _is_projects_page(url):
            if response.status_code == 304:
                return None  # no body: the stored next URL of this page is used
            after = self._projects_next(without_fragment(url), response)
            if after is not None and personal:
                after = f"{without_fragment(after)}#{urlencode({'personal': '1'})}"
            return self._chain(_snippet_projects(response), after, personal)
        if response.status_code == 304:
            return None
        link = super().next_url(url, response)
        if link is None:
            next_page = response.headers.get("x-next-page", "").strip()
            link = _with_page(without_fragment(url), next_page) if next_page else None
        if link is not None:  # more of this project's snippets (or of the personal ones)
            return f"{without_fragment(link)}#{urlsplit(url).fragment}" if urlsplit(url).fragment else link
        if _is_personal_page(url):
            return None  # the personal snippets were the last of the walk
        rest = [number for number in state.get("rest", "").split(",") if number.isdigit()]
        return self._chain(rest, state.get("after") or None, personal)

    def _chain(self, projects: list[str], after: str | None, personal: bool) -> str | None:
        """The next page of the ``--snippets`` walk: the first of ``projects``' snippets, else ``after`` (the next page
        of projects), else the personal snippets (``personal``), else the end."""
        api = api_root(self.base_url, "/api/v4")
        if projects:
            state = {"rest": ",".join(projects[1:]), "after": after or "", "personal": "1" if personal else ""}
            fragment = urlencode({key: value for key, value in state.items() if value})
            query = urlencode({"per_page": str(PER_PAGE)})
            return f"{api}/projects/{projects[0]}/snippets?{query}" + (f"#{fragment}" if fragment else "")
        if after:
            return after
        return f"{api}/snippets?{urlencode({'per_page': str(PER_PAGE)})}" if personal else None

    def _projects_next(self, url: str, response: httpx.Response) -> str | None:
        """A group's next page is the projects after the last id of this one (``id_after``), once the server says there
        are more: never a deeper offset. Elsewhere ``rel="next"`` verbatim (keyset links carry their own ``id_after``),
        else ``X-Next-Page``."""
        by_id = _pages_by_id(url)
        if by_id and response.status_code == 304:
            return None  # no body, no last id: the stored next URL of this page is used
        found = super().next_url(url, response)
        if found is None:
            next_page = response.headers.get("x-next-page", "").strip()
            if next_page:
                found = _with_page(url, next_page)
        if found is not None and by_id:
            last = _last_id(response)
            return _with_id_after(url, last) if last is not None else found  # no id to go on after: the offset link
        return found

    def parse_repo(self, item: object) -> RemoteRepo | None:
        if self.snippets:
            return self._parse_snippet(item)
        if not isinstance(item, dict) or item.get("id") is None:
            return None
        full = text_field(item, "path_with_namespace")
        if full is None:
            return None
        namespace = full.rsplit("/", 1)[0] if "/" in full else ""
        prefix = self.owner.lower() + "/"
        inside = full.lower().startswith(prefix) and not self.starred  # a user's stars: every one at its full path
        return RemoteRepo(
            key=str(item["id"]),
            full_name=full,
            rel_path=full[len(prefix) :] if inside else full,
            clone_url=text_field(item, "http_url_to_repo") or "",
            ssh_url=text_field(item, "ssh_url_to_repo"),
            archived=item.get("archived") is True,
            fork=isinstance(item.get("forked_from_project"), dict),
            has_wiki=_wiki_enabled(item),
            private=text_field(item, "visibility") in ("private", "internal"),  # internal: signed-in users only
            pushed_at=text_field(item, "last_activity_at"),
            default_branch=text_field(item, "default_branch"),
            owner=self.owner if inside else namespace,
            topics=topics_field(item, "topics", "tag_list"),
        )

    def _parse_snippet(self, item: object) -> RemoteRepo | None:
        """A snippet (``Entities::Snippet``, ``Entities::ProjectSnippet``): a git repo at ``http_url_to_repo``, whose
        ``updated_at`` moves with every edit (and, since GitLab's post-receive touches it, every push). Its key is
        ``snippet:PROJECT:ID`` or ``snippet:ID`` (never a project's id), its path its id, unique on the instance; it
        is shown as GitLab references it (``group/project$ID``, a personal one ``$ID``)."""
        if not isinstance(item, dict) or not _is_id(item.get("id")):
            return None
        number, project = int(item["id"]), item.get("project_id")
        clone_url = text_field(item, "http_url_to_repo")
        if clone_url is None:
            return None
        if project is not None and not _is_id(project):
            return None
        author = item.get("author")
        username = author.get("username") if isinstance(author, dict) else None
        if project is None:
            key, shown = f"{SNIPPET_KEY}{number}", f"${number}"
            owner = username if isinstance(username, str) else ""
        else:
            path = urlsplit(clone_url).path.strip("/").removesuffix(".git").removesuffix(f"/snippets/{number}")
            key, shown = f"{SNIPPET_KEY}{project}:{number}", f"{path}${number}"
            inside = path.lower().startswith(self.owner.lower() + "/")
            owner = self.owner if inside else (path.rsplit("/", 1)[0] if "/" in path else path)
        return RemoteRepo(
            key=key,
            full_name=shown,
            rel_path=str(number),
            clone_url=clone_url,
            ssh_url=text_field(item, "ssh_url_to_repo"),
            private=text_field(item, "visibility") in ("private", "internal"),
            pushed_at=text_field(item, "updated_at"),
            owner=owner,
        )

    def forbidden_message(self, response: httpx.Response) -> str:
        return f"access forbidden: {error_message(response)} (does the token have the read_api scope?)"


SNIPPET_KEY = "snippet:"
"""A snippet's key in the state: ``snippet:[PROJECT:]ID`` never equals a project's id (a number)."""


def snippet_lookup(api: str, key: str) -> str | None:
    """Where one snippet of key ``snippet:PROJECT:ID`` (or a personal ``snippet:ID``) is asked about; None for a key
    that is no snippet's."""
    parts = key.removeprefix(SNIPPET_KEY).split(":") if key.startswith(SNIPPET_KEY) else []
    if len(parts) == 2 and all(part.isdigit() for part in parts):
        return f"{api}/projects/{parts[0]}/snippets/{parts[1]}"
    if len(parts) == 1 and parts[0].isdigit():
        return f"{api}/snippets/{parts[0]}"
    return None


def _is_projects_page(url: str) -> bool:
    """A page of a group's or a user's projects (in the ``--snippets`` walk: the projects to ask for snippets)."""
    return urlsplit(url).path.endswith("/projects")


def _snippet_projects(response: httpx.Response) -> list[str]:
    """The ids of a page's projects whose snippets are on (``snippets_access_level``, else ``snippets_enabled``)."""
    try:
        body = json_body(response)
    except ValueError:
        return []
    found = []
    for item in body if isinstance(body, list) else []:
        if not isinstance(item, dict) or not _is_id(item.get("id")):
            continue
        level = item.get("snippets_access_level")
        enabled = level != "disabled" if isinstance(level, str) else item.get("snippets_enabled") is not False
        if enabled:
            found.append(str(item["id"]))
    return found


def _is_personal_page(url: str) -> bool:
    """A page of the token's user's personal snippets (``/api/v4/snippets``): the last of a ``--snippets`` walk."""
    return urlsplit(url).path.rstrip("/").split("/")[-2:] == ["v4", "snippets"]


def params_without_tree(params: dict[str, str]) -> dict[str, str]:
    """A group listing's query without what only a group takes (subgroups, shared-in projects)."""
    return {key: value for key, value in params.items() if key not in ("include_subgroups", "with_shared")}


def _wiki_enabled(item: dict[str, object]) -> bool:
    """``wiki_access_level`` (GitLab 12.10+; ``disabled``, ``private`` or ``enabled``), else the older ``wiki_enabled``."""
    level = item.get("wiki_access_level")
    if isinstance(level, str):
        return level != "disabled"
    return item.get("wiki_enabled") is True


def _pages_by_id(url: str) -> bool:
    """A group listing, ordered by ascending id: paged by ``id_after`` (GitLab's project finder honours it there)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    return "/groups/" in parts.path and query.get("order_by") == "id" and query.get("sort") == "asc"


def _last_id(response: httpx.Response) -> int | None:
    """The largest project id of a page (the page is ordered by id; the largest is also the safest to go on after)."""
    try:
        body = json_body(response)
    except ValueError:
        return None
    ids = [item["id"] for item in body if isinstance(item, dict) and _is_id(item.get("id"))] if isinstance(body, list) else []
    return max(ids) if ids else None


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _with_id_after(url: str, last: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("page", "id_after")]
    query.append(("id_after", str(last)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _with_page(url: str, page: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    query.append(("page", page))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
