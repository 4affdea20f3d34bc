"""How long the integrity probe at state open takes on a big state (``python bench/state_open.py [N]``).

Builds a state of N repos (default 100,000) with the product's own StateStore, all listed and done, then
times opening it: the whole ``StateStore.open`` and, separately, ``PRAGMA quick_check`` with a cold page
cache (a fresh connection) and a warm one. The figure decides whether every open can afford the check.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gz_tui.forges.records import Page, RemoteRepo
from gz_tui.kinds import RepoStatus
from gz_tui.pipeline.state import Ack, StateStore


def build(path: Path, n: int) -> None:
    store = StateStore.open(path)
    try:
        run_id = store.runs.begin(forge="github", base_url="https://api.github.com", owner="acme", dest=str(path.parent),
                                 options={}, dry_run=False)  # fmt: skip
        for start in range(0, n, 100):
            repos = [
                RemoteRepo(
                    key=f"id-{i}",
                    full_name=f"acme/repo-{i:06d}",
                    rel_path=f"repo-{i:06d}",
                    clone_url=f"https://github.com/acme/repo-{i:06d}.git",
                    pushed_at="2024-01-01T00:00:00Z",
                    default_branch="main",
                    owner="acme",
                )
                for i in range(start, min(n, start + 100))
            ]
            url = f"https://api.github.com/orgs/acme/repos?page={start // 100 + 1}"
            store.pages.record(run_id, Page(url=url, repos=repos, next_url=None, etag=f'W/"{start}"'), repos)
            store.repos.ack_many(run_id, [Ack(r.key, RepoStatus.CLONED, last_commit="0" * 40, pushed_at=r.pushed_at) for r in repos])
    finally:
        store.close()


def evict(path: Path) -> None:
    """Drop this file's pages from the OS page cache (Linux), so the next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def timed(function: Callable[[], object], runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "state.sqlite3"
        build(path, n)
        size = path.stat().st_size

        def evicted_quick_check() -> None:
            evict(path)
            cold_quick_check()

        def cold_quick_check() -> None:
            db = sqlite3.connect(path)
            try:
                assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            finally:
                db.close()

        warm = sqlite3.connect(path)
        warm.execute("PRAGMA quick_check").fetchall()

        def open_close() -> None:
            StateStore.open(path).close()

        print(f"state of {n:,} repos, {size / 2**20:.1f} MiB")
        print(f"PRAGMA quick_check, file evicted from the OS cache: {timed(evicted_quick_check):.0f} ms")
        print(f"PRAGMA quick_check, new connection: {timed(cold_quick_check):.0f} ms")
        print(f"PRAGMA quick_check, warm connection: {timed(lambda: warm.execute('PRAGMA quick_check').fetchall()):.0f} ms")
        print(f"StateStore.open + close:             {timed(open_close):.0f} ms")
        warm.close()


if __name__ == "__main__":
    main()
