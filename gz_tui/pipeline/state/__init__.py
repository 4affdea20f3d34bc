"""The crash-safe journal of runs and repos, in SQLite: one file per destination (or shard).

``store`` opens it; the store is split by what it stores — ``runs``, ``repos``, ``pages`` (the listing's
journal) and ``attic`` (the moves of ``--prune``) — over the connection of ``base``; ``schema`` holds the SQL,
its version and migrations, ``errors`` the one-line errors. Callers import from here.
"""

from gz_tui.pipeline.state.errors import StateCorruptError, StateError, StateVersionError, StateWriteError, mount_point
from gz_tui.pipeline.state.records import Ack, Run, StatusReport, StoredRepo
from gz_tui.pipeline.state.schema import SCHEMA_VERSION
from gz_tui.pipeline.state.store import StateStore, move_aside

__all__ = [
    "SCHEMA_VERSION",
    "Ack",
    "Run",
    "StateCorruptError",
    "StateError",
    "StateStore",
    "StateVersionError",
    "StateWriteError",
    "StatusReport",
    "StoredRepo",
    "mount_point",
    "move_aside",
]
