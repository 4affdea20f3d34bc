"""The attic's journal: every move ``--prune`` makes, written before the rename and settled after it.

A run killed between the two leaves a ``moving`` entry; the next run looks at the disk and settles it
(``prune.reconcile_attic``), so ``gz-tui status`` always lists where each moved clone is.
"""

from __future__ import annotations

from pathlib import Path

from gz_tui.pipeline.state.base import Part, guarded


class AtticJournal(Part):
    """The ``attic`` table (``store.attic``)."""

    @guarded
    def intent(self, key: str, rel_path: str, source: Path, attic: Path, *, kind: str = "attic") -> int:
        """Journal a move before it happens: a kill between this and the rename is reconciled by the next run.
        ``kind``: ``attic`` (prune), or ``rename`` (a clone moved to its repo's new path; ``attic`` is that path)."""
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO attic (key, rel_path, source, attic, status, at, kind) VALUES (?, ?, ?, ?, 'moving', ?, ?)",
                (key, rel_path, str(source), str(attic), self._now(), kind),
            )
        return int(cursor.lastrowid or 0)

    @guarded
    def done(self, entry: int, moved: bool) -> None:
        """The move happened (``moved``), or did not: its record is then dropped."""
        if moved:
            self.db.execute("UPDATE attic SET status = 'moved' WHERE id = ?", (entry,))
        else:
            self.db.execute("DELETE FROM attic WHERE id = ?", (entry,))

    @guarded
    def moving(self) -> list[tuple[int, Path, Path]]:
        """(id, source, attic) of the moves journaled and not known to have happened (a killed prune)."""
        rows = self.db.execute("SELECT id, source, attic FROM attic WHERE status = 'moving' ORDER BY id").fetchall()
        return [(int(i), Path(src), Path(dst)) for i, src, dst in rows]

    @guarded
    def entries(self, limit: int = 1000) -> list[tuple[str, str, float]]:
        """(rel_path, attic path, when) of the clones moved to the attic, newest first."""
        rows = self.db.execute(
            "SELECT rel_path, attic, at FROM attic WHERE status = 'moved' AND kind = 'attic' ORDER BY at DESC, id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [(str(r), str(a), float(t)) for r, a, t in rows]
