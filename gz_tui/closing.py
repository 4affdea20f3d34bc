"""What the terminal holds once the dashboard has closed: the alternate screen takes the dashboard with it, so the
lines a headless run prints (a summary per target, the total) and how the run ended, with what to do next, are
printed after it. Built from the run's last snapshot; everything from a forge is made inert first."""

from __future__ import annotations

import shlex

from gz_tui.format import countdown
from gz_tui.kinds import ExitCode
from gz_tui.pipeline.snapshot import Counts, Snapshot
from gz_tui.untrusted import inert, redact


def _counts_line(counts: Counts) -> str:
    line = (
        f"cloned {counts.cloned:,} · updated {counts.updated:,} · unchanged {counts.unchanged:,} · "
        f"skipped {counts.skipped:,} · failed {counts.failed:,}"
    )
    if counts.resumed_done:
        line += f" · already done {counts.resumed_done:,}"
    if counts.listed and counts.done < counts.listed:
        line += f" · not done {counts.listed - counts.done:,}"
    return line


def closing_lines(snap: Snapshot, code: int, resume: str, *, demo: bool = False) -> list[str]:
    """The lines to print after the dashboard closed with exit code ``code``; ``resume``: the command that resumes
    the run (``cli.resume_command``: the one typed, without its token), or "" when there is none to give."""
    lines = []
    targets = snap.targets or ()
    elapsed = countdown(max(0.0, snap.now - snap.started_at))
    if len(targets) > 1:
        for target in targets:
            lines.append(f"{inert(target.name)}: {_counts_line(target.counts)} · state {inert(target.state_path)}")
        lines.append(f"all {len(targets)} targets: {_counts_line(snap.counts)} · {elapsed}")
    else:
        state = f" · state {inert(snap.state_path)}" if snap.state_path else ""
        lines.append(f"{inert(snap.owner)}: {_counts_line(snap.counts)} · {elapsed}{state}")
    dests = [t.dest for t in targets] or [snap.dest]
    status = " or ".join(f"`gz-tui status {shlex.quote(dest)}`" for dest in dict.fromkeys(dests))
    if code == ExitCode.INTERRUPTED:
        again = f"`{resume}`" if resume else "the same command"
        lines.append(f"interrupted (exit code 130): nothing is lost; run {again} again to resume where it stopped")
    elif code == ExitCode.FAILED:
        failed = snap.counts.failed
        what = f"{failed:,} repo{'s' if failed != 1 else ''} failed" if failed else "the run did not finish cleanly"
        lines.append(f"finished with errors (exit code 1): {what}; {status} lists them, and a new run retries them")
        if demo:
            lines.append(
                "(the demo forge plants hostile entries — names, URLs and refs built to attack a cloner — to show what "
                "gz-tui refuses: those are the failures)"
            )
    elif code == ExitCode.USAGE:
        message = f": {inert(snap.message)}" if snap.message else ""
        lines.append(f"stopped (exit code 2){message}")
    elif code == ExitCode.OK:
        lines.append(f"finished (exit code 0); {status} shows the backup")
    else:
        lines.append(f"ended with exit code {code}")
    return [redact(line) for line in lines]
