"""What every part of the dashboard means and which keys apply when."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = (
    (
        "p",
        "Pause the run: workers finish their current repo and take nothing new; the buffer fills and "
        "the lister stops asking the API. Press p again to carry on. With a target selected (t), p "
        "pauses or unpauses that target alone.",
    ),
    (
        "t",
        "In a run of several targets: select one in the Targets panel (↑/↓ or a click move the "
        "selection, t or Escape gives the keys back to the run). p then pauses just that target: its "
        "repos wait, its buffer fills, its lister stops; the other targets carry on. p again unpauses it.",
    ),
    ("c", "Cancel the run (asks first). Git is stopped, partial clones are removed, finished repos and the checkpoint are kept."),
    ("r", "After a cancel, or a finish with failures: run again from the checkpoint, retrying the failures."),
    ("e", "Enlarge the error log (Enter on an error shows its full text; e or Escape goes back)."),
    ("q", "Quit. While a run is going it asks first, stops the run cleanly and exits with code 130."),
    ("ctrl+c", "Same as q; press it again on the question to confirm."),
    ("ctrl+p", "Command palette: every action that applies right now."),
    ("?", "This help."),
)

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


def help_renderable() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(ratio=1)
    table.add_row(Text("Keys", style="bold underline"), "")
    for key, text in KEYS:
        table.add_row(key, text)
    table.add_row("", "")
    table.add_row(Text("Panels", style="bold underline"), "")
    for name, text in PANELS:
        table.add_row(name, text)
    table.add_row("", "")
    table.add_row("", Text("Colours always come with a word: FULL, WAITING, PAUSED, failed, gave up.", style="dim"))
    return table


class HelpScreen(ModalScreen[None]):
    """Press ``?``, ``q`` or Escape to close."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss_help", "Close", show=True)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog") as scroll:
            scroll.border_title = "gz-tui help"
            yield Static(help_renderable(), id="help-text")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
