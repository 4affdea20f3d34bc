"""gz-tui: clone and keep in sync every repository of a forge organisation."""

__version__ = "0.1.0"
