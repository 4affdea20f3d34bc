"""Headless runs for cron and CI: progress lines on stderr, or one JSON event per line on stdout."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

import anyio

from gz_tui.clock import SYSTEM_CLOCK, Clock
from gz_tui.config import Settings
from gz_tui.format import WAIT_WORDS, binary_size, countdown, wall_time
from gz_tui.kinds import ExitCode, PlannedAction, WaitKind
from gz_tui.pipeline.context import EventSink
from gz_tui.pipeline.events import (
    Emitted,
    ForgeReachable,
    ForgeUnreachable,
    ListingFailed,
    Notice,
    Progress,
    RateLimitWait,
    RepoFailed,
    RepoPlanned,
    Resume,
    RunError,
    SignalMissed,
    Summary,
    Total,
)
from gz_tui.pipeline.runner import Pipeline
from gz_tui.pipeline.snapshot import ListerState, Snapshot
from gz_tui.untrusted import inert, redact, redact_values

PROGRESS_SECONDS = 2.0

PLANNED_WORDS = {
    PlannedAction.CLONE: "would clone",
    PlannedAction.UPDATE: "would update",
    PlannedAction.UNCHANGED: "unchanged",
    PlannedAction.REFUSE: "would refuse",
}
"""A dry run's line per repo, by what a real run would do with it."""


class HeadlessReporter:
    """Turns pipeline events into output. JSON mode: every event, verbatim, one per line.

    Whatever is written is redacted last (:mod:`gz_tui.untrusted`), so a secret registered for the log
    (the CLI registers the token) cannot reach stdout or stderr either, even if a forge echoes it.
    """

    def __init__(self, *, json_mode: bool, out: TextIO, err: TextIO, color: bool, several: bool = False) -> None:
        self.json_mode = json_mode
        self.several = several
        """A run of several targets: each line about one of them starts with its name."""
        self.out = out
        self.err = err
        self.color = color
        self.on_output_closed: Callable[[], None] | None = None
        """Called once when whoever reads stdout has gone (``gz-tui --json | head``): the run stops, saved."""
        self.output_closed = False
        self._err_closed = False
        self._target = ""
        self.resume = ""
        """The command that resumes this run (the one typed, without a token), for the lines that say how to."""
        self.interrupted_by: str | None = None
        """The signal that stopped the run (``SIGINT``, ``SIGTERM``), once one has."""
        self.snapshot: Callable[[], Snapshot] | None = None
        """The run's current snapshot, for lines that depend on it (is anything queued while the API waits?)."""

    def event(self, emitted: Emitted) -> None:
        if self.json_mode:
            self._write_out(json.dumps(redact_values(emitted.as_dict()), ensure_ascii=True))  # values only: keys stay parseable
            return
        self._target = f"{inert(emitted.target)}: " if self.several and emitted.target else ""
        match emitted.event:
            case RepoFailed(repo=repo, error_class=error_class, message=message, attempts=attempts):
                self._line(
                    f"{self._red('failed')} {inert(repo)}: {error_class}: {inert(message)} "
                    f"(after {attempts} attempt{'s' if attempts != 1 else ''})"
                )
            case RateLimitWait() as wait if wait.kind != WaitKind.PACING:
                self._line(wait_line(wait, self.snapshot() if self.snapshot else None))
            case ForgeUnreachable(host=host, stops_at=stops_at):
                self._line(
                    f"the forge at {inert(host)} is unreachable: no repo spends an attempt while it is probed with "
                    f"backoff; the run stops at {wall_time(stops_at)} if it is still down (repos stay pending)"
                )
            case ForgeReachable(host=host, seconds=seconds):
                self._line(f"the forge at {inert(host)} answers again after {countdown(seconds)}; carrying on")
            case RepoPlanned(repo=repo, action=action, reason=reason):
                words = PLANNED_WORDS[action]
                self._write_out(f"{words} {inert(repo)}" + (f" ({inert(reason)})" if reason else ""))
            case Notice(message=message):
                self._line(f"note: {inert(message)}")
            case SignalMissed(repo=repo, refs=refs, signal=signal):
                self._line(
                    f"note: {inert(repo)}: {refs:,} ref{'s' if refs != 1 else ''} moved although its change signal "
                    f"({inert(signal) or 'none'}) did not; fetched"
                )
            case ListingFailed(message=message) | RunError(message=message):
                self._line(f"gz-tui: {inert(message)}")
            case Resume(listing_done=listing_done):
                self._line(f"resuming the interrupted run from {'its queue' if listing_done else 'its listing cursor'}")
            case Summary() as summary if not (summary.exit_code == 2 and summary.listed == 0):
                self._summary(summary)
            case Total() as total:
                self._write_out(
                    f"all {total.targets} targets: cloned {total.cloned:,} · updated {total.updated:,} · "
                    f"unchanged {total.unchanged:,} · skipped {total.skipped:,} · failed {total.failed:,} · "
                    f"{countdown(total.seconds)} · exit code {total.exit_code}"
                )

    def progress(self, snap: Snapshot) -> None:
        c = snap.counts
        if self.json_mode:
            progress = Progress(
                done=c.done,
                listed=c.listed,
                total=c.total,
                failed=c.failed,
                repos_per_second=round(snap.repos_per_second, 2),
                bytes_per_second=round(snap.bytes_per_second),
                buffer_used=snap.buffer_used,
                buffer_capacity=snap.buffer_capacity,
                api_requests=snap.rate.requests,
                state=snap.run_state.value,
            )
            self.event(Emitted(progress, snap.now, snap.targets[0].name if len(snap.targets) == 1 else None))
            return
        # GitHub's org total counts public repos only for non-members: once the listing outgrows it, it says nothing.
        total = f" ({c.total:,} total)" if c.total is not None and c.total > c.listed else ""
        buffer = f"buffer {snap.buffer_used:,}/{snap.buffer_capacity:,}"
        if snap.lister_state == ListerState.BLOCKED:
            buffer += " FULL (backpressure)"
        wait = ""
        if snap.rate.wait_until and snap.rate.wait_kind and snap.rate.wait_kind != WaitKind.PACING:
            wait = f" · API waits {countdown(snap.rate.wait_until - snap.now)} ({WAIT_WORDS[snap.rate.wait_kind]})"
        if snap.outage is not None:
            retry = f", retrying in {countdown(snap.outage.retry_at - snap.now)}" if snap.outage.retry_at else ""
            wait += f" · forge unreachable{retry}"
        self._line(
            f"[{countdown(snap.elapsed)}] {c.done:,}/{c.listed:,} done{total} · {snap.repos_per_second:.1f} repos/s · "
            f"{binary_size(snap.bytes_per_second)}/s · {buffer} · failed {c.failed:,}{wait}"
        )

    def _summary(self, e: Summary) -> None:
        unmatched = f" · nothing matched {e.unmatched}" if e.unmatched else ""
        if e.would_clone is not None:
            text = (
                f"dry run: {e.listed:,} listed · would clone {e.would_clone:,} · would update {e.would_update or 0:,} · "
                + f"unchanged {e.would_leave or 0:,} · "
                + (f"would refuse {e.would_refuse:,} (unsafe names) · " if e.would_refuse else "")
                + f"filtered out {e.skipped:,} · {e.api_requests:,} API request{'' if e.api_requests == 1 else 's'} "
                + f"in {countdown(e.seconds)}{unmatched}"
            )
        else:
            text = (
                f"cloned {e.cloned:,} · updated {e.updated:,} · unchanged {e.unchanged:,} · "
                f"skipped {e.skipped:,} · failed {e.failed:,}{unmatched}"
                + (f" · checked with ls-remote {e.checked:,}" if e.checked else "")
                + (f" · missed by the change signal {e.missed:,}" if e.missed else "")
                + (f" · already done {e.resumed_done:,}" if e.resumed_done else "")
                + (f" · wikis {e.wikis:,}" if e.wikis else "")
                + (f" · LFS {binary_size(e.lfs_bytes)}" if e.lfs_bytes is not None else "")
                + (f" · no longer on the forge {e.gone:,}{_gone_fate(e)}" if e.gone else "")
                + (f" · prune refused ({e.prune_refused})" if e.prune_refused else "")
                + f" · {countdown(e.seconds)} · state {e.state}"
            )
        if e.server:
            text += f" · {inert(e.server)}"
        self._write_out(redact(self._target + text))

    def _line(self, text: str) -> None:
        if self._err_closed:
            return
        try:
            self.err.write(redact(self._target + text) + "\n")
            self.err.flush()
        except (BrokenPipeError, ValueError):
            self._err_closed = True  # nobody reads stderr any more: progress lines are dropped, the run goes on

    def _write_out(self, line: str) -> None:
        if self.output_closed:
            return
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except (BrokenPipeError, ValueError):
            self.output_closed = True
            silence(self.out)
            self._line(f"gz-tui: the output pipe was closed; stopping (state saved; to resume: {self.resume_hint})")
            if self.on_output_closed is not None:
                self.on_output_closed()

    @property
    def resume_hint(self) -> str:
        return self.resume or "run gz-tui again"

    def interrupted(self, signal_name: str) -> None:
        """A signal stopped the run: say so now (the workers stop, their clones are kept or rolled back)."""
        self.interrupted_by = signal_name
        self._line(f"gz-tui: interrupted ({signal_name}); stopping, the state is saved")

    def ended_interrupted(self) -> None:
        """The run stopped for a signal: the last line says how to resume it (a cron log's reader needs it most)."""
        self._line(f"gz-tui: interrupted by {self.interrupted_by}; to resume: {self.resume_hint}")

    def _red(self, word: str) -> str:
        return f"\x1b[31m{word}\x1b[0m" if self.color else word


WAIT_REASONS = {
    "primary": "the API's rate limit is used up",
    "secondary": "the API asked to slow down (secondary rate limit)",
    "throttled": "the API is throttling requests",
    "backoff": "the API failed (server error or connection); retrying",
}


def wait_line(event: RateLimitWait, snap: Snapshot | None) -> str:
    """``waiting 41:09, until 13:52:10: the API's rate limit is used up; 212 queued repos are cloned meanwhile``."""
    seconds = float(event.seconds)
    until = f", until {wall_time(event.until)}" if seconds >= 60 else ""
    text = f"waiting {countdown(seconds)}{until}: {WAIT_REASONS.get(event.kind, event.kind)}"
    if snap is not None:
        busy = snap.counts.queued + snap.counts.active
        if busy:
            text += f"; {busy:,} listed repo{'s are' if busy != 1 else ' is'} cloned meanwhile"
        else:
            text += "; nothing is queued meanwhile"
    if seconds >= 3600:
        text += " — gz-tui keeps the destination locked until then (Ctrl+C stops it; the next run resumes)"
    return text


def silence(stream: TextIO) -> None:
    """Point a closed pipe's descriptor at /dev/null, so the interpreter's final flush cannot fail on it."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def wants_color(stream: TextIO, environ: dict[str, str] | os._Environ[str]) -> bool:
    return stream.isatty() and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


async def run_headless_async(pipeline_for: Callable[[EventSink], Pipeline], reporter: HeadlessReporter) -> int:
    pipeline = pipeline_for(reporter.event)
    reporter.on_output_closed = pipeline.cancel
    reporter.snapshot = pipeline.snapshot
    result = 130

    async def watch_signals() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                reporter.interrupted(signal.Signals(signum).name)
                pipeline.cancel()
                return

    async def report_progress() -> None:
        while True:
            await anyio.sleep(PROGRESS_SECONDS)
            reporter.progress(pipeline.snapshot())

    async with anyio.create_task_group() as group:
        group.start_soon(watch_signals)
        group.start_soon(report_progress)
        result = await pipeline.run()
        group.cancel_scope.cancel()
    if reporter.interrupted_by is not None:
        reporter.ended_interrupted()
        return ExitCode.INTERRUPTED
    return result


def run_headless(
    targets: Settings | Sequence[Settings],
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    clock: Clock = SYSTEM_CLOCK,
    resume: str = "",
) -> int:
    """Run the targets headless; ``resume`` is the command that resumes the run, said when it is interrupted."""
    chosen = [targets] if isinstance(targets, Settings) else list(targets)
    reporter = HeadlessReporter(json_mode=chosen[0].json, out=out, err=err, color=wants_color(err, os.environ), several=len(chosen) > 1)
    reporter.resume = resume
    return anyio.run(run_headless_async, lambda sink: Pipeline(chosen, clock=clock, events=sink), reporter)


def _gone_fate(summary: Summary) -> str:
    """What became of the clones the forge no longer lists: kept, or (``--prune``) moved to the attic and kept."""
    moved, kept = summary.moved, summary.kept
    if not moved and not kept:
        return " (kept)"
    parts = [f"moved to the attic {moved:,}"] if moved else []
    if kept:
        parts.append(f"kept for local work {kept:,}")
    return " (" + ", ".join(parts) + ")"
