"""A damaged or unreadable state database: one line naming the file and the fix, and ``--fresh`` recovers.

Real SQLite files, damaged the way disks and people damage them: garbage over the first 4 KB, a page of the
repos table overwritten further in, a state from a newer gz-tui, another program's database.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gz_tui.pipeline.state import (
    SCHEMA_VERSION,
    StateCorruptError,
    StateStore,
    StateVersionError,
    schema,
)
from tests.conftest import run_cli
from tests.helpers import repo_dirs, run_pipeline, settings_for


def state_of(dest: Path) -> Path:
    return dest / ".gz-tui" / "state.sqlite3"


def garbage_at_start(path: Path) -> None:
    with open(path, "r+b") as file:
        file.write(os.urandom(4096))


def garbage_in_repos_table(path: Path) -> None:
    """Overwrite the root page of the ``repos`` table: the header and the small tables stay readable."""
    db = sqlite3.connect(path)
    try:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'repos'").fetchone()[0]
    finally:
        db.close()
    assert root > 1
    with open(path, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(os.urandom(page_size))


def git_requests(sim: Any) -> list[str]:
    return [r.path for r in sim.requests() if r.kind == "git"]


def cli(sim: Any, dest: Path, *extra: str) -> Any:
    return run_cli(sim.org, "--base-url", sim.base_url, "--dest", str(dest), *extra)


def one_line(text: str) -> str:
    """The one line of an error on stderr (the tokenless-run warning aside, as in test_cli)."""
    lines = [line for line in text.splitlines() if line.strip() and "no token" not in line]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.mark.parametrize("damage", [garbage_at_start, garbage_in_repos_table], ids=["first-4KB", "repos-page"])
def test_a_damaged_state_is_one_line_everywhere_and_fresh_moves_it_aside(forge_factory: Any, tmp_path: Path, damage: Any) -> None:
    sim = forge_factory(org="acme", repos=6)
    dest = tmp_path / "acme"
    assert run_pipeline(settings_for(sim, dest))[0] == 0
    path = state_of(dest)
    damage(path)
    sim.clear_log()

    run = cli(sim, dest)
    assert run.returncode == 2
    line = one_line(run.stderr)
    assert str(path) in line and "damaged" in line and "--fresh" in line
    assert git_requests(sim) == []

    status = run_cli("status", str(dest))
    assert status.returncode == 2
    assert one_line(status.stderr) == line

    fresh = cli(sim, dest, "--fresh", "--json")
    assert fresh.returncode == 0, fresh.stderr
    events = [json.loads(text) for text in fresh.stdout.splitlines()]
    moved = [p for p in path.parent.iterdir() if p.name.startswith("state.sqlite3.corrupt-")]
    assert len(moved) == 1
    assert any(e["event"] == "notice" and moved[0].name in e["message"] for e in events)
    summary = events[-1]
    assert summary["event"] == "summary"
    assert summary["cloned"] == 0 and summary["unchanged"] + summary["updated"] == 6  # clones on disk became updates
    assert repo_dirs(dest) == set(sim.repo_names())
    assert run_cli("status", str(dest)).returncode == 0


def test_damage_found_after_open_in_a_big_state_ends_the_run_with_the_same_line(
    forge_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above QUICK_CHECK_MAX_BYTES only the small tables are checked at open: the query that meets the damage says it."""
    monkeypatch.setattr(schema, "QUICK_CHECK_MAX_BYTES", 0)
    sim = forge_factory(org="acme", repos=6)
    dest = tmp_path / "acme"
    assert run_pipeline(settings_for(sim, dest))[0] == 0
    garbage_in_repos_table(state_of(dest))
    store = StateStore(state_of(dest))  # opens: the damage is where the cheap check does not look
    store.close()

    code, _, events = run_pipeline(settings_for(sim, dest))
    assert code == 2
    errors = [e["message"] for e in events if e["event"] == "error"]
    assert len(errors) == 1 and str(state_of(dest)) in errors[0] and "--fresh" in errors[0]

    code, _, events = run_pipeline(settings_for(sim, dest, fresh=True))  # --fresh checks the whole file
    assert code == 0
    assert events[-1]["cloned"] == 0
    assert [p.name for p in state_of(dest).parent.glob("state.sqlite3.corrupt-*")]


def test_fresh_moves_the_wal_and_shm_aside_with_the_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    StateStore(path).close()
    garbage_at_start(path)
    Path(f"{path}-wal").write_bytes(b"wal of the damaged file")
    Path(f"{path}-shm").write_bytes(b"shm of the damaged file")
    with pytest.raises(StateCorruptError):
        StateStore.open(path)
    store = StateStore.open(path, fresh=True)
    try:
        assert store.runs.last() is None
        assert store.notice is not None and "moved aside" in store.notice
    finally:
        store.close()
    (moved,) = tmp_path.glob("state.sqlite3.corrupt-*[0-9]")
    assert Path(f"{moved}-wal").read_bytes() == b"wal of the damaged file"
    assert Path(f"{moved}-shm").read_bytes() == b"shm of the damaged file"


def set_version(path: Path, version: str) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
        db.commit()
    finally:
        db.close()


def test_a_state_from_a_newer_gz_tui_is_refused_and_fresh_starts_over(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=4)
    dest = tmp_path / "acme"
    assert run_pipeline(settings_for(sim, dest))[0] == 0
    path = state_of(dest)
    set_version(path, str(SCHEMA_VERSION + 1))
    sim.clear_log()

    run = cli(sim, dest)
    assert run.returncode == 2
    line = one_line(run.stderr)
    assert str(path) in line and f"state version {SCHEMA_VERSION + 1}" in line
    assert "upgrade gz-tui" in line and "--fresh" in line
    assert git_requests(sim) == []
    status = run_cli("status", str(dest))
    assert status.returncode == 2 and one_line(status.stderr) == line

    fresh = cli(sim, dest, "--fresh", "--json")
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout.splitlines()[-1])["cloned"] == 0
    (moved,) = path.parent.glob(f"state.sqlite3.v{SCHEMA_VERSION + 1}-*")
    db = sqlite3.connect(moved)  # kept as it was, for the newer gz-tui
    try:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION + 1)
    finally:
        db.close()


def test_another_programs_database_is_not_taken_for_a_state(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2)
    other = tmp_path / "notes.sqlite3"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE notes (body TEXT)")
    db.execute("INSERT INTO notes VALUES ('keep me')")
    db.commit()
    db.close()

    run = cli(sim, tmp_path / "acme", "--state", str(other))
    assert run.returncode == 2
    line = one_line(run.stderr)
    assert str(other) in line and "not a gz-tui state" in line
    db = sqlite3.connect(other)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    finally:
        db.close()
    assert tables == {"notes"}  # not converted into a state
    assert not (tmp_path / "acme").exists() or repo_dirs(tmp_path / "acme") == set()


@pytest.mark.parametrize("version", ["0", "1.5", "x"])
def test_an_older_or_unreadable_version_is_refused_at_open(tmp_path: Path, version: str) -> None:
    path = tmp_path / "state.sqlite3"
    StateStore(path).close()
    set_version(path, version)
    with pytest.raises((StateVersionError, StateCorruptError)) as caught:
        StateStore(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "--fresh" in message
