"""The environment every git child gets: locked down, and the token only as an origin-scoped header.

A token reaches git exclusively as ``http.<origin>/.extraHeader`` in the ``GIT_CONFIG_COUNT`` environment:
never in a URL, an argument list, ``.git/config`` or a token variable inherited from gz-tui's environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from gz_tui.forges.auth import Credential
from gz_tui.forges.registry import KNOWN_TOKEN_VARS
from gz_tui.urls import is_loopback

MIN_GIT_VERSION = (2, 31)
"""GIT_CONFIG_COUNT arrived in git 2.31."""

GIT_VERSION_SECONDS = 10
"""How long ``git --version`` may take before gz-tui treats git as missing."""


@dataclass(frozen=True, slots=True)
class GitAuth:
    """Where git's token header goes and which credential gives the token: asked at the start of every git
    process, so a refreshed token reaches the next one while a transfer under way keeps its own header."""

    origin: str
    header: Callable[[str], str]
    """The ``Authorization: …`` header git sends for a token (the forge's :meth:`~gz_tui.forges.provider.Provider.git_auth_header`)."""
    credential: Credential


def with_header(env: Mapping[str, str], origin: str, header: str) -> dict[str, str]:
    """``env`` plus ``http.<origin>.extraHeader`` as one more ``GIT_CONFIG_*`` entry."""
    out = dict(env)
    index = int(out.get("GIT_CONFIG_COUNT", "0") or 0)
    out[f"GIT_CONFIG_KEY_{index}"] = f"http.{origin}.extraHeader"
    out[f"GIT_CONFIG_VALUE_{index}"] = header
    out["GIT_CONFIG_COUNT"] = str(index + 1)
    return out


def git_environment(
    *,
    base: Mapping[str, str],
    protocol: str,
    allow_http: bool,
    auth_origin: str | None = None,
    auth_header: str | None = None,
    strip_vars: Iterable[str] = (),
    low_speed_limit: int = 1000,
    low_speed_time: int = 60,
    lfs: bool = False,
) -> dict[str, str]:
    """The environment every git child gets.

    An https transfer slower than ``low_speed_limit`` bytes a second for ``low_speed_time`` seconds (a server that
    stops sending mid-pack, or trickles) is given up by git itself (``http.lowSpeedLimit``/``http.lowSpeedTime``:
    curl's "Operation too slow", a ``network`` failure); ssh has no such bound (the runner's ceiling covers it).

    The token variables gz-tui knows (:data:`KNOWN_TOKEN_VARS`) and ``strip_vars`` (a profile's ``token_env``)
    are removed: git has the token only as the origin-scoped header, and git, its remote helpers and whatever
    they run never see it raw.

    ``lfs`` (``--lfs``): git's LFS filter is git-lfs's, skipping downloads (a checkout writes pointers; the sync's
    ``git lfs pull`` then fetches the objects in one batch); without it no LFS filter runs at all, even one the
    user's own git config installs (``git lfs install``): git-lfs runs only where gz-tui asks for it.
    """
    # Inherited config *values* are dropped (they could carry helpers or another token); the variables
    # that only choose config files (GIT_CONFIG_GLOBAL, GIT_CONFIG_SYSTEM, GIT_CONFIG_NOSYSTEM) are kept.
    dropped = KNOWN_TOKEN_VARS | set(strip_vars) | {"GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS", "GIT_DIR", "GIT_WORK_TREE"}
    env = {k: v for k, v in base.items() if not (k in dropped or k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")))}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
        GCM_INTERACTIVE="never",
        GIT_PROTOCOL_FROM_USER="0",
        GIT_ALLOW_PROTOCOL="ssh" if protocol == "ssh" else ("http:https" if allow_http else "https"),
        LC_ALL="C",
        LANG="C",
    )
    if protocol == "ssh":
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    config: list[tuple[str, str]] = [
        ("credential.helper", ""),
        ("core.hooksPath", os.devnull),
        ("submodule.recurse", "false"),
        ("http.followRedirects", "false"),
        ("core.askPass", ""),
        ("transfer.fsckObjects", "false"),
        ("http.lowSpeedLimit", str(low_speed_limit)),
        ("http.lowSpeedTime", str(low_speed_time)),
    ]
    config += LFS_CONFIG if lfs else NO_LFS_CONFIG
    if auth_origin and auth_header:
        config.append((f"http.{auth_origin}.extraHeader", auth_header))
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


LFS_CONFIG: list[tuple[str, str]] = [
    ("filter.lfs.process", "git-lfs filter-process --skip"),
    ("filter.lfs.smudge", "git-lfs smudge --skip -- %f"),
    ("filter.lfs.clean", "git-lfs clean -- %f"),
    ("filter.lfs.required", "true"),
    # A repo's .lfsconfig may narrow what is fetched: a backup takes every object.
    ("lfs.fetchinclude", ""),
    ("lfs.fetchexclude", ""),
    ("lfs.skipdownloaderrors", "false"),
    ("lfs.locksverify", "false"),
]
"""git-lfs as git's LFS filter, with nothing a repo's ``.lfsconfig`` says about what to leave out."""

NO_LFS_CONFIG: list[tuple[str, str]] = [
    ("filter.lfs.process", ""),
    ("filter.lfs.smudge", ""),
    ("filter.lfs.clean", ""),
    ("filter.lfs.required", "false"),
]
"""No LFS filter: a checkout keeps the pointer files as they are in git."""


def allow_http_for(url: str, insecure_http: bool) -> bool:
    """Whether git may speak plain http to the forge at ``url``: asked for (``--insecure-http``) or loopback."""
    return insecure_http or is_loopback(urlsplit(url).hostname)


def git_version(git: str = "git") -> tuple[int, int] | None:
    """The installed git's (major, minor), or None when git is not installed (or does not answer in time)."""
    path = shutil.which(git)
    if path is None:
        return None
    try:
        # Only PATH: no token variable reaches this git child either.
        env = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}
        out = subprocess.run([path, "--version"], check=False, capture_output=True, text=True, timeout=GIT_VERSION_SECONDS, env=env).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else None
