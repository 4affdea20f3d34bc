"""The Textual app: wires settings, the pipeline factory and the clock to the dashboard screen.

Behaviour lives in ``screens/`` and ``widgets/``; this module only builds the app (``make_app``, used by
``cli.py`` and the tests), routes the global quit keys and fills the command palette with the dashboard's
keys that apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from gz_tui.clock import SYSTEM_CLOCK, Clock
from gz_tui.config import Settings
from gz_tui.pipeline.control import PipelineFactory
from gz_tui.pipeline.snapshot import Snapshot
from gz_tui.tui.screens.dashboard import DashboardScreen


class GzTuiApp(App[int]):
    """The dashboard for one gz-tui run; its result is the run's exit code."""

    CSS_PATH = "app.tcss"
    TITLE = "gz-tui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, tooltip="Same as q; press it again on the question to confirm"),
        # Textual's own ctrl+p binding, declared here to say what the palette holds ("palette" is the footer's word).
        Binding(
            "ctrl+p",
            "command_palette",
            "palette",
            show=False,
            priority=True,
            tooltip="Command palette: every action that applies right now",
        ),
    ]
    """The global keys (the dashboard's are in ``DashboardScreen.BINDINGS``)."""

    def __init__(self, targets: Sequence[Settings], factory: PipelineFactory, clock: Clock = SYSTEM_CLOCK, *, demo: bool = False) -> None:
        super().__init__()
        self.targets = tuple(targets)
        self.factory = factory
        self.clock = clock
        self.demo = demo

    def get_default_screen(self) -> Screen[None]:
        self._dashboard = DashboardScreen(self.targets, self.factory, self.clock, demo=self.demo)
        return self._dashboard

    def closing_snapshot(self) -> Snapshot | None:
        """The run as it stood when the dashboard closed (for the lines the CLI prints after it), if it started."""
        dashboard = getattr(self, "_dashboard", None)
        return dashboard.closing_snapshot() if dashboard is not None else None

    @property
    def dashboard(self) -> DashboardScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, DashboardScreen)
        return screen

    async def action_quit(self) -> None:
        """``q``, Ctrl+C, Ctrl+Q and the palette: asks first while a run is going."""
        self.dashboard.request_quit()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The dashboard's keys that apply now, then Textual's commands but its Quit (the dashboard has one)."""
        own = self.dashboard.commands()
        yield from own
        titles = {command.title for command in own}
        yield from (command for command in super().get_system_commands(screen) if command.title not in titles)


def make_app(
    targets: Settings | Sequence[Settings], factory: PipelineFactory, clock: Clock = SYSTEM_CLOCK, *, demo: bool = False
) -> GzTuiApp:
    """The one way to build the dashboard, for ``cli.py`` and the tests.

    ``targets`` holds one ``Settings`` per target of the run (a lone ``Settings`` is a run of one target, as
    ``make_pipeline`` takes it). ``demo``: a ``--demo`` run (its end explains the planted failures). ``factory(targets)`` is always given the list; it is called once at start
    and again, each with ``retry_failed=True``, for each ``r``.
    """
    return GzTuiApp([targets] if isinstance(targets, Settings) else targets, factory, clock, demo=demo)
