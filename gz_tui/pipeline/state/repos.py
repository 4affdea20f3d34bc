"""The ``repos`` table: every repo a run listed, whether (and how) this run has done it, and what it saw of it.

A repo is "done in run R" when ``done_run = R``; a new sync pass is a new run, so earlier passes' results never
hide work from it. No query loads every repo: pending work is paged by rowid.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from gz_tui.forges.records import RemoteRepo
from gz_tui.pipeline.paths import UnsafeRepo, copy_path, safe_relative_path
from gz_tui.pipeline.state.base import Connection, Meta, Part, guarded
from gz_tui.pipeline.state.records import REPO_COLUMNS, REPO_WIDTH, Ack, StoredRepo, repo_from_row


class RepoRows(Part):
    """The repos of the state (``store.repos``): their work, their outcomes, their counts, and the clones the forge
    no longer lists."""

    def __init__(self, connection: Connection, meta: Meta) -> None:
        super().__init__(connection)
        self._meta = meta

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
                f"SELECT rowid, {REPO_COLUMNS}, synced_pushed_at, attempts FROM repos WHERE {where} AND rowid > ? ORDER BY rowid LIMIT ?",
                (*params, last, batch),
            )
            if not rows:
                return
            last = rows[-1][0]
            w = REPO_WIDTH
            yield [StoredRepo(repo_from_row(row[1 : w + 1]), row[w + 1], 0 if failed_only else int(row[w + 2])) for row in rows]

    @guarded
    def ack_many(self, run_id: int, acks: Iterable[Ack]) -> None:
        acks = list(acks)
        if not acks:
            return
        with self.transaction():
            self.write_acks(run_id, acks)

    def write_acks(self, run_id: int, acks: Iterable[Ack]) -> None:
        """The outcomes, inside the caller's transaction (the pages' journal writes skipped repos with their page)."""
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

    def known(self, repos: Sequence[RemoteRepo]) -> dict[str, tuple[int | None, str | None]]:
        """Key → (the run that last listed it, the change signal it was last synced at), of the repos the state has."""
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

    @guarded
    def case_twin(self, run_id: int, key: str, rel_path: str) -> str | None:
        """An earlier-listed repo of this run whose path differs only in case (they collide on macOS/Windows)."""
        row = self.db.execute(
            "SELECT full_name FROM repos WHERE lower(rel_path) = lower(?) AND key != ? AND listed_run = ? "
            "AND rowid < (SELECT rowid FROM repos WHERE key = ?) LIMIT 1",
            (rel_path, key, run_id, key),
        ).fetchone()
        return str(row[0]) if row else None

    @guarded
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

    @guarded
    def done_counts(self, run_id: int) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM repos WHERE done_run = ? GROUP BY status", (run_id,)).fetchall())

    @guarded
    def failure_classes(self, run_id: int) -> dict[str, int]:
        """How many repos failed in this run, per error class."""
        return dict(
            self.db.execute(
                "SELECT COALESCE(error_class, 'other'), COUNT(*) FROM repos WHERE done_run = ? AND status = 'failed' GROUP BY error_class",
                (run_id,),
            ).fetchall()
        )

    @guarded
    def listed_count(self, run_id: int) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM repos WHERE listed_run = ?", (run_id,)).fetchone()[0])

    @guarded
    def listed_names(self, run_id: int) -> set[str]:
        """Every name (full name and path below DEST, lower-cased) of the repos run ``run_id`` listed."""
        names: set[str] = set()
        for full_name, rel_path in self.db.execute("SELECT full_name, rel_path FROM repos WHERE listed_run = ?", (run_id,)):
            names.update((str(full_name).lower(), str(rel_path).lower()))
        return names

    @guarded
    def gone_from_forge(self, run_id: int, dest: Path, limit: int = 10_000, *, mirror: bool | None = None) -> list[str]:
        """Clones on disk that an earlier run listed and run ``run_id``'s complete listing did not.

        Deleted, renamed, transferred, or no longer visible to this token: gz-tui moves them only with
        ``--prune``, else it says so. Only paths that pass the same validation as a clone are looked at on disk.
        ``mirror``: the destination's kind of clone (None: the one the state recorded).
        """
        return [rel_path for _, rel_path, _ in self.gone_clones(run_id, dest, limit, mirror=mirror)]

    @guarded
    def gone_clones(self, run_id: int, dest: Path, limit: int = 10_000, *, mirror: bool | None = None) -> list[tuple[str, str, Path]]:
        """(key, rel_path, folder on disk) of each clone :meth:`gone_from_forge` names."""
        if mirror is None:
            mirror = self._meta.clone_kind() == "mirror"
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
