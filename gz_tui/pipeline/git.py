"""Running git safely: locked-down environment, token only via GIT_CONFIG_*, progress parsed, errors classified.

A token reaches git exclusively as ``http.<origin>/.extraHeader`` in the ``GIT_CONFIG_COUNT`` environment:
never in a URL, an argument list or ``.git/config``.
"""

from __future__ import annotations

import base64
import os
import re
import signal
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence
from urllib.parse import urlsplit

import anyio
from anyio.abc import Process

from gz_tui.logs import secret_forms
from gz_tui.pipeline.paths import is_loopback

MIN_GIT_VERSION = (2, 31)
"""GIT_CONFIG_COUNT arrived in git 2.31."""

_PROGRESS = re.compile(r"^(?:remote:\s*)?([A-Za-z][A-Za-z ]+?):\s+(\d{1,3})%")
_BYTES = re.compile(r"([\d.]+)\s*(bytes|KiB|MiB|GiB)")
_UNITS = {"bytes": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")

ProgressListener = Callable[[str, float | None, int], None]
"""Called with (phase, percent, received bytes so far)."""


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


def git_origin(api_base: str) -> str:
    """Where git traffic goes for this API: github.com for api.github.com, else the API's own origin."""
    parts = urlsplit(api_base)
    if (parts.hostname or "").lower() == "api.github.com":
        return "https://github.com/"
    return f"{parts.scheme}://{parts.netloc}/"


def git_environment(
    *,
    base: Mapping[str, str],
    protocol: str,
    allow_http: bool,
    auth_origin: str | None = None,
    auth_header: str | None = None,
) -> dict[str, str]:
    """The environment every git child gets."""
    # Inherited config *values* are dropped (they could carry helpers or another token); the variables
    # that only choose config files (GIT_CONFIG_GLOBAL, GIT_CONFIG_SYSTEM, GIT_CONFIG_NOSYSTEM) are kept.
    env = {
        k: v
        for k, v in base.items()
        if not (k in ("GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS", "GIT_DIR", "GIT_WORK_TREE") or k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")))
    }
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


def classify(stderr: str) -> str:
    # git quotes URLs and paths ('https://host:4290/org/repo-429.git/', the clone's directory): they hold
    # forge- and user-chosen text, so a repo name or port must not make an auth failure look like a 429.
    text = _QUOTED.sub("''", stderr.lower())
    if any(s in text for s in ("no space left", "disk quota", "read-only file system", "file name too long")):
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


def clean_line(line: str, secrets: Sequence[str]) -> str:
    """One line of git's stderr made safe and short: no escapes, no secrets, no quoted URL."""
    line = _QUOTED_URL.sub("", _CONTROL.sub("", line)).strip()
    for secret in secrets:
        if secret:
            line = line.replace(secret, "***")
    return line[:300]


def summarize(lines: Sequence[str], secrets: Sequence[str]) -> str:
    """The line a user needs: git's ``fatal:``/``error:`` line if any, else the last line."""
    cleaned = [clean_line(line, secrets) for line in lines if line.strip()]
    for prefix in ("fatal:", "error:"):
        picked = [line for line in cleaned if line.lower().startswith(prefix)]
        if picked:
            return picked[-1]
    return cleaned[-1] if cleaned else ""


class GitRunner:
    """Runs git children in their own process group so a cancel kills git and its helpers at once."""

    def __init__(self, env: Mapping[str, str], *, secrets: Sequence[str] = (), git: str = "git") -> None:
        self.env = dict(env)
        # git can echo a forge-controlled URL (or a server message) holding the token in any encoding a
        # request uses: redact the raw token, its base64 Basic-auth forms and its URL-encoded form.
        forms = {form for secret in secrets if secret for form in secret_forms(secret)}
        self.secrets = sorted(forms, key=len, reverse=True)
        self.git = git

    async def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        on_progress: ProgressListener | None = None,
    ) -> GitResult:
        tail: deque[str] = deque(maxlen=40)
        received = 0
        process: Process | None = None
        stdout = bytearray()
        try:
            process = await anyio.open_process(
                [self.git, *args],
                cwd=str(cwd) if cwd else None,
                env=self.env,
                stdin=None,
                start_new_session=True,
            )

            async def read_stdout() -> None:
                assert process is not None and process.stdout is not None
                async for chunk in process.stdout:
                    if len(stdout) < 1_000_000:
                        stdout.extend(chunk)

            async def read_stderr() -> None:
                nonlocal received
                assert process is not None and process.stderr is not None
                pending = ""
                async for chunk in process.stderr:
                    pending += chunk.decode("utf-8", "replace")
                    *lines, pending = re.split(r"[\r\n]", pending)
                    for line in lines:
                        received = max(received, self._progress(line, on_progress, received, tail))
                if pending:
                    self._progress(pending, on_progress, received, tail)

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
            if process is not None:
                with anyio.CancelScope(shield=True):
                    await process.aclose()
        message = summarize(list(tail), self.secrets) if returncode else ""
        return GitResult(
            changed_refs=sum(1 for line in tail if " -> " in line),
            returncode=returncode,
            message=message,
            error_class=classify("\n".join(tail)) if returncode else "",
            output=stdout.decode("utf-8", "replace"),
            received_bytes=received,
        )

    @staticmethod
    def _progress(line: str, listener: ProgressListener | None, received: int, tail: deque[str]) -> int:
        match = _PROGRESS.match(line.strip())
        if not match:
            if line.strip():
                tail.append(line)
            return received
        phase, percent = match.group(1).strip(), float(match.group(2))
        sized = _BYTES.search(line)
        if sized and phase.lower().startswith("receiving"):
            received = int(float(sized.group(1)) * _UNITS[sized.group(2)])
        if listener:
            listener(phase.lower(), percent, received)
        return received


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
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else None


def allow_http_for(url: str, insecure_http: bool) -> bool:
    return insecure_http or is_loopback(urlsplit(url).hostname)
