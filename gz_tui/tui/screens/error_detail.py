"""The full text of one error, which the error log has to cut to a line."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from gz_tui.pipeline.snapshot import ErrorView
from gz_tui.tui.format import forge_text, wall_time
from gz_tui.tui.widgets.errors import attempt_text


def error_renderable(error: ErrorView, now: float) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(ratio=1, overflow="fold")
    message = forge_text(error.message)
    message.no_wrap = False
    message.overflow = "fold"
    table.add_row("repository", forge_text(error.repo))
    table.add_row("time", wall_time(error.time))
    table.add_row("class", forge_text(error.error_class))
    table.add_row("attempt", attempt_text(error, now))
    table.add_row("message", message)
    return table


class ErrorDetailScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "close", "Close", show=True, tooltip="Back to the error log")]

    def __init__(self, error: ErrorView, now: float) -> None:
        super().__init__()
        self.error = error
        self.now = now

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="error-dialog") as scroll:
            scroll.border_title = "Error"
            yield Static(error_renderable(self.error, self.now))

    def action_close(self) -> None:
        self.dismiss(None)
