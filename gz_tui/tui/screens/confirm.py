"""A yes/no question in a modal: the answer is the screen's result."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """``Cancel the run?`` with a safe default: Escape, ``n`` or the focused "No" button answer no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", show=False, tooltip="Answer yes"),
        Binding("n,escape", "answer(False)", "No", show=False, tooltip="Answer no (the safe answer)"),
        Binding("left,right", "app.focus_next", show=False, tooltip="Move between the two answers"),
    ]

    def __init__(self, question: str, detail: str, *, yes: str = "Yes", no: str = "No", kind: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes_label = yes
        self.no_label = no
        self.kind = kind
        """What is being confirmed ("quit", "cancel"): lets a second Ctrl+C confirm a quit."""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question, id="question")
            yield Static(self.detail, id="detail", markup=False)
            with Horizontal(id="buttons"):
                yield Button(f"{self.yes_label} (y)", variant="error", id="yes")
                yield Button(f"{self.no_label} (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
