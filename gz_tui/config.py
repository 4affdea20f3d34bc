"""Settings for one run, and the single seam that resolves them: flags > environment > config file > defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

PROVIDERS = ("github", "gitlab", "gitea")
UPDATE_MODES = ("fetch", "pull", "reset", "skip")
PROTOCOLS = ("https", "ssh")

DEFAULT_BASE_URLS = {
    "github": "https://api.github.com",
    "gitlab": "https://gitlab.com",
    "gitea": "https://codeberg.org",
}

TOKEN_ENV_VARS = {
    "github": ("GH_TOKEN", "GITHUB_TOKEN"),
    "gitlab": ("GITLAB_TOKEN",),
    "gitea": ("GITEA_TOKEN",),
}


@dataclass(slots=True)
class Settings:
    """Everything a run needs; built by ``resolve`` and never mutated by the pipeline."""

    owner: str
    """Org or user (GitHub, Gitea), or a group's full path (GitLab)."""
    provider: str = "github"
    base_url: str = ""
    """API root; empty means the provider's default."""
    token: str | None = field(default=None, repr=False)
    token_source: str = ""
    """Where the token came from (flag, environment variable name, gh, config): shown, never the token."""
    dest: Path = Path(".")
    workers: int = 8
    buffer: int = 1000
    protocol: str = "https"
    update: str = "fetch"
    depth: int | None = None
    include: str | None = None
    exclude: str | None = None
    skip_archived: bool = False
    skip_forks: bool = False
    dry_run: bool = False
    headless: bool = False
    json: bool = False
    insecure_http: bool = False
    state_path: Path | None = None
    fresh: bool = False
    retry_failed: bool = False
    attempts: int = 3
    """Attempts per repo for transient git failures."""
    log_file: Path | None = None

    @property
    def api_base(self) -> str:
        return (self.base_url or DEFAULT_BASE_URLS[self.provider]).rstrip("/")

    @property
    def resolved_state_path(self) -> Path:
        return self.state_path or (self.dest / ".gz-tui" / "state.sqlite3")


SETTING_NAMES = tuple(f.name for f in fields(Settings))


def token_from_environment(provider: str, environ: Mapping[str, str]) -> tuple[str | None, str]:
    """The first non-empty token variable for this provider, with its name."""
    for name in TOKEN_ENV_VARS[provider]:
        value = environ.get(name, "").strip()
        if value:
            return value, name
    return None, ""


def resolve(flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Merge explicitly given flags over the environment over defaults.

    ``flags`` holds only the options the user actually gave (None means "not given").
    """
    environ = os.environ if environ is None else environ
    given = {k: v for k, v in flags.items() if v is not None and k in SETTING_NAMES}
    provider = given.get("provider", "github")
    given["provider"] = provider
    if "token" in given:
        given["token_source"] = "--token"
    else:
        token, source = token_from_environment(provider, environ)
        if token:
            given["token"], given["token_source"] = token, source
    owner = given.get("owner", "")
    if "dest" not in given:
        given["dest"] = Path(owner.rstrip("/").split("/")[-1] or ".")
    given["dest"] = Path(given["dest"]).expanduser()
    if given.get("state_path") is not None:
        given["state_path"] = Path(given["state_path"]).expanduser()
    return Settings(**given)
