"""Fixed dashboard data: the snapshots behind the snapshot tests and the screenshots in ``screenshots/``.

Everything here is deterministic: fixed timestamps (rendered in UTC by the callers), fixed throughput
samples, fixed workers and errors. ``StaticControl`` is a ``RunControl`` that always reports one such
snapshot, so the dashboard can be shown in any state without a forge or a pipeline.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path

import anyio

from gz_tui.config import Settings
from gz_tui.kinds import ErrorClass, ProviderName, WaitKind
from gz_tui.pipeline.snapshot import (
    Counts,
    ErrorView,
    ListerState,
    PruneQuestion,
    RateLimitView,
    RunState,
    Snapshot,
    TargetView,
    WorkerState,
    WorkerView,
)

START = 1_800_000_000.0
"""2027-01-15 08:00:00 UTC: when every demo run started."""

NOW = START + 12 * 60 + 41
"""The demo snapshots are taken 12:41 into the run."""

MIB = 1024 * 1024

SETTINGS = Settings(owner="acme", dest="/srv/mirror/acme", workers=8, buffer=500)  # type: ignore[arg-type]
"""Settings matching the demo snapshots (only shown, never used to reach a forge)."""

TARGETS = (
    Settings(owner="acme", dest=Path("/srv/mirror/acme"), workers=8, buffer=500, target="acme"),
    Settings(
        owner="platform/infra",
        provider=ProviderName.GITLAB,
        dest=Path("/srv/mirror/platform-infra"),
        workers=8,
        buffer=500,
        target="platform-infra",
    ),
    Settings(
        owner="tools",
        provider=ProviderName.GITEA,
        base_url="https://gitea.example.org/api/v1",
        dest=Path("/srv/mirror/tools"),
        workers=8,
        buffer=500,
        target="tools",
    ),
)
"""The three targets of the ``several-targets`` demo: a GitHub org, a GitLab group tree, a Gitea org."""


def _throughput(seconds: int = 300) -> tuple[float, ...]:
    """A plausible, fixed repos-per-second history: a ramp-up, a dip and a steady state."""
    samples = []
    for t in range(seconds):
        base = 1.5 + 3.0 * min(1.0, t / 40)
        wave = 1.2 * math.sin(t / 7.0) + 0.6 * math.sin(t / 2.3)
        dip = -3.0 if 180 <= t < 196 else 0.0
        samples.append(max(0.0, round(base + wave + dip)))
    return tuple(samples)


def _workers(now: float, *, paused: bool = False) -> tuple[WorkerView, ...]:
    busy = [
        WorkerView(1, WorkerState.CLONING, "acme/kafka-connect", "receiving objects", 43.0, 212 * MIB + 77_312, now - 72),
        WorkerView(2, WorkerState.UPDATING, "acme/spark-sql", "resolving deltas", 88.0, 31 * MIB + 400_000, now - 4),
        WorkerView(3, WorkerState.CLONING, "acme/web-frontend", "receiving objects", 12.0, 9 * MIB + 123_456, now - 9),
        WorkerView(4, WorkerState.RETRYING, "acme/legacy-billing", "waiting to retry", None, 0, now - 31, waiting=True),
        WorkerView(5, WorkerState.CLONING, "acme/infrastructure-as-code-modules-terraform", "counting objects", 61.0, 640_000, now - 2),
        WorkerView(6, WorkerState.UPDATING, "acme/docs", "fetching", None, 18_432, now - 1),
        WorkerView(7, WorkerState.CLONING, "acme/ml-models", "receiving objects", 97.0, 1536 * MIB, now - 403),
        WorkerView(8, WorkerState.IDLE),
    ]
    if not paused:
        return tuple(busy)
    # Paused: finished workers take nothing new; one big clone is still finishing its repo.
    return tuple(w if w.index == 7 else WorkerView(w.index, WorkerState.PAUSED) for w in busy)


def _errors(now: float) -> tuple[ErrorView, ...]:
    """Newest first, like ``Snapshot.errors``."""
    return (
        ErrorView(now - 3, "acme/legacy-billing", ErrorClass.NETWORK, "fatal: the remote end hung up unexpectedly", 2, 3, now + 4),
        ErrorView(now - 95, "acme/secret-sauce", ErrorClass.AUTH, "repository not accessible with this token (HTTP 403)", 1, 3, None),
        ErrorView(now - 141, "acme/monorepo-archive", ErrorClass.NETWORK, "no data received for 120 s; git killed", 3, 3, None),
        ErrorView(now - 260, "acme/api-gateway", ErrorClass.OTHER, "fatal: bad object refs/heads/main", 1, 3, None),
        ErrorView(now - 302, "acme/huge-assets", ErrorClass.DISK, "No space left on device while writing pack", 1, 3, None),
        ErrorView(now - 377, "acme/legacy-billing", ErrorClass.NETWORK, "fatal: the remote end hung up unexpectedly", 1, 3, now - 371),
        ErrorView(now - 418, "acme/old-wiki", ErrorClass.NOT_FOUND, "repository was deleted after listing (HTTP 404)", 1, 3, None),
    )


def mid_run() -> Snapshot:
    """A busy run: the buffer is healthy, the API has quota left, some repos failed."""
    return Snapshot(
        forge="github",
        owner="acme",
        dest="/srv/mirror/acme",
        api_host="api.github.com",
        run_state=RunState.RUNNING,
        started_at=START,
        now=NOW,
        counts=Counts(listed=2_104, total=2_104, queued=412, active=7, cloned=1_180, updated=41, unchanged=0, skipped=0, failed=13),
        throughput=_throughput(),
        repos_per_second=4.2,
        bytes_per_second=18.4 * MIB,
        buffer_used=412,
        buffer_capacity=500,
        lister_state=ListerState.FETCHING,
        lister_page=22,
        rate=RateLimitView(limit=5_000, remaining=4_211, reset_at=NOW + 41 * 60 + 9, requests=22, not_modified=0),
        workers=_workers(NOW),
        errors=_errors(NOW),
        error_count=19,
        retried=6,  # 19 failed attempts: 6 retried, 13 the repos' last
        state_path="/srv/mirror/acme/.gz-tui/state.sqlite3",
    )


def paused_full() -> Snapshot:
    """Paused: workers idle once their repo is done, the buffer full, the lister blocked."""
    snap = mid_run()
    return replace(
        snap,
        run_state=RunState.PAUSED,
        now=NOW + 95,
        counts=replace(snap.counts, listed=2_104, queued=500, active=1, cloned=1_191, updated=42),
        throughput=_throughput()[:-20] + (0.0,) * 20,
        repos_per_second=0.0,
        bytes_per_second=2.1 * MIB,
        buffer_used=500,
        lister_state=ListerState.BLOCKED,
        rate=replace(snap.rate, reset_at=NOW + 41 * 60 + 9, requests=24),
        workers=_workers(NOW + 95, paused=True),
        errors=_errors(NOW)[1:],
    )


def waiting_rate_limit() -> Snapshot:
    """The lister waits out GitHub's primary limit; workers keep draining the buffer."""
    snap = mid_run()
    now = NOW
    return replace(
        snap,
        run_state=RunState.WAITING,
        counts=replace(snap.counts, listed=1_300, total=2_104, queued=58, active=7),
        buffer_used=58,
        lister_state=ListerState.WAITING,
        lister_page=13,
        rate=RateLimitView(
            limit=5_000,
            remaining=0,
            reset_at=now + 41 * 60 + 9,
            wait_kind=WaitKind.PRIMARY,
            wait_until=now + 41 * 60 + 9,
            requests=5_013,
            not_modified=1_802,
        ),
    )


def finished_with_errors() -> Snapshot:
    """The end of a run where 13 repos failed: the summary replaces the worker table."""
    snap = mid_run()
    end = START + 41 * 60 + 7
    last_try, *older = _errors(end)
    rest = tuple(older)
    return replace(
        snap,
        run_state=RunState.FINISHED,
        now=end + 20,
        counts=Counts(listed=2_104, total=2_104, cloned=1_980, updated=41, unchanged=60, skipped=10, failed=13, failed_permanent=4),
        throughput=_throughput()[-240:] + (0.0,) * 60,
        repos_per_second=0.0,
        bytes_per_second=0.0,
        buffer_used=0,
        lister_state=ListerState.DONE,
        rate=replace(snap.rate, remaining=2_861, requests=2_139, reset_at=end + 19 * 60),
        workers=tuple(WorkerView(i, WorkerState.DONE) for i in range(1, 9)),
        errors=(replace(last_try, attempt=3, retry_at=None),) + rest,
        error_count=19,
        exit_code=1,
    )


def prune_question() -> Snapshot:
    """A nightly mirror backup (``--mirror --wikis --prune``) at its end: every repo synced, and the dashboard asks
    before it moves the clones of 7 repos the forge no longer lists to the attic (one with local work stays)."""
    snap = finished_with_errors()
    return replace(
        snap,
        run_state=RunState.RUNNING,
        counts=Counts(listed=2_104, total=2_104, cloned=12, updated=230, unchanged=1_852, skipped=10, gone=8, kept=1, wikis=388),
        errors=(),
        error_count=0,
        exit_code=None,
        kinds=("mirror", "wikis"),
        prune_question=PruneQuestion(
            target=SETTINGS.name,
            count=7,
            total=2_112,
            names=("acme/legacy-billing", "acme/old-website", "acme/hackathon-2019", "acme/tmp-migration", "acme/poc-grpc"),
            attic="/backup/acme/.gz-tui/attic/2026-12-04",
            kept=1,
        ),
    )


def _sum_counts(counts: Sequence[Counts]) -> Counts:
    """The run's totals; the forge totals add up only when every target knows its own."""
    totals = {f.name: sum(getattr(c, f.name) for c in counts) for f in fields(Counts) if f.name != "total"}
    known = [c.total for c in counts]
    return Counts(total=None if None in known else sum(t or 0 for t in known), **totals)


def several_targets() -> Snapshot:
    """One run, three targets: a GitHub org mid-clone, a GitLab group tree waiting 0:41 on its primary rate
    limit, a Gitea org listed and finishing its last repos. One pool of 8 workers serves all three."""
    now = NOW
    github_rate = RateLimitView(limit=5_000, remaining=4_211, reset_at=now + 41 * 60 + 9, requests=22)
    gitlab_rate = RateLimitView(limit=2_000, remaining=0, reset_at=now + 41, wait_kind=WaitKind.PRIMARY, wait_until=now + 41, requests=6)
    targets = (
        TargetView(
            name="acme",
            forge="github",
            owner="acme",
            dest="/srv/mirror/acme",
            api_host="api.github.com",
            counts=Counts(listed=2_104, total=2_104, queued=380, active=4, cloned=1_180, updated=41, failed=13),
            lister_state=ListerState.FETCHING,
            lister_page=22,
            rate=github_rate,
            buffer_used=380,
            buffer_capacity=500,
            paused=False,
            run_state=RunState.RUNNING,
            state_path="/srv/mirror/acme/.gz-tui/state.sqlite3",
        ),
        TargetView(
            name="platform-infra",
            forge="gitlab",
            owner="platform/infra",
            dest="/srv/mirror/platform-infra",
            api_host="gitlab.com",
            counts=Counts(listed=300, total=640, queued=85, active=3, cloned=188, updated=22, failed=2),
            lister_state=ListerState.WAITING,
            lister_page=3,
            rate=gitlab_rate,
            buffer_used=85,
            buffer_capacity=500,
            paused=False,
            run_state=RunState.RUNNING,
            state_path="/srv/mirror/platform-infra/.gz-tui/state.sqlite3",
        ),
        TargetView(
            name="tools",
            forge="gitea",
            owner="tools",
            dest="/srv/mirror/tools",
            api_host="gitea.example.org",
            counts=Counts(listed=312, total=312, queued=1, active=1, cloned=290, unchanged=20),
            lister_state=ListerState.DONE,
            lister_page=7,
            rate=RateLimitView(requests=7),
            buffer_used=1,
            buffer_capacity=500,
            paused=False,
            run_state=RunState.RUNNING,
            state_path="/srv/mirror/tools/.gz-tui/state.sqlite3",
        ),
    )
    workers = (
        WorkerView(1, WorkerState.CLONING, "acme/kafka-connect", "receiving objects", 43.0, 212 * MIB + 77_312, now - 72, "acme"),
        WorkerView(
            2, WorkerState.CLONING, "platform/infra/terraform/modules-aws", "receiving objects", 71.0, 18 * MIB, now - 12, "platform-infra"
        ),
        WorkerView(3, WorkerState.UPDATING, "acme/spark-sql", "resolving deltas", 88.0, 31 * MIB + 400_000, now - 4, "acme"),
        WorkerView(4, WorkerState.CLONING, "tools/ci-runner-images", "counting objects", 35.0, 2 * MIB, now - 6, "tools"),
        WorkerView(5, WorkerState.UPDATING, "platform/infra/k8s/cluster-addons", "fetching", None, 96_000, now - 2, "platform-infra"),
        WorkerView(6, WorkerState.CLONING, "acme/web-frontend", "receiving objects", 12.0, 9 * MIB + 123_456, now - 9, "acme"),
        WorkerView(
            7,
            WorkerState.CLONING,
            "platform/infra/observability/grafana-dashboards",
            "receiving objects",
            64.0,
            5 * MIB,
            now - 21,
            "platform-infra",
        ),
        WorkerView(8, WorkerState.RETRYING, "acme/legacy-billing", "waiting to retry", None, 0, now - 31, "acme", waiting=True),
    )
    acme_errors = _errors(now)
    errors = (
        replace(acme_errors[0], target="acme"),
        ErrorView(
            now - 40, "platform/infra/k8s/legacy-helm-charts", ErrorClass.NETWORK, "fatal: early EOF", 1, 3, now - 34, "platform-infra"
        ),
        replace(acme_errors[1], target="acme"),
        ErrorView(
            now - 122,
            "platform/infra/secrets/vault-policies",
            ErrorClass.AUTH,
            "repository not accessible with this token (HTTP 403)",
            1,
            3,
            None,
            "platform-infra",
        ),
        *(replace(e, target="acme") for e in acme_errors[2:]),
    )
    acme = targets[0]
    return Snapshot(
        forge=acme.forge,
        owner=acme.owner,
        dest=acme.dest,
        api_host=acme.api_host,
        run_state=RunState.RUNNING,
        started_at=START,
        now=now,
        counts=_sum_counts([t.counts for t in targets]),
        throughput=_throughput(),
        repos_per_second=6.1,
        bytes_per_second=24.8 * MIB,
        buffer_used=sum(t.buffer_used for t in targets),
        buffer_capacity=sum(t.buffer_capacity for t in targets),
        lister_state=acme.lister_state,
        lister_page=acme.lister_page,
        # As Stats shows it: the quota of the target that waits (the API row names it), the whole run's requests.
        rate=replace(targets[1].rate, requests=sum(t.rate.requests for t in targets), quota_of=targets[1].name),
        workers=workers,
        errors=errors,
        error_count=15,
        state_path=acme.state_path,
        targets=targets,
    )


STATES = {
    "mid-run": mid_run,
    "paused-full-buffer": paused_full,
    "waiting-rate-limit": waiting_rate_limit,
    "finished-with-errors": finished_with_errors,
    "several-targets": several_targets,
    "prune-question": prune_question,
}
"""Name → snapshot builder; the names are the screenshot file names."""


def settings_for(state: str) -> list[Settings]:
    """The targets' settings behind a demo state (what ``r`` would run again)."""
    return list(TARGETS) if state == "several-targets" else [SETTINGS]


class StaticControl:
    """A ``RunControl`` that reports one fixed snapshot.

    ``run()`` returns the snapshot's exit code at once when the snapshot is terminal, otherwise it waits
    until ``cancel()`` (then reports CANCELLED and returns 130). ``pause()`` / ``resume()`` flip the
    reported state between PAUSED and the original one, so key handling can be tested without a forge.
    """

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._running_state = snapshot.run_state if snapshot.run_state != RunState.PAUSED else RunState.RUNNING
        self._cancelled = anyio.Event()
        self.calls: list[str] = []

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def show(self, snapshot: Snapshot) -> None:
        """Report ``snapshot`` from now on (a test moving the run on: a new error, the clock, a finished target)."""
        self._snapshot = snapshot

    @property
    def paused(self) -> bool:
        return self._snapshot.run_state == RunState.PAUSED

    def pause(self) -> None:
        self.calls.append("pause")
        self._snapshot = replace(self._snapshot, run_state=RunState.PAUSED)

    def unpause(self) -> None:
        self.calls.append("unpause")
        self._snapshot = replace(self._snapshot, run_state=self._running_state)

    def pause_target(self, name: str) -> None:
        self.calls.append(f"pause_target {name}")
        self._set_target_paused(name, True)

    def unpause_target(self, name: str) -> None:
        self.calls.append(f"unpause_target {name}")
        self._set_target_paused(name, False)

    def _set_target_paused(self, name: str, paused: bool) -> None:
        targets = tuple(replace(t, paused=paused) if t.name == name else t for t in self._snapshot.targets)
        self._snapshot = replace(self._snapshot, targets=targets)

    def cancel(self) -> None:
        self.calls.append("cancel")
        self._cancelled.set()

    def answer_prune(self, target: str, yes: bool) -> None:
        self.calls.append(f"answer_prune {target} {'yes' if yes else 'no'}")
        self._snapshot = replace(self._snapshot, prune_question=None)

    async def run(self) -> int:
        if self._snapshot.run_state.terminal:
            return self._snapshot.exit_code or 0
        await self._cancelled.wait()
        self._snapshot = replace(
            self._snapshot,
            run_state=RunState.CANCELLED,
            exit_code=130,
            workers=tuple(WorkerView(w.index) for w in self._snapshot.workers),
            buffer_used=0,
        )
        return 130


class StaticFactory:
    """A ``PipelineFactory`` whose every run reports ``snapshot``; records the targets' settings it was given."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.made: list[tuple[list[Settings], StaticControl]] = []
        """Each call's targets and the control it returned, in order."""

    def __call__(self, targets: Sequence[Settings]) -> StaticControl:
        control = StaticControl(self.snapshot)
        self.made.append((list(targets), control))
        return control


@contextmanager
def fixed_timezone(tz: str = "UTC") -> Iterator[None]:
    """Render wall-clock times in ``tz`` (snapshots and screenshots must not depend on the machine)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()
