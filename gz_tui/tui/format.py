"""Plain formatting helpers for the dashboard: numbers, sizes, durations, wall-clock times, forge text.

The helpers return ``str``, or Rich renderables (``rich.text.Text`` for untrusted forge strings, ``Fit`` for a
panel's wordings); nothing here imports Textual, so the rules of the dashboard (thousands separators, binary
units, mm:ss / hh:mm:ss) live in one place and are tested without an app.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

from gz_tui.format import binary_size, countdown, wall_time
from gz_tui.untrusted import inert

if TYPE_CHECKING:
    from gz_tui.pipeline.snapshot import Snapshot

__all__ = ["binary_size", "countdown", "wall_time"]


def thousands(value: int | float | None) -> str:
    """``1234567`` → ``"1,234,567"``; None → ``"—"``."""
    if value is None:
        return "—"
    return f"{round(value):,}"


def binary_rate(bytes_per_second: float) -> str:
    """``19293798.4`` → ``"18.4 MiB/s"``."""
    return f"{binary_size(bytes_per_second)}/s"


def repo_rate(repos_per_second: float) -> str:
    """Repos per second with one decimal (two below 0.1, so a slow run never reads 0.0)."""
    if 0 < repos_per_second < 0.1:
        return f"{repos_per_second:.2f} repos/s"
    return f"{repos_per_second:,.1f} repos/s"


def clock_duration(seconds: float | None) -> str:
    """A fixed-width elapsed time, always ``hh:mm:ss`` (``00:12:41``); None → ``--:--:--``."""
    if seconds is None:
        return "--:--:--"
    minutes, secs = divmod(max(0, int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02}:{minutes:02}:{secs:02}"


def percent(fraction: float | None) -> str:
    """``0.593`` → ``"59%"``; None → ``"—"``. Never shows 100% before the work is complete."""
    if fraction is None:
        return "—"
    value = max(0.0, min(1.0, fraction)) * 100
    shown = int(value) if value < 100 else 100
    return f"{shown}%"


def forge_text(text: str, style: str = "") -> Text:
    """Forge text as a ``Text`` object: never parsed as markup, made inert (``gz_tui.untrusted``) like everywhere."""
    return Text(inert(text), style=style, no_wrap=True, overflow="ellipsis")


def short_repo(repo: str, owner: str) -> str:
    """A repo's name relative to the owner (``acme/tools`` under ``acme`` → ``tools``)."""
    prefix = owner.rstrip("/") + "/"
    return repo[len(prefix) :] if owner and repo.startswith(prefix) else repo


def fit_path(path: str, width: int) -> str:
    """Shorten a ``/`` path to ``width`` keeping its last segment whole, which names the repo:
    ``platform/core/libs/repo-00068`` → ``plat…/repo-00068``. A name too long for that is cut in the middle,
    keeping its start and its end (``legacy-billing-service-v2`` → ``legacy-b…vice-v2``): names of one org
    often share a prefix and differ at the end, so an end cut would make two repos read the same."""
    if len(path) <= width:
        return path
    if width <= 1:
        return "…"[:width]
    head, slash, leaf = path.rpartition("/")
    room = width - len(leaf) - 2
    if slash and room >= 0:  # at worst …/leaf: the leaf names the repo
        return f"{head[:room]}…/{leaf}"
    kept = width - 1
    start = kept // 2
    return f"{path[:start]}…{path[len(path) - (kept - start) :]}"


def target_label(forge: str, owner: str) -> str:
    """How a target is named in the targets panel: ``github/acme``, ``gitlab/platform/infra``, ``gitlab/*`` (``--all``)."""
    return f"{forge}/{owner.strip('/')}"


def short_target_labels(targets: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """Target name → the short label of the worker and error tables: the owner's last segment (the end of
    its panel label), or ``forge/owner`` where two targets would read the same.

    ``targets`` are ``(name, forge, owner)`` triples.
    """
    items = list(targets)
    # A whole instance (``--all``, owner ``*``) reads as its name: the instance's host.
    leaves = [name if owner == "*" else owner.strip("/").rpartition("/")[2] for name, _, owner in items]
    full = [target_label(forge, owner) for _, forge, owner in items]
    # Two listings of one owner (``octocat`` and ``octocat+gists``) read as their names.
    return {
        name: leaf if leaves.count(leaf) == 1 else label if full.count(label) == 1 else name
        for (name, _, _), leaf, label in zip(items, leaves, full, strict=True)
    }


@dataclass(frozen=True, slots=True)
class TargetNames:
    """What the worker and error tables of a run of several targets show about them."""

    labels: dict[str, str]
    """Target name → its short label (``short_target_labels``)."""
    owners: dict[str, str]
    """Target name → its owner (repo names are shown relative to it)."""

    @classmethod
    def of(cls, snap: Snapshot) -> TargetNames | None:
        """None for a run of one target: its tables have no target column."""
        if len(snap.targets) < 2:
            return None
        return cls(
            short_target_labels((t.name, t.forge, t.owner) for t in snap.targets),
            {t.name: t.owner for t in snap.targets},
        )

    def width(self, low: int, high: int) -> int:
        """A target column's width: its longest label, within bounds."""
        return max(low, min(high, max((len(label) for label in self.labels.values()), default=0)))


def common_parent(paths: Iterable[str]) -> str:
    """The folder several destinations share (``/srv/mirror`` for ``/srv/mirror/a`` and ``/srv/mirror/b``),
    or ``""`` when they share no more than the root."""
    items = [path.rstrip("/") or "/" for path in paths]
    if not items:
        return ""
    try:
        shared = os.path.commonpath(items)
    except ValueError:  # relative and absolute mixed
        return ""
    return "" if shared in ("", "/", ".") else shared


def home_path(path: str) -> str:
    """``/home/me/src/acme`` → ``~/src/acme`` when under the home directory."""
    home = os.path.expanduser("~")
    if home not in ("", "/") and (path == home or path.startswith(home + os.sep)):
        return "~" + path[len(home) :]
    return path


class Fit:
    """A one-line renderable that shows the longest of its variants that fits the width it is given.

    Panels pass a long, a medium and a short wording; an 80-column terminal gets the short one without
    the widget having to know its own size.
    """

    def __init__(self, *variants: Text) -> None:
        if not variants:
            raise ValueError("Fit needs at least one variant")
        self.variants = variants

    def choose(self, width: int) -> Text:
        for variant in self.variants:
            if variant.cell_len <= width:
                return variant
        return self.variants[-1]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        text = self.choose(options.max_width).copy()
        text.no_wrap = True
        text.overflow = "ellipsis"
        yield text

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        shortest = min(v.cell_len for v in self.variants)
        return Measurement(min(shortest, options.max_width), max(v.cell_len for v in self.variants))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fit) and self.variants == other.variants

    __hash__ = None  # type: ignore[assignment]

    @property
    def plain(self) -> str:
        """The longest wording (for tests and logs)."""
        return self.variants[0].plain
