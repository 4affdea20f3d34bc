"""What can go wrong with a state, in one line each: the :class:`StateError` family, SQLite's failures
translated into it, and the free-space probes that say which disk is full.

A full, read-only or failing file system is a :class:`StateWriteError` naming it and its free space; a damaged
file is a :class:`StateCorruptError` and a layout this gz-tui cannot read a :class:`StateVersionError`, both of
which ``StateStore.open(..., fresh=True)`` answers by moving the file aside and starting a new state.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from gz_tui.format import binary_size


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

    def __init__(self, message: str, *, full_at: Path | None = None) -> None:
        super().__init__(message)
        self.full_at = full_at
        """The mount point of the file system that was full, when that was the cause."""


_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB = 8, 10, 11, 13, 26
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_NEARLY_FULL = 64 * 2**20


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


def _full(path: Path) -> StateWriteError:
    mount = mount_point(path)
    free = _free_bytes(mount)
    if free is None or free < _NEARLY_FULL:
        cause = f"{mount} is full ({_free_space(mount)})"
    else:  # a quota, a file-size limit: the file system itself has room
        cause = f"the disk is full for it (a quota or size limit? {mount} has {_free_space(mount)})"
    return StateWriteError(f"the state database {path} cannot be written: {cause}; free some space and run again to resume", full_at=mount)


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


def corrupt(path: Path, reason: str) -> StateCorruptError:
    """The state at ``path`` is damaged (``reason``: what showed it)."""
    return StateCorruptError(
        f"the state database {path} is damaged ({_first_line(reason)}); run again with --fresh to move it aside "
        "and start a new state (clones already on disk are then updated, not cloned again)"
    )


def translate(path: Path, exc: sqlite3.Error) -> StateError:
    """One line for any SQLite failure on the state at ``path``."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    message = str(exc)
    if primary == _SQLITE_FULL or "database or disk is full" in message:
        return _full(path)
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in message or "not a database" in message:
        return corrupt(path, message)
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


def translate_os(path: Path, exc: OSError) -> StateError:
    """One line for a file-system failure while making the state file at ``path``."""
    if exc.errno in _FULL_ERRNOS:
        return _full(path)
    if exc.errno == errno.EROFS:
        return _read_only(path)
    return StateError(f"cannot create the state database {path}: {exc.strerror}; choose a writable --state or --dest")
