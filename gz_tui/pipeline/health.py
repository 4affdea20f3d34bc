"""Run health for unattended jobs: the ``--metrics-file`` (``metrics``) and the ``--ping-url`` dead-man's switch.

A nightly backup that fails quietly is worse than none. With ``--ping-url`` a run tells a healthchecks.io-style
service that it started (``GET URL/start``) and how it ended (``POST URL`` on exit code 0, ``POST URL/fail`` on any
other, the run's summary events as JSON lines in the body), so the service alerts when a run fails *or never
comes*. With ``--metrics-file`` the run writes its health for node_exporter's textfile collector at its start,
every 30 seconds while it runs, and at its end.

Neither ever changes how the run ends: a ping that fails, or a file that cannot be written, is a notice. A dry run
does neither (it is no backup: it must not count as a success). Nothing of the forge's credential reaches the
ping service: no header of gz-tui's goes with it, its body is redacted as ``--json`` output is, and a ping URL that
holds a secret gz-tui knows is refused. The URL is never shown whole, since the address of a check (its UUID, a
``?key=``) is itself what lets anyone ping it: messages name its scheme and host only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx

from gz_tui.clock import Clock
from gz_tui.config import Settings
from gz_tui.forges.responses import USER_AGENT
from gz_tui.kinds import ExitCode
from gz_tui.pipeline.context import EventSink
from gz_tui.pipeline.events import Emitted, Summary, Total
from gz_tui.pipeline.metrics import (
    PREFIX,
    Labels,
    MetricsFileError,
    TargetHealth,
    read_previous,
    render,
    target_labels,
    write_atomically,
)
from gz_tui.untrusted import SECRETS, Redactor, inert, redact_values
from gz_tui.urls import shown_url

if TYPE_CHECKING:
    from gz_tui.pipeline.target import TargetRun

METRICS_EVERY_SECONDS = 30.0
"""How often a run rewrites its metrics file while it runs (a run of hours is seen to be alive)."""
PING_TIMEOUT_SECONDS = 5.0
"""The most one ping may take, connecting included: the run waits for the start ping, and a dead-man's switch
that is down must not hold a backup up."""


def ping_address(url: str, suffix: str) -> str:
    """``url`` with ``/start`` or ``/fail`` added to its path (its query, such as ``?rid=``, kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix)) if suffix else url


class Pinger:
    """Pings one check URL, each ping once, within ``timeout`` seconds; reports a failure to ``notice``."""

    def __init__(self, url: str, *, timeout: float, notice: Callable[[str], None]) -> None:
        self.url = url
        self.timeout = timeout
        self.notice = notice
        parts = urlsplit(url)
        self._hidden = Redactor([parts.path.strip("/"), parts.query, parts.password])
        """The parts of the URL that are the check's key: never in a message, whatever httpx says."""

    def holds_a_secret(self) -> bool:
        """The URL holds a token gz-tui was given (pasted there by mistake): it is never sent anywhere."""
        return SECRETS.redact(self.url) != self.url

    async def ping(self, suffix: str, body: bytes | None = None) -> bool:
        """GET ``URL + suffix`` (``/start``), or POST ``body`` to it; True if the service answered 2xx."""
        where = f"{shown_url(self.url)}{suffix}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, trust_env=True) as client:
                with anyio.fail_after(self.timeout):  # the whole exchange, not each read: a trickling server too
                    headers = {"User-Agent": USER_AGENT}
                    address = ping_address(self.url, suffix)
                    if body is None:
                        response = await client.get(address, headers=headers)
                    else:
                        headers["Content-Type"] = "application/x-ndjson"
                        response = await client.post(address, headers=headers, content=body)
        except (TimeoutError, httpx.TimeoutException):
            self._say(f"the ping to {where} did not answer within {self.timeout:g} s")
            return False
        except httpx.HTTPError as exc:
            self._say(f"the ping to {where} failed: {type(exc).__name__}: {exc}")
            return False
        except OSError as exc:
            self._say(f"the ping to {where} failed: {exc.strerror or exc}")
            return False
        if not 200 <= response.status_code < 300:
            self._say(f"the ping to {where} was answered {response.status_code} {response.reason_phrase}")
            return False
        return True

    def _say(self, message: str) -> None:
        self.notice(inert(self._hidden.redact(message), flatten=True, limit=300) + " (the run itself is not affected)")


class RunHealth:
    """One run's metrics file and pings. The pipeline calls ``watch`` (its event sink), ``begin``, ``keep_fresh``
    (while the targets run) and ``end``."""

    def __init__(
        self,
        targets: Sequence[Settings],
        clock: Clock,
        notice: Callable[[str], None],
        *,
        metrics_every: float = METRICS_EVERY_SECONDS,
        ping_timeout: float = PING_TIMEOUT_SECONDS,
    ) -> None:
        first = targets[0]
        backup = not all(settings.dry_run for settings in targets)
        self.metrics_file: Path | None = first.metrics_file.expanduser() if backup and first.metrics_file else None
        self.pinger = Pinger(first.ping_url, timeout=ping_timeout, notice=notice) if backup and first.ping_url else None
        self.clock = clock
        self.notice = notice
        self.metrics_every = metrics_every
        self.started = clock.now()
        self._ended: dict[str, tuple[float, int]] = {}
        """Target name → when it ended and its exit code, from its summary."""
        self._summaries: list[dict[str, Any]] = []
        """The run's summary (and total) events, as ``--json`` prints them: the body of the end ping."""
        self._previous: dict[tuple[str, Labels], float] | None = None
        """The samples of the metrics file this run replaces; None: the file is not to be written."""

    def watch(self, sink: EventSink | None) -> EventSink | None:
        """The event sink the run uses: ``sink``, seeing each target's summary on the way when health is asked for."""
        if self.metrics_file is None and self.pinger is None:
            return sink  # the dashboard's run stamps no per-repo event nobody takes

        def watching(emitted: Emitted) -> None:
            if isinstance(emitted.event, Summary) and emitted.target is not None:
                self._ended[emitted.target] = (emitted.time, int(emitted.event.exit_code))
            if isinstance(emitted.event, (Summary, Total)):
                self._summaries.append(redact_values(emitted.as_dict()))
            if sink is not None:
                sink(emitted)

        return watching

    async def begin(self) -> None:
        """Before anything else: read the previous metrics file, ping ``/start``."""
        self.started = self.clock.now()
        if self.metrics_file is not None:
            self._previous = self._read_previous(self.metrics_file)
        if self.pinger is not None and self.pinger.holds_a_secret():
            self.notice("the --ping-url holds a token gz-tui was given: it is never sent anywhere, so no ping is made")
            self.pinger = None
        if self.pinger is not None:
            await self.pinger.ping("/start")

    async def keep_fresh(self, targets: Sequence[TargetRun]) -> None:
        """While the targets run: the metrics file now, then every ``metrics_every`` seconds (until cancelled)."""
        if self.metrics_file is None:
            return
        while True:
            await self.write_metrics(targets)
            await anyio.sleep(self.metrics_every)

    async def end(self, code: ExitCode, targets: Sequence[TargetRun]) -> None:
        """After the last summary: the metrics file as the run ended, then the end ping with the summaries."""
        await self.write_metrics(targets)
        if self.pinger is not None:
            body = "".join(json.dumps(summary, ensure_ascii=True) + "\n" for summary in self._summaries)
            await self.pinger.ping("" if code == ExitCode.OK else "/fail", body.encode("utf-8"))

    async def write_metrics(self, targets: Sequence[TargetRun]) -> None:
        path, previous = self.metrics_file, self._previous
        if path is None or previous is None:
            return
        text = render((self._health_of(target) for target in targets), previous, self.clock.now())
        try:
            await anyio.to_thread.run_sync(write_atomically, path, text)
        except OSError as exc:
            self.metrics_file = None  # said once: a disk that refused it now will refuse it every 30 s
            self.notice(f"cannot write the metrics file {path}: {exc.strerror or exc} (the run itself is not affected)")

    def _health_of(self, target: TargetRun) -> TargetHealth:
        stats = target.stats
        counts = stats.counts
        ended, code = self._ended.get(target.name, (None, None))
        return TargetHealth(
            labels=target_labels(target.name, str(target.settings.provider), stats.owner, target.shard.label if target.shard else None),
            started=self.started,
            ended=ended,
            exit_code=code,
            listed=counts.listed,
            outcomes={
                "cloned": counts.cloned,
                "updated": counts.updated,
                "unchanged": counts.unchanged,
                "skipped": counts.skipped,
                "failed": counts.failed,
            },
            received_bytes=counts.received_bytes,
            api_requests=stats.rate.requests,
        )

    def _read_previous(self, path: Path) -> dict[tuple[str, Labels], float] | None:
        """The previous file's samples; None (and a notice) if it is not a file gz-tui wrote: it is left alone."""
        try:
            previous = read_previous(path)
        except OSError as exc:
            self.notice(f"cannot read the metrics file {path}: {exc.strerror or exc}; it is not written this run")
            return None
        except MetricsFileError as exc:
            self.notice(f"the metrics file {path} is not one gz-tui wrote ({exc}); it is left as it is: remove it or name another")
            return None
        foreign = sorted({name for name, _ in previous if not name.startswith(PREFIX)})
        if foreign:
            self.notice(
                f"the metrics file {path} holds metrics gz-tui did not write ({inert(foreign[0], limit=60)}); "
                "it is left as it is: give gz-tui a file of its own"
            )
            return None
        return previous
