"""``python -m gz_tui`` is the same as the ``gz-tui`` command."""

from gz_tui.cli import entry

entry()
