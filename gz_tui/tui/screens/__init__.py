"""The dashboard's screens: the live run, and the modals it opens."""

from gz_tui.tui.screens.confirm import ConfirmScreen
from gz_tui.tui.screens.dashboard import DashboardScreen
from gz_tui.tui.screens.error_detail import ErrorDetailScreen
from gz_tui.tui.screens.help import HelpScreen

__all__ = ["ConfirmScreen", "DashboardScreen", "ErrorDetailScreen", "HelpScreen"]
