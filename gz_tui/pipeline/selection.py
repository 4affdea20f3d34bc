"""Which listed repos a run keeps: the filters of its settings, each with the reason a repo is left out.

Most filters read what the listing says of a repo (archived, fork, its path, its subgroup, the names of
``--repos-file``). ``--topic`` and ``--language`` read what the state does not keep: they are decided as a page is
listed, with one more request per repo where the forge's listing does not say (GitLab's languages, Gitea's
topics before 1.23 and languages before 1.17), and journaled with the page (:meth:`~gz_tui.pipeline.state.state.pages.PageRows.record`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from gz_tui.config import Settings
from gz_tui.forges.errors import NotFoundError, UsageError
from gz_tui.forges.http import ApiClient
from gz_tui.forges.provider import Provider
from gz_tui.forges.records import RemoteRepo
from gz_tui.kinds import CloneProtocol

PUSHED_NOTHING = "empty: nothing has been pushed to it yet"
PRIVATE_OVER_SSH_ONLY = "private: the forge serves private repos over ssh only (--protocol ssh)"

_T = TypeVar("_T")


def read_names(path: Path) -> dict[str, str]:
    """The repo names of a ``--repos-file``: one a line, ``#`` comments and blank lines ignored; lower-cased name →
    the name as written. Raises OSError or UnicodeDecodeError when the file cannot be read."""
    names: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].strip().strip("/")
        if name:
            names.setdefault(name.lower(), name)
    return names


class Selection:
    """The filters of one target, asked of each repo the lister takes."""

    def __init__(self, settings: Settings, provider: Provider, client: ApiClient) -> None:
        self.settings = settings
        self.provider = provider
        self.client = client
        self.include = re.compile(settings.include) if settings.include else None
        self.exclude = re.compile(settings.exclude) if settings.exclude else None
        self.subgroup_include = re.compile(settings.subgroup_include) if settings.subgroup_include else None
        self.subgroup_exclude = re.compile(settings.subgroup_exclude) if settings.subgroup_exclude else None
        self.topics = {topic.lower() for topic in settings.topics}
        self.language = settings.language.lower() if settings.language else None
        self.wanted = read_names(settings.repos_file) if settings.repos_file else None
        """``--repos-file``: lower-cased name → the name as written."""

    def described(self) -> str:
        """The filters in force, as given (``--topic infra · --skip-forks``); ``""`` when there are none."""
        s = self.settings
        given = [
            ("--include", s.include),
            ("--exclude", s.exclude),
            ("--topic", ",".join(s.topics)),
            ("--language", s.language),
            ("--repos-file", str(s.repos_file) if s.repos_file else None),
            ("--subgroup-include", s.subgroup_include),
            ("--subgroup-exclude", s.subgroup_exclude),
        ]
        named = [f"{flag} {value}" for flag, value in given if value]
        named += [flag for flag, on in (("--skip-archived", s.skip_archived), ("--skip-forks", s.skip_forks)) if on]
        return " · ".join(named)

    @property
    def by_metadata(self) -> bool:
        """``--topic`` or ``--language``: the state keeps neither, so a listing filtered by them is fetched whole
        (no conditional requests, no 304s)."""
        return bool(self.topics or self.language)

    def reason(self, repo: RemoteRepo) -> str:
        """Why the listing's own fields leave ``repo`` out, or ``""`` when they keep it."""
        s = self.settings
        if s.skip_archived and repo.archived:
            return "archived (--skip-archived)"
        if s.skip_forks and repo.fork:
            return "fork (--skip-forks)"
        if self.include and not self.include.search(repo.rel_path):
            return "not matched by --include"
        if self.exclude and self.exclude.search(repo.rel_path):
            return "matched by --exclude"
        if self.wanted is not None and repo.full_name.lower() not in self.wanted and repo.rel_path.lower() not in self.wanted:
            return "not named in --repos-file"
        subgroup = repo.rel_path.rpartition("/")[0]
        if self.subgroup_include and not self.subgroup_include.search(subgroup):
            return "subgroup not matched by --subgroup-include"
        if self.subgroup_exclude and self.subgroup_exclude.search(subgroup):
            return "subgroup matched by --subgroup-exclude"
        return ""

    def unclonable(self, repo: RemoteRepo) -> str:
        """Why this run cannot clone ``repo`` at all, as the listing says (the state keeps neither fact): nothing pushed
        yet (Gogs ``empty``), or private on a forge that serves private repos over ssh only (Sourcehut) to an https
        run. ``""`` when it can."""
        if repo.empty:
            return PUSHED_NOTHING
        if repo.private and self.settings.protocol == CloneProtocol.HTTPS and not self.provider.info.private_over_https:
            return PRIVATE_OVER_SSH_ONLY
        return ""

    async def left_out_by_metadata(self, repos: list[RemoteRepo]) -> dict[str, str]:
        """Repo key → why what the state does not keep leaves it out (of the repos :meth:`reason` keeps):
        :meth:`unclonable`, ``--topic``, ``--language``. Decided as the page is listed and journaled with it: a resumed
        run's pending repos all passed, and none that failed is queued again."""
        reasons: dict[str, str] = {}
        for repo in repos:
            if self.reason(repo):
                continue
            reason = self.unclonable(repo) or (await self._metadata_reason(repo) if self.by_metadata else "")
            if reason:
                reasons[repo.key] = reason
        return reasons

    async def _metadata_reason(self, repo: RemoteRepo) -> str:
        provider = self.provider
        if self.topics:
            topics = repo.topics
            if topics is None:
                topics = await self._ask(provider.topics_url(repo), provider.parse_topics, "--topic", "topics") or ()
            if not self.topics & {topic.lower() for topic in topics}:
                return "no topic named by --topic"
        if self.language:
            language = repo.language
            if language is None:
                language = await self._ask(provider.language_url(repo), provider.parse_language, "--language", "languages")
            if (language or "").lower() != self.language:
                return "another language than --language"
        return ""

    async def _ask(self, url: str | None, parse: Callable[[httpx.Response], _T], flag: str, field: str) -> _T | None:
        """What the forge's per-repo endpoint says of a field its listing left out (one request); None when the repo
        is gone meanwhile or the answer is unreadable. A forge with no such endpoint cannot filter by it: the run
        stops (exit 2) rather than select nothing."""
        if url is None:
            where = urlsplit(self.settings.api_base).netloc
            raise UsageError(
                f"{flag} cannot be used with this {self.provider.info.name} server ({where}): its listing has no {field} "
                f"and it has no per-repository {field} endpoint"
            )
        try:
            return parse(await self.client.get(url, quiet_404=True))
        except (NotFoundError, ValueError):
            return None
