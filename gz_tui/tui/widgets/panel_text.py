"""The text half of a one-line panel (``1,234 / 2,104  58%  ETA 3:27``)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from gz_tui.tui.format import Fit


class PanelText(Static):
    """Re-rendered only when its wording changes, and never re-laid out: it is one line whatever it says.

    The dashboard ticks at 4 Hz while most of its numbers move once a second, so most ticks change nothing.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._shown: Fit | Text | None = None

    def show(self, content: Fit | Text) -> None:
        if content == self._shown:
            return
        self._shown = content
        self.update(content, layout=False)
