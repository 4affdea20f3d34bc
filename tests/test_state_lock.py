"""One gz-tui per state, whatever its --dest: two runs sharing a state would clone the same repos twice."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gz_tui.pipeline.lock import ProcessLock
from tests.conftest import run_cli
from tests.helpers import repo_dirs


def test_a_second_gz_tui_on_the_same_state_with_another_dest_is_refused(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=5)
    state = tmp_path / "shared" / "state.sqlite3"
    first_dest = tmp_path / "first"
    other_dest = tmp_path / "second"
    holder = ProcessLock.for_state(state)  # the first gz-tui, mid-run
    holder.acquire()
    try:
        result = run_cli(sim.org, "--base-url", sim.base_url, "--dest", str(other_dest), "--state", str(state))
    finally:
        holder.release()
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip() and "no token" not in line]
    expected = f"gz-tui: another gz-tui (PID {os.getpid()}) is already using the state {state}; wait for it to finish or stop it first"
    assert lines == [expected]
    assert [r for r in sim.requests() if r.kind == "git"] == []
    assert not other_dest.exists() or repo_dirs(other_dest) == set()

    # Once the holder is gone, the same command runs.
    again = run_cli(sim.org, "--base-url", sim.base_url, "--dest", str(first_dest), "--state", str(state))
    assert again.returncode == 0, again.stderr
    assert repo_dirs(first_dest) == set(sim.repo_names())
