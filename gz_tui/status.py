"""``gz-tui status [DEST]``: what the state of a destination holds, fast even for 100,000 repos.

With no DEST, in a folder that holds no state, and with targets configured: every target's last run."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gz_tui.config import ConfigError, resolve_targets, target_names
from gz_tui.kinds import ExitCode, RepoStatus, RunStatus
from gz_tui.layout import STATE_FILE_NAME, default_state_path, shard_dirs
from gz_tui.pipeline.state import StateError, StateStore
from gz_tui.shard import Shard
from gz_tui.untrusted import inert

DESCRIPTION = (
    "Show what the state of a destination holds. With no DEST, in a folder without a state: "
    "the last run of every [targets.NAME] of the config file."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``gz-tui status``'s arguments, on the parser the command line gives it (or :func:`status_command`'s)."""
    parser.add_argument("dest", nargs="?", type=Path, default=None, help="the destination folder (default .)")
    parser.add_argument("--state", type=Path, help="the state database, if not DEST/.gz-tui/state.sqlite3")


def status_command(argv: Sequence[str], *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="gz-tui status", description=DESCRIPTION)
    add_arguments(parser)
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    return show_status(args.dest, args.state, out=out, err=err)


def show_status(dest_given: Path | None, state: Path | None, *, out: TextIO, err: TextIO) -> int:
    """What ``gz-tui status [DEST] [--state PATH]`` prints; 0, or 2 when there is no state or it cannot be read."""
    dest = Path(".") if dest_given is None else dest_given
    path = state or default_state_path(dest)
    shards = shard_dirs(dest) if state is None else []
    if shards:
        code = _report(path, dest, out, err) if path.is_file() else ExitCode.OK
        return max(code, _shards_report(dest, shards, out, err))
    if not path.is_file():
        if dest_given is None and state is None:
            targets = _targets_status(out, err)
            if targets is not None:
                return targets
        err.write(f"gz-tui: no gz-tui state at {path}; run gz-tui there first (or pass --state)\n")
        return ExitCode.USAGE
    return _report(path, dest, out, err)


def _targets_status(out: TextIO, err: TextIO) -> ExitCode | None:
    """Every configured target's last run, a block each; None when no target is configured."""
    try:
        if not target_names():
            return None
        targets = resolve_targets({}, with_tokens=False)
    except ConfigError as exc:
        err.write(f"gz-tui: {exc}\n")
        return ExitCode.USAGE
    worst = ExitCode.OK
    for n, target in enumerate(targets):
        s = target.settings
        dest = s.dest.expanduser()
        path = s.state_path or default_state_path(dest)
        out.write(("\n" if n else "") + f"{target.table} {dest}\n")
        if not path.is_file():
            out.write(f"never run (no state at {path})\n")
            continue
        worst = max(worst, _report(path, dest, out, err, resume=f"run gz-tui sync {s.target} to resume"))
    return worst


def _shards_report(dest: Path, shards: list[tuple[Shard, Path]], out: TextIO, err: TextIO) -> ExitCode:
    """Every shard that kept state in ``dest``: its last run, and whether their union covers the listing."""
    counts = sorted({shard.count for shard, _ in shards})
    worst = ExitCode.OK
    for count in counts:
        present = {shard.index: folder for shard, folder in shards if shard.count == count}
        out.write(f"{count} shards of {dest} (--shard K/{count}):\n")
        done_total = listed_total = 0
        seen: int | None = None
        finished = True
        for index in range(count):
            folder = present.get(index)
            if folder is None:
                out.write(f"  shard {index}: never run\n")
                finished = False
                continue
            try:
                store = StateStore.open(folder / STATE_FILE_NAME)
                try:
                    report = store.runs.report()
                    listed = store.repos.listed_count(report.run.id) if report.run else 0
                    seen = max(seen or 0, store.pages.seen() or 0) or seen
                finally:
                    store.close()
            except StateError as exc:
                err.write(f"gz-tui: {exc}\n")
                worst = ExitCode.USAGE
                finished = False
                continue
            run = report.run
            if run is None:
                out.write(f"  shard {index}: no runs recorded yet\n")
                finished = False
                continue
            done = sum(report.counts.values())
            failed = report.counts.get(RepoStatus.FAILED, 0)
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.finished_at or run.started_at))
            out.write(
                f"  shard {index}: run #{run.id} {run.status} {when} · listed {listed:,} · done {done:,}"
                + (f" · failed {failed:,}" if failed else "")
                + (f" · pending {report.pending:,}" if report.pending else "")
                + "\n"
            )
            finished = finished and run.status == RunStatus.FINISHED and run.listing_done
            done_total += done
            listed_total += listed
        covers = finished and seen is not None and listed_total == seen
        verdict = (
            "covers the whole listing"
            if covers
            else (f"does not cover the whole listing yet ({listed_total:,} of {seen:,} listed repos)" if seen else "is not complete yet")
        )
        out.write(f"  union: {done_total:,} repos done of {listed_total:,} listed by the shards · {verdict}\n")
    return worst


_COVERAGE = (
    ("include", "--include"),
    ("exclude", "--exclude"),
    ("topics", "--topic"),
    ("language", "--language"),
    ("repos_file", "--repos-file"),
    ("affiliation", "--affiliation"),
    ("subgroup_include", "--subgroup-include"),
    ("subgroup_exclude", "--subgroup-exclude"),
    ("skip_archived", "--skip-archived"),
    ("skip_forks", "--skip-forks"),
)


def coverage(options: dict[str, object]) -> str:
    """What limited the repos a run covered, as the flags that say it (empty: every repo of the owner)."""
    said = []
    for key, flag in _COVERAGE:
        value = options.get(key)
        if value is True:
            said.append(flag)
        elif isinstance(value, list) and value:
            said.append(f"{flag} {','.join(inert(str(v)) for v in value)}")
        elif isinstance(value, str) and value:
            said.append(f"{flag} {inert(value)}")
    return " · ".join(said)


def _report(
    path: Path, dest: Path, out: TextIO, err: TextIO, *, resume: str = "run gz-tui again on this destination to resume"
) -> ExitCode:
    """What the state at ``path`` (of the destination ``dest``) holds: ``OK``, or ``USAGE`` if it cannot be read."""
    try:
        store = StateStore.open(path)
        try:
            report = store.runs.report()
            run = report.run
            gone = store.repos.gone_from_forge(run.id, Path(run.dest or dest)) if run and run.listing_done else []
            attic = store.attic.entries()
            options = store.runs.options(run.id) if run else {}
        finally:
            store.close()
    except StateError as exc:  # damaged, unreadable, or on a failing disk: one line, whatever the query that met it
        err.write(f"gz-tui: {exc}\n")
        return ExitCode.USAGE
    if report.run is None:
        out.write(f"{path}: no runs recorded yet\n")
        return ExitCode.OK
    run = report.run
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started_at))
    finished = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.finished_at)) if run.finished_at else "not finished"
    done = sum(report.counts.values())
    out.write(f"{run.forge} {inert(run.owner)} ({run.base_url})\n")
    out.write(f"last run #{run.id}: {run.status}, started {started}, {finished}\n")
    covered = coverage(options)
    if covered:
        out.write(f"covered only: {covered}\n")
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
    if attic:
        out.write(f"in the attic (moved by --prune, nothing deleted) ({len(attic):,}{'+' if len(attic) >= 1000 else ''}):\n")
        for rel_path, where, when in attic[:50]:
            out.write(f"  {inert(rel_path)} → {inert(where)} ({time.strftime('%Y-%m-%d %H:%M', time.localtime(when))})\n")
        if len(attic) > 50:
            out.write(f"  … and {len(attic) - 50:,} more\n")
    if run.status != RunStatus.FINISHED:
        out.write(f"{resume}\n")
    return ExitCode.OK
