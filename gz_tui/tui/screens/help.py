"""What every part of the dashboard means and which keys apply when.

The key table is not written here: the dashboard reads it from its bindings (``gz_tui.tui.keys``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from gz_tui.tui.keys import KeyHelp

PANELS = (
    ("Progress", "Repos done (cloned, updated, unchanged, skipped or failed) over the forge's total, and the ETA."),
    ("Speed", "Repos finished per second over the last minutes, current rates, and the outcome counters."),
    ("Buffer", "Repos listed but not yet taken by a worker. FULL means the lister waits for the workers."),
    ("API", "Requests left before the forge's rate limit resets; while a limit is hit, a countdown."),
    (
        "Targets",
        "In a run of several targets, one row each: forge/owner, its progress (done of what it "
        "listed or the forge's total), repos listed and failed, and what it is doing: listing, "
        "WAITING with a countdown, blocked on its full buffer, PAUSED, done, FAILED. The selected "
        "target's folder and message show under the rows. The panels above count the whole run.",
    ),
    ("Workers", "What each worker is doing: repository (and its target), git phase, progress, bytes received, time on it."),
    ("Errors", "Newest first: when, which repo, what kind of failure, the message and the retry plan."),
)


def help_renderable(keys: Sequence[KeyHelp]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(ratio=1)
    table.add_row(Text("Keys", style="bold underline"), "")
    for row in keys:
        table.add_row(row.key, row.text)
    table.add_row("", "")
    table.add_row(Text("Panels", style="bold underline"), "")
    for name, text in PANELS:
        table.add_row(name, text)
    table.add_row("", "")
    table.add_row("", Text("Colours always come with a word: FULL, WAITING, PAUSED, failed, gave up.", style="dim"))
    return table


class HelpScreen(ModalScreen[None]):
    """Press ``?``, ``q`` or Escape to close."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", show=True, tooltip="Close the help")
    ]

    def __init__(self, keys: Sequence[KeyHelp]) -> None:
        super().__init__()
        self.key_rows = tuple(keys)
        """The key table's rows (``DashboardScreen.key_help``)."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog") as scroll:
            scroll.border_title = "gz-tui help"
            yield Static(help_renderable(self.key_rows), id="help-text")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
