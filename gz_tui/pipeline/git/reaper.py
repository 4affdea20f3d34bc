"""A git child never outlives gz-tui, however gz-tui dies (``kill -9`` of it or of its process group included).

Each git leads its own session and process group, so one ``killpg`` takes git and its helpers
(``git-remote-https``, ``index-pack``): a cancel sends it (:func:`kill_group`), and so does the :class:`Reaper`,
a tiny process that outlives gz-tui by the milliseconds it takes to kill the groups of the git children still
running. (A parent-death signal would need a ``preexec_fn``, which makes every spawn a full ``fork()`` of
gz-tui: about 20 ms instead of 2 ms.)

Also here: the pidfd child watcher that waits for those children on Python 3.11 without a thread each.
"""

from __future__ import annotations

import asyncio
import atexit
import mmap
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable

REAPER_SLOTS = 1024
"""Live git process groups gz-tui can have at once (64 workers at most, one git each, plus headroom)."""

_REAPER_SCRIPT = """
import mmap, os, signal, struct, sys
table = mmap.mmap(int(sys.argv[1]), int(sys.argv[2]) * 4)
sys.stdin.buffer.read()  # returns at end of file: gz-tui is gone, however it went
for pgid in struct.unpack(f"{int(sys.argv[2])}i", table[:]):
    if pgid > 0:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
"""

_SLOT = struct.Struct("i")


class Reaper:
    """Kills the process groups of the git children still running once gz-tui is gone, however it went.

    A child Python (``-I -S``: a few milliseconds to start, once per gz-tui process) in its own session, so a kill
    of gz-tui's process group spares it. It shares a small table with gz-tui (an unlinked temporary file, mapped
    by both): gz-tui writes each live git's process group into a slot and clears it when git has exited — a
    memory write, no system call per spawn. The reaper only waits for end of file on a pipe that gz-tui alone
    holds (git never inherits it); then every group still in the table gets ``SIGKILL``, helpers included (a
    helper waiting on a stalled server would otherwise live on until it answers).
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._table: mmap.mmap | None = None
        self._slots: dict[int, int] = {}
        self._free: list[int] = []
        self._lock = threading.Lock()
        self._broken = False

    def watch(self, pgid: int) -> None:
        """Kill the group ``pgid`` if gz-tui dies before :meth:`forget` (the reaper starts on the first call)."""
        with self._lock:
            if self._table is None and not self._start():
                return
            if not self._free:
                return  # more groups than slots: a cancel still kills each of them
            slot = self._free.pop()
            self._slots[pgid] = slot
            assert self._table is not None
            _SLOT.pack_into(self._table, slot * 4, pgid)

    def forget(self, pgid: int) -> None:
        """The group's leader has exited and been waited for: its id may be reused, so it must not be killed."""
        with self._lock:
            slot = self._slots.pop(pgid, None)
            if slot is not None and self._table is not None:
                _SLOT.pack_into(self._table, slot * 4, 0)
                self._free.append(slot)

    def _start(self) -> bool:
        if self._broken:
            return False
        try:
            with tempfile.TemporaryFile() as backing:
                backing.truncate(REAPER_SLOTS * 4)
                table = mmap.mmap(backing.fileno(), REAPER_SLOTS * 4)
                self._process = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _REAPER_SCRIPT, str(backing.fileno()), str(REAPER_SLOTS)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=(backing.fileno(),),
                    start_new_session=True,
                )
        except (OSError, ValueError):
            self._broken = True  # no reaper: a cancel still kills every group
            return False
        self._table = table
        self._free = list(range(REAPER_SLOTS - 1, -1, -1))
        atexit.register(self.close)
        return True

    def close(self) -> None:
        """On a normal exit: no group left to kill, then end of file for the reaper, and reap it."""
        with self._lock:
            process, self._process = self._process, None
            if self._table is not None:
                self._table[:] = bytes(len(self._table))
                self._slots.clear()
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass


REAPER = Reaper()
"""The process's one reaper: every git child :class:`~gz_tui.pipeline.git.runner.GitRunner` starts is in its table."""


def kill_group(pid: int) -> None:
    """``SIGKILL`` to the process group ``pid`` leads (git and its helpers), or to ``pid`` alone if it leads none."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


_child_watcher_checked = False


def use_pidfd_child_watcher() -> None:
    """On Python 3.11, wait for git children with a pidfd on the running loop instead of a thread each.

    asyncio 3.11's default child watcher starts (and waits for) a thread per child: about a third of the event
    loop's time around a spawn. 3.12 and later already use pidfds where the kernel has them; 3.11 gets the
    same here, once per process, when ``os.pidfd_open`` works (Linux 5.3+, not blocked by a sandbox).
    """
    global _child_watcher_checked
    if _child_watcher_checked:
        return
    _child_watcher_checked = True
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_child_watcher(_PidfdChildWatcher())


class _PidfdChildWatcher(asyncio.AbstractChildWatcher):
    """Python 3.12's ``PidfdChildWatcher``: whatever loop is running watches the child's pidfd (3.11's own
    is tied to one loop, and gz-tui and its tests run several loops over a process's life)."""

    def __enter__(self) -> _PidfdChildWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def is_active(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        pass

    def add_child_handler(self, pid: int, callback: Callable[..., object], *args: object) -> None:
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(pid)
        loop.add_reader(pidfd, self._do_wait, pid, pidfd, loop, callback, args)

    def remove_child_handler(self, pid: int) -> bool:
        return False  # nothing to forget: the reader goes when the child has been reaped

    def _do_wait(
        self, pid: int, pidfd: int, loop: asyncio.AbstractEventLoop, callback: Callable[..., object], args: tuple[object, ...]
    ) -> None:
        loop.remove_reader(pidfd)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            returncode = 255  # reaped elsewhere (asyncio reports the same)
        else:
            returncode = os.waitstatus_to_exitcode(status)
        os.close(pidfd)
        callback(pid, returncode, *args)
