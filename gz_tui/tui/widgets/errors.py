"""The error log: newest first, one row per failure, with the retry countdown kept live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable

from gz_tui.pipeline.snapshot import ErrorView, Snapshot
from gz_tui.tui.format import TargetNames, countdown, fit_path, forge_text, short_repo, thousands, wall_time

COLUMNS: tuple[tuple[str, str], ...] = (
    ("time", "time"),
    ("repo", "repository"),
    ("class", "class"),
    ("message", "message"),
    ("attempt", "attempt"),
)
TARGET_COLUMNS: tuple[tuple[str, str], ...] = (COLUMNS[0], ("target", "target"), *COLUMNS[1:])
"""The columns of a run of several targets: whose repo failed."""
TARGET_WIDTHS = (6, 12)


def attempt_text(error: ErrorView, now: float, *, short: bool = False) -> str:
    """``try 2/3, retry in 0:04`` · ``try 2/3, retried`` · ``try 3/3, gave up`` · ``try 1/3, not retried``.

    ``short`` drops the words a narrow column cannot afford: ``2/3, retry 0:04``.
    """
    tries = f"{error.attempt}/{error.max_attempts}" if short else f"try {error.attempt}/{error.max_attempts}"
    if error.retry_at is not None:
        if error.retry_at > now:
            return f"{tries}, retry {'' if short else 'in '}{countdown(error.retry_at - now)}"
        return f"{tries}, retried"
    if error.attempt >= error.max_attempts:
        return f"{tries}, gave up"
    return f"{tries}, {'no retry' if short else 'not retried'}"


def errors_title(snap: Snapshot) -> str:
    """The panel's title counts final failures, and the failed attempts that were retried apart: ``Errors 0 ·
    10 retried`` is a run that recovered from every one of them."""
    if not snap.error_count:
        return "Errors — none so far"
    title = f"Errors {thousands(snap.counts.failed)}"
    return title + (f" · {thousands(snap.retried)} retried" if snap.retried else "")


@dataclass(frozen=True)
class _Stamp:
    """The time cell: renders ``HH:MM:SS`` and carries the error's sequence number for sorting."""

    seq: int
    text: str

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(self.text, no_wrap=True)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(len(self.text), len(self.text))


class ErrorLog(DataTable[object]):
    """``12:01:03  foo  network  remote end hung up unexpectedly   try 2/3, retry in 0:04``."""

    DEFAULT_CSS = """
    ErrorLog {
        height: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "show_error", "Details", show=True, tooltip="Show the full text of the error under the cursor")
    ]

    class Selected(Message):
        """The user asked for the full text of one error."""

        def __init__(self, error: ErrorView) -> None:
            self.error = error
            super().__init__()

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False, show_cursor=False)
        self._errors: dict[int, ErrorView] = {}
        """Shown errors by sequence number (1 = the run's first error)."""
        self._attempts: dict[int, str] = {}
        self._now: float | None = None
        self._owner = ""
        self._targets: TargetNames | None = None
        """Set in a run of several targets (the log then has a target column)."""
        self._target_width = 0
        self._widths = {"repo": 20, "class": 9, "message": 30, "attempt": 22}
        self._add_columns()

    def _add_columns(self) -> None:
        for key, label in TARGET_COLUMNS if self._target_width else COLUMNS:
            self.add_column(label, key=key)

    # -- layout ------------------------------------------------------------------------------
    def _fit(self, width: int) -> bool:
        columns = len(TARGET_COLUMNS) if self._target_width else len(COLUMNS)
        padding = 2 * self.cell_padding * columns
        slack = max(0, width - 2 - padding - 8 - self._target_width)
        attempt = 22 if slack >= 80 else 15
        klass = 9
        repo = max(14, min(24, round((slack - attempt - klass) * 0.33)))
        message = max(12, slack - attempt - klass - repo)
        widths = {"repo": repo, "class": klass, "message": message, "attempt": attempt}
        if self._target_width:
            widths["target"] = self._target_width
        changed = widths != self._widths
        self._widths = widths
        return changed

    def on_focus(self, event: events.Focus) -> None:
        self.show_cursor = True

    def on_blur(self, event: events.Blur) -> None:
        self.show_cursor = False

    def on_resize(self, event: events.Resize) -> None:
        if self._fit(event.size.width) and self._errors:
            for seq, error in self._errors.items():
                for key, cell in self._cells(error, None).items():
                    self.update_cell(str(seq), key, cell, update_width=True)
            self._attempts.clear()
            if self._now is not None:
                self._update_attempts(self._now)

    def _fixed(self, key: str, text: Text) -> Text:
        width = self._widths[key]
        text.truncate(width, overflow="ellipsis", pad=True)
        text.no_wrap = True
        return text

    def _cells(self, error: ErrorView, now: float | None) -> dict[str, object]:
        cells: dict[str, object] = {}
        owner = self._owner
        if self._targets is not None:
            owner = self._targets.owners.get(error.target, "")
            label = self._targets.labels.get(error.target, error.target)
            cells["target"] = self._fixed("target", forge_text(fit_path(label, self._widths["target"])))
        cells |= {
            "repo": self._fixed("repo", forge_text(fit_path(short_repo(error.repo, owner), self._widths["repo"]), "bold")),
            "class": self._fixed("class", forge_text(error.error_class)),
            "message": self._fixed("message", forge_text(error.message)),
        }
        if now is not None:
            cells["attempt"] = self._attempt_cell(error, now)
        return cells

    def _attempt_cell(self, error: ErrorView, now: float) -> Text:
        text = attempt_text(error, now, short=self._widths["attempt"] < 22)
        style = "yellow" if error.retry_at is not None and error.retry_at > now else ""
        if text.endswith("gave up"):
            style = "bold red"
        return self._fixed("attempt", Text(text, style=style))

    # -- data --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every row (a new run starts its own error log)."""
        self.clear()
        self._errors.clear()
        self._attempts.clear()

    def error_at_cursor(self) -> ErrorView | None:
        if not self._errors or self.cursor_row < 0:
            return None
        try:
            key = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value
        except Exception:
            return None
        return self._errors.get(int(key)) if key is not None else None

    def action_show_error(self) -> None:
        error = self.error_at_cursor()
        if error is not None:
            self.post_message(self.Selected(error))

    def _update_attempts(self, now: float) -> None:
        self._now = now
        short = self._widths["attempt"] < 22
        for seq, error in self._errors.items():
            text = attempt_text(error, now, short=short)
            if self._attempts.get(seq) != text:
                self.update_cell(str(seq), "attempt", self._attempt_cell(error, now), update_width=True)
                self._attempts[seq] = text

    def _set_targets(self, targets: TargetNames | None) -> None:
        """A run of several targets gets a target column; the rows are made again only when that changes."""
        width = targets.width(*TARGET_WIDTHS) if targets is not None else 0
        columns_change = width != self._target_width
        self._targets = targets
        if not columns_change:
            return
        self._target_width = width
        self.clear(columns=True)
        self._errors.clear()
        self._attempts.clear()
        self._add_columns()
        self._fit(self.size.width or 100)

    def update_snapshot(self, snap: Snapshot) -> None:
        self._owner = snap.owner
        self._set_targets(TargetNames.of(snap))
        newest = snap.error_count
        oldest_kept = newest - len(snap.errors) + 1
        if self._errors and max(self._errors) > newest:
            self.reset()  # a new run restarted the count
        for seq in [s for s in self._errors if s < oldest_kept]:
            self.remove_row(str(seq))
            del self._errors[seq]
            self._attempts.pop(seq, None)
        added = False
        for offset, error in enumerate(snap.errors):
            seq = newest - offset
            if seq in self._errors:
                continue
            cells = self._cells(error, snap.now)
            stamp = _Stamp(seq, wall_time(error.time))
            self.add_row(stamp, *cells.values(), key=str(seq))
            self._errors[seq] = error
            self._attempts[seq] = attempt_text(error, snap.now, short=self._widths["attempt"] < 22)
            added = True
        if added:
            self.sort("time", key=lambda stamp: stamp.seq, reverse=True)
        self._update_attempts(snap.now)
        shown = len(self._errors)
        self.show_header = shown > 0
        title = errors_title(snap)
        if snap.error_count > shown:
            title += f" · newest {thousands(shown)} shown"
        if title != self.border_title:  # assigning repaints, even when unchanged
            self.border_title = title
