"""The ``runs`` table: one row per sync pass (or dry run) — its forge and owner, options, status and cursor.

A killed run stays ``running``; the next run of the same settings resumes it (same run id) from its cursor.
"""

from __future__ import annotations

import json
from typing import Any

from gz_tui.kinds import RunStatus
from gz_tui.pipeline.state.base import Connection, Part, guarded
from gz_tui.pipeline.state.errors import StateError, corrupt
from gz_tui.pipeline.state.records import Run, StatusReport
from gz_tui.pipeline.state.repos import RepoRows


class RunRows(Part):
    """The runs of the state (``store.runs``), and the report ``gz-tui status`` gives of the last one."""

    def __init__(self, connection: Connection, repos: RepoRows) -> None:
        super().__init__(connection)
        self._repos = repos

    @guarded
    def last(self, *, include_dry: bool = False) -> Run | None:
        where = "" if include_dry else "WHERE dry_run = 0"
        row = self.db.execute(
            "SELECT id, forge, base_url, owner, status, cursor, listing_done, started_at, finished_at, dry_run, dest "
            f"FROM runs {where} ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        try:
            status = RunStatus(row[4])
        except ValueError:
            raise corrupt(self.path, f"run status {row[4]!r}") from None
        return Run(row[0], row[1], row[2], row[3], status, row[5], bool(row[6]), row[7], row[8], bool(row[9]), row[10])

    @guarded
    def check_identity(self, forge: str, owner: str, listing: str = "repos") -> None:
        """Refuse to mix two orgs (or forges) in one state: their repos would be confused; nor two listings of one owner
        (their repos, their stars, their gists, their snippets): a prune of one would take the other's for gone."""
        row = self.db.execute("SELECT forge, owner, base_url, options FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        if row and (row[0] != forge or row[1].lower() != owner.lower()):
            raise StateError(
                f"{self.path} belongs to {row[0]} owner {row[1]!r} ({row[2]}); "
                f"use another --dest for {forge} {owner!r}, or --fresh to forget it"
            )
        held = listing_of(row[3]) if row else listing
        if held != listing:
            raise StateError(
                f"{self.path} holds the {held} of {row[0]} owner {row[1]!r}, not their {listing}; "
                f"use another --dest for the {listing}, or --fresh to forget it"
            )

    @guarded
    def begin(self, *, forge: str, base_url: str, owner: str, dest: str, options: dict[str, object], dry_run: bool) -> int:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO runs (forge, base_url, owner, dest, options, started_at, status, dry_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (forge, base_url, owner, dest, json.dumps(options, sort_keys=True), self._now(), RunStatus.RUNNING, int(dry_run)),
            )
        return int(cursor.lastrowid or 0)

    @guarded
    def reopen(self, run_id: int) -> None:
        self.db.execute("UPDATE runs SET status = ?, finished_at = NULL WHERE id = ?", (RunStatus.RUNNING, run_id))

    @guarded
    def finish(self, run_id: int, status: RunStatus) -> None:
        self.db.execute("UPDATE runs SET status = ?, finished_at = ? WHERE id = ?", (status, self._now(), run_id))

    @guarded
    def options(self, run_id: int) -> dict[str, Any]:
        """The options run ``run_id`` was started with (what it covered), as recorded."""
        row = self.db.execute("SELECT options FROM runs WHERE id = ?", (run_id,)).fetchone()
        try:
            options = json.loads(row[0]) if row else {}
        except (TypeError, ValueError):
            return {}
        return options if isinstance(options, dict) else {}

    @guarded
    def note_option(self, run_id: int, key: str, value: object) -> None:
        """Add to what run ``run_id`` records of itself what the run learnt on its way (``server``: what the forge said
        it is), for ``gz-tui status``."""
        options = self.options(run_id)
        if options.get(key) == value:
            return
        options[key] = value
        with self.transaction():
            self.db.execute("UPDATE runs SET options = ? WHERE id = ?", (json.dumps(options, sort_keys=True), run_id))

    @guarded
    def report(self) -> StatusReport:
        """The last run (dry runs aside): its outcomes, what it left pending, its most common errors."""
        run = self.last(include_dry=False)
        if run is None:
            return StatusReport(None, {}, 0, [])
        counts = self._repos.done_counts(run.id)
        pending = int(
            self.db.execute(
                "SELECT COUNT(*) FROM repos WHERE listed_run = ? AND (done_run IS NULL OR done_run != ?)", (run.id, run.id)
            ).fetchone()[0]
        )
        errors = self.db.execute(
            "SELECT error_class, error_message, COUNT(*) AS n FROM repos WHERE done_run = ? AND status = 'failed' "
            "GROUP BY error_class, error_message ORDER BY n DESC LIMIT 5",
            (run.id,),
        ).fetchall()
        return StatusReport(run, counts, pending, [(str(c), str(m), int(n)) for c, m, n in errors])


def listing_of(options: str | None) -> str:
    """The listing a run's recorded options say it made (``listing``; ``starred`` before there were more; else repos)."""
    try:
        recorded = json.loads(options or "{}")
    except (TypeError, ValueError):
        return "repos"
    if not isinstance(recorded, dict):
        return "repos"
    listing = recorded.get("listing")
    if isinstance(listing, str) and listing:
        return listing
    return "starred" if recorded.get("starred") else "repos"
