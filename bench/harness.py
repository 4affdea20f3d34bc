"""Plumbing shared by the benchmarks: an isolated environment, the forge as a separate process,
timed child processes, and the result rows the table is made of.

Nothing here knows about a particular benchmark; ``benchmarks.py`` holds those.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
PYTHON = sys.executable
ORG = "acme"
TOKEN_VARS = ("GH_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN", "GITEA_TOKEN")


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    """One line of the table. ``ours``/``ref`` are already formatted; ``met`` is None when not judged."""

    metric: str
    ours: str
    ref: str
    ratio: str
    goal: str
    met: bool | None
    notes: list[str] = field(default_factory=list)

    def cells(self) -> list[str]:
        met = "—" if self.met is None else ("yes" if self.met else "**NO**")
        return [self.metric, self.ours, self.ref, self.ratio, self.goal, met]


class BenchError(Exception):
    """The benchmark could not produce a valid measurement (the run crashed or did the wrong thing)."""


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def paired_ratio(ours: Sequence[float], theirs: Sequence[float]) -> float:
    """Median of run-by-run ratios: each pair ran back to back, so a burst of load skews both alike."""
    return median(a / b for a, b in zip(ours, theirs, strict=True))


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """``min–max`` of the samples, for the notes."""
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}" if values else "?"


# --------------------------------------------------------------------------- environment


class Workspace:
    """A temporary directory for one bench run, plus the environment every child gets.

    The user's config file, log dir, tokens and git config are kept out, so a run on a developer
    machine measures the same thing as one in CI. Removed on ``close()``.
    """

    def __init__(self, dest_root: Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="gz-bench-"))
        self.dest_root = Path(tempfile.mkdtemp(prefix="gz-bench-dest-", dir=dest_root)) if dest_root else self.root
        """Where clone destinations go (``--dest-root``; tmpfs by default): the forge's bare repos stay in ``root``."""
        home = self.root / "home"
        home.mkdir()
        (home / "gitconfig").write_text("")
        # PYTHONDONTWRITEBYTECODE would make every child compile gz_tui from source (~50 ms of start-up an
        # installed copy never pays): children run from the bytecode run.py compiles first.
        env = {k: v for k, v in os.environ.items() if k not in TOKEN_VARS and not k.startswith("GIT_") and k != "PYTHONDONTWRITEBYTECODE"}
        env.update(
            GZ_TUI_CONFIG=str(home / "config.toml"),
            GZ_TUI_LOG_DIR=str(home / "logs"),
            GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_TERMINAL_PROMPT="0",
            NO_COLOR="1",
        )
        # Children import gz_tui from this checkout even when it is not pip-installed.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        self.env = env
        self._counter = 0

    def fresh_dir(self, label: str) -> Path:
        """A new, not yet existing path under the workspace."""
        self._counter += 1
        return self.root / f"{label}-{self._counter}"

    def fresh_dest(self, label: str) -> Path:
        """A new, not yet existing clone destination under ``dest_root``."""
        self._counter += 1
        return self.dest_root / f"{label}-{self._counter}"

    def remove(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.dest_root, ignore_errors=True)


def is_tmpfs(path: Path) -> bool:
    """Whether ``path`` lies on a tmpfs mount (by the longest matching mount point in /proc/mounts)."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return False
    resolved = str(path.resolve())
    best, kind = "", ""
    for fields in mounts:
        point = fields[1] if len(fields) > 2 else ""
        if point and (resolved == point or resolved.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind == "tmpfs"


def default_dest_root() -> Path | None:
    """tmpfs (``/dev/shm``) when this machine has a writable one: clone timings without the disk's fsync noise."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


# --------------------------------------------------------------------------- the forge


@dataclass(frozen=True, slots=True)
class ListedRepo:
    name: str
    clone_url: str
    pushed_at: str | None


API_BUDGET = 4000
"""API requests one forge process may serve in a bench. Its headers advertise GitHub's 5,000 an hour
(unenforced); a client that sees few remaining paces itself, and one that sees 0 waits for the reset,
which is correct behaviour but would wreck a timing. ``ForgeProcess.spend`` restarts it in time."""


class ForgeProcess:
    """``python -m gz_tui.forge_sim`` in its own process, so its CPU is not in gz-tui's process."""

    def __init__(
        self, ws: Workspace, repos: int, *, latency: float = 0.0, repo_size_kb: int = 0, heavy_history: bool = False, lfs_kb: int = 0
    ) -> None:
        self.ws = ws
        self.lfs_kb = lfs_kb
        """KiB of Git LFS files in every repo (0: none)."""
        self.repos = repos
        self.latency = latency
        self.repo_size_kb = repo_size_kb
        self.heavy_history = heavy_history
        self.used = 0
        self.page_urls: list[str] = []
        """The listing's pages in order, as ``listing()`` followed them (``Link: rel="next"``)."""
        self._start()

    def spend(self, requests: int) -> bool:
        """Account for ``requests`` about to be made; restart first if that would cross the budget.

        Returns True after a restart (new URL, cold caches: the caller warms again).
        """
        restarted = False
        if self.used + requests > API_BUDGET:
            self.stop()
            self._start()
            restarted = True
        self.used += requests
        return restarted

    def _start(self) -> None:
        ws, repos, latency, repo_size_kb = self.ws, self.repos, self.latency, self.repo_size_kb
        self.used = 0
        root = ws.fresh_dir("forge")
        args = [PYTHON, "-m", "gz_tui.forge_sim", "--org", ORG, "--repos", str(repos), "--root", str(root)]
        if latency:
            args += ["--latency", str(latency)]
        if repo_size_kb:
            args += ["--repo-size-kb", str(repo_size_kb)]
        if self.heavy_history:
            args += ["--heavy-history"]
        if self.lfs_kb:
            args += ["--lfs-repos", str(repos), "--lfs-kb", str(self.lfs_kb), "--lfs-files", "5"]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ws.env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"http://[0-9.]+:\d+", line)
        if not match:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.stop()
            raise BenchError(f"forge_sim did not start: {line!r} {err[-500:]!r}")
        self.url = match.group(0)

    def listing_url(self) -> str:
        """The listing gz-tui itself asks for first (oldest first, 100 a page)."""
        return f"{self.url}/orgs/{ORG}/repos?type=all&per_page=100&sort=created&direction=asc"

    def listing(self) -> list[ListedRepo]:
        """Every repo as the API lists it (this also warms the forge's page cache)."""
        import httpx

        repos: list[ListedRepo] = []
        self.used += self.repos // 100 + 1
        next_url: str | None = self.listing_url()
        self.page_urls = []
        with httpx.Client(timeout=60) as client:
            while next_url:
                self.page_urls.append(next_url)
                response = client.get(next_url)
                response.raise_for_status()
                repos += [ListedRepo(i["name"], i["clone_url"], i.get("pushed_at")) for i in response.json()]
                next_url = response.links.get("next", {}).get("url")
        if len(repos) != self.repos:
            raise BenchError(f"forge listed {len(repos)} repos, expected {self.repos}")
        return repos

    def warm_git(self, clone_urls: Sequence[str]) -> None:
        """The forge makes bare repos lazily on first git contact: do that outside the timings."""
        warm_git(clone_urls)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def warm_git(clone_urls: Sequence[str]) -> None:
    import httpx

    with httpx.Client(timeout=60) as client:

        def touch(url: str) -> None:
            client.get(f"{url}/info/refs", params={"service": "git-upload-pack"}).raise_for_status()

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(touch, clone_urls))


# --------------------------------------------------------------------------- child processes


def gz_args(url: str, dest: Path, *extra: str, workers: int = 8) -> list[str]:
    """``python -m gz_tui OWNER`` headless with JSON events, an explicit (empty) token: no `gh` lookup."""
    return [
        PYTHON, "-m", "gz_tui", ORG, "--base-url", url, "--dest", str(dest),
        "--workers", str(workers), "--token", "", "--no-tui", "--json", *extra,
    ]  # fmt: skip


@dataclass
class Finished:
    seconds: float
    returncode: int
    events: list[dict[str, Any]]
    stderr: str
    maxrss_kb: int = 0
    cpu_seconds: float = 0.0
    """user + system CPU of the child and the children it waited for (git included)."""
    stdout: str = ""
    own_cpu_seconds: float | None = None
    """user + system CPU of the child process alone, its own children (git) excluded: read from
    ``/proc/PID/stat`` while the exited child is still a zombie. None where ``/proc`` is not there."""

    @property
    def summary(self) -> dict[str, Any]:
        for event in reversed(self.events):
            if event.get("event") == "summary":
                return event
        raise BenchError(f"no summary event (exit {self.returncode}); stderr: {self.stderr[-800:]}")


def run_timed(args: Sequence[str], ws: Workspace, *, stdin: str | None = None, timeout: float = 900) -> Finished:
    """Run a child to completion; wall time from just before ``fork`` to its exit, and its peak RSS.

    stdout goes to a file (not a pipe the parent must drain while timing); it is parsed as JSON
    lines afterwards when it looks like them.
    """
    out_path = ws.fresh_dir("stdout")
    err_path = ws.fresh_dir("stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            args, stdout=out, stderr=err, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL, env=ws.env
        )
        if stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        seconds, own_cpu = _wait_exited(proc, timeout, start)
        status, rusage = _wait4(proc, timeout)
    text = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    out_path.unlink()
    err_path.unlink()
    return Finished(seconds, status, _json_lines(text), stderr, int(rusage.ru_maxrss), rusage.ru_utime + rusage.ru_stime, text, own_cpu)


def _wait_exited(proc: subprocess.Popen[bytes], timeout: float, start: float) -> tuple[float, float | None]:
    """Wait until the child has exited without reaping it: (wall seconds since ``start``, its own CPU seconds).

    ``wait4``'s rusage adds the CPU of every descendant the child waited for (git), and ``/proc/PID/stat``
    of a running process is a moving target; a zombie's ``utime``/``stime`` are final and its own alone.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            exited = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except (AttributeError, ChildProcessError):  # no waitid here: fall back to wait4's timing, no own CPU
            return time.perf_counter() - start, None
        if exited is not None:
            return time.perf_counter() - start, _zombie_cpu(proc.pid)
        if time.monotonic() > deadline:
            return time.perf_counter() - start, None  # _wait4 raises the timeout
        time.sleep(0.002)


def _zombie_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: this process only
    except (OSError, IndexError, ValueError):
        return None


def _wait4(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, Any]:
    """``wait4`` the child: its exit code and its own rusage (``ru_maxrss`` of that child, not of others)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, rusage
        if time.monotonic() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            proc.returncode = -9
            raise BenchError(f"{' '.join(map(str, proc.args))[:200]} timed out after {timeout:.0f} s")  # type: ignore[arg-type]
        time.sleep(0.002)


def _json_lines(text: str) -> list[dict[str, Any]]:
    events = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return events


def run_until_event(
    args: Sequence[str], ws: Workspace, event: str, *, timeout: float = 120, stop: bool = True
) -> tuple[float, float, Finished]:
    """Start a child and time how long until it prints the JSON ``event`` (read as it arrives).

    Returns (epoch at start, seconds to the event, the finished run). With ``stop`` the child gets
    SIGINT right after the event (the rest of the run is not what is measured) and is waited for.
    """
    err_path = ws.fresh_dir("stderr")
    marker = b'{"event": "' + event.encode() + b'"'
    seen: float | None = None
    lines: list[bytes] = []
    with open(err_path, "wb") as err:
        start_epoch = time.time()
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=ws.env)
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if seen is None and line.startswith(marker):
                    seen = time.perf_counter() - start
                    if stop:
                        proc.send_signal(signal.SIGINT)
                lines.append(line)
            proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
    stderr = err_path.read_text(errors="replace")
    err_path.unlink()
    text = b"".join(lines).decode(errors="replace")
    finished = Finished(time.perf_counter() - start, proc.returncode, _json_lines(text), stderr, stdout=text)
    if seen is None:
        raise BenchError(f"the run ended (exit {proc.returncode}) without a {event!r} event; stderr: {stderr[-800:]}")
    return start_epoch, seen, finished


def rotate(runs: int, *measures: Callable[[], float]) -> list[list[float]]:
    """Run several measurements side by side, the order rotating each run (A B C, B C A, C A B, ...)."""
    results: list[list[float]] = [[] for _ in measures]
    for i in range(runs):
        for k in range(len(measures)):
            index = (i + k) % len(measures)
            results[index].append(measures[index]())
    return results


def alternate(runs: int, first: Callable[[], float], second: Callable[[], float]) -> tuple[list[float], list[float]]:
    """Run two measurements side by side, ABBA-style, so drift and neighbours' load hit both alike."""
    a: list[float] = []
    b: list[float] = []
    for i in range(runs):
        if i % 2 == 0:
            a.append(first())
            b.append(second())
        else:
            b.append(second())
            a.append(first())
    return a, b


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "?"
    try:
        git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        git = "git not found"
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = "?"
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {
        "nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "cpu": cpu,
        "memory": _memory(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "git": git,
        "os": f"{platform.system()} {platform.release()}",
        "gz-tui commit": commit or "?",
        "load average at start": load,
    }


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "?"
