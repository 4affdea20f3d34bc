"""Turning untrusted forge strings into a destination path and a clone URL, or a clear refusal."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from gz_tui.forges.records import RemoteRepo
from gz_tui.layout import STATE_DIR
from gz_tui.urls import default_port, is_loopback

_SEGMENT = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*$")


class UnsafeRepo(ValueError):
    """The forge sent a name or URL gz-tui refuses to act on; ``str()`` says which and why."""


def is_bare(repo_dir: Path) -> bool:
    """A bare clone (``--mirror``): HEAD, objects and refs at the top, no ``.git``."""
    return (repo_dir / "HEAD").is_file() and (repo_dir / "objects").is_dir() and not (repo_dir / ".git").exists()


NAME_MAX = 255
"""The longest file name (in bytes) of nearly every file system; ``name_max(dest)`` asks the real one."""


def name_max(folder: Path) -> int:
    """The longest file name, in bytes, the file system holding ``folder`` accepts (255 if it will not say)."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        found = os.pathconf(probe, "PC_NAME_MAX")
    except (OSError, ValueError):
        return NAME_MAX
    return found if found > 0 else NAME_MAX


def safe_relative_path(rel_path: str, *, longest_name: int = NAME_MAX) -> Path:
    """Validate each ``/``-separated segment against an allowlist; ``.github`` is fine, ``..`` is not.

    A segment longer than the file system allows (``longest_name`` bytes, leaving room for the suffix a
    temporary clone gets) is refused here, so it is that repo's failure and not an ``OSError`` later.
    """
    return Path(*_checked_segments(rel_path, longest_name))


def safe_relative_text(rel_path: str, *, longest_name: int = NAME_MAX) -> str:
    """``rel_path`` once :func:`safe_relative_path` would accept it, as text: for a caller that only joins it to
    DEST and asks the file system (a dry run of 100,000 repos), without building a ``Path`` for each."""
    _checked_segments(rel_path, longest_name)
    return rel_path


def _checked_segments(rel_path: str, longest_name: int) -> list[str]:
    if not rel_path or len(rel_path) > 1024:
        raise UnsafeRepo("empty or overlong repository path")
    segments = rel_path.split("/")
    for segment in segments:
        if segment in ("", ".", "..") or not _SEGMENT.match(segment):
            raise UnsafeRepo(f"unsafe path segment {segment!r}")
        if segment.lower() == ".git" or segment.lower() == STATE_DIR:
            raise UnsafeRepo(f"reserved path segment {segment!r}")
        size = len(segment.encode("utf-8"))
        if size > longest_name:
            raise UnsafeRepo(f"path segment {segment[:40]!r}… is {size} bytes, longer than this file system allows ({longest_name})")
    return segments


def copy_path(rel_path: str, *, mirror: bool, wiki: bool = False) -> str:
    """Where a repo's copy lives below DEST: ``NAME`` (a working clone) or ``NAME.git`` (a bare mirror), and its wiki
    beside it: ``NAME.wiki`` or ``NAME.wiki.git``."""
    return rel_path + (".wiki" if wiki else "") + (".git" if mirror else "")


def destination(dest: Path, rel_path: str, *, longest_name: int = NAME_MAX) -> Path:
    """The final directory of a repo, proven to resolve inside DEST."""
    relative = safe_relative_path(rel_path, longest_name=longest_name)
    root = dest.resolve()
    target = (root / relative).resolve()
    if target == root or root not in target.parents:
        raise UnsafeRepo(f"path {rel_path!r} escapes the destination")
    return target


def clone_url_for(
    repo: RemoteRepo,
    *,
    api_base: str,
    protocol: str,
    allow_http: bool,
    ssh_hostname: str | None = None,
    extra_host: str | None = None,
) -> str:
    """The URL git will be given: https (or loopback http) on the forge's own host, or ssh to it (to the
    ``ssh_hostname`` alias instead, for a ``Host`` entry of ``~/.ssh/config``, when one is given). ``extra_host``: the
    one other host the listing's clone URLs may name (``Provider.extra_git_host``: github.com's gists), https only.

    Rejects anything that git could read as an option, another transport (``ext::``, ``file://``),
    another host, or embedded credentials.
    """
    api_host = (urlsplit(api_base).hostname or "").lower()
    if protocol == "ssh":
        url = repo.ssh_url or ""
        user = url.removeprefix("ssh://").split("@", 1)[0] if "@" in url else ""
        if url.startswith("-") or user.startswith("-") or "::" in url.split("@", 1)[0] or any(ord(c) <= 0x20 or c == "\x7f" for c in url):
            raise UnsafeRepo(f"refusing ssh URL {url!r}")
        match = re.match(r"^(?:ssh://)?(?:[A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+)(?::\d+)?[:/]", url)
        if not match or not (_same_host(match.group(1).lower(), api_host) or match.group(1).lower() == extra_host):
            raise UnsafeRepo(f"refusing ssh URL {url!r}: not on {api_host}")
        if ssh_hostname:
            start, end = match.span(1)
            url = url[:start] + ssh_hostname + url[end:]
        return url
    url = repo.clone_url
    if not url or url.startswith("-") or any(ord(c) < 0x20 or c == "\x7f" for c in url):
        raise UnsafeRepo(f"refusing clone URL {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise UnsafeRepo(f"refusing clone URL {url!r}: only https is allowed")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeRepo("refusing clone URL with embedded credentials")
    host = (parts.hostname or "").lower()
    api = urlsplit(api_base)
    same_port = (parts.port or default_port(parts.scheme)) == (api.port or default_port(api.scheme))
    if extra_host is not None and host == extra_host.lower() and parts.scheme == "https" and parts.port in (None, 443):
        return url
    if not _same_host(host, api_host) or not same_port:
        raise UnsafeRepo(f"refusing clone URL on another host ({parts.netloc or '?'}, expected {api.netloc})")
    if parts.scheme == "http" and not (allow_http or is_loopback(host)):
        raise UnsafeRepo("refusing plain-http clone URL (use --insecure-http to allow)")
    return url


def _same_host(host: str, api_host: str) -> bool:
    """GitHub serves the API at api.github.com and git at github.com; GHES/GitLab/Gitea share one host."""
    return host == api_host or (api_host.startswith("api.") and host == api_host[4:])
