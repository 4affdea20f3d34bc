"""``gz-tui status [DEST]``: what the state of a destination holds, fast even for 100,000 repos."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gz_tui.pipeline.state import StateError, StateStore, default_state_path
from gz_tui.untrusted import inert


def status_command(argv: Sequence[str], *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="gz-tui status", description="Show what the state of a destination holds.")
    parser.add_argument("dest", nargs="?", type=Path, default=Path("."), help="the destination folder (default .)")
    parser.add_argument("--state", type=Path, help="the state database, if not DEST/.gz-tui/state.sqlite3")
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    path = args.state or default_state_path(args.dest)
    if not path.is_file():
        err.write(f"gz-tui: no gz-tui state at {path}; run gz-tui there first (or pass --state)\n")
        return 2
    try:
        store = StateStore.open(path)
        try:
            report = store.report()
            run = report.run
            gone = store.gone_from_forge(run.id, Path(run.dest or args.dest)) if run and run.listing_done else []
        finally:
            store.close()
    except StateError as exc:  # damaged, unreadable, or on a failing disk: one line, whatever the query that met it
        err.write(f"gz-tui: {exc}\n")
        return 2
    if report.run is None:
        out.write(f"{path}: no runs recorded yet\n")
        return 0
    run = report.run
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started_at))
    finished = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.finished_at)) if run.finished_at else "not finished"
    done = sum(report.counts.values())
    out.write(f"{run.forge} {inert(run.owner)} ({run.base_url})\n")
    out.write(f"last run #{run.id}: {run.status}, started {started}, {finished}\n")
    breakdown = ", ".join(f"{k} {v:,}" for k, v in sorted(report.counts.items()))
    out.write(
        (f"done {done:,} ({breakdown})" if done else "nothing done yet")
        + f" · pending {report.pending:,}"
        + ("" if run.listing_done else " · listing not finished")
        + "\n"
    )
    if report.top_errors:
        out.write("top errors:\n")
        out.writelines(f"  {count:>6,}  {error_class}: {inert(message)}\n" for error_class, message, count in report.top_errors)
    if gone:
        out.write(f"no longer listed by the forge, left on disk ({len(gone):,}):\n")
        out.writelines(f"  {inert(rel_path)}\n" for rel_path in gone[:50])
        if len(gone) > 50:
            out.write(f"  … and {len(gone) - 50:,} more\n")
    if run.status != "finished":
        out.write("run gz-tui again on this destination to resume\n")
    return 0
