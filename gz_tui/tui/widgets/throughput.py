"""Speed: a sparkline of repos finished per second, the current rates and the outcome counters."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Sparkline

from gz_tui.pipeline.snapshot import Snapshot
from gz_tui.tui.format import Fit, binary_rate, repo_rate, thousands
from gz_tui.tui.widgets.panel_text import PanelText

HISTORY_SECONDS = 120
"""How much throughput history the sparkline shows."""


def throughput_text(snap: Snapshot) -> Fit:
    """``4.2 repos/s  18.4 MiB/s  cloned 1,180  updated 41  failed 13`` (shorter when narrow)."""
    counts = snap.counts
    rates = Text()
    if snap.run_state.terminal:
        worked = counts.done - counts.resumed_done
        rates.append(f"average {repo_rate(worked / snap.elapsed if snap.elapsed > 0 else 0.0)}", style="bold")
    else:
        rates.append(repo_rate(snap.repos_per_second), style="bold")
        rates.append("  ")
        rates.append(binary_rate(snap.bytes_per_second), style="bold")
    failed = Text("  ")
    failed.append(f"failed {thousands(counts.failed)}", style="bold red" if counts.failed else "")
    main = Text(f"  cloned {thousands(counts.cloned)}  updated {thousands(counts.updated)}")
    more = Text()
    if counts.unchanged:
        more.append(f"  unchanged {thousands(counts.unchanged)}")
    if counts.skipped:
        more.append(f"  skipped {thousands(counts.skipped)}")
    return Fit(rates + main + more + failed, rates + main + failed, rates + failed, rates)


class ThroughputPanel(Horizontal):
    """``Speed    ▁▂▃▅▇█▇▅▆▇  4.2 repos/s  18.4 MiB/s  cloned 1,180  updated 41  failed 13``."""

    DEFAULT_CSS = """
    ThroughputPanel {
        height: 1;
    }
    """

    def compose(self) -> ComposeResult:
        yield Label("Speed", classes="panel-label")
        yield Sparkline((), id="throughput-sparkline")
        yield PanelText(id="throughput-text", classes="panel-text")

    def update_snapshot(self, snap: Snapshot) -> None:
        recent = snap.throughput[-HISTORY_SECONDS:]
        # A fixed time scale: a young run's few seconds sit at the right, not stretched over the width.
        samples = (0.0,) * (HISTORY_SECONDS - len(recent)) + tuple(recent)
        sparkline = self.query_one(Sparkline)
        if tuple(sparkline.data or ()) != samples:
            sparkline.data = samples
        self.query_one("#throughput-text", PanelText).show(throughput_text(snap))
