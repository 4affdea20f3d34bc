"""Shards: N processes split one org with no coordinator, into one destination, and the union is one full run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gz_tui.forge_sim import Scenario
from gz_tui.shard import Shard, ShardError, shard_from, slot_of
from tests.conftest import run_cli
from tests.helpers import github_listing, repo_dirs

REPOS = 600


def shard_cli(sim: Any, dest: Path, shard: str | None, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "gz_tui", "acme", "--base-url", sim.base_url, "--dest", str(dest), "--json", "--workers", "2"]
    if shard is not None:
        args += ["--shard", shard]
    return subprocess.Popen([*args, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def finished(process: subprocess.Popen[str]) -> tuple[int, list[dict[str, Any]], str]:
    out, err = process.communicate(timeout=240)
    return process.returncode, [json.loads(line) for line in out.splitlines()], err


def served_clones(sim: Any) -> Counter[str]:
    return Counter(r.path.split("/")[2].removesuffix(".git") for r in sim.requests() if r.kind == "git" and "info/refs" in r.path)


@pytest.mark.slow
def test_three_concurrent_shards_split_one_org_into_one_destination(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=REPOS)
    dest = tmp_path / "acme"
    ids = {item["name"]: str(item["id"]) for item in github_listing(sim.base_url, "acme")}
    own = {k: {name for name, key in ids.items() if slot_of(key, 3) == k} for k in range(3)}
    assert all(own.values()) and sum(len(s) for s in own.values()) == REPOS

    # Three shards at once into one DEST; shard 1 is killed part-way.
    running = {k: shard_cli(sim, dest, f"{k}/3") for k in range(3)}
    deadline = time.monotonic() + 60
    while len(repo_dirs(dest) & own[1]) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    running[1].send_signal(signal.SIGKILL)
    results = {k: finished(p) for k, p in running.items()}
    for k in (0, 2):
        code, events, err = results[k]
        assert code == 0, err[-2000:]
        assert events[0]["event"] == "notice" and events[0]["message"].startswith(f"shard {k} of 3 (--shard)")
        summary = events[-1]
        assert summary["shard"] == k and summary["shards"] == 3 and summary["cloned"] == len(own[k])
        done = {e["repo"].removeprefix("acme/") for e in events if e["event"] == "repo_done"}
        assert done == own[k], "a shard syncs exactly its own repos"
    killed_before = repo_dirs(dest) & own[1]
    assert killed_before and killed_before != own[1]

    # The killed shard resumes only its own repos; the union is the whole org, each repo cloned once.
    code, events, err = finished(shard_cli(sim, dest, "1/3"))
    assert code == 0, err[-2000:]
    assert any(e["event"] == "resume" for e in events)
    again = {e["repo"].removeprefix("acme/") for e in events if e["event"] == "repo_done" and e["outcome"] == "cloned"}
    assert again <= own[1] and not again & killed_before
    assert repo_dirs(dest) == set(sim.repo_names())
    served = served_clones(sim)
    assert set(served) == set(sim.repo_names())
    twice = {name for name, n in served.items() if n > 1}
    # Only the killed shard's repos were asked twice: clones in flight when it died, and clones it had put in place
    # but not yet journaled (found on disk and fetched, never cloned again — asserted above).
    assert twice <= own[1] and max(served.values()) == 1 + bool(twice)

    status = run_cli("status", str(dest))
    assert status.returncode == 0, status.stderr
    assert "3 shards of" in status.stdout and "union: 600 repos done of 600 listed" in status.stdout
    assert "covers the whole listing" in status.stdout

    # Four shards now: a clone already on disk (whichever shard it now belongs to) is updated, never cloned again.
    sim.clear_log()
    fours = [shard_cli(sim, dest, f"{k}/4") for k in range(4)]
    outcomes: Counter[str] = Counter()
    for process in fours:
        code, events, err = finished(process)
        assert code == 0, err[-2000:]
        outcomes.update(e["outcome"] for e in events if e["event"] == "repo_done")
    assert outcomes["cloned"] == 0 and sum(outcomes.values()) == REPOS
    assert "4 shards of" in run_cli("status", str(dest)).stdout


def test_an_unsharded_run_and_shards_never_work_on_one_destination_at_once(forge_factory: Any, tmp_path: Path) -> None:
    from gz_tui.pipeline.lock import ProcessLock

    sim = forge_factory(org="acme", repos=10)
    dest = tmp_path / "acme"
    shard_lock = ProcessLock.for_dest(dest, shared=True)
    shard_lock.acquire()  # a shard is running
    try:
        result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--json")
        assert result.returncode == 2 and "already working on" in result.stdout
        sharded = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--json", "--shard", "0/2")
        assert sharded.returncode == 0, sharded.stderr  # a sibling shard is welcome
    finally:
        shard_lock.release()


def test_the_shard_comes_from_the_flag_an_indexed_job_or_gitlab_ci_and_says_so() -> None:
    assert shard_from("1/3", None, {}) == Shard(1, 3, "--shard")
    job = shard_from(None, 4, {"JOB_COMPLETION_INDEX": "2"})
    assert job == Shard(2, 4, "JOB_COMPLETION_INDEX=2, --shards 4")
    assert shard_from(None, None, {"JOB_COMPLETION_INDEX": "0", "GZ_TUI_SHARDS": "5"}) == Shard(
        0, 5, "JOB_COMPLETION_INDEX=0, GZ_TUI_SHARDS 5"
    )
    assert shard_from(None, None, {"CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "3"}) == Shard(2, 3, "CI_NODE_INDEX=3 of CI_NODE_TOTAL=3")
    assert shard_from(None, None, {"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "1"}) is None
    assert shard_from(None, None, {}) is None
    for flag, count, environ in (("3/3", None, {}), ("x", None, {}), (None, None, {"JOB_COMPLETION_INDEX": "1"}), (None, 3, {})):
        with pytest.raises(ShardError):
            shard_from(flag, count, environ)
    # Documented and stable: sha256 of the forge id, first 8 bytes big-endian, modulo N.
    assert [slot_of(key, 4) for key in ("1", "2", "3", "1296269")] == [1, 2, 3, 2]  # fixed forever: a change re-partitions every mirror
    assert slot_of("1296269", 7) == int.from_bytes(__import__("hashlib").sha256(b"1296269").digest()[:8], "big") % 7


def test_a_bad_shard_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (["--shard", "4/4"], ["--shard", "two"], ["--shards", "3"]):
        result = run_cli("acme", "--base-url", "http://127.0.0.1:1", "--dest", str(tmp_path / "d"), *args)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, (
            args,
            result.stderr,
        )
    indexed = run_cli("acme", "--base-url", "http://127.0.0.1:1", "--dest", str(tmp_path / "d"), env={"JOB_COMPLETION_INDEX": "1"})
    assert indexed.returncode == 2 and "--shards N" in indexed.stderr


def test_a_shard_that_cannot_start_leaves_its_siblings_state_alone(forge_factory: Any, tmp_path: Path) -> None:
    import anyio

    from gz_tui.pipeline.runner import Pipeline
    from tests.helpers import settings_for

    sim = forge_factory(org="acme", repos=20, token="good-token-123456", scenario=Scenario(latency=1.0, repo_size_kb=32))
    dest = tmp_path / "mirror"
    bad = Pipeline(settings_for(sim, dest, shard="0/2", token="bad-token-99999999"))  # a pod with a wrong token
    good = Pipeline(settings_for(sim, dest, shard="1/2", token="good-token-123456"))
    codes: dict[str, int] = {}

    async def main() -> None:
        async with anyio.create_task_group() as group:

            async def run_bad() -> None:  # first: it creates the destination, then its token is refused (1 s)
                codes["bad"] = await bad.run()
                codes["sibling_state_kept"] = int((dest / ".gz-tui" / "shard-1-of-2" / "state.sqlite3").exists())

            async def run_good() -> None:
                await anyio.sleep(0.3)  # its state is made while the bad shard waits for its answer
                codes["good"] = await good.run()

            group.start_soon(run_bad)
            group.start_soon(run_good)

    anyio.run(main)
    assert codes == {"bad": 2, "good": 0, "sibling_state_kept": 1}
