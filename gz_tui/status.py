"""``gz-tui status [DEST]``: what the state of a destination holds, fast even for 100,000 repos.

With no DEST, in a folder that holds no state, and with targets configured: every target's last run."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from gz_tui.config import ConfigError, resolve_targets, target_names
from gz_tui.forges.registry import DEFAULT_PROVIDER, default_base_url
from gz_tui.kinds import ExitCode, RepoStatus, RunStatus
from gz_tui.layout import STATE_FILE_NAME, default_state_path, shard_dirs, state_lock_path
from gz_tui.pipeline.lock import live_holder, run_holder
from gz_tui.pipeline.state import StateError, StateStore
from gz_tui.pipeline.state.records import Run, StatusReport
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
    parser.add_argument("--json", action="store_true", help="one JSON object per destination (per shard), for scripts")
    parser.add_argument("--repos", action="store_true", help="every repo the state knows and how the last run left it (ghorg ls)")


def status_command(argv: Sequence[str], *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="gz-tui status", description=DESCRIPTION, allow_abbrev=False)
    add_arguments(parser)
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    return show_status(args.dest, args.state, out=out, err=err, as_json=args.json, repos=args.repos)


@dataclass(frozen=True)
class View:
    """How ``gz-tui status`` shows a state: text, or ``--json`` (one object per state); ``--repos``: every repo."""

    as_json: bool = False
    repos: bool = False


def show_status(
    dest_given: Path | None, state: Path | None, *, out: TextIO, err: TextIO, as_json: bool = False, repos: bool = False
) -> int:
    """What ``gz-tui status [DEST] [--state PATH] [--json] [--repos]`` prints; 0, or 2 when there is no state or it
    cannot be read."""
    view = View(as_json, repos)
    dest = Path(".") if dest_given is None else dest_given
    path = state or default_state_path(dest)
    shards = shard_dirs(dest) if state is None else []
    if shards:
        code = _report(path, dest, out, err, view=view) if path.is_file() else ExitCode.OK
        if view != View():  # each shard's state, as one destination's is shown
            for shard, folder in shards:
                code = max(code, _report(folder / STATE_FILE_NAME, dest, out, err, view=view, shard=shard.label))
            return code
        return max(code, _shards_report(dest, shards, out, err))
    if not path.is_file():
        if dest_given is None and state is None:
            targets = _targets_status(out, err, view)
            if targets is not None:
                return targets
        err.write(f"gz-tui: no gz-tui state at {path}; run gz-tui there first (or pass --state)\n")
        return ExitCode.USAGE
    return _report(path, dest, out, err, view=view)


def _targets_status(out: TextIO, err: TextIO, view: View = View()) -> ExitCode | None:
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
        if not view.as_json:  # --repos too: the lists of several targets, each under its name
            out.write(("\n" if n else "") + f"{target.table} {dest}\n")
        if not path.is_file():
            if view.as_json:
                out.write(json.dumps({"target": s.target, "state": str(path), "run": None}) + "\n")
            else:
                out.write(f"never run (no state at {path})\n")
            continue
        resume = f"gz-tui sync {s.target}"
        worst = max(worst, _report(path, dest, out, err, resume=resume, view=view, target=s.target))
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
            holder = live_holder(state_lock_path(folder / STATE_FILE_NAME)) if run.status == RunStatus.RUNNING else None
            out.write(
                f"  shard {index}: run #{run.id} {_how_it_ended(run, holder, folder / STATE_FILE_NAME)} · "
                f"{'finished' if run.finished_at else 'started'} {when} · listed {listed:,} · done {done:,}"
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
    path: Path,
    dest: Path,
    out: TextIO,
    err: TextIO,
    *,
    resume: str = "",
    view: View = View(),
    target: str | None = None,
    shard: str | None = None,
) -> ExitCode:
    """What the state at ``path`` (of the destination ``dest``) holds: ``OK``, or ``USAGE`` if it cannot be read.
    ``resume`` is the command that resumes its run (default: gz-tui again on the destination)."""
    try:
        found = _read(path, dest, repos=view.repos)
    except StateError as exc:  # damaged, unreadable, or on a failing disk: one line, whatever the query that met it
        err.write(f"gz-tui: {exc}\n")
        return ExitCode.USAGE
    if view.as_json:
        data = _as_json(found, path)
        if target is not None:
            data = {"target": target, **data}
        if shard is not None:
            data = {"shard": shard, **data}
        out.write(json.dumps(data, ensure_ascii=True) + "\n")
    elif view.repos:
        for rel_path, status, error_class in found.repos:
            out.write(f"{inert(rel_path)}\t{status}" + (f"\t{error_class}" if error_class else "") + "\n")
    else:
        _as_text(found, path, out, resume or _resume_command(found, dest))
    return ExitCode.OK


@dataclass(frozen=True)
class Found:
    """What ``gz-tui status`` read from one state."""

    report: StatusReport
    gone: list[str]
    attic: list[tuple[str, str, float]]
    options: dict[str, Any]
    expected: tuple[int, int, int | None] | None
    failed: list[tuple[str, str, str]]
    repos: list[tuple[str, str, str | None]]
    holder: int | None
    """The PID of the gz-tui that holds the state's lock now: its run is in progress."""


def _read(path: Path, dest: Path, *, repos: bool) -> Found:
    store = StateStore.open(path)
    try:
        report = store.runs.report()
        run = report.run
        return Found(
            report=report,
            gone=store.repos.gone_from_forge(run.id, Path(run.dest or dest)) if run and run.listing_done else [],
            attic=store.attic.entries(),
            options=store.runs.options(run.id) if run else {},
            expected=store.pages.expected(),
            failed=store.repos.failed(run.id) if run else [],
            repos=store.repos.every_status(run.id) if run and repos else [],
            holder=live_holder(state_lock_path(path)) if run and run.status == RunStatus.RUNNING else None,
        )
    finally:
        store.close()


def _resume_command(found: Found, dest: Path) -> str:
    """The command that resumes the last run on ``dest``: its owner (or ``--all``), forge and destination (the other
    options as the run had them: they are recorded with it, and a resumed run keeps its listing's)."""
    run = found.report.run
    if run is None:
        return "gz-tui"
    words = ["gz-tui", "--all" if found.options.get("instance") else inert(run.owner)]
    if run.forge != DEFAULT_PROVIDER:
        words += ["--provider", run.forge]
    if run.base_url.rstrip("/") != default_base_url(run.forge).rstrip("/"):
        words += ["--base-url", run.base_url]
    return shlex.join([*words, "--dest", str(Path(run.dest or dest))])


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _how_it_ended(run: Run, holder: int | None, state: Path) -> str:
    """``finished``, ``in progress (PID 4242)``, or, for a run the state still records as running that no process
    holds: the note its clean stop left (``stopped: disk full at …``), else ``stopped before the end (killed or
    crashed)``; the next run resumes either."""
    if run.status == RunStatus.RUNNING:
        if holder is not None:
            return f"in progress (PID {holder})"
        return run_holder(state) or "stopped before the end (killed or crashed)"
    return str(run.status)


def _listed(found: Found) -> tuple[int, int] | None:
    """(listed, the forge's own count) of the last run's listing, when the forge stated a count."""
    run, expected = found.report.run, found.expected
    if run is None or expected is None or expected[0] != run.id or expected[2] is None:
        return None
    return expected[1], expected[2]


def _as_text(found: Found, path: Path, out: TextIO, resume: str) -> None:
    report, options = found.report, found.options
    run = report.run
    if run is None:
        out.write(f"{path}: no runs recorded yet\n")
        return
    done = sum(report.counts.values())
    who = "every repository the token can see (--all)" if options.get("instance") else inert(run.owner)
    if options.get("starred"):
        who = f"the repos {inert(run.owner)} starred (--starred)"
    if options.get("listing") == "gists":
        who = f"the gists of {inert(run.owner)} (--gists)"
    if options.get("listing") == "snippets":
        who = f"the snippets of {inert(run.owner)}'s projects (--snippets)"
    server = options.get("server")
    out.write(f"{run.forge} {who} ({run.base_url})" + (f" · {inert(server)}" if isinstance(server, str) and server else "") + "\n")
    ended = f"finished {_when(run.finished_at)}" if run.finished_at else "not finished"
    out.write(f"last run #{run.id}: {_how_it_ended(run, found.holder, path)} · started {_when(run.started_at)} · {ended}\n")
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
    listing = _listed(found)
    if listing is not None:
        listed, stated = listing
        verdict = "" if listed >= stated else " · incomplete: --prune refused"
        out.write(f"listed {listed:,} · expected {stated:,} (the forge's own count){verdict}\n")
    failures = report.counts.get(RepoStatus.FAILED, 0)
    if found.failed:
        out.write(f"failed ({failures:,}):\n")
        out.writelines(f"  {inert(rel_path)}: {error_class}: {inert(message)}\n" for rel_path, error_class, message in found.failed[:50])
        if failures > 50:
            out.write(f"  … and {failures - 50:,} more (gz-tui status --repos lists every repo)\n")
    if report.top_errors and failures > 50:
        out.write("top errors:\n")
        out.writelines(f"  {count:>6,}  {error_class}: {inert(message)}\n" for error_class, message, count in report.top_errors)
    gone = found.gone
    if gone:
        out.write(f"no longer listed by the forge, left on disk ({len(gone):,}):\n")
        out.writelines(f"  {inert(rel_path)}\n" for rel_path in gone[:50])
        if len(gone) > 50:
            out.write(f"  … and {len(gone) - 50:,} more\n")
    attic = found.attic
    if attic:
        out.write(f"in the attic (moved by --prune, nothing deleted) ({len(attic):,}{'+' if len(attic) >= 1000 else ''}):\n")
        for rel_path, where, when in attic[:50]:
            out.write(f"  {inert(rel_path)} → {inert(where)} ({time.strftime('%Y-%m-%d %H:%M', time.localtime(when))})\n")
        if len(attic) > 50:
            out.write(f"  … and {len(attic) - 50:,} more\n")
    if found.holder is not None:
        out.write(f"in progress (PID {found.holder}): gz-tui status again shows how far it got\n")
    elif run.status != RunStatus.FINISHED:
        out.write(f"to resume: {resume}\n")


def _as_json(found: Found, path: Path) -> dict[str, Any]:
    """``gz-tui status --json``: one object per state (README, "gz-tui status")."""
    report, options = found.report, found.options
    run = report.run
    if run is None:
        return {"state": str(path), "run": None}
    listing = _listed(found)
    data: dict[str, Any] = {
        "state": str(path),
        "forge": run.forge,
        "owner": None if options.get("instance") else run.owner,
        "base_url": run.base_url,
        "server": options.get("server") or None,
        "run": run.id,
        "status": "in_progress" if found.holder is not None else ("stopped" if run.status == RunStatus.RUNNING else str(run.status)),
        "pid": found.holder,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "listing_done": run.listing_done,
        "done": dict(sorted(report.counts.items())),
        "pending": report.pending,
        "listed": listing[0] if listing else None,
        "expected": listing[1] if listing else None,
        "covered_only": coverage(options) or None,
        "failed": [{"path": p, "error_class": c, "message": m} for p, c, m in found.failed],
        "gone": found.gone,
        "attic": [{"path": p, "attic": a, "moved_at": t} for p, a, t in found.attic],
    }
    if found.repos:
        data["repos"] = [{"path": p, "status": s, **({"error_class": c} if c else {})} for p, s, c in found.repos]
    return data
