"""Regenerate the SVG screenshots in ``screenshots/`` from the fixed demo data.

    python -m gz_tui.tui.screenshots [--out screenshots] [--png]

The snapshot tests (``tests/test_tui_snapshots.py``) render the very same apps, so the screenshots show
exactly what the tests pin down. ``--png`` also writes PNGs with ``rsvg-convert`` when it is installed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from gz_tui.clock import FakeClock
from gz_tui.tui import demo_data
from gz_tui.tui.app import GzTuiApp, make_app

SIZE = (100, 32)
"""The terminal size of the screenshots and snapshot tests (columns, rows)."""

NARROW = (80, 24)
"""The smallest terminal the dashboard is designed for."""

SHOTS: tuple[tuple[str, str, tuple[int, int]], ...] = (
    ("mid-run", "mid-run", SIZE),
    ("paused-full-buffer", "paused-full-buffer", SIZE),
    ("waiting-rate-limit", "waiting-rate-limit", SIZE),
    ("finished-with-errors", "finished-with-errors", SIZE),
    ("mid-run-80x24", "mid-run", NARROW),
    ("several-targets", "several-targets", SIZE),
    ("several-targets-80x24", "several-targets", NARROW),
    ("prune-question", "prune-question", SIZE),
)
"""File name, demo state, terminal size."""


def demo_app(state: str) -> GzTuiApp:
    """A dashboard showing one fixed demo state: no forge, no pipeline, a frozen clock, no animation."""
    snapshot = demo_data.STATES[state]()
    app = make_app(demo_data.settings_for(state), demo_data.StaticFactory(snapshot), FakeClock(snapshot.now))
    app.animation_level = "none"
    return app


def render(state: str, size: tuple[int, int]) -> str:
    from textual._doc import take_svg_screenshot  # the function pytest-textual-snapshot uses

    with demo_data.fixed_timezone():
        return take_svg_screenshot(app=demo_app(state), terminal_size=size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gz_tui.tui.screenshots", description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--out", type=Path, default=Path("screenshots"), help="output folder (default: screenshots)")
    parser.add_argument("--png", action="store_true", help="also write PNGs (needs rsvg-convert)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    converter = shutil.which("rsvg-convert") if args.png else None
    if args.png and converter is None:
        print("rsvg-convert not found: writing SVGs only", file=sys.stderr)
    for name, state, size in SHOTS:
        svg = render(state, size)
        path = args.out / f"{name}.svg"
        path.write_text(svg, encoding="utf-8", newline="\n")
        print(path)
        if converter:
            # rsvg collapses the SVG's runs of non-breaking spaces unless told to preserve them.
            preserved = svg.replace("<svg ", '<svg xml:space="preserve" ', 1)
            png = path.with_suffix(".png")
            subprocess.run([converter, "-o", str(png)], input=preserved.encode(), check=True)
            print(png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
