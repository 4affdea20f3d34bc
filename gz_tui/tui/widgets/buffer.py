"""The buffer between lister and workers: how full it is, and whether the lister is blocked on it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from gz_tui.pipeline.stats import ListerState, Snapshot
from gz_tui.tui.format import Fit, thousands
from gz_tui.tui.widgets.panel_text import PanelText


def buffer_text(snap: Snapshot) -> Fit:
    """``412 / 500  lister fetching page 22`` or ``500 / 500  FULL — lister blocked (backpressure)``."""
    core = Text()
    core.append(f"{thousands(snap.buffer_used)} / {thousands(snap.buffer_capacity)}", style="bold")
    core.append("  ")
    full = snap.buffer_capacity > 0 and snap.buffer_used >= snap.buffer_capacity
    if full:
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
        core.append("listing done" + (" — draining" if snap.buffer_used else ""))
    elif lister == ListerState.FAILED:
        core.append("listing failed", style="bold red")
    else:
        core.append("lister idle")
    return Fit(core)


class BufferGauge(Horizontal):
    """``Buffer   ━━━━━━━━━━━━━━━━━━━━━  500 / 500  FULL — lister blocked (backpressure)``."""

    DEFAULT_CSS = """
    BufferGauge {
        height: 1;
    }
    """

    def compose(self) -> ComposeResult:
        yield Label("Buffer", classes="panel-label")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="buffer-bar")
        yield PanelText(id="buffer-text", classes="panel-text")

    def update_snapshot(self, snap: Snapshot) -> None:
        capacity = max(snap.buffer_capacity, 1)
        self.query_one(ProgressBar).update(total=capacity, progress=min(snap.buffer_used, capacity))
        self.set_class(snap.buffer_capacity > 0 and snap.buffer_used >= snap.buffer_capacity, "-full")
        self.query_one("#buffer-text", PanelText).show(buffer_text(snap))
