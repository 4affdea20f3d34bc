"""Gitea and Forgejo (Codeberg included): ``/api/v1/orgs/{org}/repos``, then the user of that name.

Servers silently clamp ``limit`` to ``MAX_RESPONSE_ITEMS`` (50 by default), so a short page never
means the end: only a missing ``rel="next"`` does. Repo objects carry no ``pushed_at``: ``updated_at``
(which moves on every push, and on settings changes) is the change signal.
"""

from __future__ import annotations

from urllib.parse import quote

from gz_tui.forges.github import parse_repo
from gz_tui.forges.provider import Provider
from gz_tui.forges.records import ProviderInfo, RemoteRepo
from gz_tui.kinds import ProviderName

LIMIT = 50


def api_root(base_url: str, suffix: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith(suffix) else base + suffix


class Gitea(Provider):
    info = ProviderInfo(
        name=ProviderName.GITEA,
        default_base_url="https://codeberg.org",
        token_env_vars=("GITEA_TOKEN",),
        git_username="gz-tui",
    )
    total_header = "x-total-count"

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"token {token}"}

    def first_urls(self) -> list[str]:
        api = api_root(self.base_url, "/api/v1")
        name = quote(self.owner, safe="")
        return [f"{api}/orgs/{name}/repos?limit={LIMIT}&page=1", f"{api}/users/{name}/repos?limit={LIMIT}&page=1"]

    def parse_repo(self, item: object) -> RemoteRepo | None:
        if isinstance(item, dict) and isinstance(item.get("pushed_at"), str):
            return parse_repo(item)  # a forge that does send pushed_at (Forgejo may, one day): the sharper signal
        return parse_repo(item, change_signal="updated_at")
