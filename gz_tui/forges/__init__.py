"""Forge providers (GitHub, GitLab, Gitea) behind one interface; no Textual here."""

from __future__ import annotations

from collections.abc import Sequence

from gz_tui.forges.provider import Provider
from gz_tui.kinds import ProviderName


def make_provider(
    name: str, base_url: str, owner: str, *, skip_archived: bool = False, topics: Sequence[str] = (), affiliation: str | None = None
) -> Provider:
    """The provider for ``--provider NAME`` talking to the API root ``base_url`` about ``owner``."""
    if name == ProviderName.GITHUB:
        from gz_tui.forges.github import GitHub

        return GitHub(base_url, owner, skip_archived=skip_archived, topics=topics, affiliation=affiliation)
    if name == ProviderName.GITLAB:
        from gz_tui.forges.gitlab import GitLab

        return GitLab(base_url, owner, skip_archived=skip_archived, topics=topics, affiliation=affiliation)
    if name == ProviderName.GITEA:
        from gz_tui.forges.gitea import Gitea

        return Gitea(base_url, owner, skip_archived=skip_archived, topics=topics, affiliation=affiliation)
    raise ValueError(f"unknown provider {name!r}")


__all__ = ["Provider", "make_provider"]
