"""One line of a line-API table (the worker table, the targets panel): cells truncated, justified and padded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

CELL_PADDING = 1
"""Spaces on each side of a cell, like a DataTable's."""


def table_line(
    columns: Sequence[tuple[str, str, str]], widths: Mapping[str, int], texts: Sequence[Text], base: Style, console: Console
) -> Strip:
    """``columns`` are (key, label, justify); each text is cut to its column's width with an ellipsis."""
    line = Text(style=base, no_wrap=True, end="")
    pad = " " * CELL_PADDING
    for (key, _, justify), text in zip(columns, texts, strict=True):
        width = widths[key]
        text.truncate(width, overflow="ellipsis", pad=False)
        gap = " " * (width - text.cell_len)
        line.append(pad)
        if justify == "right":
            line.append(gap)
            line.append_text(text)
        else:
            line.append_text(text)
            line.append(gap)
        line.append(pad)
    return Strip(list(line.render(console)), line.cell_len)
