"""The crash-safe journal of runs and repos, in SQLite.

Durability argument: WAL mode with ``synchronous=NORMAL``. Every committed transaction is in the WAL
file before ``commit()`` returns, so a killed process (Ctrl+C, SIGKILL, OOM) loses nothing committed.
A power cut may lose the last few transactions — at most the last batch of acknowledgements — and
those repos are then found complete on disk (they were renamed into place before being acknowledged)
and are updated, not cloned again. That is why FULL's fsync per batch is not worth its cost here.

A repo is "done in run R" when ``done_run = R``; a new sync pass is a new run, so earlier passes'
results never hide work from it. No query loads every repo: pending work is paged by rowid.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from gz_tui.forges.base import Page, RemoteRepo
from gz_tui.pipeline.paths import UnsafeRepo, safe_relative_path

SCHEMA_VERSION = 1
DONE_STATUSES = ("cloned", "updated", "unchanged", "skipped", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    forge TEXT NOT NULL,
    base_url TEXT NOT NULL,
    owner TEXT NOT NULL,
    dest TEXT NOT NULL,
    options TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL,
    cursor TEXT,
    listing_done INTEGER NOT NULL DEFAULT 0,
    dry_run INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS repos (
    key TEXT PRIMARY KEY,
    full_name TEXT NOT NULL,
    rel_path TEXT NOT NULL,
    clone_url TEXT NOT NULL,
    ssh_url TEXT,
    archived INTEGER NOT NULL DEFAULT 0,
    fork INTEGER NOT NULL DEFAULT 0,
    pushed_at TEXT,
    default_branch TEXT,
    owner TEXT NOT NULL DEFAULT '',
    page_url TEXT,
    listed_run INTEGER,
    done_run INTEGER,
    status TEXT NOT NULL DEFAULT 'listed',
    attempts INTEGER NOT NULL DEFAULT 0,
    error_class TEXT,
    error_message TEXT,
    synced_pushed_at TEXT,
    last_commit TEXT,
    updated_at REAL
);
CREATE INDEX IF NOT EXISTS repos_by_listed_run ON repos (listed_run);
CREATE INDEX IF NOT EXISTS repos_by_page ON repos (page_url);
CREATE INDEX IF NOT EXISTS repos_by_folded_path ON repos (lower(rel_path));
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY,
    etag TEXT,
    next_url TEXT,
    fetched_at REAL
);
"""


def default_state_path(dest: Path) -> Path:
    """Where a destination's state lives unless ``--state`` says otherwise."""
    return dest / ".gz-tui" / "state.sqlite3"


class StateError(Exception):
    """The state cannot be used as asked; ``str()`` is one line for the user (exit 2)."""


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    forge: str
    base_url: str
    owner: str
    status: str
    cursor: str | None
    listing_done: bool
    started_at: float
    finished_at: float | None
    dry_run: bool
    dest: str = ""

    @property
    def finished(self) -> bool:
        return self.status == "finished"


@dataclass(frozen=True, slots=True)
class StoredRepo:
    repo: RemoteRepo
    synced_pushed_at: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class Ack:
    """The outcome of one repo in one run, journaled in batches."""

    key: str
    status: str
    attempts: int = 1
    error_class: str | None = None
    error_message: str | None = None
    last_commit: str | None = None
    pushed_at: str | None = None


@dataclass(frozen=True, slots=True)
class StatusReport:
    run: Run | None
    counts: dict[str, int]
    pending: int
    top_errors: list[tuple[str, str, int]]


_REPO_COLUMNS = "key, full_name, rel_path, clone_url, ssh_url, archived, fork, pushed_at, default_branch, owner"


def _repo_from_row(row: Sequence[object]) -> RemoteRepo:
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
    )


class StateStore:
    """One SQLite file per destination. Not thread-safe: the pipeline serialises calls on one thread."""

    def __init__(self, path: Path, *, clock: "callable[[], float]" = time.time) -> None:  # type: ignore[valid-type]
        self.path = path
        self._now = clock
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)
        try:
            self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA temp_store=MEMORY")
            self.db.executescript(_SCHEMA)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as exc:
            raise StateError(f"cannot use the state database {path}: {exc}") from None
        for suffix in ("-wal", "-shm"):
            sidecar = Path(f"{path}{suffix}")
            if sidecar.exists():
                os.chmod(sidecar, 0o600)

    def close(self) -> None:
        self.db.close()

    # -- runs ---------------------------------------------------------------------------------
    def last_run(self, *, include_dry: bool = False) -> Run | None:
        where = "" if include_dry else "WHERE dry_run = 0"
        row = self.db.execute(
            "SELECT id, forge, base_url, owner, status, cursor, listing_done, started_at, finished_at, dry_run, dest "
            f"FROM runs {where} ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return Run(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8], bool(row[9]), row[10])

    def check_identity(self, forge: str, owner: str) -> None:
        """Refuse to mix two orgs (or forges) in one state: their repos would be confused."""
        row = self.db.execute("SELECT forge, owner, base_url FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        if row and (row[0] != forge or row[1].lower() != owner.lower()):
            raise StateError(
                f"{self.path} belongs to {row[0]} owner {row[1]!r} ({row[2]}); "
                f"use another --dest for {forge} {owner!r}, or --fresh to forget it"
            )

    def begin_run(self, *, forge: str, base_url: str, owner: str, dest: str, options: dict[str, object], dry_run: bool) -> int:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO runs (forge, base_url, owner, dest, options, started_at, status, dry_run) "
                "VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
                (forge, base_url, owner, dest, json.dumps(options, sort_keys=True), self._now(), int(dry_run)),
            )
        return int(cursor.lastrowid or 0)

    def reopen_run(self, run_id: int) -> None:
        self.db.execute("UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?", (run_id,))

    def finish_run(self, run_id: int, status: str) -> None:
        self.db.execute("UPDATE runs SET status = ?, finished_at = ? WHERE id = ?", (status, self._now(), run_id))

    def forget(self) -> None:
        """``--fresh``: drop every run and repo; clones on disk become updates."""
        with self.transaction():
            for table in ("runs", "repos", "pages"):
                self.db.execute(f"DELETE FROM {table}")

    # -- listing ------------------------------------------------------------------------------
    def record_page(self, run_id: int, page: Page, repos: Sequence[RemoteRepo]) -> list[StoredRepo]:
        """Journal a page and the cursor after it; return the repos this run has not seen yet."""
        fresh: list[StoredRepo] = []
        with self.transaction():
            known = self._known(repos)
            for repo in repos:
                previous = known.get(repo.key)
                if previous is not None and previous[0] == run_id:
                    continue  # listed twice in one run (offsets shifted): de-duplicated by id
                fresh.append(StoredRepo(repo, previous[1] if previous else None, 0))
            # The page is what it holds now: a repo it no longer holds (deleted, moved to another page) must not
            # come back when a later 304 re-lists this page from the state.
            self.db.execute("UPDATE repos SET page_url = NULL WHERE page_url = ?", (page.url,))
            self.db.executemany(
                f"INSERT INTO repos ({_REPO_COLUMNS}, page_url, listed_run, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'listed') "
                "ON CONFLICT (key) DO UPDATE SET full_name = excluded.full_name, rel_path = excluded.rel_path, "
                "clone_url = excluded.clone_url, ssh_url = excluded.ssh_url, archived = excluded.archived, "
                "fork = excluded.fork, pushed_at = excluded.pushed_at, default_branch = excluded.default_branch, "
                "owner = excluded.owner, page_url = excluded.page_url, listed_run = excluded.listed_run, "
                "attempts = CASE WHEN repos.listed_run = excluded.listed_run THEN repos.attempts ELSE 0 END",
                [
                    (r.key, r.full_name, r.rel_path, r.clone_url, r.ssh_url, int(r.archived), int(r.fork),
                     r.pushed_at, r.default_branch, r.owner, page.url, run_id)
                    for r in repos
                ],
            )
            self._save_cursor(run_id, page)
        return fresh

    def reuse_page(self, run_id: int, page: Page) -> list[StoredRepo]:
        """A 304: the page is what we stored; re-list its repos for this run without re-parsing anything."""
        with self.transaction():
            rows = self.db.execute(
                f"SELECT {_REPO_COLUMNS}, listed_run, synced_pushed_at FROM repos WHERE page_url = ? ORDER BY rowid",
                (page.url,),
            ).fetchall()
            fresh = [StoredRepo(_repo_from_row(row), row[11], 0) for row in rows if row[10] != run_id]
            self.db.executemany(
                "UPDATE repos SET listed_run = ?, attempts = 0 WHERE key = ?", [(run_id, s.repo.key) for s in fresh]
            )
            self._save_cursor(run_id, page)
        return fresh

    def page_cache(self, url: str) -> tuple[str | None, str | None]:
        row = self.db.execute("SELECT etag, next_url FROM pages WHERE url = ?", (url,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def _save_cursor(self, run_id: int, page: Page) -> None:
        if page.etag and not page.not_modified:
            self.db.execute(
                "INSERT INTO pages (url, etag, next_url, fetched_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, next_url = excluded.next_url, fetched_at = excluded.fetched_at",
                (page.url, page.etag, page.next_url, self._now()),
            )
        self.db.execute(
            "UPDATE runs SET cursor = ?, listing_done = ? WHERE id = ?",
            (page.next_url, int(page.next_url is None), run_id),
        )

    def _known(self, repos: Sequence[RemoteRepo]) -> dict[str, tuple[int | None, str | None]]:
        keys = [r.key for r in repos]
        found: dict[str, tuple[int | None, str | None]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, listed_run, synced in self.db.execute(
                f"SELECT key, listed_run, synced_pushed_at FROM repos WHERE key IN ({marks})", chunk
            ):
                found[key] = (listed_run, synced)
        return found

    # -- work ---------------------------------------------------------------------------------
    def pending(self, run_id: int, *, failed_only: bool = False, batch: int = 500) -> Iterator[list[StoredRepo]]:
        """Repos listed in this run and not finished (or, with failed_only, finished as failed), in batches."""
        last = 0
        if failed_only:
            where = "listed_run = ? AND done_run = ? AND status = 'failed'"
            params: tuple[object, ...] = (run_id, run_id)
        else:
            where = "listed_run = ? AND (done_run IS NULL OR done_run != ?)"
            params = (run_id, run_id)
        while True:
            rows = self.db.execute(
                f"SELECT rowid, {_REPO_COLUMNS}, synced_pushed_at, attempts FROM repos "
                f"WHERE {where} AND rowid > ? ORDER BY rowid LIMIT ?",
                (*params, last, batch),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [StoredRepo(_repo_from_row(row[1:11]), row[11], 0 if failed_only else int(row[12])) for row in rows]

    def ack_many(self, run_id: int, acks: Iterable[Ack]) -> None:
        now = self._now()
        rows = [
            (a.status, run_id, a.attempts, a.error_class, a.error_message, a.last_commit, a.status, a.pushed_at, now, a.key)
            for a in acks
        ]
        if not rows:
            return
        with self.transaction():
            self.db.executemany(
                "UPDATE repos SET status = ?, done_run = ?, attempts = ?, error_class = ?, error_message = ?, "
                "last_commit = COALESCE(?, last_commit), "
                "synced_pushed_at = CASE WHEN ? IN ('cloned', 'updated', 'unchanged') THEN ? ELSE synced_pushed_at END, "
                "updated_at = ? WHERE key = ?",
                rows,
            )

    def case_twin(self, run_id: int, key: str, rel_path: str) -> str | None:
        """An earlier-listed repo of this run whose path differs only in case (they collide on macOS/Windows)."""
        row = self.db.execute(
            "SELECT full_name FROM repos WHERE lower(rel_path) = lower(?) AND key != ? AND listed_run = ? "
            "AND rowid < (SELECT rowid FROM repos WHERE key = ?) LIMIT 1",
            (rel_path, key, run_id, key),
        ).fetchone()
        return str(row[0]) if row else None

    def done_counts(self, run_id: int) -> dict[str, int]:
        return dict(
            self.db.execute("SELECT status, COUNT(*) FROM repos WHERE done_run = ? GROUP BY status", (run_id,)).fetchall()
        )

    def listed_count(self, run_id: int) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM repos WHERE listed_run = ?", (run_id,)).fetchone()[0])

    def report(self) -> StatusReport:
        run = self.last_run(include_dry=False)
        if run is None:
            return StatusReport(None, {}, 0, [])
        counts = self.done_counts(run.id)
        pending = int(
            self.db.execute(
                "SELECT COUNT(*) FROM repos WHERE listed_run = ? AND (done_run IS NULL OR done_run != ?)", (run.id, run.id)
            ).fetchone()[0]
        )
        errors = self.db.execute(
            "SELECT error_class, error_message, COUNT(*) AS n FROM repos WHERE done_run = ? AND status = 'failed' "
            "GROUP BY error_class, error_message ORDER BY n DESC LIMIT 5",
            (run.id,),
        ).fetchall()
        return StatusReport(run, counts, pending, [(str(c), str(m), int(n)) for c, m, n in errors])

    def gone_from_forge(self, run_id: int, dest: Path, limit: int = 10_000) -> list[str]:
        """Clones on disk that an earlier run listed and run ``run_id``'s complete listing did not.

        Deleted, renamed, transferred, or no longer visible to this token: gz-tui never deletes them, it
        says so. Only paths that pass the same validation as a clone are looked at on disk.
        """
        gone: list[str] = []
        for (rel_path,) in self.db.execute("SELECT rel_path FROM repos WHERE listed_run < ? ORDER BY rel_path", (run_id,)):
            try:
                folder = dest / safe_relative_path(rel_path)
            except UnsafeRepo:
                continue
            if (folder / ".git").is_dir():
                gone.append(rel_path)
                if len(gone) >= limit:
                    break
        return gone

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # -- plumbing -----------------------------------------------------------------------------
    def transaction(self) -> "_Transaction":
        return _Transaction(self.db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
