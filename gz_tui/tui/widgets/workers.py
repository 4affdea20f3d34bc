"""One row per worker, keyed by worker index; only the rows whose text changed are rebuilt.

A line-API widget rather than a ``DataTable``: the table changes on every tick (percent, bytes, elapsed),
and a DataTable re-renders every cell of every row through Rich for each change. Here a changed row is
one ``Text`` rendered once into a cached ``Strip``, so the dashboard costs the clone throughput next to
nothing (bench P6).
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from gz_tui.pipeline.snapshot import Snapshot, WorkerState, WorkerView
from gz_tui.tui.format import TargetNames, binary_size, clock_duration, fit_path, forge_text, percent, short_repo
from gz_tui.tui.widgets.cells import CELL_PADDING, table_line

STATE_STYLES: dict[WorkerState, str] = {
    WorkerState.IDLE: "dim",
    WorkerState.CLONING: "bold green",
    WorkerState.UPDATING: "bold cyan",
    WorkerState.RETRYING: "bold yellow",
    WorkerState.PAUSED: "bold yellow",
    WorkerState.DONE: "dim",
}

COLUMNS: tuple[tuple[str, str, str], ...] = (
    # key, label, justify
    ("index", "#", "right"),
    ("state", "state", "left"),
    ("repo", "repository", "left"),
    ("phase", "phase", "left"),
    ("progress", "%", "right"),
    ("received", "received", "right"),
    ("elapsed", "elapsed", "right"),
)
COLUMN_KEYS = tuple(key for key, _, _ in COLUMNS)
TARGET_COLUMNS: tuple[tuple[str, str, str], ...] = (*COLUMNS[:2], ("target", "target", "left"), *COLUMNS[2:])
"""The columns of a run of several targets: whose repo each worker has."""
TARGET_WIDTHS = (6, 12)
"""Target column bounds (its labels are short: an owner's last segment, see ``TargetNames``)."""
FIXED_WIDTHS = {"index": 2, "state": 8, "progress": 4, "received": 9, "elapsed": 8}
"""Columns whose content has a known width; repository and phase share the rest."""
PHASE_WIDTHS = (10, 22)
"""Phase column bounds: wide enough for "throttled, 1 at a time" when there is room, "receiving" when not."""

Cells = tuple[str, ...]
"""One row's texts, in the order of the columns shown (``COLUMNS`` or ``TARGET_COLUMNS``)."""


def worker_cells(worker: WorkerView, snap: Snapshot, targets: TargetNames | None = None) -> Cells:
    """The plain text of one worker's row (styling is added when the row is built)."""
    busy = worker.repo is not None and worker.state not in (WorkerState.IDLE, WorkerState.DONE)
    elapsed = ""
    if busy and worker.started_at is not None:
        elapsed = clock_duration(snap.now - worker.started_at)
    owner = snap.owner if targets is None else targets.owners.get(worker.target, "")
    cells = (
        str(worker.index),
        worker.state.value,
        short_repo(worker.repo, owner) if worker.repo else "—",
        worker.phase if busy else "",
        percent(worker.percent / 100) if busy and worker.percent is not None else "",
        binary_size(worker.received_bytes) if busy and worker.received_bytes else "",
        elapsed,
    )
    if targets is None:
        return cells
    target = targets.labels.get(worker.target, worker.target) if busy or worker.repo else ""
    return (*cells[:2], target, *cells[2:])


def workers_title(snap: Snapshot) -> str:
    """``Workers  6/8 busy · 2 waiting``: busy counts the workers running git; one queued for a git slot or
    backing off before a retry holds a repo but does no work, and says so apart."""
    busy = sum(1 for w in snap.workers if w.working)
    waiting = sum(1 for w in snap.workers if w.waiting and w.state not in (WorkerState.IDLE, WorkerState.DONE, WorkerState.PAUSED))
    return f"Workers  {busy}/{len(snap.workers)} busy" + (f" · {waiting} waiting" if waiting else "")


def column_widths(width: int, target: int = 0) -> dict[str, int]:
    """Share the widget's width between repository and phase; the other columns are fixed.

    ``target`` is the target column's width in a run of several targets (0: no such column).
    """
    columns = len(TARGET_COLUMNS) if target else len(COLUMNS)
    padding = 2 * CELL_PADDING * columns
    slack = max(0, width - padding - sum(FIXED_WIDTHS.values()) - target)
    low, high = PHASE_WIDTHS
    phase = max(low, min(high, round(slack * 0.4)))
    widths = dict(FIXED_WIDTHS, repo=max(12, slack - phase), phase=phase)
    if target:
        widths["target"] = target
    return widths


def fit_phase(value: str, width: int) -> str:
    """``"receiving objects"`` → ``"receiving"`` and ``"throttled, 1 at a time"`` → ``"throttled"`` when narrow."""
    if len(value) <= width:
        return value
    return value.replace(",", " ").split(" ", 1)[0]


class WorkerTable(ScrollView, can_focus=False):
    """``#  state     repository            phase               %   received   elapsed``."""

    COMPONENT_CLASSES = {"worker-table--header"}

    DEFAULT_CSS = """
    WorkerTable {
        height: auto;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    WorkerTable > .worker-table--header {
        color: $text-muted;
        text-style: bold;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._cells: dict[int, Cells] = {}
        self._strips: dict[int, Strip] = {}
        self._order: list[int] = []
        self._header: Strip | None = None
        self._widths = column_widths(80)
        self._style: Style | None = None
        self._columns = COLUMNS
        self._keys = COLUMN_KEYS
        self._target_width = 0
        """The target column's width; 0 in a run of one target (no such column)."""

    # -- what tests and other widgets read --------------------------------------------------------
    @property
    def row_keys(self) -> list[int]:
        """Worker indexes in display order."""
        return list(self._order)

    def cell_text(self, index: int, column: str) -> str:
        """The text shown in one cell (as fitted to the current width)."""
        value = self._cells[index][self._keys.index(column)]
        return fit_phase(value, self._widths["phase"]) if column == "phase" else value

    # -- updates ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every row (a new run starts with its own workers)."""
        self._cells.clear()
        self._strips.clear()
        self._order.clear()
        self._resize_virtual()
        self.refresh()

    def update_snapshot(self, snap: Snapshot) -> None:
        targets = TargetNames.of(snap)
        self._set_target_width(targets.width(*TARGET_WIDTHS) if targets is not None else 0)
        order = [w.index for w in snap.workers]
        changed_rows: list[int] = []
        for worker in snap.workers:
            cells = worker_cells(worker, snap, targets)
            if self._cells.get(worker.index) != cells:
                self._cells[worker.index] = cells
                self._strips.pop(worker.index, None)
                changed_rows.append(worker.index)
        for gone in set(self._cells) - set(order):
            del self._cells[gone]
            self._strips.pop(gone, None)
        if order != self._order:
            self._order = order
            self._resize_virtual()
            self.refresh()
        else:
            for index in changed_rows:
                self.refresh_line(1 + self._order.index(index))  # virtual line: the header is line 0
        title = workers_title(snap)
        if title != self.border_title:
            self.border_title = title

    def _set_target_width(self, width: int) -> None:
        """Show the target column (a run of several targets) or not; rows are rebuilt only when it changes."""
        if width == self._target_width:
            return
        self._target_width = width
        self._columns = TARGET_COLUMNS if width else COLUMNS
        self._keys = tuple(key for key, _, _ in self._columns)
        self._cells.clear()
        self._strips.clear()
        self._header = None
        self._widths = column_widths(self.scrollable_content_region.width or 80, width)
        self.refresh()

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._order) + 1)

    def on_resize(self, event: events.Resize) -> None:
        self._resize_virtual()

    def _fit(self, width: int) -> None:
        """Recompute column widths for the width rows can use (less the scrollbar, when one shows)."""
        widths = column_widths(width, self._target_width)
        if widths != self._widths:
            self._widths = widths
            self._header = None
            self._strips.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None
        self._header = None
        self._strips.clear()

    # -- rendering --------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        self._fit(width)
        base = self._base_style()
        if y == 0:  # the header stays put when the rows scroll
            if self._header is None:
                header_style = self.get_component_rich_style("worker-table--header")
                self._header = self._strip([Text(label, style=header_style) for _, label, _ in self._columns], base)
            return self._header.crop_extend(0, width, base)
        row = self.scroll_offset.y + y - 1
        if row >= len(self._order):
            return Strip.blank(width, base)
        index = self._order[row]
        strip = self._strips.get(index)
        if strip is None:
            strip = self._strips[index] = self._row_strip(index, base)
        return strip.crop_extend(0, width, base)

    def _base_style(self) -> Style:
        if self._style is None:
            self._style = self.rich_style
        return self._style

    def _row_strip(self, index: int, base: Style) -> Strip:
        cells = self._cells[index]
        texts = []
        for key, value in zip(self._keys, cells, strict=True):
            if key == "state":
                texts.append(Text(value, style=STATE_STYLES.get(WorkerState(value), "")))
            elif key == "phase":
                texts.append(forge_text(fit_phase(value, self._widths["phase"])))
            elif key == "target":
                texts.append(forge_text(fit_path(value, self._widths["target"])))
            elif key == "repo":
                texts.append(forge_text(fit_path(value, self._widths["repo"]), "dim" if value == "—" else ""))
            else:
                texts.append(Text(value))
        return self._strip(texts, base)

    def _strip(self, texts: list[Text], base: Style) -> Strip:
        return table_line(self._columns, self._widths, texts, base, self.app.console)
