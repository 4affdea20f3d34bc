"""The state store: one SQLite file per destination (or shard), opened, checked, made fresh, closed.

Durability argument: WAL mode with ``synchronous=NORMAL``. Every committed transaction is in the WAL
file before ``commit()`` returns, so a killed process (Ctrl+C, SIGKILL, OOM) loses nothing committed.
A power cut may lose the last few transactions — at most the last batch of acknowledgements — and
those repos are then found complete on disk (they were renamed into place before being acknowledged)
and are updated, not cloned again. That is why FULL's fsync per batch is not worth its cost here.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from gz_tui.pipeline.state.attic import AtticJournal
from gz_tui.pipeline.state.base import Connection, Meta, Transaction, guarded
from gz_tui.pipeline.state.errors import StateCorruptError, StateError, StateVersionError, corrupt, translate, translate_os
from gz_tui.pipeline.state.pages import PageRows
from gz_tui.pipeline.state.repos import RepoRows
from gz_tui.pipeline.state.runs import RunRows
from gz_tui.pipeline.state.schema import SQLITE_HEADER, prepare


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


class StateStore:
    """One SQLite file per destination, split by what it stores: ``runs``, ``repos``, ``pages`` (the listing's
    journal) and ``attic`` (the moves of ``--prune``), one part each on one connection. Not thread-safe: the
    pipeline serialises calls on one thread.

    ``StateStore(path)`` opens (or creates) a state and refuses a damaged or unreadable one with a
    :class:`StateError`; :meth:`open` is the same with ``--fresh`` handled. Every call turns what SQLite
    raises into a one-line :class:`StateError` (``state.errors``).
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
                header = file.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise translate_os(path, exc) from None
        if header and header != SQLITE_HEADER:
            # Refused before SQLite opens it: a failed open would also discard its WAL, which --fresh moves aside.
            raise corrupt(path, "file is not a database")
        try:
            self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        except sqlite3.Error as exc:
            raise translate(path, exc) from None
        try:
            prepare(self.db, path, full_check=full_check)
        except sqlite3.Error as exc:
            self.close()
            raise translate(path, exc) from None
        except BaseException:
            self.close()
            raise
        connection = Connection(path, self.db, clock)
        self.meta = Meta(connection)
        self.repos = RepoRows(connection, self.meta)
        self.runs = RunRows(connection, self.repos)
        self.pages = PageRows(connection, self.repos)
        self.attic = AtticJournal(connection)
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

    def transaction(self) -> Transaction:
        return Transaction(self.db)

    def clone_kind(self) -> str | None:
        """``mirror`` or ``checkout``: what the destination's clones are, once a run has made one."""
        return self.meta.clone_kind()

    def set_clone_kind(self, kind: str) -> None:
        self.meta.set_clone_kind(kind)

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass  # what was committed is in the file or its WAL; the next open recovers it

    @guarded
    def forget(self) -> None:
        """``--fresh``: drop every run and repo; clones on disk become updates."""
        with self.transaction():
            for table in ("runs", "repos", "pages"):
                self.db.execute(f"DELETE FROM {table}")
            self.db.execute("DELETE FROM meta WHERE key = 'clone_kind'")  # found on disk again by the next run

    @guarded
    def integrity_ok(self) -> bool:
        return bool(self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
