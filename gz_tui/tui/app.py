"""The Textual app: wires settings, the pipeline factory and the clock to the dashboard screen.

Behaviour lives in ``screens/`` and ``widgets/``; this module only builds the app (``make_app``, used by
``cli.py`` and the tests), routes the global quit keys and lists the run's actions in the command palette.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from gz_tui.clock import SYSTEM_CLOCK, Clock
from gz_tui.config import Settings
from gz_tui.pipeline.control import PipelineFactory
from gz_tui.tui.screens.dashboard import DashboardScreen

PALETTE_ACTIONS = (
    ("pause", "Pause", "Let workers finish their current repo and take nothing new"),
    ("unpause", "Unpause", "Carry on after a pause"),
    ("cancel", "Cancel the run", "Stop git, keep finished repos and the checkpoint"),
    ("resume", "Resume", "Run again from the checkpoint, retrying failures"),
    ("retry", "Retry failed", "Run again from the checkpoint, retrying the failed repos"),
    ("targets", "Select a target", "Choose one target of the run, to pause or unpause it on its own"),
    ("errors", "Errors", "Enlarge the error log"),
    ("help", "Help", "What the panels mean and which keys apply"),
)


class GzTuiApp(App[int]):
    """The dashboard for one gz-tui run; its result is the run's exit code."""

    CSS_PATH = "app.tcss"
    TITLE = "gz-tui"
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True)]

    def __init__(self, targets: Sequence[Settings], factory: PipelineFactory, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__()
        self.targets = tuple(targets)
        self.factory = factory
        self.clock = clock

    def get_default_screen(self) -> Screen[None]:
        return DashboardScreen(self.targets, self.factory, self.clock)

    @property
    def dashboard(self) -> DashboardScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, DashboardScreen)
        return screen

    async def action_quit(self) -> None:
        """``q``, Ctrl+C, Ctrl+Q and the palette: asks first while a run is going."""
        self.dashboard.request_quit()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        dashboard = self.dashboard
        for action, title, help_text in PALETTE_ACTIONS:
            if dashboard.check_action(action, ()):
                yield SystemCommand(title, help_text, getattr(dashboard, f"action_{action}"))
        yield from super().get_system_commands(screen)


def make_app(targets: Settings | Sequence[Settings], factory: PipelineFactory, clock: Clock = SYSTEM_CLOCK) -> GzTuiApp:
    """The one way to build the dashboard, for ``cli.py`` and the tests.

    ``targets`` holds one ``Settings`` per target of the run (a lone ``Settings`` is a run of one target, as
    ``make_pipeline`` takes it). ``factory(targets)`` is always given the list; it is called once at start
    and again, each with ``retry_failed=True``, for each ``r``.
    """
    return GzTuiApp([targets] if isinstance(targets, Settings) else targets, factory, clock)
