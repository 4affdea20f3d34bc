"""P6's child: one run of the pipeline in this process, either under the dashboard or headless.

``python bench/tui_worker.py tui|headless BASE_URL DEST WORKERS`` prints one JSON line:
``{"mode", "seconds", "cloned", "failed", "exit_code", "self_cpu"}`` (``self_cpu``: this
process's CPU seconds during the run, git children excluded). ``seconds`` is ``Pipeline.run()``
alone (start to return), so the interpreter's and Textual's import time are not in it; the run is
the same object either way, only what drives it differs.
"""

from __future__ import annotations

import asyncio
import io
import json
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gz_tui.config import Settings
from gz_tui.pipeline.runner import Pipeline

ORG = "acme"


class TimedPipeline(Pipeline):
    """The product's pipeline, with its ``run()`` timed."""

    started: float | None = None
    seconds: float | None = None
    cpu: float | None = None
    """CPU seconds of this process (all its threads, git children excluded) while ``run()`` ran."""
    done: asyncio.Event | None = None

    async def run(self) -> int:
        self.started = time.perf_counter()
        cpu_start = _cpu()
        try:
            return await super().run()
        finally:
            self.seconds = time.perf_counter() - self.started
            self.cpu = _cpu() - cpu_start
            if self.done is not None:
                self.done.set()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def settings_for(url: str, dest: Path, workers: int, headless: bool) -> Settings:
    return Settings(owner=ORG, base_url=url, dest=dest, workers=workers, headless=headless)


async def run_tui(settings: Settings) -> TimedPipeline:
    from gz_tui.tui.app import make_app

    done = asyncio.Event()
    made: list[TimedPipeline] = []

    def factory(targets: Sequence[Settings]) -> TimedPipeline:
        pipeline = TimedPipeline(targets)
        pipeline.done = done
        made.append(pipeline)
        return pipeline

    app = make_app([settings], factory)
    async with app.run_test(headless=True, size=(120, 40)) as pilot:
        await done.wait()
        await pilot.pause()
    return made[0]


async def run_headless(settings: Settings) -> TimedPipeline:
    from gz_tui.headless import HeadlessReporter, run_headless_async

    made: list[TimedPipeline] = []
    sink = io.StringIO()  # what the CLI would print; discarded
    reporter = HeadlessReporter(json_mode=False, out=sink, err=sink, color=False)

    def factory(events: Any) -> TimedPipeline:
        pipeline = TimedPipeline(settings, events=events)
        made.append(pipeline)
        return pipeline

    await run_headless_async(factory, reporter)
    return made[0]


def main(argv: list[str]) -> int:
    mode, url, dest, workers = argv[0], argv[1], Path(argv[2]), int(argv[3])
    if mode == "tui":
        pipeline = asyncio.run(run_tui(settings_for(url, dest, workers, headless=False)))
    elif mode == "headless":
        pipeline = asyncio.run(run_headless(settings_for(url, dest, workers, headless=True)))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    counts = pipeline.stats.counts
    print(
        json.dumps(
            {
                "mode": mode,
                "seconds": pipeline.seconds,
                "cloned": counts.cloned,
                "failed": counts.failed,
                "exit_code": pipeline.stats.exit_code,
                "self_cpu": pipeline.cpu,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
