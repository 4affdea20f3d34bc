"""One row per worker, keyed by worker index and updated cell by cell."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from gz_tui.pipeline.stats import Snapshot, WorkerState, WorkerView
from gz_tui.tui.format import binary_size, clock_duration, forge_text, percent, short_repo

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
FIXED_WIDTHS = {"index": 2, "state": 8, "progress": 4, "received": 9, "elapsed": 8}
"""Columns whose content has a known width; repository and phase share the rest."""

Cells = tuple[str, str, str, str, str, str, str]


def worker_cells(worker: WorkerView, snap: Snapshot) -> Cells:
    """The plain text of one worker's row (styling is added when the cells are built)."""
    busy = worker.repo is not None and worker.state not in (WorkerState.IDLE, WorkerState.DONE)
    elapsed = ""
    if busy and worker.started_at is not None:
        elapsed = clock_duration(snap.now - worker.started_at)
    return (
        str(worker.index),
        worker.state.value,
        short_repo(worker.repo, snap.owner) if worker.repo else "—",
        worker.phase if busy else "",
        percent(worker.percent / 100) if busy and worker.percent is not None else "",
        binary_size(worker.received_bytes) if busy and worker.received_bytes else "",
        elapsed,
    )


class WorkerTable(DataTable[Text]):
    """``#  state     repository            phase               %   received   elapsed``."""

    DEFAULT_CSS = """
    WorkerTable {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="none", zebra_stripes=False, show_cursor=False)
        self.can_focus = False
        self._shown: dict[int, Cells] = {}
        self._last: Snapshot | None = None
        self._widths: dict[str, int] = dict(FIXED_WIDTHS, repo=20, phase=12)
        self._refit = True
        """Column widths only change after a resize; otherwise cells are padded to fixed widths."""
        for key, label, justify in COLUMNS:
            self.add_column(Text(label, justify=justify), key=key)  # type: ignore[arg-type]

    def _fit(self, width: int) -> bool:
        """Share the table's width between repository and phase; True when the widths changed."""
        padding = 2 * self.cell_padding * len(COLUMNS)
        slack = max(0, width - 2 - padding - sum(FIXED_WIDTHS.values()))
        phase = max(8, min(19, round(slack * 0.35)))
        repo = max(12, slack - phase)
        widths = dict(FIXED_WIDTHS, repo=repo, phase=phase)
        changed = widths != self._widths
        self._widths = widths
        return changed

    def on_resize(self, event: events.Resize) -> None:
        if self._fit(event.size.width):
            self._refit = True
            self._shown = {key: ("",) * len(COLUMNS) for key in self._shown}  # type: ignore[misc]
            if self._last is not None:
                self.update_snapshot(self._last)

    def _cell(self, key: str, value: str, worker: WorkerView) -> Text:
        width = self._widths[key]
        if key == "state":
            text = Text(value, style=STATE_STYLES.get(worker.state, ""))
        elif key == "phase":
            if len(value) > width:  # "receiving objects" → "receiving" in a narrow column
                value = value.split(" ", 1)[0]
            text = forge_text(value)
        elif key == "repo":
            text = forge_text(value, "dim" if value == "—" else "")
        else:
            text = Text(value)
        justify = "right" if key in ("index", "progress", "received", "elapsed") else "left"
        text.truncate(width, overflow="ellipsis", pad=False)
        if justify == "right":
            text.pad_left(width - text.cell_len)
        else:
            text.pad_right(width - text.cell_len)
        text.no_wrap = True
        return text

    def reset(self) -> None:
        """Forget every row (a new run starts with its own workers)."""
        self.clear()
        self._shown.clear()
        self._last = None

    def update_snapshot(self, snap: Snapshot) -> None:
        self._last = snap
        wanted = {w.index for w in snap.workers}
        for index in [i for i in self._shown if i not in wanted]:
            self.remove_row(str(index))
            del self._shown[index]
        for worker in snap.workers:
            cells = worker_cells(worker, snap)
            if worker.index not in self._shown:
                row = [self._cell(key, value, worker) for (key, _, _), value in zip(COLUMNS, cells)]
                self.add_row(*row, key=str(worker.index))
            else:
                before = self._shown[worker.index]
                for (key, _, _), old, new in zip(COLUMNS, before, cells):
                    if old != new:
                        self.update_cell(str(worker.index), key, self._cell(key, new, worker), update_width=self._refit)
            self._shown[worker.index] = cells
        self._refit = False
        busy = sum(1 for w in snap.workers if w.state not in (WorkerState.IDLE, WorkerState.DONE, WorkerState.PAUSED))
        title = f"Workers  {busy}/{len(snap.workers)} busy"
        if title != self.border_title:
            self.border_title = title
