"""The crash-safe journal of runs and repos, in SQLite.

Durability argument: WAL mode with ``synchronous=NORMAL``. Every committed transaction is in the WAL
file before ``commit()`` returns, so a killed process (Ctrl+C, SIGKILL, OOM) loses nothing committed.
A power cut may lose the last few transactions — at most the last batch of acknowledgements — and
those repos are then found complete on disk (they were renamed into place before being acknowledged)
and are updated, not cloned again. That is why FULL's fsync per batch is not worth its cost here.

A repo is "done in run R" when ``done_run = R``; a new sync pass is a new run, so earlier passes'
results never hide work from it. No query loads every repo: pending work is paged by rowid.

Every call turns what SQLite raises into a one-line :class:`StateError`: a full, read-only or failing file
system is a :class:`StateWriteError` naming it and its free space; a damaged file is a
:class:`StateCorruptError` and a layout this gz-tui cannot read a :class:`StateVersionError`, both of which
``StateStore.open(..., fresh=True)`` answers by moving the file aside and starting a new state.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from gz_tui.forges.records import Page, RemoteRepo
from gz_tui.format import binary_size
from gz_tui.pipeline.paths import UnsafeRepo, copy_path, safe_relative_path

SCHEMA_VERSION = 2
_MIGRATIONS: dict[int, str] = {
    1: "ALTER TABLE repos ADD COLUMN has_wiki INTEGER NOT NULL DEFAULT 0",  # 2: wikis; the attic table is created by _SCHEMA
}
"""SQL taking a state from version N to N + 1, keyed by N; a state older than every entry cannot be read."""

QUICK_CHECK_MAX_BYTES = 8 * 2**20
"""Up to this size (database + WAL, about 20,000 repos) every open runs ``PRAGMA quick_check`` on the whole
file. Measured with ``bench/state_open.py``: 100,000 repos (37 MiB) take 56 ms with the file in the OS cache
and 700 ms from disk, too much for a resume that must start in under a second; 20,000 repos take about
15 ms / 150 ms. Bigger states check every table but ``repos`` (under 1 ms); damage in ``repos`` is then met
by the query that reads it, which ends the run with the same one line. ``--fresh`` always checks the whole file."""
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
    has_wiki INTEGER NOT NULL DEFAULT 0,
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
CREATE TABLE IF NOT EXISTS attic (
    id INTEGER PRIMARY KEY,
    key TEXT,
    rel_path TEXT NOT NULL,
    source TEXT NOT NULL,
    attic TEXT NOT NULL,
    status TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY,
    etag TEXT,
    next_url TEXT,
    fetched_at REAL
);
"""


class StateError(Exception):
    """The state cannot be used as asked; ``str()`` is one line for the user (exit 2)."""


class StateCorruptError(StateError):
    """The database file is damaged; ``--fresh`` moves it aside."""


class StateVersionError(StateError):
    """The file is not a state this gz-tui can read (a newer or unknown layout); ``--fresh`` moves it aside."""

    def __init__(self, message: str, *, version: int | None) -> None:
        super().__init__(message)
        self.version = version


class StateWriteError(StateError):
    """The file system under the state refuses it (full, read-only, I/O error): what was not written is not saved.

    Nothing is wrong with the state itself: once the cause is fixed, the next run resumes.
    """


_SQLITE_HEADER = b"SQLite format 3\x00"
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB = 8, 10, 11, 13, 26
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def mount_point(path: Path) -> Path:
    """The mount point of the file system that holds ``path`` (which need not exist yet)."""
    current = Path(os.path.abspath(path))
    while not current.exists() and current != current.parent:
        current = current.parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current


def _free_bytes(mount: Path) -> int | None:
    try:
        return shutil.disk_usage(mount).free
    except OSError:
        return None


def _free_space(mount: Path) -> str:
    free = _free_bytes(mount)
    return "free space unknown" if free is None else f"{binary_size(free)} free"


def _is_read_only_mount(mount: Path) -> bool:
    try:
        return bool(os.statvfs(mount).f_flag & os.ST_RDONLY)
    except OSError:
        return False


_NEARLY_FULL = 64 * 2**20


def _full(path: Path) -> StateWriteError:
    mount = mount_point(path)
    free = _free_bytes(mount)
    if free is None or free < _NEARLY_FULL:
        cause = f"{mount} is full ({_free_space(mount)})"
    else:  # a quota, a file-size limit: the file system itself has room
        cause = f"the disk is full for it (a quota or size limit? {mount} has {_free_space(mount)})"
    return StateWriteError(f"the state database {path} cannot be written: {cause}; free some space and run again to resume")


def _read_only(path: Path) -> StateWriteError:
    mount = mount_point(path)
    if _is_read_only_mount(mount):
        cause, fix = f"{mount} is mounted read-only", "remount it read-write (or pass another --state)"
    else:
        cause, fix = "the file or its folder is read-only for this user", "fix the permissions"
    return StateWriteError(f"the state database {path} cannot be written: {cause}; {fix} and run again to resume")


def _first_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _corrupt(path: Path, reason: str) -> StateCorruptError:
    return StateCorruptError(
        f"the state database {path} is damaged ({_first_line(reason)}); run again with --fresh to move it aside "
        "and start a new state (clones already on disk are then updated, not cloned again)"
    )


def _translate(path: Path, exc: sqlite3.Error) -> StateError:
    """One line for any SQLite failure on the state at ``path``."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    message = str(exc)
    if primary == _SQLITE_FULL or "database or disk is full" in message:
        return _full(path)
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in message or "not a database" in message:
        return _corrupt(path, message)
    if primary == _SQLITE_READONLY or "readonly database" in message:
        return _read_only(path)
    if primary == _SQLITE_IOERR or "disk I/O error" in message:
        mount = mount_point(path)
        if _free_bytes(mount) == 0:  # a WAL or shared-memory file that cannot grow is an I/O error to SQLite
            return _full(path)
        return StateWriteError(
            f"the state database {path} cannot be used: disk I/O error on {mount} ({_free_space(mount)}); "
            "check the disk and run again to resume"
        )
    return StateError(f"cannot use the state database {path}: {_first_line(message)}")


def _translate_os(path: Path, exc: OSError) -> StateError:
    if exc.errno in _FULL_ERRNOS:
        return _full(path)
    if exc.errno == errno.EROFS:
        return _read_only(path)
    return StateError(f"cannot create the state database {path}: {exc.strerror}; choose a writable --state or --dest")


def move_aside(path: Path, label: str, now: float) -> Path:
    """Rename ``path`` (and its ``-wal``/``-shm``) to ``<name>.<label>-<time>``, never over another file."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    target = path.with_name(f"{path.name}.{label}-{stamp}")
    number = 1
    while any(Path(f"{target}{suffix}").exists() for suffix in ("", "-wal", "-shm")):
        number += 1
        target = path.with_name(f"{path.name}.{label}-{stamp}-{number}")
    try:
        os.rename(path, target)
        for suffix in ("-wal", "-shm"):
            sidecar = Path(f"{path}{suffix}")
            if sidecar.exists():
                os.rename(sidecar, f"{target}{suffix}")
    except OSError as exc:
        raise StateError(f"cannot move the state database {path} aside: {exc.strerror}; move or delete it yourself") from None
    return target


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(method: Callable[Concatenate[StateStore, _P], _R]) -> Callable[Concatenate[StateStore, _P], _R]:
    """Run a StateStore method with SQLite's exceptions turned into one-line StateErrors."""

    def guarded(self: StateStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _translate(self.path, exc) from exc

    functools.update_wrapper(guarded, method)
    return guarded


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


_REPO_COLUMNS = "key, full_name, rel_path, clone_url, ssh_url, archived, fork, pushed_at, default_branch, owner, has_wiki"
_REPO_WIDTH = 11
"""How many columns ``_REPO_COLUMNS`` names."""


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
        has_wiki=bool(row[10]),
    )


class StateStore:
    """One SQLite file per destination. Not thread-safe: the pipeline serialises calls on one thread.

    ``StateStore(path)`` opens (or creates) a state and refuses a damaged or unreadable one with a
    :class:`StateError`; :meth:`open` is the same with ``--fresh`` handled.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time, full_check: bool = False) -> None:
        self.path = path
        self._now = clock
        self.notice: str | None = None
        """One line for the user about what opening did (a damaged file moved aside), or None."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            os.chmod(path, 0o600)
            with open(path, "rb") as file:
                header = file.read(len(_SQLITE_HEADER))
        except OSError as exc:
            raise _translate_os(path, exc) from None
        if header and header != _SQLITE_HEADER:
            # Refused before SQLite opens it: a failed open would also discard its WAL, which --fresh moves aside.
            raise _corrupt(path, "file is not a database")
        try:
            self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        except sqlite3.Error as exc:
            raise _translate(path, exc) from None
        try:
            self._prepare(full_check)
        except sqlite3.Error as exc:
            self.close()
            raise _translate(path, exc) from None
        except BaseException:
            self.close()
            raise
        for suffix in ("-wal", "-shm"):
            sidecar = Path(f"{path}{suffix}")
            if sidecar.exists():
                os.chmod(sidecar, 0o600)

    @classmethod
    def open(cls, path: Path, *, fresh: bool = False, clock: Callable[[], float] = time.time) -> StateStore:
        """Open the state at ``path``; with ``fresh`` (``--fresh``) forget everything it holds.

        A fresh start on a damaged file, or on a layout this gz-tui cannot read, moves the file (and its
        WAL and shared-memory files) aside as ``<name>.corrupt-<time>`` / ``<name>.v<N>-<time>`` and
        creates a new state; ``notice`` then says so. Clones on disk become updates either way.
        """
        try:
            store = cls(path, clock=clock, full_check=fresh)
        except (StateCorruptError, StateVersionError) as exc:
            if not fresh:
                raise
            return cls._replace(path, exc, clock)
        if fresh:
            try:
                store.forget()
            except StateCorruptError as exc:  # damage even the full quick_check did not see
                store.close()
                return cls._replace(path, exc, clock)
            except BaseException:
                store.close()
                raise
        return store

    @classmethod
    def _replace(cls, path: Path, why: StateError, clock: Callable[[], float]) -> StateStore:
        label = f"v{why.version}" if isinstance(why, StateVersionError) and why.version is not None else "corrupt"
        moved = move_aside(path, label, clock())
        store = cls(path, clock=clock)
        what = "damaged" if isinstance(why, StateCorruptError) else "unreadable"
        store.notice = f"the {what} state database {path} was moved aside to {moved.name}; starting a new state"
        return store

    def _prepare(self, full_check: bool) -> None:
        self.db.execute("PRAGMA journal_mode=WAL")  # the first read of the file: "file is not a database" here
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA temp_store=MEMORY")
        self._check_integrity(full_check)
        self._check_version()

    def _tables(self) -> set[str]:
        return {str(name) for (name,) in self.db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}

    def _check_integrity(self, full: bool) -> None:
        """``PRAGMA quick_check``: of the whole file when it is small (or ``full``), else of every table but ``repos``."""
        files = [Path(f"{self.path}{suffix}") for suffix in ("", "-wal")]
        size = sum(file.stat().st_size for file in files if file.exists())
        if full or size <= QUICK_CHECK_MAX_BYTES:
            checks = ["PRAGMA quick_check"]
        else:
            checks = [f"PRAGMA quick_check({table})" for table in sorted(self._tables() - {"repos"})]
        for check in checks:
            rows = self.db.execute(check).fetchall()
            if rows != [("ok",)]:
                found = str(rows[0][0]).replace("*** in database main ***", "") if rows else "no result"
                raise _corrupt(self.path, f"quick_check: {found}")

    def _check_version(self) -> None:
        tables = self._tables()
        if not tables:
            self._create()
            return
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() if "meta" in tables else None
        if row is None:
            raise StateVersionError(
                f"{self.path} is not a gz-tui state database (it has no schema version); pass another --state, "
                "or run with --fresh to move it aside and start a new state",
                version=None,
            )
        try:
            version = int(row[0])
        except (TypeError, ValueError):
            raise _corrupt(self.path, f"schema version {row[0]!r}") from None
        if version > SCHEMA_VERSION:
            raise StateVersionError(
                f"the state database {self.path} was written by a newer gz-tui (state version {version}; this one "
                f"reads version {SCHEMA_VERSION}); upgrade gz-tui, or run with --fresh to move it aside and start a new state",
                version=version,
            )
        while version < SCHEMA_VERSION:
            if version not in _MIGRATIONS:
                raise StateVersionError(
                    f"the state database {self.path} has state version {version}, which this gz-tui cannot read "
                    f"(it reads version {SCHEMA_VERSION}); run with --fresh to move it aside and start a new state",
                    version=version,
                )
            with self.transaction():
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                version += 1
                self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
        self._create()  # indexes added since the file was made

    def _create(self) -> None:
        """The schema and its version, in one transaction: a file is either a complete state or empty."""
        try:
            self.db.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA} INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT;"
            )
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass  # what was committed is in the file or its WAL; the next open recovers it

    # -- runs ---------------------------------------------------------------------------------
    @_guarded
    def last_run(self, *, include_dry: bool = False) -> Run | None:
        where = "" if include_dry else "WHERE dry_run = 0"
        row = self.db.execute(
            "SELECT id, forge, base_url, owner, status, cursor, listing_done, started_at, finished_at, dry_run, dest "
            f"FROM runs {where} ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return Run(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8], bool(row[9]), row[10])

    @_guarded
    def check_identity(self, forge: str, owner: str) -> None:
        """Refuse to mix two orgs (or forges) in one state: their repos would be confused."""
        row = self.db.execute("SELECT forge, owner, base_url FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        if row and (row[0] != forge or row[1].lower() != owner.lower()):
            raise StateError(
                f"{self.path} belongs to {row[0]} owner {row[1]!r} ({row[2]}); "
                f"use another --dest for {forge} {owner!r}, or --fresh to forget it"
            )

    @_guarded
    def begin_run(self, *, forge: str, base_url: str, owner: str, dest: str, options: dict[str, object], dry_run: bool) -> int:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO runs (forge, base_url, owner, dest, options, started_at, status, dry_run) "
                "VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
                (forge, base_url, owner, dest, json.dumps(options, sort_keys=True), self._now(), int(dry_run)),
            )
        return int(cursor.lastrowid or 0)

    @_guarded
    def reopen_run(self, run_id: int) -> None:
        self.db.execute("UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?", (run_id,))

    @_guarded
    def finish_run(self, run_id: int, status: str) -> None:
        self.db.execute("UPDATE runs SET status = ?, finished_at = ? WHERE id = ?", (status, self._now(), run_id))

    @_guarded
    def forget(self) -> None:
        """``--fresh``: drop every run and repo; clones on disk become updates."""
        with self.transaction():
            for table in ("runs", "repos", "pages"):
                self.db.execute(f"DELETE FROM {table}")
            self.db.execute("DELETE FROM meta WHERE key = 'clone_kind'")  # found on disk again by the next run

    # -- listing ------------------------------------------------------------------------------
    @_guarded
    def record_page(
        self, run_id: int, page: Page, repos: Sequence[RemoteRepo], skipped: Mapping[str, str] | None = None
    ) -> list[StoredRepo]:
        """Journal a page and the cursor after it; return the repos this run has not seen yet.

        ``skipped`` (repo key → reason) are left out by what the state does not keep (``--topic``, ``--language``):
        recorded as skipped in the same transaction, so a run killed right after never queues them on resume."""
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
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'listed') "
                "ON CONFLICT (key) DO UPDATE SET full_name = excluded.full_name, rel_path = excluded.rel_path, "
                "clone_url = excluded.clone_url, ssh_url = excluded.ssh_url, archived = excluded.archived, "
                "fork = excluded.fork, pushed_at = excluded.pushed_at, default_branch = excluded.default_branch, "
                "owner = excluded.owner, has_wiki = excluded.has_wiki, page_url = excluded.page_url, listed_run = excluded.listed_run, "
                "attempts = CASE WHEN repos.listed_run = excluded.listed_run THEN repos.attempts ELSE 0 END",
                [
                    (
                        r.key,
                        r.full_name,
                        r.rel_path,
                        r.clone_url,
                        r.ssh_url,
                        int(r.archived),
                        int(r.fork),
                        r.pushed_at,
                        r.default_branch,
                        r.owner,
                        int(r.has_wiki),
                        page.url,
                        run_id,
                    )
                    for r in repos
                ],
            )
            if skipped:
                self._write_acks(
                    run_id, [Ack(i.repo.key, "skipped", error_message=skipped[i.repo.key]) for i in fresh if i.repo.key in skipped]
                )
            self._save_cursor(run_id, page)
        return fresh

    @_guarded
    def reuse_page(self, run_id: int, page: Page) -> list[StoredRepo]:
        """A 304: the page is what we stored; re-list its repos for this run without re-parsing anything."""
        with self.transaction():
            rows = self.db.execute(
                f"SELECT {_REPO_COLUMNS}, listed_run, synced_pushed_at FROM repos WHERE page_url = ? ORDER BY rowid",
                (page.url,),
            ).fetchall()
            w = _REPO_WIDTH
            fresh = [StoredRepo(_repo_from_row(row), row[w + 1], 0) for row in rows if row[w] != run_id]
            self.db.executemany("UPDATE repos SET listed_run = ?, attempts = 0 WHERE key = ?", [(run_id, s.repo.key) for s in fresh])
            self._save_cursor(run_id, page)
        return fresh

    @_guarded
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
            rows = self._rows(
                f"SELECT rowid, {_REPO_COLUMNS}, synced_pushed_at, attempts FROM repos WHERE {where} AND rowid > ? ORDER BY rowid LIMIT ?",
                (*params, last, batch),
            )
            if not rows:
                return
            last = rows[-1][0]
            w = _REPO_WIDTH
            yield [StoredRepo(_repo_from_row(row[1 : w + 1]), row[w + 1], 0 if failed_only else int(row[w + 2])) for row in rows]

    @_guarded
    def ack_many(self, run_id: int, acks: Iterable[Ack]) -> None:
        acks = list(acks)
        if not acks:
            return
        with self.transaction():
            self._write_acks(run_id, acks)

    def _write_acks(self, run_id: int, acks: Iterable[Ack]) -> None:
        now = self._now()
        rows = [
            (a.status, run_id, a.attempts, a.error_class, a.error_message, a.last_commit, a.status, a.pushed_at, now, a.key) for a in acks
        ]
        if rows:
            self.db.executemany(
                "UPDATE repos SET status = ?, done_run = ?, attempts = ?, error_class = ?, error_message = ?, "
                "last_commit = COALESCE(?, last_commit), "
                "synced_pushed_at = CASE WHEN ? IN ('cloned', 'updated', 'unchanged') THEN ? ELSE synced_pushed_at END, "
                "updated_at = ? WHERE key = ?",
                rows,
            )

    @_guarded
    def case_twin(self, run_id: int, key: str, rel_path: str) -> str | None:
        """An earlier-listed repo of this run whose path differs only in case (they collide on macOS/Windows)."""
        row = self.db.execute(
            "SELECT full_name FROM repos WHERE lower(rel_path) = lower(?) AND key != ? AND listed_run = ? "
            "AND rowid < (SELECT rowid FROM repos WHERE key = ?) LIMIT 1",
            (rel_path, key, run_id, key),
        ).fetchone()
        return str(row[0]) if row else None

    @_guarded
    def any_case_twin(self, run_id: int, rel_paths: list[str]) -> bool:
        """Whether any of these paths (a journaled page's) has a case twin listed in this run: one query a page,
        so the workers ask :meth:`case_twin` per repo only once a twin exists."""
        if not rel_paths:
            return False
        marks = ",".join(["lower(?)"] * len(rel_paths))
        row = self.db.execute(
            f"SELECT 1 FROM repos WHERE listed_run = ? AND lower(rel_path) IN ({marks}) "  # noqa: S608 -- placeholders only
            "GROUP BY lower(rel_path) HAVING COUNT(*) > 1 LIMIT 1",
            (run_id, *rel_paths),
        ).fetchone()
        return row is not None

    @_guarded
    def done_counts(self, run_id: int) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM repos WHERE done_run = ? GROUP BY status", (run_id,)).fetchall())

    @_guarded
    def failure_classes(self, run_id: int) -> dict[str, int]:
        """How many repos failed in this run, per error class."""
        return dict(
            self.db.execute(
                "SELECT COALESCE(error_class, 'other'), COUNT(*) FROM repos WHERE done_run = ? AND status = 'failed' GROUP BY error_class",
                (run_id,),
            ).fetchall()
        )

    @_guarded
    def listed_count(self, run_id: int) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM repos WHERE listed_run = ?", (run_id,)).fetchone()[0])

    @_guarded
    def set_listing_seen(self, count: int) -> None:
        """How many repos the last complete listing held in all (a shard keeps only its own: this says how many
        the union of the shards must cover)."""
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('listing_seen', ?)", (str(count),))

    @_guarded
    def listing_seen(self) -> int | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'listing_seen'").fetchone()
        return int(row[0]) if row and str(row[0]).isdigit() else None

    @_guarded
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

    @_guarded
    def gone_from_forge(self, run_id: int, dest: Path, limit: int = 10_000, *, mirror: bool | None = None) -> list[str]:
        """Clones on disk that an earlier run listed and run ``run_id``'s complete listing did not.

        Deleted, renamed, transferred, or no longer visible to this token: gz-tui moves them only with
        ``--prune``, else it says so. Only paths that pass the same validation as a clone are looked at on disk.
        ``mirror``: the destination's kind of clone (None: the one the state recorded).
        """
        return [rel_path for _, rel_path, _ in self.gone_clones(run_id, dest, limit, mirror=mirror)]

    @_guarded
    def gone_clones(self, run_id: int, dest: Path, limit: int = 10_000, *, mirror: bool | None = None) -> list[tuple[str, str, Path]]:
        """(key, rel_path, folder on disk) of each clone :meth:`gone_from_forge` names."""
        if mirror is None:
            mirror = self.clone_kind() == "mirror"
        gone: list[tuple[str, str, Path]] = []
        rows = self.db.execute("SELECT key, rel_path FROM repos WHERE listed_run < ? ORDER BY rel_path", (run_id,)).fetchall()
        for key, rel_path in rows:
            try:
                folder = dest / safe_relative_path(copy_path(rel_path, mirror=mirror))
            except UnsafeRepo:
                continue
            if (folder / "HEAD").is_file() if mirror else (folder / ".git").is_dir():
                gone.append((str(key), str(rel_path), folder))
                if len(gone) >= limit:
                    break
        return gone

    # -- the kind of clone a destination keeps --------------------------------------------------
    @_guarded
    def clone_kind(self) -> str | None:
        """``mirror`` or ``checkout``: what the destination's clones are, once a run has made one."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'clone_kind'").fetchone()
        return str(row[0]) if row else None

    @_guarded
    def set_clone_kind(self, kind: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('clone_kind', ?)", (kind,))

    # -- the attic ------------------------------------------------------------------------------
    @_guarded
    def attic_intent(self, key: str, rel_path: str, source: Path, attic: Path) -> int:
        """Journal a move before it happens: a kill between this and the rename is reconciled by the next run."""
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO attic (key, rel_path, source, attic, status, at) VALUES (?, ?, ?, ?, 'moving', ?)",
                (key, rel_path, str(source), str(attic), self._now()),
            )
        return int(cursor.lastrowid or 0)

    @_guarded
    def attic_done(self, entry: int, moved: bool) -> None:
        """The move happened (``moved``), or did not: its record is then dropped."""
        if moved:
            self.db.execute("UPDATE attic SET status = 'moved' WHERE id = ?", (entry,))
        else:
            self.db.execute("DELETE FROM attic WHERE id = ?", (entry,))

    @_guarded
    def attic_moving(self) -> list[tuple[int, Path, Path]]:
        """(id, source, attic) of the moves journaled and not known to have happened (a killed prune)."""
        rows = self.db.execute("SELECT id, source, attic FROM attic WHERE status = 'moving' ORDER BY id").fetchall()
        return [(int(i), Path(src), Path(dst)) for i, src, dst in rows]

    @_guarded
    def attic_entries(self, limit: int = 1000) -> list[tuple[str, str, float]]:
        """(rel_path, attic path, when) of the clones moved to the attic, newest first."""
        rows = self.db.execute(
            "SELECT rel_path, attic, at FROM attic WHERE status = 'moved' ORDER BY at DESC, id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [(str(r), str(a), float(t)) for r, a, t in rows]

    @_guarded
    def listed_names(self, run_id: int) -> set[str]:
        """Every name (full name and path below DEST, lower-cased) of the repos run ``run_id`` listed."""
        names: set[str] = set()
        for full_name, rel_path in self.db.execute("SELECT full_name, rel_path FROM repos WHERE listed_run = ?", (run_id,)):
            names.update((str(full_name).lower(), str(rel_path).lower()))
        return names

    @_guarded
    def run_options(self, run_id: int) -> dict[str, Any]:
        """The options run ``run_id`` was started with (what it covered), as recorded."""
        row = self.db.execute("SELECT options FROM runs WHERE id = ?", (run_id,)).fetchone()
        try:
            options = json.loads(row[0]) if row else {}
        except (TypeError, ValueError):
            return {}
        return options if isinstance(options, dict) else {}

    @_guarded
    def integrity_ok(self) -> bool:
        return bool(self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    # -- plumbing -----------------------------------------------------------------------------
    @_guarded
    def _rows(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, params).fetchall()

    def transaction(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
                return
            except sqlite3.Error:
                self._rollback()  # a COMMIT that failed (a full disk) may leave the transaction open
                raise
        self._rollback()

    def _rollback(self) -> None:
        # SQLite may already have rolled back (SQLITE_FULL, SQLITE_IOERR): a second ROLLBACK would fail and
        # hide the error that matters.
        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
