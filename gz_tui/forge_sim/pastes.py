"""Gists (GitHub) and snippets (GitLab): small git repositories of their own, beside the projects.

Each is generated (``Scenario.gists``, ``Scenario.snippets``, ``Scenario.personal_snippets``) and its bare repo made
lazily, like a project's, in a folder of the forge's root no project can have (``.gists/ID.git``, ``.snippets/ID.git``).
A gist belongs to the forge's user (the token's, or the user who is the owner); every 4th is secret (``public:
false``: unlisted on ``/users/U/gists``, shown on ``/gists`` to its owner's token, cloned by anyone who knows its URL,
as on GitHub). A project snippet belongs to one project of the catalog (snippet ``i`` to the ``3 * i``-th project) and
goes when its project goes; a personal one to the token's user. Snippet ids are one sequence, project and personal
alike, as GitLab's (one ``snippets`` table). Every 4th snippet is private.

Git: a gist at ``/gist/ID.git`` (GitHub Enterprise's layout; github.com's is ``gist.github.com/ID.git``), a project
snippet at ``/GROUP/…/PROJECT/snippets/ID.git``, a personal one at ``/snippets/ID.git`` (GitLab's ``http_url_to_repo``).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from gz_tui.forge_sim.catalog import BASE_EPOCH, Catalog, RepoMeta

GIST_DIR = ".gists"
SNIPPET_DIR = ".snippets"
SNIPPET_ID_BASE = 1_000
PASTE_STEP = 3_600
"""Seconds between two generated pastes' creation (all long before any test runs: their signals are trusted)."""
_GIST_PATH = re.compile(r"^gist/(?P<id>[0-9a-f]+)$")
_SNIPPET_PATH = re.compile(r"^(?:(?P<project>.+)/)?snippets/(?P<id>[0-9]+)$")


@dataclass(slots=True)
class PasteMeta:
    """One gist or snippet; mutable only through :class:`Pastes` (under its lock)."""

    id: str
    kind: str
    """``gist`` or ``snippet``."""
    created: int
    updated: int
    public: bool
    project_id: int | None = None
    """A GitLab project snippet's project; None: a gist, or a personal snippet."""

    @property
    def disk(self) -> tuple[str, str]:
        """(folder below the forge's root, repo name) of its bare repo."""
        return (GIST_DIR if self.kind == "gist" else SNIPPET_DIR), self.id

    @property
    def title(self) -> str:
        return f"{self.kind} {self.id}"


def gist_id(index: int) -> str:
    """A gist id as GitHub makes them now: 32 hex digits."""
    return hashlib.sha256(f"gist-{index}".encode()).hexdigest()[:32]


class Pastes:
    """Thread-safe gists and snippets, in creation order."""

    def __init__(self, catalog: Catalog, gists: int = 0, snippets: int = 0, personal_snippets: int = 0) -> None:
        self._catalog = catalog
        self._lock = threading.Lock()
        self._items: list[PasteMeta] = []
        self._next_gist = 0
        self._next_snippet = SNIPPET_ID_BASE
        projects = [m for m in catalog.repos() if not m.hostile and m.owner is None and m.servable]
        for index in range(gists):
            self._add_gist(BASE_EPOCH + index * PASTE_STEP)
        for index in range(snippets):
            if projects:
                self._add_snippet(BASE_EPOCH + index * PASTE_STEP, projects[(3 * index) % len(projects)].id)
        for index in range(personal_snippets):
            self._add_snippet(BASE_EPOCH + (snippets + index) * PASTE_STEP, None)

    def _add_gist(self, when: int) -> PasteMeta:
        meta = PasteMeta(gist_id(self._next_gist), "gist", when, when, public=self._next_gist % 4 != 3)
        self._next_gist += 1
        self._items.append(meta)
        return meta

    def _add_snippet(self, when: int, project_id: int | None) -> PasteMeta:
        number = self._next_snippet
        meta = PasteMeta(str(number), "snippet", when, when, public=number % 4 != 3, project_id=project_id)
        self._next_snippet += 1
        self._items.append(meta)
        return meta

    def add(self, kind: str, when: int, project_id: int | None = None) -> PasteMeta:
        """A new gist or snippet, created (and updated) ``when``."""
        with self._lock:
            return self._add_gist(when) if kind == "gist" else self._add_snippet(when, project_id)

    def gists(self) -> list[PasteMeta]:
        with self._lock:
            return [m for m in self._items if m.kind == "gist"]

    def snippets(self, project_id: int | None) -> list[PasteMeta]:
        """A project's snippets (None: the personal ones), oldest first; none once its project is gone."""
        if project_id is not None and self._catalog.by_id(project_id) is None:
            return []
        with self._lock:
            return [m for m in self._items if m.kind == "snippet" and m.project_id == project_id]

    def snippets_all(self) -> list[PasteMeta]:
        with self._lock:
            return [m for m in self._items if m.kind == "snippet"]

    def find(self, kind: str, paste_id: str) -> PasteMeta | None:
        """A gist or snippet by id (a project snippet of a deleted project is gone with it)."""
        with self._lock:
            meta = next((m for m in self._items if m.kind == kind and m.id == paste_id), None)
        if meta is not None and meta.project_id is not None and self._catalog.by_id(meta.project_id) is None:
            return None
        return meta

    def project_of(self, meta: PasteMeta) -> RepoMeta | None:
        return self._catalog.by_id(meta.project_id) if meta.project_id is not None else None

    def touch(self, meta: PasteMeta, when: int) -> None:
        with self._lock:
            meta.updated = max(meta.updated, when)

    def remove(self, meta: PasteMeta) -> None:
        with self._lock:
            self._items = [m for m in self._items if m is not meta]

    def by_git_path(self, repo_path: str, project_at: Callable[[str], RepoMeta | None]) -> PasteMeta | None:
        """The paste a git URL ``/{repo_path}.git`` names: ``gist/ID``, ``snippets/ID`` (personal) or
        ``GROUP/PROJECT/snippets/ID``, whose project part must name the snippet's project (``project_at``: the
        project a git path names now)."""
        gist = _GIST_PATH.match(repo_path)
        if gist is not None:
            return self.find("gist", gist.group("id"))
        snippet = _SNIPPET_PATH.match(repo_path)
        if snippet is None:
            return None
        meta = self.find("snippet", snippet.group("id"))
        if meta is None:
            return None
        named = snippet.group("project")
        if named is None:
            return meta if meta.project_id is None else None
        project = project_at(named)
        return meta if project is not None and project.id == meta.project_id else None

    @staticmethod
    def is_paste_path(repo_path: str) -> bool:
        return bool(_GIST_PATH.match(repo_path) or _SNIPPET_PATH.match(repo_path))
