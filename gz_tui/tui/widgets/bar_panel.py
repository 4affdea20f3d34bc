"""The shape of the one-line panels with a bar: ``Buffer   ━━━━━━━━━━━━━━━━━━━━━  412 / 500  lister fetching page 22``.

A label, a bar and a text (``PanelText``, re-rendered only when its wording changes). A subclass names its label
and reads a snapshot into a ``BarReading``: how full the bar is, what the text says, and whether the panel is in
the state its ``ALARM_CLASS`` marks (the stylesheet turns such a bar the warning colour).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from gz_tui.pipeline.snapshot import Snapshot
from gz_tui.tui.format import Fit
from gz_tui.tui.widgets.panel_text import PanelText


@dataclass(frozen=True, slots=True)
class BarReading:
    """What a bar panel shows for one snapshot."""

    progress: float
    total: float | None
    """None: not known yet (the bar says so by its indeterminate pulse, never by a fraction it would take back)."""
    text: Fit
    alarm: bool = False
    """The panel's ``ALARM_CLASS`` is set (a full buffer, a rate-limit wait)."""


class BarPanel(Horizontal):
    """A label, a bar and a text on one line; subclasses say what a snapshot makes of them (``read``)."""

    DEFAULT_CSS = """
    BarPanel {
        height: 1;
    }
    """

    LABEL: ClassVar[str] = ""
    """The word in the label column (``Progress``, ``Buffer``, ``API``)."""
    ALARM_CLASS: ClassVar[str] = ""
    """The CSS class set while ``BarReading.alarm`` holds (none when empty)."""

    def compose(self) -> ComposeResult:
        yield Label(self.LABEL, classes="panel-label")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False)
        yield PanelText(classes="panel-text")

    def read(self, snap: Snapshot) -> BarReading:
        raise NotImplementedError

    def update_snapshot(self, snap: Snapshot) -> None:
        reading = self.read(snap)
        self.query_one(ProgressBar).update(total=reading.total, progress=reading.progress)
        if self.ALARM_CLASS:
            self.set_class(reading.alarm, self.ALARM_CLASS)
        self.query_one(PanelText).show(reading.text)
