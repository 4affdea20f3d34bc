"""The one layout of a destination: where gz-tui keeps its state, locks, temporary clones and the attic.

::

    DEST/
      NAME/ or NAME.git/           the clones (``pipeline.paths.copy_path``)
      .gz-tui/                     gz-tui's own folder (mode 0700)
        lock                       the destination's lock (shared by the shards of one destination)
        state.sqlite3(.lock)       the state of an unsharded run, and its lock
        tmp/                       clones being made, renamed into place when whole
        attic/YYYY-MM-DD/PATH      clones ``--prune`` moved away (never deleted)
        shard-K-of-N/              a shard's own lock, state and tmp/
        shards-of-N.lock           held shared by every running shard of N (shards of another N are refused)
        shards.gate                held for an instant while a shard checks the running N and takes its own

A leaf: ``config/`` (two targets must not share a state), ``pipeline/`` and ``status`` all ask it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from gz_tui.shard import Shard, ShardError

STATE_DIR = ".gz-tui"
"""gz-tui's folder in every destination; a repo path segment of this name is refused (``pipeline.paths``)."""
STATE_FILE_NAME = "state.sqlite3"
_SHARD_DIR = re.compile(r"shard-(\d+)-of-(\d+)")


def state_lock_path(state: Path) -> Path:
    """``state.sqlite3`` → ``state.sqlite3.lock``, beside it (``--state`` can point two destinations at one state)."""
    return state.with_name(f"{state.name}.lock")


def default_state_path(dest: Path) -> Path:
    """Where a destination's unsharded state lives unless ``--state`` says otherwise."""
    return dest / STATE_DIR / STATE_FILE_NAME


@dataclass(frozen=True, slots=True)
class WorkDir:
    """Where one run (of a destination, or of one shard of it) keeps its own files."""

    dest: Path
    shard: Shard | None = None

    @property
    def base(self) -> Path:
        """``DEST/.gz-tui``: shared by every shard of the destination."""
        return self.dest / STATE_DIR

    @property
    def root(self) -> Path:
        """``DEST/.gz-tui`` or ``DEST/.gz-tui/shard-K-of-N``: this run's state, lock and temporary clones."""
        return self.base / self.shard.dir_name if self.shard is not None else self.base

    @property
    def dest_lock(self) -> Path:
        return self.base / "lock"

    @property
    def slot_lock(self) -> Path:
        """A shard's own lock (its siblings hold the destination's lock shared beside it)."""
        return self.root / "lock"

    def shard_count_lock(self, count: int) -> Path:
        """Held shared by every running shard of ``count`` (:func:`gz_tui.pipeline.lock.lock_shard_count`)."""
        return self.base / f"shards-of-{count}.lock"

    @property
    def shard_gate(self) -> Path:
        """Held while a shard checks which N are running and takes its own N's lock: one shard at a time."""
        return self.base / "shards.gate"

    @property
    def state(self) -> Path:
        return self.root / STATE_FILE_NAME

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def attic_root(self) -> Path:
        return self.base / "attic"

    def attic(self, when: float) -> Path:
        """``DEST/.gz-tui/attic/YYYY-MM-DD``: the day's folder (local time) of a prune at ``when``."""
        return self.attic_root / time.strftime("%Y-%m-%d", time.localtime(when))


def shard_dirs(dest: Path) -> list[tuple[Shard, Path]]:
    """The shards that have kept state in ``dest``, by N then K."""
    found = []
    for folder in (dest / STATE_DIR).glob("shard-*-of-*"):
        match = _SHARD_DIR.fullmatch(folder.name)
        if match and (folder / STATE_FILE_NAME).is_file():
            try:
                found.append((Shard(int(match.group(1)), int(match.group(2)), "state"), folder))
            except ShardError:
                continue
    return sorted(found, key=lambda pair: (pair[0].count, pair[0].index))
