"""Forge providers (GitHub, GitLab, Gitea) behind one interface; no Textual here."""

from __future__ import annotations

from gz_tui.forges.base import Provider
from gz_tui.forges.github import GitHub


def make_provider(name: str, base_url: str, *, skip_archived: bool = False) -> Provider:
    """The provider for ``--provider NAME`` talking to the API root ``base_url``."""
    if name == "github":
        return GitHub(base_url)
    if name == "gitlab":
        from gz_tui.forges.gitlab import GitLab

        return GitLab(base_url, skip_archived=skip_archived)
    if name == "gitea":
        from gz_tui.forges.gitea import Gitea

        return Gitea(base_url)
    raise ValueError(f"unknown provider {name!r}")
