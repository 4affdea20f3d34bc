"""The ``repos`` table: every repo a run listed, whether (and how) this run has done it, and what it saw of it.

A repo is "done in run R" when ``done_run = R``; a new sync pass is a new run, so earlier passes' results never
hide work from it. No query loads every repo: pending work is paged by rowid.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from gz_tui.forges.records import RemoteRepo
from gz_tui.layout import STATE_DIR
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
                f"SELECT rowid, {REPO_COLUMNS}, synced_pushed_at, attempts, synced_at, disk_path FROM repos "
                f"WHERE {where} AND rowid > ? ORDER BY rowid LIMIT ?",
                (*params, last, batch),
            )
            if not rows:
                return
            last = rows[-1][0]
            w = REPO_WIDTH
            yield [
                StoredRepo(repo_from_row(row[1 : w + 1]), row[w + 1], 0 if failed_only else int(row[w + 2]), row[w + 3], row[w + 4] or None)
                for row in rows
            ]

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
            (
                a.status,
                run_id,
                a.attempts,
                a.error_class,
                a.error_message,
                a.last_commit,
                a.status,
                a.pushed_at,
                a.synced_at,
                a.status,
                now,
                a.key,
            )
            for a in acks
        ]
        if rows:
            self.db.executemany(
                "UPDATE repos SET status = ?, done_run = ?, attempts = ?, error_class = ?, error_message = ?, "
                "last_commit = COALESCE(?, last_commit), "
                "synced_pushed_at = CASE WHEN ? IN ('cloned', 'updated', 'unchanged') THEN ? ELSE synced_pushed_at END, "
                "synced_at = COALESCE(?, synced_at), "
                "disk_path = CASE WHEN ? IN ('cloned', 'updated', 'unchanged') THEN rel_path ELSE disk_path END, "
                "updated_at = ? WHERE key = ?",
                rows,
            )

    @guarded
    def set_disk_path(self, key: str, rel_path: str) -> None:
        self.db.execute("UPDATE repos SET disk_path = ? WHERE key = ?", (rel_path, key))

    def known(self, repos: Sequence[RemoteRepo]) -> dict[str, tuple[int | None, str | None, float | None, str | None]]:
        """Key → (the run that last listed it, the change signal it was last synced at, when its refs last matched the
        forge's, where its clone was last synced), of the repos the state has."""
        keys = [r.key for r in repos]
        found: dict[str, tuple[int | None, str | None, float | None, str | None]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, listed_run, synced, synced_at, disk_path in self.db.execute(
                f"SELECT key, listed_run, synced_pushed_at, synced_at, disk_path FROM repos WHERE key IN ({marks})", chunk
            ):
                found[key] = (listed_run, synced, synced_at, disk_path or None)
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
    def failed(self, run_id: int, limit: int = 1000) -> list[tuple[str, str, str]]:
        """(path below DEST, error class, message) of each repo that failed in run ``run_id``, by path."""
        rows = self.db.execute(
            "SELECT COALESCE(disk_path, rel_path) AS path, COALESCE(error_class, 'other'), COALESCE(error_message, '') "
            "FROM repos WHERE done_run = ? AND status = 'failed' ORDER BY path LIMIT ?",
            (run_id, limit),
        ).fetchall()
        return [(str(p), str(c), str(m)) for p, c, m in rows]

    @guarded
    def every_status(self, run_id: int) -> list[tuple[str, str, str | None]]:
        """(path below DEST, status, error class) of every repo the state knows, by path: how run ``run_id`` left
        it, ``pending`` if it listed the repo and did not finish it, ``not listed`` if only an earlier run did."""
        rows = self.db.execute(
            "SELECT COALESCE(disk_path, rel_path) AS path, "
            "CASE WHEN done_run = ?1 THEN status WHEN listed_run = ?1 THEN 'pending' ELSE 'not listed' END, "
            "CASE WHEN done_run = ?1 AND status = 'failed' THEN COALESCE(error_class, 'other') END "
            "FROM repos ORDER BY path",
            (run_id,),
        ).fetchall()
        return [(str(p), str(s), None if c is None else str(c)) for p, s, c in rows]

    @guarded
    def listed_count(self, run_id: int) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM repos WHERE listed_run = ?", (run_id,)).fetchone()[0])

    @guarded
    def private_counts(self, run_id: int) -> tuple[int, int]:
        """(private repos run ``run_id`` listed, private repos earlier listings had that it did not list)."""
        row = self.db.execute(
            "SELECT COALESCE(SUM(listed_run = ?), 0), COALESCE(SUM(listed_run < ?), 0) FROM repos WHERE private = 1",
            (run_id, run_id),
        ).fetchone()
        return int(row[0]), int(row[1])

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
        ``mirror``: the destination's kind of clone (None: the one the state recorded). The clones no row names (a
        run after ``--fresh`` reports them) are left out: finding them walks DEST, and `gz-tui status` stays quick.
        """
        return [rel_path for _, rel_path, _ in self.gone_clones(run_id, dest, limit, mirror=mirror, unclaimed=False)]

    @guarded
    def gone_clones(
        self, run_id: int, dest: Path, limit: int = 10_000, *, mirror: bool | None = None, unclaimed: bool = True
    ) -> list[tuple[str, str, Path]]:
        """(key, rel_path, folder on disk) of each clone :meth:`gone_from_forge` names, then (``unclaimed``: not in a
        shard, whose state holds its slice only) of each clone on disk no row names whose recorded id was not listed."""
        if mirror is None:
            mirror = self._meta.clone_kind() == "mirror"
        gone: list[tuple[str, str, Path]] = []
        rows = self.db.execute(
            "SELECT key, COALESCE(disk_path, rel_path) AS path, "
            "lower(COALESCE(disk_path, rel_path)) IN (SELECT lower(rel_path) FROM repos WHERE listed_run = ?) "
            "FROM repos WHERE listed_run < ? ORDER BY path",
            (run_id, run_id),
        ).fetchall()
        for key, rel_path, owned in rows:
            try:
                folder = dest / safe_relative_path(copy_path(rel_path, mirror=mirror))
            except UnsafeRepo:
                continue
            # A clone belongs to the forge id recorded in it; one that records none, to the repo listed at its path.
            found = recorded_id(folder, mirror=mirror)
            if (found is not None and found != str(key)) or (found is None and owned):
                continue
            if (folder / "HEAD").is_file() if mirror else (folder / ".git").is_dir():
                gone.append((str(key), str(rel_path), folder))
                if len(gone) >= limit:
                    return gone
        # Folders no row claims (the state was started afresh, or lost): a clone whose recorded id names no listed
        # repo is gone as well, never silently left. One without a recorded id is not gz-tui's to judge.
        for rel_path, folder in self._unclaimed(dest, mirror=mirror) if unclaimed else ():
            found = recorded_id(folder, mirror=mirror)
            if (
                found is not None
                and not self.db.execute("SELECT 1 FROM repos WHERE key = ? AND listed_run = ?", (found, run_id)).fetchone()
            ):
                gone.append((found, rel_path, folder))
                if len(gone) >= limit:
                    break
        return gone

    def _unclaimed(self, dest: Path, *, mirror: bool, batch: int = 500) -> Iterator[tuple[str, Path]]:
        """The clones on disk no row's path names, asked of the index in batches (the state is never loaded whole)."""
        moved = {str(p).lower() for (p,) in self.db.execute("SELECT disk_path FROM repos WHERE disk_path IS NOT NULL")}
        deepest = self.db.execute("SELECT MAX(length(rel_path) - length(replace(rel_path, '/', ''))) FROM repos").fetchone()[0]
        clones = clones_below(dest, depth=int(deepest or 0) + 1, mirror=mirror)
        while chunk := list(itertools.islice(clones, batch)):
            folded = [rel.lower() for rel, _ in chunk]
            marks = ",".join("?" * len(folded))
            known = {p for (p,) in self.db.execute(f"SELECT lower(rel_path) FROM repos WHERE lower(rel_path) IN ({marks})", folded)}
            yield from ((rel, path) for rel, path in chunk if rel.lower() not in known and rel.lower() not in moved)


def clones_below(dest: Path, *, depth: int, mirror: bool) -> Iterator[tuple[str, Path]]:
    """(rel_path, folder) of each clone below ``dest``, down to ``depth`` segments: never through a link, never
    into gz-tui's own folder, a clone or a wiki."""

    def walk(folder: Path, prefix: str, left: int) -> Iterator[tuple[str, Path]]:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if (not prefix and entry.name == STATE_DIR) or not entry.is_dir(follow_symlinks=False):
                continue  # gz-tui's own folder (the attic among it); `.github` is a repo like any other
            name = entry.name.removesuffix(".git") if mirror else entry.name
            if not name or name == ".git" or name.endswith(".wiki"):
                continue  # a wiki goes where its repo goes
            rel = prefix + name
            path = Path(entry.path)
            is_clone = (path / "HEAD").is_file() and (path / "objects").is_dir() if mirror else (path / ".git").is_dir()
            if is_clone:
                yield rel, path
            elif left > 1:
                yield from walk(path, rel + "/", left - 1)

    yield from walk(dest, "", depth)


_REPO_ID = re.compile(r"^\s*repo-id\s*=\s*(\S+)\s*$", re.MULTILINE)


def recorded_id(folder: Path, *, mirror: bool) -> str | None:
    """The forge id gz-tui recorded in a clone's git config (``gz-tui.repo-id``), or None (none recorded, or no clone)."""
    try:
        text = (folder / ("config" if mirror else ".git/config")).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    section = text.partition("[gz-tui]")[2].split("\n[", 1)[0]
    found = _REPO_ID.search(section)
    return found.group(1).strip('"') if found else None
