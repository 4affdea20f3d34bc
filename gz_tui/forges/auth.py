"""What a run signs in with: one credential object the API client and the git runner both ask for the token of now.

- :class:`StaticToken`: ``--token``, a variable, ``gh auth token``, a token file: the same token all run long.
- :class:`CommandToken`: a token a command printed (``--token-cmd``); on a 401 the command is run again, once a
  run (a long run may outlive a short-lived token).
- a GitHub App's installation token: :mod:`gz_tui.forges.github_app`.

Every token is checked (:func:`token_problem`: printable ASCII, a leading UTF-8 BOM dropped) before anything is
sent with it, and registered with the process-wide redactor (:func:`gz_tui.untrusted.add_secret`). No Textual here.
"""

from __future__ import annotations

import os
import selectors
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

import anyio

from gz_tui.forges.errors import AuthError
from gz_tui.untrusted import Redactor, add_secret, inert

TOKEN_MAX_BYTES = 16 * 1024
"""The most a token file may hold, or a token command print: the longest forge tokens are a few hundred bytes."""
KEY_MAX_BYTES = 64 * 1024
"""The most a GitHub App's private key file may hold (a 4096-bit PEM key is about 3.3 KB)."""
BOM = "\ufeff"
"""A UTF-8 byte-order mark: Windows editors put it at the start of a saved file; it is never part of a token."""
POLL_SECONDS = 0.05
"""How often a token command's wait looks at whether it has exited (or was stopped from another thread)."""
STDERR_KEPT = 8 * 1024
"""The tail of a token command's stderr kept for its error line."""


class CredentialError(Exception):
    """A credential that cannot be used: ``str()`` is one line, naming what to fix."""


# --------------------------------------------------------------------------- what a token may hold


def token_problem(token: str) -> str | None:
    """What makes ``token`` impossible to send (in an HTTP header or git's environment), or None.

    Every forge's tokens are printable ASCII; anything else is a stray character (a non-breaking space pasted
    along, a Latin-1 file, a NUL) that httpx would refuse with a traceback or git with an "embedded null byte".
    The character is named by its code point, never shown, and the token is never quoted."""
    for char in token:
        if "!" <= char <= "~":
            continue
        code = f"U+{ord(char):04X}"
        if char == BOM:
            return f"a byte-order mark ({code}) inside it"
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"a control character ({code})"
        if char.isspace():
            return f"a space ({code})"
        return f"a non-ASCII character ({code})"
    return None


def clean_token(token: str) -> str:
    """``token`` trimmed, a leading byte-order mark dropped (what a file saved on Windows starts with)."""
    return token.strip().removeprefix(BOM).strip()


# --------------------------------------------------------------------------- token commands


class HelperProcess:
    """A token command's process group, ended by whoever comes first: its own end (a child it left holding stdout
    goes too), its time limit, Ctrl+C, or :meth:`stop` from another thread (a cancelled run).

    The command leads a session of its own (as git does): one ``killpg`` takes every process it started, and it
    has no terminal to prompt on. The group is killed only while its leader is unreaped, so its id cannot have
    been reused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._reaped = False
        self.stopped = False

    def started(self, pid: int) -> None:
        with self._lock:
            self._pid = pid
            if self.stopped:
                _kill_group(pid)

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            if self._pid is not None and not self._reaped:
                _kill_group(self._pid)

    def end(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            _kill_group(process.pid)
            self._reaped = True
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (OSError, AttributeError):  # AttributeError: no process groups (Windows)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _exit_status(process: subprocess.Popen[bytes]) -> int | None:
    """The command's exit code once it has exited, without reaping it (its group stays killable), else None."""
    if not hasattr(os, "waitid"):
        return process.poll()
    try:
        info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return process.poll()
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


class _TimedOut(Exception):
    pass


class _TooMuch(Exception):
    pass


def _read_into(fd: int, buffer: bytearray) -> bool:
    """Read what ``fd`` has now into ``buffer``; False at end of file."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not chunk:
            return False
        buffer.extend(chunk)
        if len(buffer) > TOKEN_MAX_BYTES:
            return True


def _collect(process: subprocess.Popen[bytes], limit: float, helper: HelperProcess) -> tuple[bytes, bytes, int]:
    """The command's stdout, the tail of its stderr and its exit code, as soon as the command itself has exited:
    what it wrote by then is in the pipes, and a child it left holding them is not waited for."""
    assert process.stdout is not None and process.stderr is not None
    out, err = bytearray(), bytearray()
    buffers = {process.stdout.fileno(): out, process.stderr.fileno(): err}
    deadline = time.monotonic() + limit
    with selectors.DefaultSelector() as selector:
        for fd in buffers:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        while True:
            if helper.stopped:
                raise CredentialError("the token command was stopped")
            code = _exit_status(process)
            if code is not None:
                for fd, buffer in buffers.items():
                    _read_into(fd, buffer)
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TimedOut(bool(out.strip()))
            for key, _ in selector.select(min(left, POLL_SECONDS)):
                if not _read_into(key.fd, buffers[key.fd]):
                    selector.unregister(key.fd)
            if len(out) > TOKEN_MAX_BYTES:
                raise _TooMuch
            del err[:-STDERR_KEPT]
    if len(out) > TOKEN_MAX_BYTES:
        raise _TooMuch
    return bytes(out), bytes(err[-STDERR_KEPT:]), code


def run_token_command(
    command: Sequence[str],
    environ: Mapping[str, str],
    where: str = "--token-cmd",
    *,
    limit: float,
    helper: HelperProcess | None = None,
) -> str:
    """The token a command prints: run without a shell or a terminal, stdin closed, for at most ``limit`` seconds
    (``token_cmd_timeout``); its stdout, trimmed, once the command has exited. The command's whole process group
    is killed when it is done with, however that comes (its end, its limit, Ctrl+C, ``helper.stop()``).

    Raises :class:`CredentialError` (one line naming ``where`` and the command, with the last line of its stderr,
    made inert) when it cannot run, fails, takes too long, or prints nothing usable."""
    name = command[0] if command else "?"
    helper = helper or HelperProcess()
    try:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(environ),
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CredentialError(f"{where}: cannot run {name}: {reason}") from None
    helper.started(process.pid)
    try:
        raw, raw_err, returncode = _collect(process, limit, helper)
    except _TimedOut as exc:
        did = "printed but did not exit" if exc.args[0] else "printed no token"
        raise CredentialError(f"{where} {name} {did} within {limit:g} s (token_cmd_timeout); it was stopped") from None
    except _TooMuch:
        raise CredentialError(f"{where} {name} printed more than {TOKEN_MAX_BYTES:,} bytes; it must print the token alone") from None
    finally:
        helper.end(process)
    token = clean_token(raw.decode("utf-8", "replace"))
    # What it said on stderr may quote what it printed: never the token, if it printed one.
    stderr = raw_err.decode("utf-8", "replace")
    said = [inert(line, flatten=True, limit=200, redactor=Redactor([token])) for line in stderr.splitlines() if line.strip()]
    last = f": {said[-1]}" if said else ""
    if returncode != 0:
        raise CredentialError(f"{where} {name} exited with {returncode}{last}")
    if not token:
        raise CredentialError(f"{where} {name} printed no token{last}")
    if len(token.split()) > 1:
        raise CredentialError(f"{where} {name} printed more than a token (several words or lines); it must print the token alone")
    problem = token_problem(token)
    if problem:
        raise CredentialError(f"{where} {name} printed a token with {problem}; a token is printable ASCII")
    return token


async def run_token_command_async(command: Sequence[str], environ: Mapping[str, str], where: str, *, limit: float) -> str:
    """:func:`run_token_command` off the event loop; a cancel (Ctrl+C, SIGTERM) ends the command's group at once."""
    helper = HelperProcess()
    try:
        return await anyio.to_thread.run_sync(
            partial(run_token_command, command, environ, where, limit=limit, helper=helper), abandon_on_cancel=True
        )
    finally:
        helper.stop()


# --------------------------------------------------------------------------- secret files


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISDIR, "a directory"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a plain file"


def read_private(path: Path, where: str, most: int) -> bytes:
    """The bytes of a file holding a secret, refused in one line when it is not a regular file (a FIFO is never
    waited on: it is opened non-blocking and looked at with ``fstat``), when the group or others may read it (with
    the chmod that fixes it), or when it holds more than ``most`` bytes (only that much is ever read)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise CredentialError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CredentialError(f"{where} {path} is {_file_kind(info.st_mode)}, not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if os.name != "nt" and mode & 0o044:
            raise CredentialError(f"{where} {path} is readable by other users (mode {mode:04o}); run: chmod 600 {path}")
        data = bytearray()
        while len(data) <= most and (chunk := os.read(fd, most + 1 - len(data))):
            data.extend(chunk)
    except OSError as exc:
        raise CredentialError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > most:
        raise CredentialError(f"{where} {path} holds more than {most:,} bytes; it must hold the secret alone")
    return bytes(data)


def private_text(path: Path, where: str, most: int = KEY_MAX_BYTES) -> str:
    """The text of a file holding a secret (:func:`read_private`), UTF-8, a leading byte-order mark dropped."""
    try:
        return read_private(path, where, most).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CredentialError(f"{where} {path} is not a text file (not UTF-8)") from None


def read_token_file(path: Path, where: str = "--token-file") -> str:
    """The token in ``path``, trimmed (see :func:`private_text`); at most :data:`TOKEN_MAX_BYTES` are read."""
    token = clean_token(private_text(path, where, TOKEN_MAX_BYTES))
    if not token:
        raise CredentialError(f"{where} {path} is empty")
    if len(token.split()) > 1:
        raise CredentialError(f"{where} {path} holds more than a token (several words or lines)")
    problem = token_problem(token)
    if problem:
        raise CredentialError(f"{where} {path} holds a token with {problem}; a token is printable ASCII")
    return token


# --------------------------------------------------------------------------- credentials


class Credential:
    """The token of now. ``identity`` is stable for the run (two targets with one identity share one quota)."""

    identity: str = ""
    renewable: bool = False
    """Whether :meth:`renew` may bring another token after the forge refused this one."""

    def current(self) -> str | None:
        raise NotImplementedError

    async def fresh(self) -> str | None:
        """The token to send now, refreshed first if it is about to expire."""
        return self.current()

    async def renew(self, rejected: str | None) -> bool:
        """The forge refused ``rejected``: True when another token is now current (try again), else False."""
        return False

    unavailable: str | None = None
    """Why no valid token can be had any more (the run must stop, its repos left pending), once that is so."""

    def watch(self, on_notice: Callable[[str], None], on_unavailable: Callable[[str], None]) -> None:
        """Be told what the user should know (a refresh that failed while the token of now is still valid) and when
        no valid token can be had any more (:attr:`unavailable`: called before any caller hears of it)."""


class StaticToken(Credential):
    def __init__(self, token: str | None) -> None:
        self._token = token or None
        self.identity = token or ""
        add_secret(token)

    def current(self) -> str | None:
        return self._token


class CommandToken(Credential):
    """A token printed by a command; run again (once a run) when the forge refuses the token."""

    renewable = True

    def __init__(self, token: str, command: Sequence[str], environ: Mapping[str, str], *, limit: float, renewals: int = 1) -> None:
        self._token = token
        self.command = tuple(command)
        self.limit = limit
        """Seconds the command may take (``token_cmd_timeout``)."""
        self.identity = "command:" + "\0".join(self.command)
        self._environ = dict(environ)
        self._renewals = renewals
        self._lock = anyio.Lock()
        add_secret(token)

    def current(self) -> str | None:
        return self._token

    async def renew(self, rejected: str | None) -> bool:
        async with self._lock:
            if rejected != self._token:
                return True  # another request already brought a new one
            if self._renewals <= 0:
                return False
            self._renewals -= 1
            try:
                token = await run_token_command_async(self.command, self._environ, "--token-cmd", limit=self.limit)
            except CredentialError as exc:
                raise AuthError(f"the token was refused and running the token command again failed: {exc}") from None
            add_secret(token)
            changed, self._token = token != self._token, token
            return changed
