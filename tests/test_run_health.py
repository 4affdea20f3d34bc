"""Run health for unattended jobs: ``--metrics-file`` (Prometheus text for node_exporter) and ``--ping-url``
(a healthchecks.io-style dead-man's switch), end to end against the embedded forge and a real HTTP listener on
127.0.0.1.

The file is checked by :func:`parse_exposition`, a strict reader of the text exposition format (0.0.4, as
node_exporter's textfile collector reads it) written from its specification, independent of gz-tui's own writer,
and every file it reads is read again by ``prometheus_client``'s parser, which must find the same samples.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest

from gz_tui.forge_sim import ForgeSim, Scenario
from gz_tui.pipeline.runner import Pipeline
from tests.conftest import run_cli
from tests.helpers import json_sink, settings_for

TOKEN = "health-test-token-5f3c9a71e2"
CHECK = "b7a0c2d4-1e5f-4a6b-9c8d-0e1f2a3b4c5d"
"""A healthchecks.io check's UUID: the secret part of its ping URL."""

# ---------------------------------------------------------------------------------------------------- the format

_METRIC = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
_LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
_SAMPLE = re.compile(
    rf"(?P<name>{_METRIC})"
    rf"(?:\{{(?P<labels>(?:{_LABEL_NAME}={_LABEL_VALUE}(?:,{_LABEL_NAME}={_LABEL_VALUE})*,?)?)\}})?"
    r" (?P<value>\S+)(?: (?P<timestamp>-?[0-9]+))?"
)
_ONE_LABEL = re.compile(rf"({_LABEL_NAME})=({_LABEL_VALUE}),?")
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


@dataclass
class Family:
    help: str | None = None
    type: str | None = None
    samples: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)


def _unescape(text: str, allowed: str) -> str:
    out, at = [], 0
    while at < len(text):
        if text[at] == "\\":
            follow = text[at + 1 : at + 2]
            assert follow in allowed, f"invalid escape \\{follow} in {text!r}"
            out.append("\n" if follow == "n" else follow)
            at += 2
        else:
            out.append(text[at])
            at += 1
    return "".join(out)


def _value(text: str) -> float:
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    assert re.fullmatch(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", text), f"not a float: {text!r}"
    return float(text)


def parse_exposition(data: bytes) -> dict[str, Family]:
    """The families of a text-format file, every rule of the format enforced: UTF-8, ``\\n`` line ends and a final
    one, HELP and TYPE at most once per family and before its samples, a family's samples together, metric and label
    names of the allowed characters, only the three escapes in label values, no label twice in a sample, no series
    twice, no reserved ``__`` label, a histogram/summary's suffixes only with their type."""
    text = data.decode("utf-8")  # strict: invalid UTF-8 raises
    assert text.endswith("\n") and "\r" not in text, "lines must end in \\n, the last one too"
    families: dict[str, Family] = {}
    done: set[str] = set()
    current: str | None = None
    for line in text[:-1].split("\n"):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                assert re.fullmatch(_METRIC, name), f"bad metric name {name!r}"
                family = families.setdefault(name, Family())
                assert not family.samples and name not in done, f"{parts[1]} of {name} after its samples"
                if parts[1] == "HELP":
                    assert family.help is None, f"a second HELP for {name}"
                    family.help = _unescape(parts[3] if len(parts) > 3 else "", "\\n")
                else:
                    assert family.type is None, f"a second TYPE for {name}"
                    assert len(parts) == 4 and parts[3] in _TYPES, f"bad TYPE line {line!r}"
                    family.type = parts[3]
                if current is not None and current != name:
                    done.add(current)
                current = name
            continue
        assert line.strip(), "blank lines are not written"
        match = _SAMPLE.fullmatch(line)
        assert match is not None, f"not a sample line: {line!r}"
        name = match["name"]
        if current is not None and current != name:
            done.add(current)
        assert name not in done, f"the samples of {name} are not together"
        current = name
        labels: list[tuple[str, str]] = []
        for label, raw in _ONE_LABEL.findall(match["labels"] or ""):
            assert not label.startswith("__"), f"reserved label {label}"
            labels.append((label, _unescape(raw[1:-1], '\\"n')))
        assert len({k for k, _ in labels}) == len(labels), f"a label twice in {line!r}"
        key = tuple(sorted(labels))
        family = families.setdefault(name, Family())
        assert key not in family.samples, f"a series twice: {line!r}"
        family.samples[key] = _value(match["value"])
    for name, family in families.items():
        assert family.samples, f"{name} has HELP/TYPE but no sample"
    _same_as_prometheus_client(text, families)
    return families


def _same_as_prometheus_client(text: str, families: dict[str, Family]) -> None:
    """Prometheus's own Python parser reads the same samples (it raises on what it cannot read)."""
    from prometheus_client.parser import text_string_to_metric_families

    def comparable(value: float) -> float | str:
        return "NaN" if math.isnan(value) else value

    theirs = {
        (sample.name, tuple(sorted(sample.labels.items()))): comparable(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    ours = {(name, key): comparable(value) for name, family in families.items() for key, value in family.samples.items()}
    assert theirs == ours


def series(families: dict[str, Family], name: str, **labels: str) -> float:
    """The one sample of ``name`` whose labels include ``labels``."""
    found = [value for key, value in families[name].samples.items() if set(labels.items()) <= set(key)]
    assert len(found) == 1, (name, labels, families[name].samples)
    return found[0]


def test_the_strict_reader_refuses_what_prometheus_refuses() -> None:
    """The checker itself: a file it accepts is one a Prometheus parser accepts (the bad ones from the format's rules)."""
    good = b'# HELP a_b An \\\\ help.\n# TYPE a_b gauge\na_b{x="q\\"\\\\\\n"} 1.5\na_b 2\n'
    assert series(parse_exposition(good), "a_b", x='q"\\\n') == 1.5
    for bad in (
        b"a_b 1",  # no final newline
        b'a_b{x="a\nb"} 1\n',  # a raw newline inside a label value
        b'a_b{x="\\t"} 1\n',  # an escape the format does not have
        b"a_b{x=1} 1\n",  # an unquoted value
        b"a-b 1\n",  # a bad metric name
        b'a_b 1\nc 1\na_b{x="y"} 2\n',  # a family's samples apart
        b"a_b 1\na_b 2\n",  # one series twice
        b'a_b{x="1",x="2"} 1\n',  # one label twice
        b"# TYPE a_b gauge\n# TYPE a_b gauge\na_b 1\n",
        b"a_b 1\n# TYPE a_b gauge\n",
        b"a_b one\n",
        b'a_b{x="\xff"} 1\n',
    ):
        with pytest.raises((AssertionError, UnicodeDecodeError)):
            parse_exposition(bad)


# ---------------------------------------------------------------------------------------------------- a listener


@dataclass
class Ping:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


class PingServer:
    """A real HTTP server on 127.0.0.1 recording every request; ``status`` is what it answers, ``hang`` makes it
    read the request and answer nothing."""

    def __init__(self, status: int = 200, hang: bool = False) -> None:
        self.status = status
        self.hang = hang
        self.pings: list[Ping] = []
        self.released = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                owner.pings.append(Ping(self.command, self.path, body, {k.lower(): v for k, v in self.headers.items()}))
                if owner.hang:
                    owner.released.wait(30)
                    return
                self.send_response(owner.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            do_GET = do_POST = do_HEAD = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/ping/{CHECK}"

    def __enter__(self) -> PingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[ForgeSim]:
    with ForgeSim(root=tmp_path / "forge", org="acme", repos=6, token=TOKEN, scenario=Scenario(repo_size_kb=32)) as sim:  # git tells sizes
        yield sim


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(settings: Any, **kwargs: Any) -> tuple[int, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    pipeline = Pipeline(settings, events=json_sink(events.append), **kwargs)
    return anyio.run(pipeline.run), events


def notices(events: list[dict[str, Any]]) -> list[str]:
    return [e["message"] for e in events if e["event"] == "notice"]


# ---------------------------------------------------------------------------------------------------- metrics


def test_the_metrics_file_says_how_each_run_went_and_keeps_the_last_success(forge: ForgeSim, tmp_path: Path) -> None:
    metrics = tmp_path / "textfile" / "gz-tui.prom"
    dest = tmp_path / "acme"
    settings = settings_for(forge, dest, token=TOKEN, metrics_file=metrics, target="nightly")
    before = time.time()
    code, events = run(settings)
    assert code == 0, notices(events)
    families = parse_exposition(metrics.read_bytes())
    labels = {"target": "nightly", "forge": "github", "owner": "acme"}
    assert all(f.type == "gauge" and f.help for f in families.values())
    assert series(families, "gz_tui_run_exit_code", **labels) == 0
    assert series(families, "gz_tui_run_running", **labels) == 0
    assert series(families, "gz_tui_run_repos_listed", **labels) == 6
    assert series(families, "gz_tui_run_repos", **labels, outcome="cloned") == 6
    assert series(families, "gz_tui_run_repos", **labels, outcome="failed") == 0
    assert series(families, "gz_tui_run_received_bytes", **labels) > 0
    assert series(families, "gz_tui_run_api_requests", **labels) >= 1
    start = series(families, "gz_tui_run_start_timestamp_seconds", **labels)
    end = series(families, "gz_tui_run_end_timestamp_seconds", **labels)
    assert before - 1 <= start <= end <= time.time() + 1
    first_success = series(families, "gz_tui_last_success_timestamp_seconds", **labels)
    assert first_success == end
    assert [p.name for p in metrics.parent.iterdir()] == ["gz-tui.prom"], "no temporary file is left beside it"

    # A run that fails (a file where a clone must go: exit 1) says so, and the last success stays the first run's.
    forge.push_commit("repo-00001")
    shutil.rmtree(dest / "repo-00001")
    (dest / "repo-00001").write_text("not a clone\n")
    code, events = run(settings)
    assert code == 1
    families = parse_exposition(metrics.read_bytes())
    assert series(families, "gz_tui_run_exit_code", **labels) == 1
    assert series(families, "gz_tui_run_repos", **labels, outcome="failed") == 1
    assert series(families, "gz_tui_run_start_timestamp_seconds", **labels) > start
    assert series(families, "gz_tui_last_success_timestamp_seconds", **labels) == first_success


def test_names_are_escaped_so_no_name_can_break_the_file(forge: ForgeSim, tmp_path: Path) -> None:
    """A target's name (from a config table, or an instance's host) may hold any character."""
    metrics = tmp_path / "gz-tui.prom"
    weird = 'we"ird\\name} x{y="1",\nnext_metric 99 ☃'
    code, events = run(settings_for(forge, tmp_path / "d", token=TOKEN, metrics_file=metrics, target=weird))
    assert code == 0, notices(events)
    families = parse_exposition(metrics.read_bytes())
    assert "next_metric" not in families
    assert series(families, "gz_tui_run_repos_listed", target=weird, owner="acme") == 6
    assert {dict(key)["target"] for key in families["gz_tui_run_running"].samples} == {weird}


def test_the_file_is_refreshed_while_a_long_run_goes_on_and_is_never_seen_half_written(tmp_path: Path) -> None:
    metrics = tmp_path / "gz-tui.prom"
    seen: list[bytes] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                seen.append(metrics.read_bytes())
            except FileNotFoundError:
                pass
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    with ForgeSim(root=tmp_path / "forge", org="acme", repos=6, scenario=Scenario(git_latency=0.25)) as sim:
        watcher.start()
        code, events = run(settings_for(sim, tmp_path / "d", workers=1, metrics_file=metrics), metrics_every=0.05)
        stop.set()
        watcher.join()
    seen.append(metrics.read_bytes())
    assert code == 0
    parsed = [parse_exposition(data) for data in dict.fromkeys(seen)]  # every version read parses whole
    running = [f for f in parsed if series(f, "gz_tui_run_running", target="acme") == 1]
    listed = {series(f, "gz_tui_run_repos_listed", target="acme") for f in running}
    cloned = sorted({series(f, "gz_tui_run_repos", target="acme", outcome="cloned") for f in running})
    assert len(running) >= 3 and 6 in listed, "the file was written while the run went on"
    assert len(cloned) >= 2 and cloned[-1] < 6, "and it showed the progress of the run"
    assert all("gz_tui_run_exit_code" not in f for f in running), "no exit code before the first run ended"
    assert series(parsed[-1], "gz_tui_run_running", target="acme") == 0


def test_other_targets_samples_are_kept_and_a_file_gz_tui_did_not_write_is_left_alone(forge: ForgeSim, tmp_path: Path) -> None:
    metrics = tmp_path / "gz-tui.prom"
    other = '# HELP gz_tui_run_exit_code x\n# TYPE gz_tui_run_exit_code gauge\ngz_tui_run_exit_code{target="weekly",forge="gitlab",owner="grp"} 2\n'
    metrics.write_text(other)
    code, events = run(settings_for(forge, tmp_path / "d", token=TOKEN, metrics_file=metrics))
    assert code == 0
    families = parse_exposition(metrics.read_bytes())
    assert series(families, "gz_tui_run_exit_code", target="weekly") == 2, "another job's target keeps its samples"
    assert series(families, "gz_tui_run_exit_code", target="acme") == 0

    for foreign in ("node_cpu_seconds 12\n", "PATH=/usr/bin:/bin\nexport PATH\n"):
        metrics.write_text(foreign)
        code, events = run(settings_for(forge, tmp_path / "d", token=TOKEN, metrics_file=metrics))
        assert code == 0, "a metrics file is never the run's failure"
        assert metrics.read_text() == foreign, "a file gz-tui did not write is never overwritten"
        (message,) = [m for m in notices(events) if "metrics file" in m]
        assert str(metrics) in message and "left as it is" in message


def test_an_unwritable_metrics_file_is_a_notice_and_a_dry_run_writes_none(forge: ForgeSim, tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    code, events = run(settings_for(forge, tmp_path / "d", token=TOKEN, metrics_file=tmp_path / "not-a-folder" / "m.prom"))
    assert code == 0
    (said,) = notices(events)
    assert said.startswith("cannot read the metrics file") and str(tmp_path / "not-a-folder") in said
    assert events[-1]["event"] == "summary"

    metrics = tmp_path / "dry.prom"
    code, _ = run(settings_for(forge, tmp_path / "d", token=TOKEN, metrics_file=metrics, dry_run=True))
    assert code == 0 and not metrics.exists(), "a dry run is no backup: it must not count as a success"


# ---------------------------------------------------------------------------------------------------- pings


def test_a_run_pings_start_then_success_with_its_summary_and_never_the_token(forge: ForgeSim, tmp_path: Path) -> None:
    with PingServer() as listener:
        code, events = run(settings_for(forge, tmp_path / "d", token=TOKEN, ping_url=listener.url))
        assert code == 0
        assert [(p.method, p.path) for p in listener.pings] == [("GET", f"/ping/{CHECK}/start"), ("POST", f"/ping/{CHECK}")]
        (summary,) = [json.loads(line) for line in listener.pings[1].body.decode().splitlines()]
        assert summary == next(e for e in events if e["event"] == "summary")
        assert summary["cloned"] == 6 and summary["exit_code"] == 0
        for ping in listener.pings:
            assert "authorization" not in ping.headers and "cookie" not in ping.headers
            assert TOKEN not in repr(ping)
        assert not notices(events)

        # A failing run (the forge refuses the token: exit 2) pings /fail.
        listener.pings.clear()
        code, events = run(settings_for(forge, tmp_path / "d", token="wrong-token-0000000000", ping_url=listener.url))
        assert code == 2
        assert [(p.method, p.path) for p in listener.pings] == [("GET", f"/ping/{CHECK}/start"), ("POST", f"/ping/{CHECK}/fail")]
        assert json.loads(listener.pings[1].body)["exit_code"] == 2


def test_a_run_of_several_targets_sends_every_summary_and_the_total(forge: ForgeSim, tmp_path: Path) -> None:
    with PingServer() as listener:
        targets = [
            settings_for(forge, tmp_path / name, token=TOKEN, ping_url=listener.url, target=name, include=pattern)
            for name, pattern in (("evens", "[02468]$"), ("odds", "[13579]$"))
        ]
        code, _ = run(targets)
        assert code == 0
        assert [p.path for p in listener.pings] == [f"/ping/{CHECK}/start", f"/ping/{CHECK}"]
        lines = [json.loads(line) for line in listener.pings[1].body.decode().splitlines()]
        assert sorted(e["target"] for e in lines if e["event"] == "summary") == ["evens", "odds"]
        assert lines[-1]["event"] == "total" and lines[-1]["cloned"] == 6


@pytest.mark.parametrize("trouble", ["refused", "500", "hangs"])
def test_a_ping_that_fails_is_a_notice_that_never_shows_the_checks_key(forge: ForgeSim, tmp_path: Path, trouble: str) -> None:
    with PingServer(status=500 if trouble == "500" else 200, hang=trouble == "hangs") as listener:
        url = listener.url
        if trouble == "refused":
            url = f"http://127.0.0.1:{free_port()}/ping/{CHECK}"  # nothing listens there
        started = time.monotonic()
        code, events = run(settings_for(forge, tmp_path / "d", token=TOKEN, ping_url=url), ping_timeout=0.5)
    assert code == 0, "a ping never fails the run"
    assert time.monotonic() - started < 20
    summary = next(e for e in events if e["event"] == "summary")
    assert summary["exit_code"] == 0 and summary["cloned"] == 6
    said = notices(events)
    assert len(said) == 2 and all("the ping to http://127.0.0.1:" in m for m in said), said
    assert {"500": "answered 500", "hangs": "did not answer within 0.5 s", "refused": "failed"}[trouble] in said[0]
    assert CHECK not in json.dumps(events) and TOKEN not in json.dumps(events)


def test_a_ping_url_holding_the_token_is_never_pinged(forge: ForgeSim, tmp_path: Path) -> None:
    with PingServer() as listener:
        code, events = run(settings_for(forge, tmp_path / "d", token=TOKEN, ping_url=f"{listener.url}?key={TOKEN}"))
        assert code == 0 and listener.pings == []
    assert any("holds a token" in m for m in notices(events))
    assert TOKEN not in json.dumps(events)


# ---------------------------------------------------------------------------------------------------- the CLI


@pytest.mark.slow
def test_both_from_the_command_line_and_the_config_file(forge: ForgeSim, tmp_path: Path) -> None:
    metrics = tmp_path / "gz-tui.prom"
    env = {"GH_TOKEN": TOKEN}
    with PingServer() as listener:
        args = ("acme", "--base-url", forge.base_url, "--dest", str(tmp_path / "d"), "--json")
        result = run_cli(*args, "--metrics-file", str(metrics), "--ping-url", listener.url, env=env)
        assert result.returncode == 0, result.stderr
        assert [p.path for p in listener.pings] == [f"/ping/{CHECK}/start", f"/ping/{CHECK}"]
        assert series(parse_exposition(metrics.read_bytes()), "gz_tui_run_repos", target="acme", outcome="unchanged") == 0

        config = tmp_path / "config.toml"
        config.write_text(f'[defaults]\nmetrics_file = "{metrics}"\nping_url = "{listener.url}"\n')
        listener.pings.clear()
        result = run_cli(*args, env={**env, "GZ_TUI_CONFIG": str(config)})
        assert result.returncode == 0, result.stderr
        assert len(listener.pings) == 2
        assert series(parse_exposition(metrics.read_bytes()), "gz_tui_run_repos", target="acme", outcome="unchanged") == 6

        shown = run_cli("config", "show", env={"GZ_TUI_CONFIG": str(config)})
        assert shown.returncode == 0, shown.stderr
        assert "http://127.0.0.1:" in shown.stdout and CHECK not in shown.stdout, "config show hides the check's key"

    refused = run_cli("acme", "--ping-url", "http://hc.example.com/ping/x", "--dry-run")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "--ping-url must use https" in refused.stderr
    bad = run_cli("acme", "--ping-url", "hc-ping.com/x")
    assert bad.returncode == 2 and "--ping-url" in bad.stderr and "Traceback" not in bad.stderr
