"""Run health as a Prometheus text file (``--metrics-file``), for node_exporter's textfile collector.

One sample per target and metric, labelled ``target``, ``forge`` and ``owner`` (and ``shard`` for a sharded run).
Every metric is a gauge: the collector exports what the file says, and alerting wants "when", not "how many
since the process began". Label values are escaped as the exposition format requires (``\\`` ``"`` and newline):
a name that came from a config or a forge may hold any character, and must never end a label or a line early.

The file is rewritten whole, atomically (a temporary file in the same folder, fsynced, renamed over it, the folder
fsynced), so the collector never reads half of it; the temporary name does not end in ``.prom``, so the collector
never reads it at all. What a run does not know itself is read back from the file it replaces
(:func:`read_samples`): each target's time of last success, the end and exit code of its last run while the next
is under way, and the samples of targets this run does not sync (another cron job's).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

Labels = tuple[tuple[str, str], ...]
"""A sample's labels, in the order they are written."""

PREFIX = "gz_tui_"

START = "gz_tui_run_start_timestamp_seconds"
END = "gz_tui_run_end_timestamp_seconds"
EXIT_CODE = "gz_tui_run_exit_code"
RUNNING = "gz_tui_run_running"
DURATION = "gz_tui_run_duration_seconds"
LISTED = "gz_tui_run_repos_listed"
REPOS = "gz_tui_run_repos"
BYTES = "gz_tui_run_received_bytes"
API_REQUESTS = "gz_tui_run_api_requests"
LAST_SUCCESS = "gz_tui_last_success_timestamp_seconds"

FAMILIES: dict[str, str] = {
    START: "When the target's last (or current) run started, epoch seconds.",
    END: "When the target's last run ended, epoch seconds (while a run is under way: the one before).",
    EXIT_CODE: "The exit code of the target's last run: 0 ok, 1 some repos failed, 2 usage/auth/not found, 130 interrupted.",
    RUNNING: "1 while a run of the target is under way, else 0.",
    DURATION: "Wall time of the target's last (or current) run, seconds.",
    LISTED: "Repos the forge listed in the target's last (or current) run.",
    REPOS: "Repos of the target's last (or current) run by outcome.",
    BYTES: "Bytes git received in the target's last (or current) run.",
    API_REQUESTS: "API requests of the target's last (or current) run.",
    LAST_SUCCESS: "When a run of the target last ended with exit code 0, epoch seconds (kept across runs).",
}
"""Every metric the file holds, in the order written, with its HELP text."""

OUTCOMES = ("cloned", "updated", "unchanged", "skipped", "failed")
"""The ``outcome`` label values of ``gz_tui_run_repos``."""

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class MetricsFileError(ValueError):
    """The previous file cannot be read back (it is not one gz-tui wrote); ``str()`` names the line."""


@dataclass(frozen=True, slots=True)
class TargetHealth:
    """One target's side of the file, as the run knows it now."""

    labels: Labels
    started: float
    ended: float | None
    """None while the target's run is under way."""
    exit_code: int | None
    listed: int
    outcomes: Mapping[str, int]
    """Repos by outcome (:data:`OUTCOMES`)."""
    received_bytes: int
    api_requests: int


def target_labels(target: str, forge: str, owner: str, shard: str | None = None) -> Labels:
    labels = (("target", target), ("forge", forge), ("owner", owner))
    return (*labels, ("shard", shard)) if shard else labels


def escape(value: str) -> str:
    """A label value as the text format writes it: ``\\``, ``"`` and newline escaped; text that is not valid UTF-8
    (a lone surrogate from a command line) replaced, so the file stays UTF-8."""
    value = value.encode("utf-8", "replace").decode("utf-8")
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(round(value, 3))


def _series(name: str, labels: Labels, value: float) -> str:
    inside = ",".join(f'{key}="{escape(text)}"' for key, text in labels)
    return f"{name}{{{inside}}} {_number(value)}"


def samples_of(health: TargetHealth, previous: Mapping[tuple[str, Labels], float], now: float) -> dict[tuple[str, Labels], float]:
    """The samples of one target: what this run knows, and from ``previous`` (the file it replaces) what it does not."""
    labels = health.labels
    out: dict[tuple[str, Labels], float] = {(START, labels): health.started}
    if health.ended is not None and health.exit_code is not None:
        out[END, labels] = health.ended
        out[EXIT_CODE, labels] = health.exit_code
    else:  # under way: the last run that ended still says how that one went
        for name in (END, EXIT_CODE):
            if (name, labels) in previous:
                out[name, labels] = previous[name, labels]
    out[RUNNING, labels] = 0 if health.ended is not None else 1
    out[DURATION, labels] = max(0.0, (health.ended if health.ended is not None else now) - health.started)
    out[LISTED, labels] = health.listed
    for outcome in OUTCOMES:
        out[REPOS, (*labels, ("outcome", outcome))] = health.outcomes.get(outcome, 0)
    out[BYTES, labels] = health.received_bytes
    out[API_REQUESTS, labels] = health.api_requests
    if health.exit_code == 0 and health.ended is not None:
        out[LAST_SUCCESS, labels] = health.ended
    elif (LAST_SUCCESS, labels) in previous:
        out[LAST_SUCCESS, labels] = previous[LAST_SUCCESS, labels]
    return out


def _owner_key(labels: Labels) -> tuple[str, str]:
    """Which run a sample belongs to: its target's name (and shard). A run replaces the samples of its own targets
    and keeps every other one."""
    found = dict(labels)
    return found.get("target", ""), found.get("shard", "")


def render(targets: Iterable[TargetHealth], previous: Mapping[tuple[str, Labels], float], now: float) -> str:
    """The whole file: this run's targets, and the samples ``previous`` holds of other targets."""
    chosen = list(targets)
    mine = {_owner_key(t.labels) for t in chosen}
    samples = {key: value for key, value in previous.items() if key[0] in FAMILIES and _owner_key(key[1]) not in mine}
    for health in chosen:
        samples.update(samples_of(health, previous, now))
    lines: list[str] = []
    for name, about in FAMILIES.items():
        family = [(labels, value) for (metric, labels), value in samples.items() if metric == name]
        if not family:
            continue
        lines += [f"# HELP {name} {about}", f"# TYPE {name} gauge"]
        lines += [_series(name, labels, value) for labels, value in sorted(family)]
    return "".join(line + "\n" for line in lines)


def _labels(text: str, line: int) -> Labels:
    """``key="value",…`` (the inside of the braces) read back, escapes undone."""
    labels: list[tuple[str, str]] = []
    at = 0
    while at < len(text):
        name = _LABEL.match(text, at)
        if name is None or text[name.end() : name.end() + 2] != '="':
            raise MetricsFileError(f'line {line}: a label is not name="value"')
        at = name.end() + 2
        value: list[str] = []
        while True:
            if at >= len(text):
                raise MetricsFileError(f"line {line}: a label value is not closed")
            char = text[at]
            if char == "\\":
                value.append({"\\": "\\", '"': '"', "n": "\n"}.get(text[at + 1 : at + 2], "\\" + text[at + 1 : at + 2]))
                at += 2
            elif char == '"':
                at += 1
                break
            else:
                value.append(char)
                at += 1
        labels.append((name.group(), "".join(value)))
        if at < len(text):
            if text[at] != ",":
                raise MetricsFileError(f"line {line}: labels are not separated by commas")
            at += 1
    return tuple(labels)


def _sample(raw: str, number: int) -> tuple[tuple[str, Labels], float]:
    name = _NAME.match(raw)
    if name is None:
        raise MetricsFileError(f"line {number}: not a sample")
    rest, labels = raw[name.end() :], cast(Labels, ())
    if rest.startswith("{"):
        close = _label_end(rest, number)
        labels, rest = _labels(rest[1:close], number), rest[close + 1 :]
    parts = rest.split()
    if not parts or len(parts) > 2:
        raise MetricsFileError(f"line {number}: not a sample")
    try:
        value = float(parts[0])
    except ValueError:
        raise MetricsFileError(f"line {number}: {parts[0][:40]!r} is not a number") from None
    return (name.group(), labels), value


def _label_end(text: str, number: int) -> int:
    """Where the label braces that open ``text`` close (a ``}`` inside a quoted value does not close them)."""
    quoted = False
    at = 1
    while at < len(text):
        char = text[at]
        if quoted and char == "\\":
            at += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char == "}" and not quoted:
            return at
        at += 1
    raise MetricsFileError(f"line {number}: the labels are not closed")


def read_samples(text: str) -> dict[tuple[str, Labels], float]:
    """Every sample of a file in the text format (comments skipped); :class:`MetricsFileError` for anything else."""
    samples: dict[tuple[str, Labels], float] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        key, value = _sample(raw, number)
        samples[key] = value
    return samples


def read_previous(path: Path) -> dict[tuple[str, Labels], float]:
    """The samples of the file a run will replace; none when there is none yet. OSError and MetricsFileError pass."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise MetricsFileError("it is not UTF-8 text") from None
    return read_samples(text)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one rename: the reader sees the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            data = text.encode("utf-8")
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash once the folder is synced
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
