"""Forge providers (GitHub, GitLab, Gitea) behind one interface; no Textual here."""

from __future__ import annotations

from gz_tui.forges.provider import Provider
from gz_tui.kinds import ProviderName


def make_provider(name: str, base_url: str, owner: str, *, skip_archived: bool = False) -> Provider:
    """The provider for ``--provider NAME`` talking to the API root ``base_url`` about ``owner``."""
    if name == ProviderName.GITHUB:
        from gz_tui.forges.github import GitHub

        return GitHub(base_url, owner, skip_archived=skip_archived)
    if name == ProviderName.GITLAB:
        from gz_tui.forges.gitlab import GitLab

        return GitLab(base_url, owner, skip_archived=skip_archived)
    if name == ProviderName.GITEA:
        from gz_tui.forges.gitea import Gitea

        return Gitea(base_url, owner, skip_archived=skip_archived)
    raise ValueError(f"unknown provider {name!r}")


__all__ = ["Provider", "make_provider"]
