"""Running one git child: the token of now in its environment, its progress parsed, its failure classified.

The runner asks its credential (:mod:`gz_tui.forges.auth`) for the token of now as each git process starts, and
every child is in the :data:`~gz_tui.pipeline.git.reaper.REAPER`'s table until it has exited.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from gz_tui.forges.errors import ForgeError
from gz_tui.kinds import TRANSIENT_ERRORS, ErrorClass
from gz_tui.pipeline.git.env import GitAuth, with_header
from gz_tui.pipeline.git.errors import classify, summarize
from gz_tui.pipeline.git.reaper import REAPER, kill_group, use_pidfd_child_watcher
from gz_tui.untrusted import Redactor

_PROGRESS = re.compile(r"^(?:remote:\s*)?([A-Za-z][A-Za-z ]+?):\s+(\d{1,3})%")
_BYTES = re.compile(r"([\d.]+)\s*(bytes|KiB|MiB|GiB)")
_UNITS = {"bytes": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
_LINE_END = re.compile(r"[\r\n]")

ProgressListener = Callable[[str, float | None, int], None]
"""Called with (phase, percent, received bytes so far)."""

DEFAULT_GIT_TIMEOUT = 3600.0
"""Seconds one git process may run by default (``--git-timeout``)."""

PROGRESS_INTERVAL = 0.1
"""git rewrites its progress line many times a second; the listener hears at most one update per phase in this
many seconds (the dashboard redraws at about this rate), plus a phase's first line and the last line of all."""


@dataclass(frozen=True, slots=True)
class GitResult:
    returncode: int
    message: str
    """The most telling line of git's stderr, control characters removed, secrets redacted."""
    error_class: ErrorClass | None
    """None on success; else why git failed."""
    output: str = ""
    received_bytes: int = 0
    changed_refs: int = 0
    """Ref update lines (``old..new  main -> origin/main``, ``* [new branch]``) git printed."""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def transient(self) -> bool:
        return self.error_class in TRANSIENT_ERRORS


class GitRunner:
    """Runs git children that die with gz-tui, each leading its own process group (a cancel kills its helpers too)."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        secrets: Sequence[str] = (),
        git: str = "git",
        auth: GitAuth | None = None,
        timeout: float = DEFAULT_GIT_TIMEOUT,
    ) -> None:
        # A variable holding the token raw (whatever its name: a profile's token_env) does not reach git.
        raw = {secret.strip() for secret in secrets if secret and secret.strip()}
        self.env = {key: value for key, value in env.items() if value.strip() not in raw}
        # git can echo a forge-controlled URL (or a server message) holding the token in any encoding a
        # request uses: redact the raw token, its base64 Basic-auth forms and its URL-encoded form.
        self.redactor = Redactor(secrets)
        self.git = git
        self.auth = auth
        self.timeout = timeout
        """Seconds one git process may run (a transfer that stalls where git's own speed bound does not reach: ssh)."""
        self._known: set[str] = set()

    async def _env(self) -> tuple[dict[str, str], str | None] | GitResult:
        """The environment of the next git process with the token of now, and that token; or why there is none."""
        if self.auth is None:
            return self.env, None
        try:
            token = await self.auth.credential.fresh()
        except ForgeError as exc:
            return GitResult(returncode=1, message=self.redactor.redact(str(exc)), error_class=ErrorClass.AUTH)
        if not token:
            return self.env, None
        if token not in self._known:
            self._known.add(token)
            self.redactor.add(token)
        header = self.auth.header(token)
        if not header:  # a forge whose git takes no token (Sourcehut over https): git goes without one
            return self.env, None
        return with_header(self.env, self.auth.origin, header), token

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
        if result.error_class == ErrorClass.AUTH and token and self.auth is not None and self.auth.credential.renewable:
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
            use_pidfd_child_watcher()
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
            REAPER.watch(process.pid)

            async def read_stdout() -> None:
                assert process is not None and process.stdout is not None
                while chunk := await process.stdout.read(65536):
                    if len(stdout) < 1_000_000:
                        stdout.extend(chunk)

            async def read_stderr() -> None:
                nonlocal received
                assert process is not None and process.stderr is not None
                pending = ""
                reporter = ProgressReporter(on_progress)
                while chunk := await process.stderr.read(65536):
                    pending += chunk.decode("utf-8", "replace")
                    *lines, pending = _LINE_END.split(pending)
                    for line in lines:
                        received = max(received, reporter.line(line, received, tail))
                if pending:
                    received = max(received, reporter.line(pending, received, tail))
                reporter.flush()

            returncode = None
            with anyio.move_on_after(self.timeout):
                async with anyio.create_task_group() as group:
                    group.start_soon(read_stdout)
                    group.start_soon(read_stderr)
                returncode = await process.wait()
        finally:
            if process is not None and process.returncode is None:
                with anyio.CancelScope(shield=True):
                    kill_group(process.pid)
                    with anyio.move_on_after(2):
                        await process.wait()
            if process is not None and process.returncode is not None:
                REAPER.forget(process.pid)
        if returncode is None:  # the ceiling: git was killed above (its helpers with it)
            return GitResult(
                returncode=-1,
                message=f"git was stopped after {self.timeout:g} s, the ceiling of one attempt (--git-timeout)",
                error_class=ErrorClass.NETWORK,
                received_bytes=received,
            )
        message = summarize(list(tail), self.redactor) if returncode else ""
        return GitResult(
            changed_refs=sum(1 for line in tail if " -> " in line),
            returncode=returncode,
            message=message,
            error_class=classify("\n".join(tail)) if returncode else None,
            output=stdout.decode("utf-8", "replace"),
            received_bytes=received,
        )


class ProgressReporter:
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
        """Take one line of git's stderr: a progress line goes to the listener (when due), any other to ``tail``.
        Returns the received bytes so far (``received``, or what a ``Receiving objects`` line says)."""
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
        """git has ended: the listener hears the last line held back, if any."""
        if self.held is not None and self.listener is not None:
            self.listener(*self.held)
            self.held = None
