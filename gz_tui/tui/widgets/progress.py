"""Overall progress: a bar of done over the goal, the counts behind it and the ETA."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar, Static

from gz_tui.pipeline.stats import ListerState, RunState, Snapshot
from gz_tui.tui.format import Fit, countdown, percent, thousands


def progress_text(snap: Snapshot) -> Fit:
    """``1,234 / 2,104  58%  ETA 3:27`` (+ ``· 1,300 listed`` while the listing is behind the total)."""
    counts = snap.counts
    done = counts.done
    core = Text()
    extra = Text()
    if counts.total is not None:
        goal = counts.total
        core.append(f"{thousands(done)} / {thousands(goal)}", style="bold")
        core.append(f"  {percent(done / goal if goal else 1.0)}")
        if counts.listed < goal:
            extra.append(f"  · {thousands(counts.listed)} listed")
    else:
        core.append(f"{thousands(done)} / {thousands(counts.listed)}", style="bold")
        if snap.lister_state == ListerState.DONE:
            core.append(f"  {percent(done / counts.listed if counts.listed else 1.0)}")
        else:
            core.append(" listed so far")
    if snap.run_state in (RunState.FINISHED, RunState.CANCELLED, RunState.FAILED):
        pass
    elif snap.run_state == RunState.PAUSED:
        core.append("  ETA paused")
    else:
        eta = snap.eta_seconds
        core.append(f"  ETA {countdown(eta)}" if eta is not None else "  ETA —")
    return Fit(core + extra, core)


class ProgressPanel(Horizontal):
    """``Progress ━━━━━━━━━━━━━━━━━━━━━━━━  1,234 / 2,104  58%  ETA 3:27``."""

    DEFAULT_CSS = """
    ProgressPanel {
        height: 1;
    }
    """

    def compose(self) -> ComposeResult:
        yield Label("Progress", classes="panel-label")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="progress-bar")
        yield Static(id="progress-text", classes="panel-text")

    def update_snapshot(self, snap: Snapshot) -> None:
        counts = snap.counts
        goal = counts.total if counts.total is not None else counts.listed
        self.query_one(ProgressBar).update(total=max(goal, counts.done, 1), progress=counts.done)
        self.query_one("#progress-text", Static).update(progress_text(snap))
