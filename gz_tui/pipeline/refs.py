"""Whether a clone is behind its forge: the forge's change signal where it can be trusted, else the exact answer of
``git ls-remote`` (one git request, no API quota) against the refs the clone holds.

A change signal (GitHub ``pushed_at``, Gitea ``updated_at``, GitLab ``last_activity_at``) that has not moved since a
sync is trusted only once the sync is clearly later than the signal: a push within the same second as the one that
set it (whole-second timestamps), or within GitLab's hour (``last_activity_at`` moves at most once an hour), leaves
the signal where it was. Such a repo is *uncertain* and is checked with ``ls-remote`` on the next run; so is every
repo of a forge whose listing has no signal (Bitbucket Data Center), and, with ``--verify``, every repo. A check that
finds the refs as the clone holds them costs no fetch; one that finds them moved fetches, and, when the signal had
not moved, says the signal missed it.

What is compared is what each kind of copy holds: a mirror every ref (``refs/*``), a working clone the branches it
keeps (``refs/remotes/origin/*`` against the forge's ``refs/heads/*``; a single-branch or shallow clone only its own).
The clone's refs are read from its files (no git process); a clone whose refs cannot be read is fetched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from gz_tui.pipeline.state import StoredRepo

CLOCK_MARGIN = 60.0
"""Seconds the local clock (which times a sync) may be off from the forge's (which stamps the signal)."""

_REMOTE_PREFIX = "refs/remotes/origin/"
_HEADS = "refs/heads/"


class CheckReason(StrEnum):
    """Why a clone whose change signal has not moved is checked with ``git ls-remote`` instead of being trusted."""

    UNCERTAIN = "uncertain"
    """The last sync was within the signal's resolution (or GitLab's hour) of the signal: a push may hide there."""
    NO_SIGNAL = "no signal"
    """The listing says nothing about change (Bitbucket Data Center, a GitHub repo never pushed)."""
    VERIFY = "verify"
    """``--verify``: every clone is checked."""


def signal_time(signal: str) -> float | None:
    """A change signal (ISO 8601) as epoch seconds, or None when it does not parse."""
    try:
        moment = datetime.fromisoformat(signal.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None  # no zone: which moment it names is a guess
    return moment.timestamp()


def signal_moved(item: StoredRepo) -> bool:
    """Whether the listing's change signal differs from the one the clone was synced at (or there is none)."""
    signal = item.repo.pushed_at
    return not signal or item.synced_pushed_at != signal


def check_reason(item: StoredRepo, *, window: float, verify: bool) -> CheckReason | None:
    """Why a clone on disk is checked with ``ls-remote`` before anything is fetched; None: trust the signal (its
    clone is up to date), or the signal moved (it is fetched). ``window``: seconds within which a push may leave
    the forge's signal where it was (``ProviderInfo.signal_window``)."""
    signal = item.repo.pushed_at
    if not signal:
        return CheckReason.NO_SIGNAL if item.synced_at is not None else None  # never synced by this gz-tui: fetched
    if item.synced_pushed_at != signal:
        return None
    if verify:
        return CheckReason.VERIFY
    at = signal_time(signal)
    if at is None or item.synced_at is None or item.synced_at - CLOCK_MARGIN < at + window:
        return CheckReason.UNCERTAIN
    return None


@dataclass(frozen=True, slots=True)
class RefView:
    """Which refs of a copy are compared: every ref (a mirror), or the branches of a working clone (one branch only:
    ``single``, as for ``--single-branch`` and ``--depth``)."""

    mirror: bool
    single: bool = False

    def ls_remote_args(self, url: str) -> list[str]:
        return ["ls-remote", *([] if self.mirror else ["--heads"]), "--", url]

    def forge_refs(self, output: str) -> dict[str, str]:
        """The refs an ``ls-remote`` printed (``SHA<TAB>NAME``) that this kind of copy keeps: peeled tags and HEAD left out."""
        refs: dict[str, str] = {}
        for line in output.splitlines():
            sha, _, name = line.partition("\t")
            name = name.strip()
            if not name.startswith("refs/") or name.endswith("^{}"):
                continue
            if self.mirror or name.startswith(_HEADS):
                refs[name] = sha.strip()
        return refs

    def clone_refs(self, repo_dir: Path) -> dict[str, str] | None:
        """The refs a clone holds, named as the forge names them, read from its files; None when they cannot be
        read (a reftable repository, an unreadable file)."""
        git_dir = repo_dir if self.mirror else repo_dir / ".git"
        if (git_dir / "reftable").exists():
            return None
        prefix = "refs/" if self.mirror else _REMOTE_PREFIX
        refs: dict[str, str] = {}
        try:
            packed = (git_dir / "packed-refs").read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            packed = ""
        except OSError:
            return None
        for line in packed.splitlines():
            if line.startswith(("#", "^")):
                continue
            sha, _, name = line.partition(" ")
            if name.startswith(prefix):
                refs[name] = sha
        try:
            refs.update(_loose_refs(git_dir, prefix))
        except OSError:
            return None
        if self.mirror:
            return refs
        return {_HEADS + name.removeprefix(_REMOTE_PREFIX): sha for name, sha in refs.items() if name != _REMOTE_PREFIX + "HEAD"}

    def moved(self, forge: dict[str, str], clone: dict[str, str]) -> list[str]:
        """The refs that differ between the forge and the clone (a single-branch clone: only its own branch)."""
        if self.single and clone:
            return sorted(name for name, sha in clone.items() if forge.get(name) != sha)
        names = forge.keys() | clone.keys()
        return sorted(name for name in names if forge.get(name) != clone.get(name))


def _loose_refs(git_dir: Path, prefix: str) -> dict[str, str]:
    """Refs stored one a file below ``git_dir/prefix`` (they override ``packed-refs``); symbolic ones left out."""
    refs: dict[str, str] = {}
    top = git_dir / prefix
    if not top.is_dir():
        return refs
    for folder, _, files in os.walk(top):
        for file in files:
            if file.endswith(".lock"):
                continue  # a ref being written by git
            path = Path(folder, file)
            text = path.read_text(encoding="utf-8", errors="replace").strip()
            if text and not text.startswith("ref:"):
                refs[path.relative_to(git_dir).as_posix()] = text
    return refs
