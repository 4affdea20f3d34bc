"""Repository metadata: generated, not stored, so a 100,000-repo org costs a few MB.

The catalog is the single source of truth the three API flavours and the git endpoint read from.
Every repo has one flat name (GitHub/Gitea) and one GitLab home group inside a fixed tree, so the
same bare repo is reachable as ``/{org}/{name}.git`` and ``/{org}/{group}/{name}.git``.
Listings are served from cached, immutable sorted "views" rebuilt only when the catalog changes.

A repo keeps its id for life: a rename (:meth:`Catalog.rename`) changes its name and leaves a redirect from the
old one, as all three forges do, until another repo takes that name; re-creating a name
(:meth:`Catalog.recreate`) makes a new repo with a new id and a new history.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from gz_tui.forge_sim.hostile import hostile_entries

BASE_EPOCH = 1_546_300_800  # 2019-01-01T00:00:00Z: first generated repo's creation time
CREATED_STEP = 600  # seconds between two repo creations
REPO_ID_BASE = 70_000_000
GROUP_ID_BASE = 5_000
SHARED_NAMESPACE = "partners"
SHARED_GROUP_ID = 9_000
SHARED_PROJECTS = ("shared-lib", "shared-tool")
GROUP_LAYOUT: tuple[str, ...] = ("", "platform", "platform/core", "platform/core/libs", "tools")
"""GitLab subgroups below the top group (relative paths); repo ``i`` lives in ``GROUP_LAYOUT[i % 5]``."""

WIKI_STATES = ("present", "empty", "off")
"""Repo ``id % 3`` picks its wiki's state (``ForgeSim.set_wiki`` overrides it)."""
WIKI_SUFFIX = ".wiki"
LANGUAGES: tuple[str | None, ...] = ("Python", "Go", "Rust", "TypeScript", None, "C", "Shell")
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$|^\.github$")


def is_safe_segment(segment: str) -> bool:
    """A name the forge can put on disk and in a URL without escaping (the ``.github`` repo included)."""
    return bool(_SAFE_SEGMENT.match(segment)) and not segment.endswith(".git") and segment not in (".", "..")


@dataclass(slots=True)
class RepoMeta:
    """One repository's listing data; mutable only through :class:`Catalog` (under its lock)."""

    id: int
    name: str
    group: str = ""
    created: int = BASE_EPOCH
    updated: int = BASE_EPOCH
    pushed: int | None = BASE_EPOCH
    fork: bool = False
    archived: bool = False
    private: bool = False
    language: str | None = None
    servable: bool = True
    hostile: bool = False
    clone_url: str | None = None
    """Overrides the generated clone URL (hostile entries); may contain ``{hostport}``/``{org}``."""
    owner: str | None = None
    """Overrides the owner/namespace (hostile ``other/stolen``, GitLab shared-in projects)."""
    rev: int = 0
    """Bumped on every change, so serialized-JSON caches keyed by ``(id, rev)`` never go stale."""
    topics: tuple[str, ...] = ("generated",)
    """Every repo has ``generated``; every 3rd ``infra``, every 4th (from the 1st) ``web``."""
    activity: int | None = None
    """GitLab's ``last_activity_at`` once a push has set it (before that: ``pushed`` or ``updated``)."""
    disk_name: str | None = None
    """Where the bare repo lives below its owner's directory, fixed at creation: a rename keeps the repo (and its
    history) where it is; a re-created name gets a directory of its own. None: the name."""
    wiki_override: str | None = None
    """A wiki state set by a test (``ForgeSim.set_wiki``) instead of the one ``id % 3`` picks."""
    default_branch: str = "main"
    """The branch the repo's HEAD names (and the listings' ``default_branch``); it may name no branch at all."""

    @property
    def wiki(self) -> str:
        """``present`` (pages written: served at ``NAME.wiki.git``), ``empty`` (enabled, never written: answered as
        ``Scenario.empty_wiki`` says) or ``off`` (disabled)."""
        if self.wiki_override is not None:
            return self.wiki_override
        return WIKI_STATES[self.id % len(WIKI_STATES)] if not self.hostile else "off"

    @property
    def disk(self) -> str:
        """The repo's directory name below its owner (``disk_name``, else the name)."""
        return self.disk_name or self.name

    @property
    def last_activity(self) -> int:
        """GitLab's ``last_activity_at`` (epoch seconds)."""
        return self.activity if self.activity is not None else (self.pushed or self.updated)

    @property
    def gitlab_rel_path(self) -> str:
        """Path relative to the top group, e.g. ``platform/core/repo-00003``."""
        return f"{self.group}/{self.name}" if self.group else self.name


@dataclass(frozen=True, slots=True)
class GroupMeta:
    """A GitLab group of the tree; ``rel`` is its path below the top group ("" for the top group)."""

    id: int
    rel: str
    parent_id: int | None

    @property
    def path(self) -> str:
        return self.rel.rsplit("/", 1)[-1]

    def full_path(self, org: str) -> str:
        return f"{org}/{self.rel}" if self.rel else org

    def full_name(self, org: str) -> str:
        return " / ".join(part.capitalize() for part in self.full_path(org).split("/"))


def generated_repo(index: int, name: str, group: str) -> RepoMeta:
    """Deterministic metadata for the ``index``-th repo: every 7th a fork, every 11th archived, ..."""
    created = BASE_EPOCH + index * CREATED_STEP
    updated = created + ((index * 7919) % 1000) * 3600
    pushed = None if index % 13 == 6 else created + ((index * 104_729) % 997) * 1800
    return RepoMeta(
        id=REPO_ID_BASE + index,
        name=name,
        group=group,
        created=created,
        updated=max(updated, pushed or 0),
        pushed=pushed,
        fork=index % 7 == 3,
        archived=index % 11 == 5,
        private=index % 5 == 4,
        language=LANGUAGES[index % len(LANGUAGES)],
        topics=("generated", *(("infra",) if index % 3 == 0 else ()), *(("web",) if index % 4 == 1 else ())),
    )


class Catalog:
    """Thread-safe repo list in creation order, with lookups, sorted views, renames, re-creations and churn."""

    def __init__(self, org: str, count: int, hostile: bool) -> None:
        self.org = org
        self._lock = threading.RLock()
        self._version = 0
        self._views: dict[Hashable, tuple[RepoMeta, ...]] = {}
        self._views_version = -1
        self._churned = False
        self._width = max(5, len(str(count)))
        self._next_index = 1
        self._repos: list[RepoMeta] = []
        self._by_name: dict[str, RepoMeta] = {}
        self._by_path: dict[str, RepoMeta] = {}
        self._by_id: dict[int, RepoMeta] = {}
        self._moved: dict[str, RepoMeta] = {}
        """Old names and old GitLab paths (lower-cased) of renamed repos → the repo now."""
        self._removals: list[tuple[int, str | None]] = []
        """(page, name) pairs from :meth:`remove_after_page`, each waiting for its page to be served."""
        self._stars: list[tuple[int, int]] = []
        """(repo id, when starred) of the repos the token's user starred, oldest star first."""
        self.groups: dict[str, GroupMeta] = {}
        self._add_group("")
        for rel in GROUP_LAYOUT[1:]:
            self._add_group(rel)
        for _ in range(count):
            index = self._next_index
            self._append(generated_repo(index, self._generated_name(index), GROUP_LAYOUT[index % len(GROUP_LAYOUT)]))
        if hostile:
            for entry in hostile_entries():
                index = self._next_index
                meta = generated_repo(index, entry.name, "")
                meta.fork = meta.archived = meta.private = False
                meta.hostile = entry.name != ".github"
                meta.servable = entry.servable or (entry.clone_url is None and is_safe_segment(entry.name))
                meta.clone_url = entry.clone_url
                meta.owner = entry.owner
                self._append(meta)
        mid = BASE_EPOCH + (count // 2) * CREATED_STEP + CREATED_STEP // 2
        self.shared: tuple[RepoMeta, ...] = tuple(
            RepoMeta(
                id=REPO_ID_BASE - 100 + k,
                name=name,
                created=mid + k,
                updated=mid + k,
                pushed=mid + k,
                owner=SHARED_NAMESPACE,
                language="Python",
            )
            for k, name in enumerate(SHARED_PROJECTS)
        )

    # -- construction helpers (caller holds the lock or is __init__) --

    def _generated_name(self, index: int) -> str:
        return f"repo-{index:0{self._width}d}"

    def _add_group(self, rel: str) -> GroupMeta:
        group = self.groups.get(rel)
        if group is not None:
            return group
        parent_id = None
        if rel:
            parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
            parent_id = self._add_group(parent).id
        group = GroupMeta(GROUP_ID_BASE + len(self.groups), rel, parent_id)
        self.groups[rel] = group
        return group

    def _index(self, meta: RepoMeta) -> None:
        """Make ``meta`` findable by name, path and id; a name it takes stops redirecting to a renamed repo (GitHub:
        "do not reuse the original name … redirects … will no longer work"; Gitea deletes the redirect)."""
        self._by_name.setdefault(meta.name, meta)
        self._by_id[meta.id] = meta
        if meta.owner is None:
            self._by_path.setdefault(meta.gitlab_rel_path, meta)
            self._moved.pop(meta.name.lower(), None)
            self._moved.pop(meta.gitlab_rel_path.lower(), None)

    def _unindex(self, meta: RepoMeta) -> None:
        if self._by_name.get(meta.name) is meta:
            del self._by_name[meta.name]
        if self._by_path.get(meta.gitlab_rel_path) is meta:
            del self._by_path[meta.gitlab_rel_path]
        if self._by_id.get(meta.id) is meta:
            del self._by_id[meta.id]

    def _append(self, meta: RepoMeta) -> None:
        self._next_index += 1
        self._repos.append(meta)
        self._index(meta)
        self._version += 1

    def _remove(self, meta: RepoMeta) -> None:
        self._repos.remove(meta)
        self._unindex(meta)
        for old in [old for old, target in self._moved.items() if target is meta]:
            del self._moved[old]  # a deleted repo is gone under every name it had
        self._version += 1

    def _listed(self, meta: RepoMeta) -> bool:
        return self._by_id.get(meta.id) is meta

    # -- queries --

    def repos(self) -> list[RepoMeta]:
        """Copy of all listed repos (hostile ones included) in creation order."""
        with self._lock:
            return list(self._repos)

    def find(self, name: str) -> RepoMeta | None:
        """By GitHub name or GitLab relative path; exact match first, then case-insensitive."""
        with self._lock:
            meta = self._by_name.get(name) or self._by_path.get(name)
            if meta is not None:
                return meta
            lowered = name.lower()
            for candidate in self._repos:
                if candidate.owner is None and lowered in (candidate.name.lower(), candidate.gitlab_rel_path.lower()):
                    return candidate
            return None

    def by_id(self, number: int) -> RepoMeta | None:
        """A listed repo by its forge id (shared-in GitLab projects included)."""
        with self._lock:
            return self._by_id.get(number) or next((m for m in self.shared if m.id == number), None)

    def star(self, meta: RepoMeta, when: int) -> None:
        """The token's user stars ``meta`` (again: no change)."""
        with self._lock:
            if all(number != meta.id for number, _ in self._stars):
                self._stars.append((meta.id, when))

    def unstar(self, meta: RepoMeta) -> None:
        with self._lock:
            self._stars = [(number, when) for number, when in self._stars if number != meta.id]

    def starred(self) -> list[tuple[RepoMeta, int]]:
        """The repos the token's user stars and when, oldest star first (a deleted repo is starred by nobody)."""
        with self._lock:
            found = [(self._by_id.get(number), when) for number, when in self._stars]
            return [(meta, when) for meta, when in found if meta is not None]

    def moved(self, name: str) -> RepoMeta | None:
        """The repo an old name (or old GitLab path) of a renamed repo now belongs to, case-insensitively."""
        with self._lock:
            return self._moved.get(name.lower())

    def find_wiki(self, owner: str, rest: str) -> RepoMeta | None:
        """The repo whose wiki a git URL ``/{owner}/{rest}.wiki.git`` names, if that wiki is enabled."""
        meta = self.find_servable(owner, rest.removesuffix(WIKI_SUFFIX)) if rest.endswith(WIKI_SUFFIX) else None
        return meta if meta is not None and meta.wiki != "off" else None

    def find_servable(self, owner: str, rest: str) -> RepoMeta | None:
        """The repo a git URL ``/{owner}/{rest}.git`` names, if the forge serves it over git."""
        if owner.lower() == SHARED_NAMESPACE:
            return next((m for m in self.shared if m.name.lower() == rest.lower()), None)
        if owner.lower() != self.org.lower():
            return None
        meta = self.find(rest)
        if meta is None or not meta.servable or meta.owner is not None:
            return None
        return meta

    def find_moved_servable(self, owner: str, rest: str) -> RepoMeta | None:
        """The renamed repo an old git URL ``/{owner}/{rest}.git`` names, if the forge serves it over git."""
        if owner.lower() != self.org.lower():
            return None
        meta = self.moved(rest)
        return meta if meta is not None and meta.servable else None

    def group_by_ref(self, ref: str) -> GroupMeta | None:
        """A group by numeric id or full path (case-insensitive), as GitLab's ``:id`` accepts."""
        with self._lock:
            if ref.isdigit():
                return next((g for g in self.groups.values() if g.id == int(ref)), None)
            lowered = ref.lower().strip("/")
            org = self.org.lower()
            if lowered == org:
                return self.groups[""]
            if lowered.startswith(org + "/"):
                rel = lowered[len(org) + 1 :]
                return next((g for g in self.groups.values() if g.rel.lower() == rel), None)
            return None

    def view(self, key: Hashable, build: Callable[[Sequence[RepoMeta]], Sequence[RepoMeta]]) -> tuple[RepoMeta, ...]:
        """Cached, immutable ordering of the catalog for one listing shape; rebuilt after any change."""
        with self._lock:
            if self._views_version != self._version:
                self._views.clear()
                self._views_version = self._version
            cached = self._views.get(key)
            if cached is None:
                cached = tuple(build(self._repos))
                self._views[key] = cached
            return cached

    # -- mutations --

    def add(self, name: str) -> RepoMeta:
        """Create a repo (``group/sub/name`` puts it in that GitLab subgroup), newest by creation."""
        group, _, leaf = name.rpartition("/")
        if not is_safe_segment(leaf) or any(not is_safe_segment(part) for part in group.split("/") if group):
            raise ValueError(f"unsafe repository name: {name!r}")
        with self._lock:
            if self._by_name.get(leaf) is not None:
                raise ValueError(f"repository already exists: {leaf!r}")
            self._add_group(group)
            self._append(self._newest(leaf, group))
            return self._repos[-1]

    def _newest(self, name: str, group: str) -> RepoMeta:
        index = self._next_index
        meta = generated_repo(index, name, group)
        newest = max((m.created for m in self._repos), default=BASE_EPOCH)
        meta.created = meta.updated = newest + CREATED_STEP
        meta.pushed = meta.created
        return meta

    def remove(self, name: str) -> RepoMeta:
        with self._lock:
            meta = self.find(name)
            if meta is None:
                raise KeyError(name)
            self._remove(meta)
            return meta

    def rename(self, old: str, new: str) -> RepoMeta:
        """Rename a repo in place: same id, same history, same GitLab group; the old name (and old GitLab path)
        now redirect to it until another repo takes that name."""
        if not is_safe_segment(new):
            raise ValueError(f"unsafe repository name: {new!r}")
        with self._lock:
            meta = self.find(old)
            if meta is None or meta.owner is not None or meta.hostile:
                raise KeyError(old)
            taken = self.find(new)
            if taken is not None and taken is not meta:
                raise ValueError(f"repository already exists: {new!r}")
            old_name, old_path = meta.name, meta.gitlab_rel_path
            self._unindex(meta)
            meta.disk_name = meta.disk
            meta.name = new
            meta.rev += 1
            self._index(meta)
            for previous in (old_name, old_path):
                if previous.lower() not in (meta.name.lower(), meta.gitlab_rel_path.lower()):
                    self._moved[previous.lower()] = meta
            self._version += 1
            return meta

    def recreate(self, name: str) -> RepoMeta:
        """Delete a repo and create a new one of the same name, group, visibility, flags, topics, language and wiki
        state: a new id, newest by creation, its own directory on disk and so a history of its own (its first commit
        has another date)."""
        with self._lock:
            old = self.find(name)
            if old is None or old.owner is not None or not old.servable:
                raise KeyError(name)
            self._remove(old)
            meta = self._newest(old.name, old.group)
            meta.private, meta.fork, meta.archived = old.private, old.fork, old.archived
            meta.language, meta.topics, meta.wiki_override = old.language, old.topics, old.wiki
            meta.disk_name = f".recreated/{meta.id}/{old.name}"
            self._append(meta)
            return meta

    def touch(self, meta: RepoMeta, when: float, activity_hold: float = 0.0) -> None:
        """Record a push at ``when`` in whole seconds (``pushed_at``/``updated_at`` have no finer resolution on
        GitHub and Gitea). GitLab's ``last_activity_at`` moves only if the last one is ``activity_hold`` seconds old."""
        with self._lock:
            second = max(int(when), meta.created)
            if activity_hold <= 0 or second - meta.last_activity >= activity_hold:
                meta.activity = second
            else:
                meta.activity = meta.last_activity  # pinned before pushed_at (its fallback) moves
            meta.pushed = meta.updated = second
            meta.rev += 1
            self._version += 1

    def change(self, meta: RepoMeta, *, wiki: str | None = None, default_branch: str | None = None) -> None:
        """Set a repo's wiki state or default branch (what its listings say changes with it)."""
        with self._lock:
            if wiki is not None:
                meta.wiki_override = wiki
            if default_branch is not None:
                meta.default_branch = default_branch
            meta.rev += 1
            self._version += 1

    def remove_after_page(self, page: int, name: str | None) -> None:
        """Once any listing serves its page ``page``, delete ``name`` (None: the first repo of that listing)."""
        with self._lock:
            self._removals.append((page, name))

    def page_served(self, view: Sequence[RepoMeta], page: int, per_page: int, churn: bool) -> None:
        """What happens once a listing page went out: churn (``Scenario.churn``) and removals that wait for it."""
        if churn:
            self.churn_after_page(view, page, per_page)
        with self._lock:
            due = [name for at, name in self._removals if at == page]
            if not due:
                return
            self._removals = [(at, name) for at, name in self._removals if at != page]
            for name in due:
                victim = self.find(name) if name is not None else next((m for m in view if self._listed(m) and m.owner is None), None)
                if victim is not None and self._listed(victim):
                    self._remove(victim)

    def churn_after_page(self, view: Sequence[RepoMeta], page: int, per_page: int) -> None:
        """Once, after a listing's page 2: add 5 newest repos, delete 3 that sit beyond page 3.

        Deleting only beyond the next page keeps an ascending-by-creation walk exact: nothing
        shifts onto pages already served, and the additions append at the end.
        """
        if page != 2:
            return
        with self._lock:
            if self._churned:
                return
            self._churned = True
            beyond = [m for m in view[(page + 1) * per_page :] if self._listed(m) and m.owner is None]
            step = max(1, len(beyond) // 3)
            for victim in beyond[::step][:3]:
                self._remove(victim)
            for _ in range(5):
                self._append(self._newest(self._generated_name(self._next_index), ""))
