"""The records the state hands out and takes in: a run, a repo to sync, the outcome of one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gz_tui.forges.records import RemoteRepo
from gz_tui.kinds import ErrorClass, RepoStatus, RunStatus


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    forge: str
    base_url: str
    owner: str
    status: RunStatus
    cursor: str | None
    listing_done: bool
    started_at: float
    finished_at: float | None
    dry_run: bool
    dest: str = ""

    @property
    def finished(self) -> bool:
        return self.status == RunStatus.FINISHED


@dataclass(frozen=True, slots=True)
class StoredRepo:
    repo: RemoteRepo
    synced_pushed_at: str | None
    """The change signal the clone was last synced at (None: never synced)."""
    attempts: int
    synced_at: float | None = None
    """When the clone's refs were last known to match the forge's: the start of its last clone, fetch or
    ``git ls-remote`` check (None: unknown, as for a state written before gz-tui recorded it)."""
    disk_path: str | None = None
    """Where its clone was last synced below DEST (``repos.disk_path``; None: never). Read with the rest, so a worker
    knows whether the repo was renamed upstream without asking the state again."""


@dataclass(frozen=True, slots=True)
class Ack:
    """The outcome of one repo in one run, journaled in batches."""

    key: str
    status: RepoStatus
    attempts: int = 1
    error_class: ErrorClass | None = None
    error_message: str | None = None
    last_commit: str | None = None
    pushed_at: str | None = None
    synced_at: float | None = None
    """Set when git talked to the forge for this repo (clone, fetch, ``ls-remote``); else the recorded one stays."""


@dataclass(frozen=True, slots=True)
class StatusReport:
    run: Run | None
    counts: dict[str, int]
    pending: int
    top_errors: list[tuple[str, str, int]]


REPO_COLUMNS = "key, full_name, rel_path, clone_url, ssh_url, archived, fork, pushed_at, default_branch, owner, has_wiki, private"
REPO_WIDTH = 12
"""How many columns ``REPO_COLUMNS`` names."""


def repo_from_row(row: Sequence[object]) -> RemoteRepo:
    """A repo from the ``REPO_COLUMNS`` of a ``repos`` row."""
    return RemoteRepo(
        key=str(row[0]),
        full_name=str(row[1]),
        rel_path=str(row[2]),
        clone_url=str(row[3]),
        ssh_url=row[4] if isinstance(row[4], str) else None,
        archived=bool(row[5]),
        fork=bool(row[6]),
        pushed_at=row[7] if isinstance(row[7], str) else None,
        default_branch=row[8] if isinstance(row[8], str) else None,
        owner=str(row[9] or ""),
        has_wiki=bool(row[10]),
        private=bool(row[11]),
    )
