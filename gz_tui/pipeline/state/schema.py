"""The state's SQL layout, its version, the migrations from older versions, and the checks every open runs.

A file is either a complete state of a version this gz-tui reads, or it is refused with one line: damaged
(``PRAGMA quick_check`` failed), not a gz-tui state, or of a version it cannot read (newer, or older than
every migration). The schema and its version are written in one transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gz_tui.pipeline.state.base import Transaction
from gz_tui.pipeline.state.errors import StateVersionError, corrupt

SCHEMA_VERSION = 5
MIGRATIONS: dict[int, str] = {
    1: "ALTER TABLE repos ADD COLUMN has_wiki INTEGER NOT NULL DEFAULT 0",  # 2: wikis; the attic table is created by SCHEMA
    2: "ALTER TABLE repos ADD COLUMN synced_at REAL",  # 3: when a clone's refs last matched the forge's (NULL: unknown)
    # 4: where each repo's clone is on disk (a rename upstream moves it there), and renames journaled beside attic moves
    3: "ALTER TABLE repos ADD COLUMN disk_path TEXT; "
    "UPDATE repos SET disk_path = rel_path WHERE status IN ('cloned', 'updated', 'unchanged') OR synced_pushed_at IS NOT NULL; "
    # a version-1 state has no attic yet (SCHEMA makes it after the migrations): make the old one to extend
    "CREATE TABLE IF NOT EXISTS attic (id INTEGER PRIMARY KEY, key TEXT, rel_path TEXT NOT NULL, source TEXT NOT NULL, "
    "attic TEXT NOT NULL, status TEXT NOT NULL, at REAL NOT NULL); "
    "ALTER TABLE attic ADD COLUMN kind TEXT NOT NULL DEFAULT 'attic'",
    # 5: whether the forge listed each repo as private, so a listing that lost sight of every private repo is known
    4: "ALTER TABLE repos ADD COLUMN private INTEGER NOT NULL DEFAULT 0",
}
"""SQL taking a state from version N to N + 1, keyed by N; a state older than every entry cannot be read."""

QUICK_CHECK_MAX_BYTES = 8 * 2**20
"""Up to this size (database + WAL, about 20,000 repos) every open runs ``PRAGMA quick_check`` on the whole
file. Measured with ``bench/state_open.py``: 100,000 repos (37 MiB) take 56 ms with the file in the OS cache
and 700 ms from disk, too much for a resume that must start in under a second; 20,000 repos take about
15 ms / 150 ms. Bigger states check every table but ``repos`` (under 1 ms); damage in ``repos`` is then met
by the query that reads it, which ends the run with the same one line. ``--fresh`` always checks the whole file."""

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first bytes of every SQLite file: anything else is refused before SQLite opens it."""

SCHEMA = """
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
    private INTEGER NOT NULL DEFAULT 0,
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
    synced_at REAL,
    last_commit TEXT,
    updated_at REAL,
    disk_path TEXT
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
    at REAL NOT NULL,
    kind TEXT NOT NULL DEFAULT 'attic'
);
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY,
    etag TEXT,
    next_url TEXT,
    fetched_at REAL
);
"""


def prepare(db: sqlite3.Connection, path: Path, *, full_check: bool) -> None:
    """Settle a freshly opened connection: WAL, the integrity check, then the schema (made, or migrated)."""
    db.execute("PRAGMA journal_mode=WAL")  # the first read of the file: "file is not a database" here
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA temp_store=MEMORY")
    _check_integrity(db, path, full_check)
    _check_version(db, path)


def _tables(db: sqlite3.Connection) -> set[str]:
    return {str(name) for (name,) in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}


def _check_integrity(db: sqlite3.Connection, path: Path, full: bool) -> None:
    """``PRAGMA quick_check``: of the whole file when it is small (or ``full``), else of every table but ``repos``."""
    files = [Path(f"{path}{suffix}") for suffix in ("", "-wal")]
    size = sum(file.stat().st_size for file in files if file.exists())
    if full or size <= QUICK_CHECK_MAX_BYTES:
        checks = ["PRAGMA quick_check"]
    else:
        checks = [f"PRAGMA quick_check({table})" for table in sorted(_tables(db) - {"repos"})]
    for check in checks:
        rows = db.execute(check).fetchall()
        if rows != [("ok",)]:
            found = str(rows[0][0]).replace("*** in database main ***", "") if rows else "no result"
            raise corrupt(path, f"quick_check: {found}")


def _check_version(db: sqlite3.Connection, path: Path) -> None:
    tables = _tables(db)
    if not tables:
        _create(db)
        return
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() if "meta" in tables else None
    if row is None:
        raise StateVersionError(
            f"{path} is not a gz-tui state database (it has no schema version); pass another --state, "
            "or run with --fresh to move it aside and start a new state",
            version=None,
        )
    try:
        version = int(row[0])
    except (TypeError, ValueError):
        raise corrupt(path, f"schema version {row[0]!r}") from None
    if version > SCHEMA_VERSION:
        raise StateVersionError(
            f"the state database {path} was written by a newer gz-tui (state version {version}; this one "
            f"reads version {SCHEMA_VERSION}); upgrade gz-tui, or run with --fresh to move it aside and start a new state",
            version=version,
        )
    while version < SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise StateVersionError(
                f"the state database {path} has state version {version}, which this gz-tui cannot read "
                f"(it reads version {SCHEMA_VERSION}); run with --fresh to move it aside and start a new state",
                version=version,
            )
        with Transaction(db):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    db.execute(statement)
            version += 1
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    _create(db)  # indexes added since the file was made


def _create(db: sqlite3.Connection) -> None:
    """The schema and its version, in one transaction: a file is either a complete state or empty."""
    try:
        db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT;")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
