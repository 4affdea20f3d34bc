"""The Textual dashboard (the only part of gz-tui that imports Textual)."""

from gz_tui.tui.app import GzTuiApp, make_app

__all__ = ["GzTuiApp", "make_app"]
