"""What every part of the state shares: one SQLite connection, its transactions, the file's path (its errors
name it), the clock, and the one row about the whole destination (the kind of clone it keeps).

The store is split by what it stores: :class:`~gz_tui.pipeline.state.store.StateStore` opens the connection and
hands it to one part each — ``store.runs``, ``store.repos``, ``store.pages``, ``store.attic`` — so a caller names what
it reads or writes (``store.pages.record(...)``, ``store.attic.intent(...)``).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from gz_tui.pipeline.state.errors import translate

_P = ParamSpec("_P")
_R = TypeVar("_R")
_S = TypeVar("_S", bound="_OnFile")


class _OnFile(Protocol):
    @property
    def path(self) -> Path: ...


def guarded(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
    """Run a store method with SQLite's exceptions turned into one-line StateErrors."""

    def guarded(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise translate(self.path, exc) from exc

    functools.update_wrapper(guarded, method)
    return guarded


class Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on an error (and on a COMMIT that failed)."""

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


class Connection:
    """The SQLite connection of one state file, the file's path and the clock; shared by every part."""

    def __init__(self, path: Path, db: sqlite3.Connection, now: Callable[[], float]) -> None:
        self.path = path
        self.db = db
        self.now = now


class Part:
    """One part of the state (one table, mostly) over the shared connection. Not thread-safe: the pipeline
    serialises calls on one thread."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def path(self) -> Path:
        return self._connection.path

    @property
    def db(self) -> sqlite3.Connection:
        return self._connection.db

    def _now(self) -> float:
        return self._connection.now()

    def transaction(self) -> Transaction:
        return Transaction(self.db)

    @guarded
    def _rows(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, params).fetchall()


class Meta(Part):
    """The ``meta`` rows about the whole destination."""

    @guarded
    def clone_kind(self) -> str | None:
        """``mirror`` or ``checkout``: what the destination's clones are, once a run has made one."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'clone_kind'").fetchone()
        return str(row[0]) if row else None

    @guarded
    def set_clone_kind(self, kind: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('clone_kind', ?)", (kind,))
