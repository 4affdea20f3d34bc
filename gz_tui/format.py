"""Size, time and name-list formatting shared by the dashboard, headless output and notices (no Textual here)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

_BINARY_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def binary_size(nbytes: int | float | None) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 KiB``, ``212 MiB``, ``3.25 GiB``-style, at most 3 digits."""
    if nbytes is None:
        return "—"
    value = float(max(0, nbytes))
    if value < 1024:
        return f"{int(value)} B"
    for unit in _BINARY_UNITS:
        value /= 1024
        if value < 1024 or unit == _BINARY_UNITS[-1]:
            if value < 9.995:
                return f"{value:.2f} {unit}"
            if value < 99.95:
                return f"{value:.1f} {unit}"
            return f"{value:,.0f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def countdown(seconds: float | None) -> str:
    """A short duration or countdown: ``0:58``, ``41:09``, ``1:02:03``; None → ``—``.

    Countdowns round up, so "retry in 0:00" is only shown once the deadline has actually passed.
    """
    if seconds is None:
        return "—"
    whole = math.ceil(seconds) if seconds > 0 else 0
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}:{minutes:02}:{secs:02}"
    return f"{minutes}:{secs:02}"


def some_of(names: Sequence[str], limit: int) -> str:
    """The first ``limit`` of ``names``, then how many more: ``a, b, c and 1,204 more``."""
    return ", ".join(names[:limit]) + (f" and {len(names) - limit:,} more" if len(names) > limit else "")


def wall_time(epoch: float | None) -> str:
    """Local wall-clock time of an epoch timestamp, ``13:52:10``."""
    if epoch is None:
        return "--:--:--"
    return time.strftime("%H:%M:%S", time.localtime(epoch))


WAIT_WORDS = {
    "primary": "primary limit",
    "secondary": "secondary limit",
    "throttled": "throttled",
    "backoff": "server error, backing off",
    "pacing": "pacing",
}
"""A few words for each kind of API wait, the same on the dashboard and in headless progress lines."""
