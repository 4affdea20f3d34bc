"""What a run signs in with: one credential object the API client and the git runner both ask for the token of now.

- :class:`StaticToken`: ``--token``, a variable, ``gh auth token``, a token file: the same token all run long.
- :class:`CommandToken`: a token a command printed (``--token-cmd``); on a 401 the command is run again, once a
  run (a long run may outlive a short-lived token).
- a GitHub App's installation token: :mod:`gz_tui.forges.github_app`.

Every token is registered with the process-wide redactor (:func:`gz_tui.untrusted.add_secret`) before it is
used. No Textual here.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio

from gz_tui.forges.errors import AuthError
from gz_tui.untrusted import Redactor, add_secret, inert

TOKEN_CMD_SECONDS = 60.0


class CredentialError(Exception):
    """A credential that cannot be used: ``str()`` is one line, naming what to fix."""


# --------------------------------------------------------------------------- token sources


def run_token_command(command: Sequence[str], environ: Mapping[str, str], where: str = "--token-cmd") -> str:
    """The token a command prints: run without a shell, stdin closed, at most a minute; its stdout trimmed.

    Raises :class:`CredentialError` (one line naming ``where`` and the command, with the last line of its stderr,
    made inert) when it cannot run, fails, or prints nothing usable."""
    name = command[0] if command else "?"
    try:
        done = subprocess.run(
            list(command),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TOKEN_CMD_SECONDS,
            env=dict(environ),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CredentialError(f"{where} {name} printed no token within {TOKEN_CMD_SECONDS:.0f} s") from None
    except OSError as exc:
        raise CredentialError(f"{where}: cannot run {name}: {exc.strerror or exc}") from None
    token = done.stdout.strip()
    # What it said on stderr may quote what it printed: never the token, if it printed one.
    said = [inert(line, flatten=True, limit=200, redactor=Redactor([token])) for line in done.stderr.splitlines() if line.strip()]
    last = f": {said[-1]}" if said else ""
    if done.returncode != 0:
        raise CredentialError(f"{where} {name} exited with {done.returncode}{last}")
    if not token:
        raise CredentialError(f"{where} {name} printed no token{last}")
    if len(token.split()) > 1:
        raise CredentialError(f"{where} {name} printed more than a token (several words or lines); it must print the token alone")
    return token


def private_text(path: Path, where: str) -> str:
    """The text of a file holding a secret; refused (with the chmod that fixes it) when the group or others may read it."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if os.name != "nt" and mode & 0o044:
            raise CredentialError(f"{where} {path} is readable by other users (mode {mode:04o}); run: chmod 600 {path}")
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CredentialError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CredentialError(f"{where} {path} is not a text file") from None


def read_token_file(path: Path, where: str = "--token-file") -> str:
    """The token in ``path``, trimmed (see :func:`private_text`)."""
    token = private_text(path, where).strip()
    if not token:
        raise CredentialError(f"{where} {path} is empty")
    if len(token.split()) > 1:
        raise CredentialError(f"{where} {path} holds more than a token (several words or lines)")
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

    def __init__(self, token: str, command: Sequence[str], environ: Mapping[str, str], *, renewals: int = 1) -> None:
        self._token = token
        self.command = tuple(command)
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
                token = await anyio.to_thread.run_sync(run_token_command, self.command, self._environ, "--token-cmd")
            except CredentialError as exc:
                raise AuthError(f"the token was refused and running the token command again failed: {exc}") from None
            add_secret(token)
            changed, self._token = token != self._token, token
            return changed
