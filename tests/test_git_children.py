"""No git process outlives gz-tui, however gz-tui dies: ``kill -9`` of its PID or of its whole process group.

The forge's git side is stalled, so every git child sits waiting on the server with its helpers
(``git remote-http`` and ``git-remote-http``) alive: the worst case, where no broken pipe would ever wake them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gz_tui.forge_sim.dispatch import Dispatcher, GitAnswer
from tests.helpers import git_processes_touching

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

TOKEN = "ghp_ChildrenAuditToken0123456789"
GRACE_SECONDS = 1.5


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(root: int) -> dict[int, str]:
    """Every live descendant of ``root``: PID → command (argv[0])."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            try:
                found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            todo.append(pid)
    return found


def alive(pids: dict[int, str]) -> dict[int, str]:
    """The processes of ``pids`` still running (a zombie is dead: it only waits for its new parent to reap it)."""
    return {pid: name for pid, name in pids.items() if (fields := _stat(pid)) is not None and fields[0] not in ("Z", "X")}


@pytest.fixture
def stalled_git(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every git request to the embedded forge hangs until the test ends."""
    release = threading.Event()
    real = Dispatcher.serve_git

    def stalled(self: Dispatcher, *args: Any) -> GitAnswer:
        release.wait(120)
        return real(self, *args)

    monkeypatch.setattr(Dispatcher, "serve_git", stalled)
    yield
    release.set()


@pytest.mark.parametrize("target", ["pid", "process group"])
def test_no_git_process_outlives_a_killed_gz_tui(forge_factory: Any, tmp_path: Path, stalled_git: None, target: str) -> None:
    sim = forge_factory(org="acme", repos=6, token=TOKEN)
    dest = tmp_path / "dest"
    process = subprocess.Popen(
        [sys.executable, "-m", "gz_tui", "acme", "--base-url", sim.base_url, "--dest", str(dest), "--no-tui", "--workers", "3"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "GH_TOKEN": TOKEN},
        start_new_session=True,  # its own process group, as a shell job would have
    )
    try:
        deadline = time.monotonic() + 60
        tree: dict[int, str] = {}
        while time.monotonic() < deadline and process.poll() is None:
            tree = descendants(process.pid)
            helpers = [name for name in tree.values() if os.path.basename(name) == "git-remote-http"]
            if len(helpers) >= 3 and git_processes_touching(dest):
                break
            time.sleep(0.05)
        assert process.poll() is None, "gz-tui ended before its git children were all waiting on the forge"
        gits = {pid: name for pid, name in tree.items() if os.path.basename(name).startswith("git")}
        assert len(gits) >= 9, tree  # git clone, git remote-http and git-remote-http for each of 3 workers
        # While they are all there: which git children hold the token raw? (None should: only the scoped header.)
        holding_token = []
        for pid, name in gits.items():
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if TOKEN.encode() in environ or b"GH_TOKEN=" in environ:
                holding_token.append(name)

        if target == "pid":
            os.kill(process.pid, signal.SIGKILL)
        else:
            os.killpg(process.pid, signal.SIGKILL)
        killed = time.monotonic()
        process.wait(timeout=10)

        left: dict[int, str] = {}
        while time.monotonic() - killed < GRACE_SECONDS:
            left = alive(tree) | {pid: "touching dest" for pid in git_processes_touching(dest)}
            if not left:
                break
            time.sleep(0.05)
        assert left == {}, f"still running {time.monotonic() - killed:.1f} s after gz-tui was killed: {left}"
        assert holding_token == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        for pid in alive(descendants(process.pid) | tree):  # what a failing run left behind, this test's own
            os.kill(pid, signal.SIGKILL)
