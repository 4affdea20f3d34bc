"""One gz-tui per destination and per state: advisory ``flock`` locks the kernel releases when their holder dies.

A lock left by a dead process is therefore taken over silently; a live holder is named by PID. A run takes
two: ``DEST/.gz-tui/lock`` for the destination, then ``<state>.lock`` beside the state database, because
``--state`` can point two runs with different destinations at one state.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Self

from gz_tui.layout import WorkDir, state_lock_path


class LockedError(Exception):
    """Another gz-tui holds the lock; ``str()`` is one line for the user (exit 2)."""


class ProcessLock:
    """An exclusive lock on ``path`` naming its holder's PID; ``what`` completes "another gz-tui is already …"."""

    def __init__(self, path: Path, what: str, *, shared: bool = False) -> None:
        self.path = path
        self.what = what
        self.shared = shared
        """Held with others of its kind (the shards of one destination), never with an exclusive holder."""
        self._fd: int | None = None

    @classmethod
    def for_dest(cls, dest: Path, *, shared: bool = False) -> ProcessLock:
        return cls(WorkDir(dest).dest_lock, f"working on {dest}", shared=shared)

    @classmethod
    def for_state(cls, state: Path) -> ProcessLock:
        return cls(state_lock_path(state), f"using the state {state}")

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            who = f"another gz-tui (PID {holder})" if holder else "another gz-tui (shards of this destination)"
            raise LockedError(f"{who} is already {self.what}; wait for it to finish or stop it first") from None
        if self.shared:  # several hold it: none names itself, and no exclusive holder's PID can still be true
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            self._fd = fd
            return
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            os.close(fd)  # also releases the flock
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            if not self.shared:
                try:
                    os.ftruncate(self._fd, 0)
                except OSError:
                    pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
