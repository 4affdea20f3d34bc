"""Crash-safe resume: SIGKILL at random moments, Ctrl+C, --retry-failed, --fresh, status, identity checks."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from gz_tui.forge_sim import ForgeSim, Scenario
from gz_tui.pipeline import runner
from gz_tui.pipeline.runner import Pipeline
from gz_tui.pipeline.state import StateStore
from tests.conftest import git_head, run_cli
from tests.helpers import interrupt_when, repo_dirs, run_pipeline, settings_for


def start_cli(sim: ForgeSim, dest: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gz_tui", sim.org, "--base-url", sim.base_url, "--dest", str(dest), "--json", "--workers", "4", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def done_in_state(dest: Path) -> set[str]:
    """Names the state records as finished in the current run (read with plain sqlite3)."""
    path = dest / ".gz-tui" / "state.sqlite3"
    if not path.exists():
        return set()
    db = sqlite3.connect(path)
    try:
        run = db.execute("SELECT max(id) FROM runs").fetchone()[0]
        rows = db.execute("SELECT rel_path FROM repos WHERE done_run = ? AND status != 'failed'", (run,)).fetchall()
    except sqlite3.OperationalError:
        return set()
    finally:
        db.close()
    return {row[0] for row in rows}


def cloned_names(sim: ForgeSim) -> list[str]:
    """Repos the forge served a clone/fetch to (one info/refs request each)."""
    return [r.path.split("/")[2].removesuffix(".git") for r in sim.requests() if r.kind == "git" and "info/refs" in r.path]


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_loses_and_repeats_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261128)
    with ForgeSim(root=tmp_path / "forge", org="acme", repos=300, scenario=Scenario(latency=0.005)) as sim:
        dest = tmp_path / "acme"
        kills = 0
        while True:
            recorded_done = done_in_state(dest)
            sim.clear_log()
            process = start_cli(sim, dest)
            if kills < 10:
                # Kill at a random moment, or as soon as the state grows by a random few repos,
                # whichever comes first: a fast machine still gets its kills mid-run.
                deadline = time.monotonic() + rng.uniform(0.25, 1.2)
                growth = rng.randint(1, 25)
                while time.monotonic() < deadline and process.poll() is None:
                    if len(done_in_state(dest) - recorded_done) >= growth:
                        break
                    time.sleep(0.02)
            if kills < 10 and process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.communicate(timeout=30)
                kills += 1
                again = set(cloned_names(sim)) & recorded_done
                assert again == set(), f"repos recorded done were cloned again after kill {kills}: {sorted(again)[:5]}"
                continue
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            assert set(cloned_names(sim)) & recorded_done == set()
            break
        summary = json.loads(out.splitlines()[-1])
        assert summary["event"] == "summary"
        assert kills >= 5, "the run finished before enough kills: make the org slower"
        names = set(sim.repo_names())
        assert repo_dirs(dest) == names
        for name in sorted(names)[::29]:
            assert git_head(dest / name) == sim.head_of(name)
        tmp = dest / ".gz-tui" / "tmp"
        assert not tmp.exists() or list(tmp.iterdir()) == []
        assert not [p for p in dest.iterdir() if p.name not in names and p.name != ".gz-tui"]
        store = StateStore(dest / ".gz-tui" / "state.sqlite3")
        try:
            assert store.integrity_ok()
        finally:
            store.close()


def test_ctrl_c_exits_130_after_saving_and_the_next_run_resumes(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=60, scenario=Scenario(repo_size_kb=512))
    dest = tmp_path / "acme"
    process = start_cli(sim, dest)
    out, err = interrupt_when(process, lambda: len(done_in_state(dest)) >= 5)
    assert process.returncode == 130, err
    saved = done_in_state(dest)
    assert 5 <= len(saved) < 60
    assert json.loads(out.splitlines()[-1])["event"] == "summary"
    sim.clear_log()
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "resume"
    assert events[-1]["resumed_done"] == len(saved)
    assert not set(cloned_names(sim)) & saved
    assert repo_dirs(dest) == set(sim.repo_names())


def test_retry_failed_requeues_only_the_failures(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=30, scenario=Scenario(git_throttle_rate=0.3, seed=3))
    dest = tmp_path / "acme"
    code, _, events = run_pipeline(settings_for(sim, dest, attempts=1))
    failed = {e["repo"].split("/")[1] for e in events if e["event"] == "repo_failed"}
    assert code == 1 and failed
    sim.scenario.git_throttle_rate = 0.0
    sim.clear_log()
    code, _, events = run_pipeline(settings_for(sim, dest, retry_failed=True))
    assert code == 0
    assert set(cloned_names(sim)) == failed
    assert events[-1]["cloned"] == len(failed)
    assert repo_dirs(dest) == set(sim.repo_names())


def test_fresh_forgets_state_and_existing_clones_become_updates(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=8)
    dest = tmp_path / "acme"
    assert run_pipeline(settings_for(sim, dest))[0] == 0
    code, _, events = run_pipeline(settings_for(sim, dest, fresh=True))
    assert code == 0
    assert events[-1]["cloned"] == 0 and events[-1]["unchanged"] == 8


def test_another_owner_on_the_same_state_is_refused(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=3)
    dest = tmp_path / "shared"
    assert run_pipeline(settings_for(sim, dest))[0] == 0
    result = run_cli("other", "--base-url", sim.base_url, "--dest", str(dest))
    assert result.returncode == 2
    assert "belongs to github owner 'acme'" in result.stderr


def test_status_reports_counts_and_top_errors(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=20, scenario=Scenario(hostile=True))
    dest = tmp_path / "acme"
    code, _, _ = run_pipeline(settings_for(sim, dest))
    assert code == 1
    result = run_cli("status", str(dest))
    assert result.returncode == 0, result.stderr
    assert "last run #1: finished" in result.stdout
    assert "unsafe:" in result.stdout
    assert "\x1b" not in result.stdout
    missing = run_cli("status", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no gz-tui state" in missing.stderr


def test_state_file_is_private(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2)
    dest = tmp_path / "acme"
    run_pipeline(settings_for(sim, dest))
    assert (dest / ".gz-tui" / "state.sqlite3").stat().st_mode & 0o777 == 0o600
    assert (dest / ".gz-tui").stat().st_mode & 0o077 == 0


@pytest.mark.slow
def test_cancel_at_any_moment_records_every_clone_already_on_disk(
    forge_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A graceful stop (Ctrl+C, `c`, `q`) saves every finished repo: none is fetched again as 'unknown'."""
    monkeypatch.setattr(runner, "ACK_FLUSH_SECONDS", 0.001)  # a flush is nearly always in flight when the cancel lands
    sim = forge_factory(org="acme", repos=400, scenario=Scenario(latency=0.002))
    dest = tmp_path / "acme"
    rng = random.Random(7)
    for _ in range(12):
        pipeline = Pipeline(settings_for(sim, dest, workers=6))

        async def run_then_cancel(pipeline: Pipeline = pipeline) -> int:
            result: list[int] = []
            async with anyio.create_task_group() as group:

                async def run() -> None:
                    result.append(await pipeline.run())

                group.start_soon(run)
                await anyio.sleep(rng.uniform(0.3, 0.9))
                pipeline.cancel()
            return result[0]

        assert anyio.run(run_then_cancel) == 130
        missing = repo_dirs(dest) - done_in_state(dest)
        assert missing == set(), f"on disk but not recorded after a cancel: {sorted(missing)[:5]}"
