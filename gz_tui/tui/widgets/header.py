"""The status line: what is being cloned where, the run-state word and the elapsed time."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from gz_tui.pipeline.snapshot import RunState, Snapshot
from gz_tui.tui.format import clock_duration, common_parent, forge_text, home_path
from gz_tui.tui.widgets.targets import tally

STATE_STYLES: dict[RunState, str] = {
    RunState.STARTING: "bold",
    RunState.LISTING: "bold cyan",
    RunState.RUNNING: "bold green",
    RunState.PAUSED: "bold black on yellow",
    RunState.WAITING: "bold black on yellow",
    RunState.FINISHED: "bold green",
    RunState.CANCELLED: "bold black on yellow",
    RunState.FAILED: "bold white on red",
}
"""Each state word has a colour, and every colour comes with its word."""


def state_word(snap: Snapshot, *, stopping: bool = False) -> Text:
    """``RUNNING``, ``PAUSED``, … with its colour; ``FINISHED`` turns red when repos failed."""
    if stopping and not snap.run_state.terminal:
        return Text(" STOPPING ", style="bold black on yellow")
    style = STATE_STYLES.get(snap.run_state, "bold")
    word = snap.run_state.value.upper()
    if snap.run_state == RunState.FINISHED and snap.counts.failed:
        return Text.assemble((f" {word} ", "bold white on red"), (f" {snap.counts.failed:,} failed", "bold"))
    return Text(f" {word} ", style=style)


def _host(api_host: str) -> str:
    return api_host[4:] if api_host.startswith("api.") else api_host


def several_targets(snap: Snapshot) -> Text:
    """``3 targets · 1 paused · 1 done → /srv/mirror`` (the folder their destinations share, if any)."""
    targets = snap.targets
    text = Text.assemble((f"{len(targets)} targets", "bold"), tally(targets))
    shared = common_parent(t.dest for t in targets)
    if shared:
        text.append(" → ")
        text.append_text(forge_text(home_path(shared)))
    return text


class StatusHeader(Static):
    """``gz-tui  github.com/acme → /srv/mirror/acme            RUNNING  00:12:41``
    (``gz-tui  3 targets · 1 done → /srv/mirror`` for a run of several)."""

    DEFAULT_CSS = """
    StatusHeader {
        height: 1;
        width: 1fr;
    }
    """

    _shown: tuple[Text, Text] | None = None

    def update_snapshot(self, snap: Snapshot, *, stopping: bool = False) -> None:
        if len(snap.targets) > 1:
            where = Text.assemble(("gz-tui ", "bold"), " ", several_targets(snap))
        else:
            host = _host(snap.api_host)
            # Name the forge when its host does not (a GitHub Enterprise, a self-hosted GitLab, the demo forge).
            forge = "" if snap.forge.lower() in host.lower() else f"{snap.forge} "
            where = Text.assemble(
                ("gz-tui ", "bold"),
                " ",
                (forge, "dim"),
                forge_text(f"{host}/{snap.owner}" if host else snap.owner, "bold"),
                " → ",
                forge_text(home_path(snap.dest)),
            )
        if snap.dry_run:
            where.append("  DRY RUN", style="bold reverse")
        where.no_wrap = True
        where.overflow = "ellipsis"
        status = Text.assemble("  ", state_word(snap, stopping=stopping), "  ", clock_duration(snap.elapsed))
        if (where, status) == self._shown:
            return  # 4 ticks a second, one new elapsed second: most ticks change nothing here
        self._shown = (where, status)
        grid = Table.grid(expand=True, padding=0)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(justify="right", no_wrap=True)
        grid.add_row(where, status)
        self.update(grid, layout=False)  # one line, always: no re-layout of the screen each tick
