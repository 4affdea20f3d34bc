"""The buffer between lister and workers: how full it is, and whether the lister is blocked on it."""

from __future__ import annotations

from rich.text import Text

from gz_tui.pipeline.snapshot import ListerState, RunState, Snapshot
from gz_tui.tui.format import Fit, thousands
from gz_tui.tui.widgets.bar_panel import BarPanel, BarReading


def is_full(snap: Snapshot) -> bool:
    return snap.buffer_capacity > 0 and snap.buffer_used >= snap.buffer_capacity


def buffer_text(snap: Snapshot) -> Fit:
    """``412 / 500  lister fetching page 22`` or ``500 / 500  FULL — lister blocked (backpressure)``."""
    core = Text()
    core.append(f"{thousands(snap.buffer_used)} / {thousands(snap.buffer_capacity)}", style="bold")
    core.append("  ")
    if is_full(snap):
        core.append("FULL", style="bold black on yellow")
        core.append(" — lister blocked")
        return Fit(core + Text(" (backpressure)"), core)
    lister = snap.lister_state
    if lister == ListerState.FETCHING:
        core.append(f"lister fetching page {thousands(snap.lister_page)}" if snap.lister_page else "lister fetching")
    elif lister == ListerState.BLOCKED:
        core.append("lister blocked (backpressure)")
    elif lister == ListerState.WAITING:
        core.append("lister waiting on the API", style="bold")
    elif lister == ListerState.DONE:
        draining = " — paused" if snap.run_state == RunState.PAUSED else " — draining"
        core.append("listing done" + (draining if snap.buffer_used else ""))
    elif lister == ListerState.STOPPED:
        core.append("listing stopped", style="bold")
        if not snap.run_state.terminal or snap.run_state == RunState.CANCELLED:
            return Fit(core + Text(" (the next run resumes it)"), core)
    elif lister == ListerState.FAILED:
        core.append("listing failed", style="bold red")
    else:
        core.append("lister idle")
    return Fit(core)


class BufferGauge(BarPanel):
    """``Buffer   ━━━━━━━━━━━━━━━━━━━━━  500 / 500  FULL — lister blocked (backpressure)``."""

    LABEL = "Buffer"
    ALARM_CLASS = "-full"

    def read(self, snap: Snapshot) -> BarReading:
        capacity = max(snap.buffer_capacity, 1)
        used = min(snap.buffer_used, capacity)
        return BarReading(progress=used, total=capacity, text=buffer_text(snap), alarm=is_full(snap))
