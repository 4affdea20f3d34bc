"""One gz-tui per destination and per state: advisory ``flock`` locks the kernel releases when their holder dies.

A lock left by a dead process is therefore taken over silently; a live holder is named by PID. A run takes
two: ``DEST/.gz-tui/lock`` for the destination, then ``<state>.lock`` beside the state database, because
``--state`` can point two runs with different destinations at one state.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from pathlib import Path
from typing import Self

from gz_tui.layout import WorkDir, state_lock_path
from gz_tui.shard import Shard

GATE_WAIT_SECONDS = 10.0
"""How long a starting shard waits for another starting shard to finish its check (an instant, normally)."""
_COUNT_LOCK = re.compile(r"shards-of-(\d+)\.lock")


STOP_NOTE = "stopped: "
"""How a stop note in a lock file begins (a live holder's lock file holds its PID)."""
STOP_NOTE_MAX = 512


def stop_note(exc: Exception, when: float) -> str:
    """What the lock file of a state says after a run stopped because a state could not be written (the run stays
    ``running`` in the state so that the next run resumes it): ``stopped: disk full at MOUNT (when)``."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
    full_at = getattr(exc, "full_at", None)
    why = f"disk full at {full_at}" if full_at is not None else " ".join(str(exc).split())
    return f"{STOP_NOTE}{why} ({stamp}); run again to resume"


def run_holder(state: Path) -> str | None:
    """For a run the state records as ``running``: None if a live gz-tui holds the state's lock (it is running),
    else what stopped it: the stop note it left (:func:`stop_note`), or ``stopped before the end (killed or crashed)``."""
    lock = state_lock_path(state)
    if live_holder(lock) is not None:  # never an exclusive probe: it could refuse a run starting this instant
        return None
    try:
        with open(lock, "rb") as file:
            text = file.read(STOP_NOTE_MAX).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text if text.startswith(STOP_NOTE) and "\n" not in text else "stopped before the end (killed or crashed)"


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

    def release(self, *, note: str | None = None) -> None:
        """Let go. ``note`` (an exclusive lock only): why the run stopped without recording its end in the state,
        left in the lock file for ``gz-tui status`` (:func:`stop_note_of`) instead of the PID."""
        if self._fd is not None:
            if not self.shared:
                try:
                    if note:  # within the block the PID was written in: written even on a full disk
                        data = note.encode("utf-8", "replace")[:STOP_NOTE_MAX]
                        os.pwrite(self._fd, data, 0)
                        os.ftruncate(self._fd, len(data))
                    else:
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


def live_holder(path: Path) -> int | None:
    """The PID of the process that holds the lock at ``path`` now (``gz-tui status``: "in progress (PID N)"), or None.

    The PID its holder wrote is read first; only when that process lives is the lock tried, shared and at once
    released: so a status never takes a lock a run may be starting to take, unless a live process is named (a
    killed holder leaves its PID behind; that PID may since be another process's, and the lock then says)."""
    try:
        text = path.read_text("ascii", errors="replace").strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    pid = int(text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    return pid if _blocked(path, fcntl.LOCK_SH) else None


def lock_shard_count(layout: WorkDir, shard: Shard) -> ProcessLock:
    """The lock every running shard of ``shard.count`` holds shared, taken unless shards of another N are running.

    Shards of different N slice one listing differently: 2/3 and 1/4 would clone the same repo into the same
    folder at once (one of them fails as ``disk``). So the late-comer is refused, naming the running N. The check
    and the taking are one step under the gate, so of two shards started together with different N one runs."""
    layout.base.mkdir(parents=True, exist_ok=True, mode=0o700)
    gate = os.open(layout.shard_gate, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + GATE_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(gate, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockedError(f"another gz-tui shard holds {layout.shard_gate} for more than {GATE_WAIT_SECONDS:.0f} s") from None
                time.sleep(0.02)
        for other in sorted(layout.base.glob("shards-of-*.lock")):
            match = _COUNT_LOCK.fullmatch(other.name)
            if match is None or int(match.group(1)) == shard.count or not _held(other):
                continue
            running = int(match.group(1))
            raise LockedError(
                f"shards of {running} (--shard K/{running}) are already working on {layout.dest}; --shard {shard.label} "
                f"would clone the same repos beside them: wait for them to finish, or run this one as --shard K/{running}"
            )
        mine = ProcessLock(layout.shard_count_lock(shard.count), f"running shards of {shard.count} in {layout.dest}", shared=True)
        mine.acquire()  # only ever held exclusively for an instant, under the gate: never refused here
        return mine
    finally:
        os.close(gate)  # also releases the gate's flock


def _held(path: Path) -> bool:
    """Whether a live process holds ``path``'s flock (shared or exclusive): the kernel drops a dead holder's."""
    return _blocked(path, fcntl.LOCK_EX)


def _blocked(path: Path, how: int) -> bool:
    """Whether a flock of kind ``how`` on ``path`` would wait for another holder (tried and at once let go);
    False when the file cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # flock needs no write access: `gz-tui status` may have none
    except OSError:
        return False
    try:
        fcntl.flock(fd, how | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # also releases a lock it took
    return False
