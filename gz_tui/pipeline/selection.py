"""Which listed repos a run keeps: the filters of its settings, each with the reason a repo is left out.

Most filters read what the listing says of a repo (archived, fork, its path, its subgroup, the names of
``--repos-file``). ``--topic`` and ``--language`` read what the state does not keep: they are decided as a page is
listed, with one more request per repo where the forge's listing does not say its language (GitLab), and
journaled with the page (:meth:`~gz_tui.pipeline.state.state.pages.PageRows.record`).
"""

from __future__ import annotations

import re
from pathlib import Path

from gz_tui.config import Settings
from gz_tui.forges.errors import NotFoundError
from gz_tui.forges.http import ApiClient
from gz_tui.forges.provider import Provider
from gz_tui.forges.records import RemoteRepo


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

    async def left_out_by_metadata(self, repos: list[RemoteRepo]) -> dict[str, str]:
        """Repo key → why ``--topic``/``--language`` leave it out (of the repos :meth:`reason` keeps). Decided as the
        page is listed and journaled with it: a resumed run's pending repos all passed, and none that failed is
        queued again."""
        if not self.by_metadata:
            return {}
        reasons: dict[str, str] = {}
        for repo in repos:
            reason = "" if self.reason(repo) else await self._metadata_reason(repo)
            if reason:
                reasons[repo.key] = reason
        return reasons

    async def _metadata_reason(self, repo: RemoteRepo) -> str:
        if self.topics and not self.topics & {topic.lower() for topic in repo.topics}:
            return "no topic named by --topic"
        if self.language:
            language = repo.language
            url = self.provider.language_url(repo) if language is None else None
            if url is not None:
                try:
                    language = self.provider.parse_language(await self.client.get(url, quiet_404=True))
                except (NotFoundError, ValueError):
                    language = None
            if (language or "").lower() != self.language:
                return "another language than --language"
        return ""
