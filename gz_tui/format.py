"""Number, size and time formatting shared by the dashboard and headless output."""

from __future__ import annotations

import math


def binary_size(nbytes: float) -> str:
    """1536 → '1.5 KiB'; sizes in binary units as users of git expect."""
    value = float(max(0.0, nbytes))
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def duration(seconds: float | None) -> str:
    """mm:ss under an hour, else h:mm:ss; '--:--' when unknown."""
    if seconds is None or math.isnan(seconds) or math.isinf(seconds):
        return "--:--"
    total = max(0, int(math.ceil(seconds - 1e-9)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
