"""How a target tells it ended: its ``summary``, its stats-file row, its post_sync command, the ``--repos-file``
names the forge did not list; and the ``total`` of a run of several targets.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import anyio

from gz_tui.clock import Clock
from gz_tui.config import Settings
from gz_tui.format import some_of
from gz_tui.kinds import ExitCode, PlannedAction
from gz_tui.pipeline.context import DbCall
from gz_tui.pipeline.events import Summary, Total
from gz_tui.pipeline.snapshot import Counts
from gz_tui.pipeline.state import StateError, StateStore
from gz_tui.pipeline.stats import Stats, TargetStats
from gz_tui.shard import Shard

POST_SYNC_SECONDS = 600

STATS_ROW_FIELDS = ("exit_code", "listed", "cloned", "updated", "unchanged", "skipped", "failed", "gone", "seconds")
"""What a stats-file row takes from the summary (then ``bytes``)."""


def counts_fields(counts: Counts) -> dict[str, int]:
    """The counters a target's ``summary`` and a run's ``total`` both report."""
    return {
        "listed": counts.listed,
        "cloned": counts.cloned,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "skipped": counts.skipped,
        "failed": counts.failed,
    }


def total(code: ExitCode, stats: Stats) -> Total:
    """The last event of a run of several targets, once it has ended (``Stats.end``)."""
    return Total(
        exit_code=code,
        targets=len(stats.targets),
        **counts_fields(stats.counts),
        seconds=round(stats.snapshot().elapsed, 3),
        api_requests=sum(t.rate.requests for t in stats.targets),
    )


class TargetReport:
    """One target's reporting; ``db`` is its state's call (one at a time, off the event loop)."""

    def __init__(
        self,
        settings: Settings,
        stats: TargetStats,
        run_stats: Stats,
        *,
        clock: Clock,
        shard: Shard | None,
        db: DbCall,
        notice: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.stats = stats
        self.run_stats = run_stats
        self.clock = clock
        self.shard = shard
        self.db = db
        self.notice = notice
        self.started_at = clock.now()

    def summary(self, code: ExitCode | None, planned: Mapping[PlannedAction, int] | None) -> Summary:
        """``planned``: a dry run's count of what it would do."""
        c, rate, run = self.stats.counts, self.stats.rate, self.run_stats
        end = run.ended_at if run.ended_at is not None else self.clock.now()
        return Summary(
            exit_code=code if code is not None else ExitCode.OK,
            **counts_fields(c),
            resumed_done=c.resumed_done,
            gone=c.gone,
            moved=c.moved,
            kept=c.kept,
            renamed=c.renamed,
            wikis=c.wikis,
            checked=c.checked,
            missed=c.missed,
            seconds=round(max(0.0, end - self.started_at), 3),
            api_requests=rate.requests,
            not_modified=rate.not_modified,
            state=self.stats.state_path,
            server=self.stats.server,
            would_clone=planned[PlannedAction.CLONE] if planned is not None else None,
            would_update=planned[PlannedAction.UPDATE] if planned is not None else None,
            would_leave=planned[PlannedAction.UNCHANGED] if planned is not None else None,
            would_refuse=planned[PlannedAction.REFUSE] if planned is not None else None,
            message=run.message or self.stats.message or None,
            unmatched=self.stats.unmatched,
            expected=self.stats.expected,
            prune_refused=self.stats.prune_refused,
            lfs_bytes=c.lfs_bytes if self.settings.lfs else None,
            shard=self.shard.index if self.shard else None,
            shards=self.shard.count if self.shard else None,
        )

    def say_if_nothing_matched(self, filters: str) -> None:
        """A complete listing whose every repo the ``filters`` left out: said in the summary (and on the dashboard),
        so a filter that matches nothing is never mistaken for an owner with nothing new."""
        counts = self.stats.counts
        if not filters or counts.selected or counts.resumed_done:
            return
        self.stats.unmatched = filters
        if not self.settings.headless:
            self.notice(f"nothing matched {filters} (of {counts.listed:,} repos listed)")

    def say_moved_origins(self, moved: int) -> None:
        """Clones whose origin followed their repo (a forge that moved, a rename upstream), by forge id."""
        if moved:
            self.notice(
                f"{moved:,} clone{'s' if moved != 1 else ''} had {'their' if moved != 1 else 'its'} origin moved to "
                f"{self.settings.api_base} (the same repos by forge id)"
            )

    async def missing_names(self, wanted: Mapping[str, str], store: StateStore, run_id: int) -> list[str]:
        """After a complete listing: the ``--repos-file`` names (lower-cased → as written) the forge did not
        list, said in a notice."""
        try:
            listed = await self.db(store.repos.listed_names, run_id)
        except StateError:
            return []
        missing = [name for lowered, name in wanted.items() if lowered not in listed]
        if missing:
            plural = len(missing) != 1
            self.notice(
                f"{len(missing):,} name{'s' if plural else ''} of --repos-file {self.settings.repos_file} "
                f"{'were' if plural else 'was'} not listed by the forge (misspelt, deleted, or not visible to this "
                f"token): {some_of(missing, 10)}"
            )
        return missing

    async def after(self, code: ExitCode, planned: Mapping[PlannedAction, int] | None) -> None:
        """The target's stats-file row and its post_sync command (its summary as JSON on stdin)."""
        summary = self.summary(code, planned).as_dict(self.clock.now())
        summary["target"] = self.settings.name
        if self.settings.stats_file is not None:
            self._append_row(self.settings.stats_file, summary)
        command = self.settings.post_sync
        if command and code != ExitCode.USAGE and not self.settings.dry_run:
            await self._post_sync(list(command), json.dumps(summary).encode())

    def _append_row(self, stats_file: Path, summary: dict[str, object]) -> None:
        settings = self.settings
        row = {
            "time": round(time.time(), 3),
            "target": settings.name,
            "forge": str(settings.provider),
            "owner": settings.owner,
            "dest": self.stats.dest,
            **{k: summary[k] for k in STATS_ROW_FIELDS},
            "bytes": self.stats.counts.received_bytes,
            **({"lfs_bytes": self.stats.counts.lfs_bytes} if settings.lfs else {}),
        }
        try:
            path = Path(stats_file).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(row, ensure_ascii=True) + "\n")
        except OSError as exc:
            self.notice(f"cannot append to the stats file {stats_file}: {exc.strerror or exc}")

    async def _post_sync(self, command: list[str], summary: bytes) -> None:
        """Run the target's post_sync command: an argument list, no shell, its summary on stdin (a command that
        does not read it is fine), 10 minutes at most, killed if the run is cancelled; a failure is reported,
        never the run's."""
        errors = bytearray()
        try:
            async with await anyio.open_process(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as process:
                try:
                    with anyio.fail_after(POST_SYNC_SECONDS):
                        assert process.stdin is not None and process.stderr is not None
                        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                            await process.stdin.send(summary)
                        await process.stdin.aclose()
                        async for chunk in process.stderr:
                            errors.extend(chunk[: 4096 - len(errors)])
                        code = await process.wait()
                finally:
                    if process.returncode is None:
                        process.kill()
        except TimeoutError:
            self.notice(f"post_sync {command[0]} did not finish within {POST_SYNC_SECONDS // 60} minutes and was stopped")
            return
        except OSError as exc:
            self.notice(f"post_sync {command[0]} failed: {exc.strerror or exc} (the sync itself is done)")
            return
        if code != 0:
            said = errors.decode("utf-8", "replace").strip().splitlines()
            last = f": {said[-1][:200]}" if said else ""
            self.notice(f"post_sync {command[0]} exited with {code}{last} (the sync itself is done)")
