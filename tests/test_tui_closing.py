"""After the dashboard closes, the terminal says how the run ended and what to do next (the alternate screen took
the dashboard with it). Real parts: gz-tui on a real pseudo-terminal, the embedded forge, real git."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

LEAVE_ALTERNATE_SCREEN = b"\x1b[?1049l"


def _read_until(fd: int, wanted: bytes, seconds: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            seen += chunk
    return seen


def _on_a_terminal(args: list[str], *, keys: list[tuple[bytes, bytes]], seconds: float = 60) -> tuple[int, bytes]:
    """Run gz-tui on a pty of 120×40; for each (wait_for, key) pair, wait for the bytes, then type the key."""
    controller, terminal = pty.openpty()
    os.set_blocking(controller, True)
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40", GH_TOKEN="")
    process = subprocess.Popen(
        [sys.executable, "-m", "gz_tui", *args], stdin=terminal, stdout=terminal, stderr=terminal, env=env, close_fds=True
    )
    os.close(terminal)
    output = b""
    try:
        for wanted, key in keys:
            output += _read_until(controller, wanted, seconds)
            time.sleep(0.3)
            os.write(controller, key)
        output += _read_until(controller, b"\x00never", 5)  # what it prints on its way out
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    return code, output


def _after_the_dashboard(output: bytes) -> str:
    tail = output.rpartition(LEAVE_ALTERNATE_SCREEN)[2].decode("utf-8", "replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", tail).replace("\r", "")


def test_a_finished_run_leaves_its_summary_and_where_to_look_on_the_terminal(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=6)
    dest = tmp_path / "acme"
    code, output = _on_a_terminal(["acme", "--base-url", sim.base_url, "--dest", str(dest), "--token", ""], keys=[(b"FINISHED", b"q")])
    assert code == 0, output[-2000:]
    shown = _after_the_dashboard(output)
    assert "gz-tui: acme: cloned 6 · updated 0 · unchanged 0 · skipped 0 · failed 0" in shown, shown
    assert f"finished (exit code 0); `gz-tui status {dest}` shows the backup" in shown


@pytest.mark.slow
def test_a_quit_mid_run_says_it_was_interrupted_and_how_to_resume(forge_factory: Any, tmp_path: Path) -> None:
    from gz_tui.forge_sim import Scenario

    sim = forge_factory(org="acme", repos=40, scenario=Scenario(git_latency=0.3))
    dest = tmp_path / "acme"
    args = ["acme", "--base-url", sim.base_url, "--dest", str(dest), "--workers", "1"]
    code, output = _on_a_terminal(args, keys=[(b"RUNNING", b"q"), (b"Quit while the run is going", b"\x03")])
    assert code == 130, output[-2000:]
    shown = _after_the_dashboard(output)
    assert "not done" in shown and "interrupted (exit code 130): nothing is lost" in shown, shown
    assert f"run `gz-tui acme --base-url {sim.base_url} --dest {dest} --workers 1` again to resume" in shown
