"""A state database that cannot be written (a full disk): a typed one-line error, and no acknowledgement lost.

Two real ways to fill SQLite up: ``PRAGMA max_page_count`` (SQLITE_FULL, anywhere) and a small tmpfs filled
to the last page (root only; skipped elsewhere, always unmounted).
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from gz_tui.forge_sim import Scenario
from gz_tui.forges.records import Page, RemoteRepo
from gz_tui.kinds import ErrorClass, RepoStatus, RunStatus
from gz_tui.pipeline.runner import Pipeline
from gz_tui.pipeline.state import Ack, StateStore, StateWriteError
from gz_tui.pipeline.state.repos import RepoRows
from tests.conftest import run_cli
from tests.helpers import json_sink, repo_dirs, run_pipeline, settings_for


def remote(index: int) -> RemoteRepo:
    name = f"repo-{index:04d}"
    return RemoteRepo(
        key=f"id-{index}", full_name=f"acme/{name}", rel_path=name, clone_url=f"https://example.com/acme/{name}.git", owner="acme"
    )


def listed_store(path: Path, count: int) -> tuple[StateStore, int]:
    store = StateStore(path)
    run_id = store.runs.begin(
        forge="github", base_url="https://api.github.com", owner="acme", dest=str(path.parent), options={}, dry_run=False
    )
    repos = [remote(i) for i in range(count)]
    store.pages.record(run_id, Page(url="https://api.github.com/orgs/acme/repos?page=1", repos=repos, next_url=None), repos)
    return store, run_id


def failed_acks(first: int, count: int) -> list[Ack]:
    return [
        Ack(f"id-{i}", RepoStatus.FAILED, error_class=ErrorClass.NETWORK, error_message="x" * 2000) for i in range(first, first + count)
    ]


def test_a_full_state_database_is_a_state_write_error_and_keeps_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store, run_id = listed_store(path, 50)
    try:
        store.repos.ack_many(run_id, [Ack(f"id-{i}", RepoStatus.CLONED) for i in range(10)])
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite now answers SQLITE_FULL to any growth

        more = [remote(i) for i in range(50, 550)]
        writes: dict[str, Callable[[], object]] = {
            "ack_many": lambda: store.repos.ack_many(run_id, failed_acks(10, 40)),
            "record_page": lambda: store.pages.record(
                run_id, Page(url="https://api.github.com/orgs/acme/repos?page=2", repos=more, next_url=None), more
            ),
            "begin_run": lambda: store.runs.begin(
                forge="github", base_url="b", owner="acme", dest="d", options={"x": "y" * 100_000}, dry_run=False
            ),
        }
        for name, write in writes.items():
            with pytest.raises(StateWriteError) as caught:
                write()
            message = str(caught.value)
            assert "\n" not in message, name
            assert message.startswith(f"the state database {path} cannot be written: "), message
            assert message.endswith("free some space and run again to resume"), message

        assert store.repos.done_counts(run_id) == {"cloned": 10}  # the failed writes left nothing half-done
        assert store.repos.listed_count(run_id) == 50
        assert store.integrity_ok()

        store.db.execute("PRAGMA max_page_count = 1000000")  # space is back: the same write goes through
        store.repos.ack_many(run_id, failed_acks(10, 40))
        assert store.repos.done_counts(run_id) == {"cloned": 10, "failed": 40}
    finally:
        store.close()


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, unmounted at the end of the test."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4M,mode=0700", "tmpfs", str(mount)], check=False, capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], check=False, capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", str(mount)], check=False, capture_output=True)


def fill(mount: Path) -> Path:
    """Write a file until the file system has no page left."""
    filler = mount / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return filler


def test_a_full_file_system_is_named_with_its_free_space_and_the_state_resumes_once_space_is_back(small_fs: Path) -> None:
    path = small_fs / "acme" / ".gz-tui" / "state.sqlite3"
    store, run_id = listed_store(path, 100)
    try:
        filler = fill(small_fs)
        writes: list[Callable[[], object]] = [
            lambda: store.repos.ack_many(run_id, [Ack(f"id-{i}", RepoStatus.CLONED, last_commit="0" * 40) for i in range(100)]),
            lambda: store.runs.finish(run_id, RunStatus.FINISHED),
        ]
        for write in writes:
            with pytest.raises(StateWriteError) as caught:
                write()
            assert str(caught.value) == (
                f"the state database {path} cannot be written: {small_fs} is full (0 B free); free some space and run again to resume"
            )
        with pytest.raises(StateWriteError, match=f"{small_fs} is full"):
            StateStore(small_fs / "other" / "state.sqlite3")  # a new state on the full disk: the same one line

        filler.unlink()
        store.repos.ack_many(run_id, [Ack(f"id-{i}", RepoStatus.CLONED, last_commit="0" * 40) for i in range(100)])
        store.runs.finish(run_id, RunStatus.FINISHED)
        assert store.repos.done_counts(run_id) == {"cloned": 100}
        assert store.runs.last() is not None and store.runs.last().finished  # type: ignore[union-attr]
    finally:
        store.close()


def done_in_state(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        run = db.execute("SELECT max(id) FROM runs").fetchone()[0]
        return {row[0] for row in db.execute("SELECT rel_path FROM repos WHERE done_run = ? AND status != 'failed'", (run,))}
    finally:
        db.close()


def test_acknowledgements_a_full_disk_refused_are_written_when_space_comes_back(
    forge_factory: Any, small_fs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk under the state fills mid-run, then frees up: no clone on disk is left unrecorded, none is fetched again."""
    sim = forge_factory(org="acme", repos=30)
    dest = tmp_path / "acme"
    state = small_fs / "state.sqlite3"
    filler: list[Path] = []
    refused: list[str] = []
    ack_many = RepoRows.ack_many

    def ack_many_then_free_space(repos: RepoRows, run_id: int, acks: list[Ack]) -> None:
        try:
            ack_many(repos, run_id, acks)
        except StateWriteError as exc:
            refused.append(str(exc))
            for file in filler:  # someone frees space right after the failure: the batch must still be there
                file.unlink(missing_ok=True)
            raise

    monkeypatch.setattr(RepoRows, "ack_many", ack_many_then_free_space)
    done: list[str] = []
    events: list[dict[str, Any]] = []

    def on_event(event: dict[str, Any]) -> None:
        events.append(event)
        if event["event"] == "repo_done":
            done.append(event["repo"])
            if len(done) == 3:
                filler.append(fill(small_fs))

    pipeline = Pipeline(settings_for(sim, dest, state_path=state, workers=2), events=json_sink(on_event))
    code = anyio.run(pipeline.run)
    assert refused, "the disk never filled up under the state"
    assert code == 1
    assert f"{small_fs} is full" in refused[0]
    summary = events[-1]
    assert summary["event"] == "summary"
    assert str(state) in summary["message"] and "cannot be written" in summary["message"]
    on_disk = repo_dirs(dest)
    assert len(on_disk) >= 3
    assert on_disk <= done_in_state(state), f"cloned but not recorded: {sorted(on_disk - done_in_state(state))[:5]}"

    monkeypatch.setattr(RepoRows, "ack_many", ack_many)
    sim.clear_log()
    again, _, _ = run_pipeline(settings_for(sim, dest, state_path=state))
    assert again == 0
    fetched = {r.path.split("/")[2].removesuffix(".git") for r in sim.requests() if r.kind == "git" and "info/refs" in r.path}
    assert fetched and not fetched & on_disk
    assert repo_dirs(dest) == set(sim.repo_names())


def test_a_full_destination_stops_the_run_in_one_line_and_the_next_run_with_room_finds_the_clones(
    forge_factory: Any, small_fs: Path
) -> None:
    """The whole battery shape: DEST (and with it the state) on a full tmpfs, through the CLI, then room again."""
    sim = forge_factory(org="acme", repos=40, scenario=Scenario(repo_size_kb=200))
    dest = small_fs / "acme"
    args = ("acme", "--base-url", sim.base_url, "--dest", str(dest), "--json", "--workers", "2")
    result = run_cli(*args)
    first = result.stdout
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 1, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    summary = events[-1]
    assert summary["event"] == "summary" and summary["exit_code"] == 1
    failures = [e for e in events if e["event"] == "repo_failed"]
    assert all(e["error_class"] == "disk" for e in failures), {e["message"] for e in failures if e["error_class"] != "disk"}
    stopped = [e for e in events if e["event"] == "error"]
    if stopped:  # the state hit the full disk before the listing ran out of repos
        assert len(stopped) == 1 and f"{small_fs} is full" in stopped[0]["message"]
    on_disk = repo_dirs(dest)
    assert on_disk, "some clones fitted before the disk filled up"

    subprocess.run(["mount", "-o", "remount,size=64M", str(small_fs)], check=True)
    recloned: set[str] = set()
    for _ in range(2):  # resume the stopped run (its disk failures stay failures: exit 1), then a new pass
        result = run_cli(*args)
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        events = [json.loads(line) for line in result.stdout.splitlines()]
        assert result.returncode == (1 if events[-1]["failed"] else 0), result.stderr
        recloned |= {e["repo"].split("/", 1)[1] for e in events if e["event"] == "repo_done" and e["outcome"] == "cloned"}
        if result.returncode == 0:
            break
    assert result.returncode == 0, first[-3000:]
    assert repo_dirs(dest) == set(sim.repo_names())
    assert not recloned & on_disk, "a clone already on disk is found there, never cloned again"
