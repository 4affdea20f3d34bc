"""Running git safely: locked-down environment, token only via GIT_CONFIG_*, progress parsed, errors classified.

A token reaches git exclusively as ``http.<origin>/.extraHeader`` in the ``GIT_CONFIG_COUNT`` environment:
never in a URL, an argument list, ``.git/config`` or a token variable inherited from gz-tui's environment.
The runner asks its credential (:mod:`gz_tui.forges.auth`) for the token of now as each git process starts.

A git child never outlives gz-tui, however gz-tui dies (``kill -9`` of it or of its process group included). Each
git leads its own session and process group, so one ``killpg`` takes git and its helpers (``git-remote-https``,
``index-pack``): a cancel sends it, and so does the :class:`_Reaper`, a tiny process that outlives gz-tui by the
milliseconds it takes to kill the groups of the git children still running. (A parent-death signal would need a
``preexec_fn``, which makes every spawn a full ``fork()`` of gz-tui: about 20 ms instead of 2 ms.)
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import mmap
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import anyio

from gz_tui.forges.auth import Credential
from gz_tui.forges.errors import ForgeError
from gz_tui.forges.registry import KNOWN_TOKEN_VARS
from gz_tui.untrusted import Redactor, inert
from gz_tui.urls import is_loopback

MIN_GIT_VERSION = (2, 31)
"""GIT_CONFIG_COUNT arrived in git 2.31."""

_PROGRESS = re.compile(r"^(?:remote:\s*)?([A-Za-z][A-Za-z ]+?):\s+(\d{1,3})%")
_BYTES = re.compile(r"([\d.]+)\s*(bytes|KiB|MiB|GiB)")
_UNITS = {"bytes": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}

ProgressListener = Callable[[str, float | None, int], None]
"""Called with (phase, percent, received bytes so far)."""

PROGRESS_INTERVAL = 0.1
"""git rewrites its progress line many times a second; the listener hears at most one update per phase in this
many seconds (the dashboard redraws at about this rate), plus a phase's first line and the last line of all."""


@dataclass(frozen=True, slots=True)
class GitResult:
    returncode: int
    message: str
    """The most telling line of git's stderr, control characters removed, secrets redacted."""
    error_class: str
    """"" on success; else auth, not_found, network, throttled, disk, dirty, conflict or other."""
    output: str = ""
    received_bytes: int = 0
    changed_refs: int = 0
    """Ref update lines (``old..new  main -> origin/main``, ``* [new branch]``) git printed."""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def transient(self) -> bool:
        return self.error_class in ("network", "throttled")


def basic_auth_header(username: str, token: str) -> str:
    raw = base64.b64encode(f"{username}:{token}".encode()).decode()
    return f"Authorization: Basic {raw}"


@dataclass(frozen=True, slots=True)
class GitAuth:
    """Where git's token header goes and which credential gives the token: asked at the start of every git
    process, so a refreshed token reaches the next one while a transfer under way keeps its own header."""

    origin: str
    username: str
    credential: Credential


def with_header(env: Mapping[str, str], origin: str, header: str) -> dict[str, str]:
    """``env`` plus ``http.<origin>.extraHeader`` as one more ``GIT_CONFIG_*`` entry."""
    out = dict(env)
    index = int(out.get("GIT_CONFIG_COUNT", "0") or 0)
    out[f"GIT_CONFIG_KEY_{index}"] = f"http.{origin}.extraHeader"
    out[f"GIT_CONFIG_VALUE_{index}"] = header
    out["GIT_CONFIG_COUNT"] = str(index + 1)
    return out


def git_environment(
    *,
    base: Mapping[str, str],
    protocol: str,
    allow_http: bool,
    auth_origin: str | None = None,
    auth_header: str | None = None,
    strip_vars: Iterable[str] = (),
) -> dict[str, str]:
    """The environment every git child gets.

    The token variables gz-tui knows (:data:`KNOWN_TOKEN_VARS`) and ``strip_vars`` (a profile's ``token_env``)
    are removed: git has the token only as the origin-scoped header, and git, its remote helpers and whatever
    they run never see it raw.
    """
    # Inherited config *values* are dropped (they could carry helpers or another token); the variables
    # that only choose config files (GIT_CONFIG_GLOBAL, GIT_CONFIG_SYSTEM, GIT_CONFIG_NOSYSTEM) are kept.
    dropped = KNOWN_TOKEN_VARS | set(strip_vars) | {"GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS", "GIT_DIR", "GIT_WORK_TREE"}
    env = {k: v for k, v in base.items() if not (k in dropped or k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")))}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
        GCM_INTERACTIVE="never",
        GIT_PROTOCOL_FROM_USER="0",
        GIT_ALLOW_PROTOCOL="ssh" if protocol == "ssh" else ("http:https" if allow_http else "https"),
        LC_ALL="C",
        LANG="C",
    )
    if protocol == "ssh":
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    config: list[tuple[str, str]] = [
        ("credential.helper", ""),
        ("core.hooksPath", os.devnull),
        ("submodule.recurse", "false"),
        ("http.followRedirects", "false"),
        ("core.askPass", ""),
        ("transfer.fsckObjects", "false"),
    ]
    if auth_origin and auth_header:
        config.append((f"http.{auth_origin}.extraHeader", auth_header))
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


_QUOTED = re.compile(r"'[^'\n]*'")


_DISK_MARKERS = (
    "no space left",
    "disk quota",
    "read-only file system",
    "file name too long",
    # What git says when a write fails on a full disk without naming the cause (quoted parts already blanked):
    "could not set ''",  # could not set 'core.filemode' / 'core.logallrefupdates' to ...
    "unable to checkout working tree",
    "unable to update ref",
    "unable to write",
    "unable to create temporary",
    "failed to write",
    "invalid index-pack output",  # index-pack died writing the pack (a full disk), so fetch-pack read nothing from it
)


def classify(stderr: str) -> str:
    # git quotes URLs and paths ('https://host:4290/org/repo-429.git/', the clone's directory): they hold
    # forge- and user-chosen text, so a repo name or port must not make an auth failure look like a 429.
    text = _QUOTED.sub("''", stderr.lower())
    if any(s in text for s in _DISK_MARKERS):
        return "disk"
    if any(s in text for s in ("429", "503", "too many requests", "rate limit", "service unavailable")):
        return "throttled"
    if any(
        s in text
        for s in (
            "authentication failed",
            "could not read username",
            "could not read password",
            "terminal prompts disabled",
            "returned error: 401",
            "returned error: 403",
            "permission denied (publickey)",
            "access denied",
        )
    ):
        return "auth"
    if any(s in text for s in ("not found", "does not appear to be a git repository", "returned error: 404")):
        return "not_found"
    if any(
        s in text
        for s in (
            "could not resolve",
            "connection refused",
            "remote end hung up",
            "early eof",
            "timed out",
            "connection reset",
            "rpc failed",
            "unexpected disconnect",
            "returned error: 50",
            "failed to connect",
            "transfer closed",
            "gnutls",
            "ssl",
            "broken pipe",
            "empty reply",
        )
    ):
        return "network"
    if "not allowed" in text and "transport" in text:
        return "refused"
    if "not possible to fast-forward" in text or "diverging branches" in text or "conflict" in text:
        return "conflict"
    return "other"


_QUOTED_URL = re.compile(r" '[a-z][a-z0-9+.-]*://[^']*'")


def clean_line(line: str, secrets: Redactor | Iterable[str] = ()) -> str:
    """One line of git's stderr made safe and short: no escapes or controls, no secrets, no quoted URL."""
    redactor = secrets if isinstance(secrets, Redactor) else Redactor(secrets)
    return inert(_QUOTED_URL.sub("", line), flatten=True, limit=300, redactor=redactor)


def summarize(lines: Sequence[str], secrets: Redactor | Iterable[str] = ()) -> str:
    """The line a user needs: git's ``fatal:``/``error:`` line if any, else the last line."""
    redactor = secrets if isinstance(secrets, Redactor) else Redactor(secrets)
    cleaned = [clean_line(line, redactor) for line in lines if line.strip()]
    for prefix in ("fatal:", "error:"):
        picked = [line for line in cleaned if line.lower().startswith(prefix)]
        if picked:
            return picked[-1]
    return cleaned[-1] if cleaned else ""


class GitRunner:
    """Runs git children that die with gz-tui, each leading its own process group (a cancel kills its helpers too)."""

    def __init__(self, env: Mapping[str, str], *, secrets: Sequence[str] = (), git: str = "git", auth: GitAuth | None = None) -> None:
        # A variable holding the token raw (whatever its name: a profile's token_env) does not reach git.
        raw = {secret.strip() for secret in secrets if secret and secret.strip()}
        self.env = {key: value for key, value in env.items() if value.strip() not in raw}
        # git can echo a forge-controlled URL (or a server message) holding the token in any encoding a
        # request uses: redact the raw token, its base64 Basic-auth forms and its URL-encoded form.
        self.redactor = Redactor(secrets)
        self.git = git
        self.auth = auth
        self._known: set[str] = set()

    async def _env(self) -> tuple[dict[str, str], str | None] | GitResult:
        """The environment of the next git process with the token of now, and that token; or why there is none."""
        if self.auth is None:
            return self.env, None
        try:
            token = await self.auth.credential.fresh()
        except ForgeError as exc:
            return GitResult(returncode=1, message=self.redactor.redact(str(exc)), error_class="auth")
        if not token:
            return self.env, None
        if token not in self._known:
            self._known.add(token)
            self.redactor.add(token)
        return with_header(self.env, self.auth.origin, basic_auth_header(self.auth.username, token)), token

    async def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        on_progress: ProgressListener | None = None,
    ) -> GitResult:
        """Run git; a credential that can bring another token after git was refused gets one more try."""
        prepared = await self._env()
        if isinstance(prepared, GitResult):
            return prepared
        env, token = prepared
        result = await self._run(args, env, cwd=cwd, on_progress=on_progress)
        if result.error_class == "auth" and token and self.auth is not None and self.auth.credential.renewable:
            try:
                renewed = await self.auth.credential.renew(token)
            except ForgeError:
                renewed = False
            if renewed:
                prepared = await self._env()
                if isinstance(prepared, GitResult):
                    return prepared
                result = await self._run(args, prepared[0], cwd=cwd, on_progress=on_progress)
        return result

    async def _run(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        on_progress: ProgressListener | None = None,
    ) -> GitResult:
        tail: deque[str] = deque(maxlen=40)
        received = 0
        process: asyncio.subprocess.Process | None = None
        stdout = bytearray()
        try:
            # asyncio's own call: anyio.open_process cannot pass a preexec_fn. A session of its own makes git the
            # leader of its process group (one killpg takes its helpers) with no controlling terminal: a prompt
            # from a helper or a custom GIT_SSH_COMMAND fails at once instead of stopping on the user's terminal.
            _use_pidfd_child_watcher()
            process = await asyncio.create_subprocess_exec(
                self.git,
                *args,
                cwd=str(cwd) if cwd else None,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # no preexec_fn: it would force fork() over vfork (20 ms a spawn in a big process)
            )
            _REAPER.watch(process.pid)

            async def read_stdout() -> None:
                assert process is not None and process.stdout is not None
                while chunk := await process.stdout.read(65536):
                    if len(stdout) < 1_000_000:
                        stdout.extend(chunk)

            async def read_stderr() -> None:
                nonlocal received
                assert process is not None and process.stderr is not None
                pending = ""
                reporter = _ProgressReporter(on_progress)
                while chunk := await process.stderr.read(65536):
                    pending += chunk.decode("utf-8", "replace")
                    *lines, pending = _LINE_END.split(pending)
                    for line in lines:
                        received = max(received, reporter.line(line, received, tail))
                if pending:
                    received = max(received, reporter.line(pending, received, tail))
                reporter.flush()

            async with anyio.create_task_group() as group:
                group.start_soon(read_stdout)
                group.start_soon(read_stderr)
            returncode = await process.wait()
        finally:
            if process is not None and process.returncode is None:
                with anyio.CancelScope(shield=True):
                    _kill_group(process.pid)
                    with anyio.move_on_after(2):
                        await process.wait()
            if process is not None and process.returncode is not None:
                _REAPER.forget(process.pid)
        message = summarize(list(tail), self.redactor) if returncode else ""
        return GitResult(
            changed_refs=sum(1 for line in tail if " -> " in line),
            returncode=returncode,
            message=message,
            error_class=classify("\n".join(tail)) if returncode else "",
            output=stdout.decode("utf-8", "replace"),
            received_bytes=received,
        )


_LINE_END = re.compile(r"[\r\n]")


class _ProgressReporter:
    """git's progress lines for one process, passed on at the rate something can show them.

    Every line is classified (a progress line or one for the error tail), but the listener hears a phase's first
    line, then at most one line every :data:`PROGRESS_INTERVAL`, and, by ``flush``, the last line held back: the
    received bytes it reports always add up to what git received.
    """

    __slots__ = ("listener", "phase", "due", "held")

    def __init__(self, listener: ProgressListener | None) -> None:
        self.listener = listener
        self.phase = ""
        self.due = 0.0
        self.held: tuple[str, float, int] | None = None

    def line(self, line: str, received: int, tail: deque[str]) -> int:
        stripped = line.strip()
        match = _PROGRESS.match(stripped) if "%" in stripped else None
        if not match:
            if stripped:
                tail.append(line)
            return received
        phase = match.group(1).strip().lower()
        if phase.startswith("receiving"):
            sized = _BYTES.search(line)
            if sized:
                received = int(float(sized.group(1)) * _UNITS[sized.group(2)])
        if self.listener is None:
            return received
        update = (phase, float(match.group(2)), received)
        now = time.monotonic()
        if phase != self.phase or now >= self.due:
            self.phase, self.due, self.held = phase, now + PROGRESS_INTERVAL, None
            self.listener(*update)
        else:
            self.held = update
        return received

    def flush(self) -> None:
        if self.held is not None and self.listener is not None:
            self.listener(*self.held)
            self.held = None


_REAPER_SLOTS = 1024
"""Live git process groups gz-tui can have at once (64 workers at most, one git each, plus headroom)."""

_REAPER_SCRIPT = """
import mmap, os, signal, struct, sys
table = mmap.mmap(int(sys.argv[1]), int(sys.argv[2]) * 4)
sys.stdin.buffer.read()  # returns at end of file: gz-tui is gone, however it went
for pgid in struct.unpack(f"{int(sys.argv[2])}i", table[:]):
    if pgid > 0:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
"""


class _Reaper:
    """Kills the process groups of the git children still running once gz-tui is gone, however it went.

    A child Python (``-I -S``: a few milliseconds to start, once per gz-tui process) in its own session, so a kill
    of gz-tui's process group spares it. It shares a small table with gz-tui (an unlinked temporary file, mapped
    by both): gz-tui writes each live git's process group into a slot and clears it when git has exited — a
    memory write, no system call per spawn. The reaper only waits for end of file on a pipe that gz-tui alone
    holds (git never inherits it); then every group still in the table gets ``SIGKILL``, helpers included (a
    helper waiting on a stalled server would otherwise live on until it answers).
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._table: mmap.mmap | None = None
        self._slots: dict[int, int] = {}
        self._free: list[int] = []
        self._lock = threading.Lock()
        self._broken = False

    def watch(self, pgid: int) -> None:
        with self._lock:
            if self._table is None and not self._start():
                return
            if not self._free:
                return  # more groups than slots: a cancel still kills each of them
            slot = self._free.pop()
            self._slots[pgid] = slot
            assert self._table is not None
            _SLOT.pack_into(self._table, slot * 4, pgid)

    def forget(self, pgid: int) -> None:
        with self._lock:
            slot = self._slots.pop(pgid, None)
            if slot is not None and self._table is not None:
                _SLOT.pack_into(self._table, slot * 4, 0)
                self._free.append(slot)

    def _start(self) -> bool:
        if self._broken:
            return False
        try:
            with tempfile.TemporaryFile() as backing:
                backing.truncate(_REAPER_SLOTS * 4)
                table = mmap.mmap(backing.fileno(), _REAPER_SLOTS * 4)
                self._process = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _REAPER_SCRIPT, str(backing.fileno()), str(_REAPER_SLOTS)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=(backing.fileno(),),
                    start_new_session=True,
                )
        except (OSError, ValueError):
            self._broken = True  # no reaper: a cancel still kills every group
            return False
        self._table = table
        self._free = list(range(_REAPER_SLOTS - 1, -1, -1))
        atexit.register(self.close)
        return True

    def close(self) -> None:
        """On a normal exit: no group left to kill, then end of file for the reaper, and reap it."""
        with self._lock:
            process, self._process = self._process, None
            if self._table is not None:
                self._table[:] = bytes(len(self._table))
                self._slots.clear()
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass


_SLOT = struct.Struct("i")
_REAPER = _Reaper()

_child_watcher_checked = False


def _use_pidfd_child_watcher() -> None:
    """On Python 3.11, wait for git children with a pidfd on the running loop instead of a thread each.

    asyncio 3.11's default child watcher starts (and waits for) a thread per child: about a third of the event
    loop's time around a spawn. 3.12 and later already use pidfds where the kernel has them; 3.11 gets the
    same here, once per process, when ``os.pidfd_open`` works (Linux 5.3+, not blocked by a sandbox).
    """
    global _child_watcher_checked
    if _child_watcher_checked:
        return
    _child_watcher_checked = True
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_child_watcher(_PidfdChildWatcher())


class _PidfdChildWatcher(asyncio.AbstractChildWatcher):
    """Python 3.12's ``PidfdChildWatcher``: whatever loop is running watches the child's pidfd (3.11's own
    is tied to one loop, and gz-tui and its tests run several loops over a process's life)."""

    def __enter__(self) -> _PidfdChildWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def is_active(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        pass

    def add_child_handler(self, pid: int, callback: Callable[..., object], *args: object) -> None:
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(pid)
        loop.add_reader(pidfd, self._do_wait, pid, pidfd, loop, callback, args)

    def remove_child_handler(self, pid: int) -> bool:
        return False  # nothing to forget: the reader goes when the child has been reaped

    def _do_wait(
        self, pid: int, pidfd: int, loop: asyncio.AbstractEventLoop, callback: Callable[..., object], args: tuple[object, ...]
    ) -> None:
        loop.remove_reader(pidfd)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            returncode = 255  # reaped elsewhere (asyncio reports the same)
        else:
            returncode = os.waitstatus_to_exitcode(status)
        os.close(pidfd)
        callback(pid, returncode, *args)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def git_version(git: str = "git") -> tuple[int, int] | None:
    """The installed git's (major, minor), or None when git is not installed."""
    import shutil
    import subprocess

    path = shutil.which(git)
    if path is None:
        return None
    try:
        # Only PATH: no token variable reaches this git child either.
        env = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}
        out = subprocess.run([path, "--version"], check=False, capture_output=True, text=True, timeout=10, env=env).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else None


def allow_http_for(url: str, insecure_http: bool) -> bool:
    return insecure_http or is_loopback(urlsplit(url).hostname)
