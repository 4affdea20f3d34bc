"""The targets of a run of several: one row per target with its progress, its counts and its lister.

Shown only when a run has two targets or more. Rows are keyed by target name and built like the worker
table's: each tick a row's cells are compared with the ones shown, and only a changed row is rendered
again (one ``Text`` into a cached ``Strip``), so the panel costs O(targets) a tick and nothing more.

The user selects a row (``t`` focuses the panel, arrows or a click move the cursor) and ``p`` asks for
that target alone to be paused or unpaused; the panel only asks (``PauseRequested``), the dashboard does it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from gz_tui.format import WAIT_WORDS
from gz_tui.pipeline.snapshot import ListerState, RunState, Snapshot, TargetView
from gz_tui.tui.format import (
    Fit,
    countdown,
    fit_path,
    forge_text,
    home_path,
    percent,
    target_label,
    thousands,
    wall_time,
)
from gz_tui.tui.widgets.cells import CELL_PADDING, table_line

COLUMNS: tuple[tuple[str, str, str], ...] = (
    # key, label, justify
    ("target", "target", "left"),
    ("bar", "progress", "left"),
    ("done", "done", "right"),
    ("percent", "%", "right"),
    ("listed", "listed", "right"),
    ("failed", "failed", "right"),
    ("state", "state", "left"),
)
STATE_MIN = 13
"""Room for ``WAITING 41:09``: the state column never gets less."""
STATE_WANTED = 28
"""The state column's wish, whatever the states say now (columns do not move from tick to tick): room for
a state's middle wording (``WAITING 0:41 · primary limit``)."""
LABEL_BOUNDS = (10, 26)
BAR_BOUNDS = (4, 8, 20)
"""The bar's least width, the width it keeps unless the state would get less than ``STATE_MIN``, its most."""

_BLOCK = "bold black on yellow"
_PAUSE_TARGET_HELP = "With a target selected (t), p pauses or unpauses that target alone."


def tally(targets: Sequence[TargetView]) -> str:
    """`` · 1 paused · 1 done · 1 failed`` (empty while every target simply runs): for titles and the header."""
    counted = (
        ("paused", sum(1 for t in targets if t.paused and not t.run_state.terminal)),
        ("done", sum(1 for t in targets if t.run_state == RunState.FINISHED)),
        ("failed", sum(1 for t in targets if t.run_state == RunState.FAILED)),
        ("cancelled", sum(1 for t in targets if t.run_state == RunState.CANCELLED)),
    )
    return "".join(f" · {n} {word}" for word, n in counted if n)


def goal(target: TargetView) -> int:
    """Done of what: the forge's total, or more when the listing found more (as the Progress panel)."""
    counts = target.counts
    return max(counts.total, counts.listed) if counts.total is not None else counts.listed


def is_waiting(target: TargetView, now: float) -> bool:
    rate = target.rate
    return rate.wait_kind is not None and rate.wait_until is not None and rate.wait_until > now


def state_text(target: TargetView, now: float) -> Fit:
    """What the target is doing, longest wording first: ``WAITING 0:41 · primary limit, until 08:13:22``,
    ``PAUSED``, ``blocked — buffer full``, ``listing page 22``, ``syncing · 12 to go``, ``done``, ``FAILED: …``.

    Each word's colour is a span of its own: the words after it stay plain."""
    counts = target.counts
    if target.run_state == RunState.FINISHED:
        return Fit(Text.assemble(("done", "bold green" if not counts.failed else "bold")))
    if target.run_state == RunState.CANCELLED:
        cancelled = Text.assemble(("cancelled", "bold yellow"))
        if target.lister_state == ListerState.STOPPED:
            return Fit(Text.assemble(cancelled, " · listing stopped"), cancelled)
        return Fit(cancelled)
    if target.run_state == RunState.FAILED or target.lister_state == ListerState.FAILED:
        if target.run_state == RunState.FAILED:
            word = Text.assemble(("FAILED", "bold white on red"))
        else:
            word = Text.assemble(("listing failed", "bold red"))
        if target.message:
            return Fit(Text.assemble(word, ": ", forge_text(target.message)), word)
        return Fit(word)
    if target.paused:
        paused = Text.assemble(("PAUSED", _BLOCK))
        return Fit(Text.assemble(paused, " — takes nothing new"), paused)
    if is_waiting(target, now):
        rate = target.rate
        kind = rate.wait_kind or ""
        words = WAIT_WORDS.get(kind, kind)
        head = Text.assemble(("WAITING", _BLOCK), (f" {countdown((rate.wait_until or now) - now)}", "bold"))
        return Fit(
            Text.assemble(head, f" · {words}, until {wall_time(rate.wait_until)}"),
            Text.assemble(head, f" · {words}"),
            head,
        )
    full = target.buffer_capacity > 0 and target.buffer_used >= target.buffer_capacity
    if target.lister_state == ListerState.BLOCKED or full:
        blocked = Text.assemble(("blocked", "bold"))
        return Fit(Text.assemble(blocked, f" — buffer full ({thousands(target.buffer_used)})"), blocked)
    if target.lister_state == ListerState.FETCHING:
        page = target.lister_page
        return Fit(Text(f"listing page {thousands(page)}" if page else "listing"), Text(f"listing p.{page}" if page else "listing"))
    if target.lister_state == ListerState.WAITING:
        waiting = Text.assemble(("WAITING", _BLOCK))
        return Fit(Text.assemble(waiting, " on the API"), waiting)
    if target.lister_state == ListerState.DONE:
        # Listed, not synced: the short wording must not read as finished (a 68 % target is not "done").
        left = goal(target) - counts.done
        if left > 0:
            return Fit(
                Text(f"syncing · {thousands(left)} to go, all listed"),
                Text(f"syncing · {thousands(left)} to go"),
                Text(f"{thousands(left)} to go"),
            )
        return Fit(Text("finishing"))
    return Fit(Text.assemble(("starting", "dim")))


@dataclass(frozen=True, slots=True)
class TargetRow:
    """What one row shows, as compared from tick to tick (a row is rendered again only when this changes)."""

    name: str
    label: str
    fraction: float
    finished: bool
    done: str
    percent: str
    listed: str
    failed: str
    failed_any: bool
    state: Fit
    paused: bool
    pausable: bool
    """Its own work is not over: pausing it still means something."""
    detail: Text
    """What the panel's title says while this row is selected: name, forge/owner, folder, message."""


def target_row(target: TargetView, now: float) -> TargetRow:
    counts = target.counts
    done = counts.done
    heading_for = goal(target)
    listing_on = counts.total is None and target.lister_state not in (ListerState.DONE, ListerState.FAILED, ListerState.STOPPED)
    goal_text = thousands(heading_for) + ("+" if listing_on and not target.run_state.terminal else "")
    finished = target.run_state == RunState.FINISHED
    fraction = 1.0 if finished else (done / heading_for if heading_for else 0.0)
    detail = Text()
    if target.name != target.owner:  # a [targets.NAME] of the config file: say which
        detail.append_text(forge_text(target.name, "bold"))
        detail.append(": ")
    detail.append_text(forge_text(target_label(target.forge, target.owner)))
    detail.append(" → ")
    detail.append_text(forge_text(home_path(target.dest)))
    if target.message:
        detail.append(" · ")
        detail.append_text(forge_text(target.message, "bold red" if target.run_state == RunState.FAILED else "bold"))
    return TargetRow(
        name=target.name,
        label=target_label(target.forge, target.owner),
        fraction=max(0.0, min(1.0, fraction)),
        finished=finished,
        done=f"{thousands(done)} / {goal_text}",
        percent=percent(done / heading_for) if heading_for and not listing_on else ("100%" if finished else ""),
        listed=thousands(counts.listed),
        failed=thousands(counts.failed),
        failed_any=counts.failed > 0,
        state=state_text(target, now),
        paused=target.paused,
        pausable=not target.run_state.terminal,
        detail=detail,
    )


def column_widths(width: int, rows: list[TargetRow]) -> dict[str, int]:
    """Numbers get what they need; the label, the bar and the state share the rest. The state gets room
    for a countdown with its reason (``STATE_WANTED``) before the bar grows, and never less than ``STATE_MIN``."""
    widths = {
        "done": max([len("done")] + [len(r.done) for r in rows]),
        "percent": 4,
        "listed": max([6] + [len(r.listed) for r in rows]),
        "failed": max([6] + [len(r.failed) for r in rows]),
    }
    slack = max(0, width - 2 * CELL_PADDING * len(COLUMNS) - sum(widths.values()))
    label_low, label_high = LABEL_BOUNDS
    bar_low, bar_roomy, bar_high = BAR_BOUNDS
    label_wanted = max(label_low, min(label_high, max([len("target")] + [len(r.label) for r in rows])))
    bar = max(bar_roomy, min(bar_high, slack - label_wanted - STATE_WANTED))
    label = min(label_wanted, max(label_low, slack - bar - STATE_MIN))
    state = slack - bar - label
    if state < STATE_MIN:
        bar = max(bar_low, bar - (STATE_MIN - state))
        state = slack - bar - label
    return dict(widths, target=label, bar=bar, state=max(1, state))


class TargetsPanel(ScrollView, can_focus=True):
    """``target  progress  done  %  listed  failed  state`` — one row per target, a cursor while focused."""

    COMPONENT_CLASSES = {
        "targets-panel--header",
        "targets-panel--cursor",
        "targets-panel--bar",
        "targets-panel--bar-complete",
    }

    DEFAULT_CSS = """
    TargetsPanel {
        height: auto;
        max-height: 40%;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    TargetsPanel > .targets-panel--header {
        color: $text-muted;
        text-style: bold;
    }
    TargetsPanel > .targets-panel--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    TargetsPanel > .targets-panel--bar {
        color: $primary;
        background: $surface;
    }
    TargetsPanel > .targets-panel--bar-complete {
        color: $success;
        background: $surface;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False, tooltip="Select the target above"),
        Binding("down", "cursor(1)", "Down", show=False, tooltip="Select the target below"),
        Binding("home", "cursor(-1000000)", "First", show=False, tooltip="Select the first target"),
        Binding("end", "cursor(1000000)", "Last", show=False, tooltip="Select the last target"),
        Binding("p", "pause_target", "Pause target", id="pause-target", tooltip="Pause the selected target alone"),
        Binding("p", "unpause_target", "Unpause target", id="unpause-target", tooltip="Carry on with the selected target"),
        Binding("escape", "leave", "Back to the run", show=False, tooltip="Give the keys back to the whole run"),
    ]

    KEY_HELP: ClassVar[dict[str, str]] = {
        "pause_target": _PAUSE_TARGET_HELP,
        "unpause_target": _PAUSE_TARGET_HELP,
    }
    """What the help screen adds to the dashboard's ``p`` (``gz_tui.tui.keys``)."""

    class PauseRequested(Message):
        """The user asked for one target to be paused (``pause``) or to carry on."""

        def __init__(self, name: str, pause: bool) -> None:
            self.name = name
            self.pause = pause
            super().__init__()

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._rows: dict[str, TargetRow] = {}
        self._views: dict[str, TargetView] = {}
        """The snapshot data each row was made from: an unchanged target costs one comparison a tick."""
        self._strips: dict[str, Strip] = {}
        self._order: list[str] = []
        self._cursor = 0
        self._steerable = False
        self._header: Strip | None = None
        self._widths: dict[str, int] = {}
        self._width = -1
        self._styles: dict[str, Style] = {}
        self._counts_title = ""
        self._title_shown: Text | None = None

    # -- what tests and the dashboard read ----------------------------------------------------
    @property
    def row_keys(self) -> list[str]:
        """Target names in display order."""
        return list(self._order)

    @property
    def selected(self) -> str | None:
        """The target under the cursor while the panel has focus; None otherwise (``p`` is the run's)."""
        if not self.has_focus or not self._order:
            return None
        return self._order[min(self._cursor, len(self._order) - 1)]

    def cached_line(self, name: str) -> Strip | None:
        """The target's row as rendered and kept between ticks; None once it is to be rendered again."""
        return self._strips.get(name)

    def keys_state(self) -> tuple[object, ...]:
        """What the footer's ``p`` depends on: the selected target and whether it is paused or over."""
        name = self.selected
        row = self._rows.get(name) if name is not None else None
        return (name, row.paused if row else None, row.pausable if row else None, self._steerable)

    # -- updates ------------------------------------------------------------------------------
    def reset(self) -> None:
        self._rows.clear()
        self._views.clear()
        self._strips.clear()
        self._order.clear()
        self._resize_virtual()
        self.refresh()

    def update_snapshot(self, snap: Snapshot, *, steerable: bool) -> None:
        """Compare each target's row with the one shown; render again only what changed."""
        self._steerable = steerable
        order = [t.name for t in snap.targets]
        changed: list[str] = []
        for target in snap.targets:
            if self._views.get(target.name) == target and target.rate.wait_until is None:
                continue  # the same target, no countdown: the same row
            self._views[target.name] = target
            row = target_row(target, snap.now)
            if self._rows.get(target.name) != row:
                self._rows[target.name] = row
                self._strips.pop(target.name, None)
                changed.append(target.name)
        for gone in set(self._rows) - set(order):
            del self._rows[gone]
            self._views.pop(gone, None)
            self._strips.pop(gone, None)
        relayout = order != self._order or self._widths != self._fit_widths()
        if relayout:
            self._order = order
            self._cursor = min(self._cursor, max(0, len(order) - 1))
            self._widths = self._fit_widths()
            self._strips.clear()
            self._header = None
            self._resize_virtual()
            self.refresh()
        else:
            for name in changed:
                self.refresh_line(1 + self._order.index(name))
        self._counts_title = f"Targets  {len(order)}{tally(snap.targets)}"
        self._show_title()

    def _show_title(self) -> None:
        """The counts, or while a row is selected, that target's name, forge/owner, folder and message."""
        name = self.selected
        title = Text.assemble("Target ", self._rows[name].detail) if name is not None else Text(self._counts_title)
        if title != self._title_shown:  # assigning repaints, even when unchanged
            self._title_shown = title
            self.border_title = title

    def _fit_widths(self) -> dict[str, int]:
        return column_widths(self.scrollable_content_region.width, [self._rows[n] for n in self._order if n in self._rows])

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(self.size.width, 1 + len(self._order))

    def on_resize(self, event: events.Resize) -> None:
        self._resize_virtual()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._header = None
        self._strips.clear()

    # -- selection ----------------------------------------------------------------------------
    def on_focus(self, event: events.Focus) -> None:
        self._selection_changed()

    def on_blur(self, event: events.Blur) -> None:
        self._selection_changed()

    def _selection_changed(self) -> None:
        self._strips.clear()  # the cursor row's highlight comes and goes
        self._scroll_to_cursor()
        self._show_title()
        self.refresh()
        self.refresh_bindings()

    def action_cursor(self, step: int) -> None:
        if not self._order:
            return
        cursor = max(0, min(len(self._order) - 1, self._cursor + step))
        if cursor != self._cursor:
            self._cursor = cursor
            self._selection_changed()

    def on_click(self, event: events.Click) -> None:
        row = self.scroll_offset.y + event.y - 1
        if 0 <= row < len(self._order):
            self._cursor = row
            if self.has_focus:
                self._selection_changed()
            else:
                self.focus()

    def _scroll_to_cursor(self) -> None:
        visible = max(1, self.scrollable_content_region.height - 1)
        top = self.scroll_offset.y
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + visible:
            self.scroll_to(y=self._cursor - visible + 1, animate=False, immediate=True)

    def action_leave(self) -> None:
        self.screen.set_focus(None)

    # -- p ------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        name = self.selected
        row = self._rows.get(name) if name is not None else None
        if action == "pause_target":
            if row is None or not self._steerable or row.paused:
                return False
            return True if row.pausable else None  # a finished target: shown, greyed out
        if action == "unpause_target":
            return row is not None and self._steerable and row.paused
        return True

    def action_pause_target(self) -> None:
        if self.selected is not None:
            self.post_message(self.PauseRequested(self.selected, pause=True))

    def action_unpause_target(self) -> None:
        if self.selected is not None:
            self.post_message(self.PauseRequested(self.selected, pause=False))

    # -- rendering ----------------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.rich_style if name == "base" else self.get_component_rich_style(name)
        return style

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            widths = self._fit_widths()
            if widths != self._widths:
                self._widths = widths
                self._strips.clear()
                self._header = None
        base = self._style("base")
        if y == 0:  # the header stays put when the rows scroll
            if self._header is None:
                header = self._style("targets-panel--header")
                self._header = self._line([Text(label, style=header) for _, label, _ in COLUMNS], base)
            return self._header.crop_extend(0, width, base)
        focused = self.has_focus
        row = self.scroll_offset.y + y - 1
        if row >= len(self._order):
            return Strip.blank(width, base)
        name = self._order[row]
        strip = self._strips.get(name)
        if strip is None:
            selected = focused and row == self._cursor
            line_style = base + self._style("targets-panel--cursor") if selected else base
            strip = self._strips[name] = self._row_strip(self._rows[name], line_style, selected)
        return strip.crop_extend(0, width, base)

    def _bar(self, fraction: float, finished: bool, selected: bool) -> Text:
        width = self._widths["bar"]
        style = self._style("targets-panel--bar-complete" if finished else "targets-panel--bar")
        # On the cursor row the bar keeps its colours: it is drawn on the panel's own background (the cursor's
        # is often the bar's colour), so a selected target's progress reads as it does on any other row.
        behind = self._style("base").bgcolor if selected else None
        on = Style(color=style.color, bgcolor=behind)
        off = Style(color=style.bgcolor, bgcolor=behind)
        cells = fraction * width
        full = int(cells)
        half = full < width and cells - full >= 0.5
        bar = Text("━" * full, style=on)
        if half:
            bar.append("╸", style=on)
        bar.append("━" * (width - full - (1 if half else 0)), style=off)
        return bar

    def _row_strip(self, row: TargetRow, base: Style, selected: bool) -> Strip:
        failed_style = "bold red" if row.failed_any else ""
        texts = [
            forge_text(fit_path(row.label, self._widths["target"]), "bold"),
            self._bar(row.fraction, row.finished, selected),
            Text(row.done),
            Text(row.percent),
            Text(row.listed),
            Text(row.failed, style=failed_style),
            row.state.choose(self._widths["state"]).copy(),
        ]
        return self._line(texts, base)

    def _line(self, texts: list[Text], base: Style) -> Strip:
        return table_line(COLUMNS, self._widths, texts, base, self.app.console)
