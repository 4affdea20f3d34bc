"""Finding the API token: ``--token``, ``--token-cmd``, ``--token-file``; a target's or profile's ``token_env``,
``token_cmd`` or ``token_file``; the provider's variables; ``gh auth token`` (GitHub); then a ``token`` written
in the config file. A token is returned, never logged or shown.

A token command is an argument list run without a shell (``op read op://vault/gh/token``, ``vault kv get
-field=token secret/gh``, ``gh auth token --hostname ghe.example.com``); its stdout, trimmed, is the token, and
a failure is one line naming the command, with the last line it wrote on stderr. A token file must not be
readable by the group or others.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gz_tui.config.settings import ConfigError
from gz_tui.forges import auth
from gz_tui.forges.registry import git_origin, provider_info

GH_TIMEOUT_SECONDS = 3.0


class TokenSourceError(ConfigError):
    """A token command or file that gave no token: one line, exit 2."""


def run_token_command(command: Sequence[str], environ: Mapping[str, str], where: str = "--token-cmd", *, limit: float) -> str:
    try:
        return auth.run_token_command(command, environ, where, limit=limit)
    except auth.CredentialError as exc:
        raise TokenSourceError(str(exc)) from None


def read_token_file(path: Path, where: str = "--token-file") -> str:
    try:
        return auth.read_token_file(path, where)
    except auth.CredentialError as exc:
        raise TokenSourceError(str(exc)) from None


def token_from_environment(provider: str, environ: Mapping[str, str]) -> tuple[str | None, str]:
    """The first non-empty token variable for this provider, with its name."""
    for name in provider_info(provider).token_env_vars:
        value = environ.get(name, "").strip()
        if value:
            return value, name
    return None, ""


def token_from_gh(provider: str, api_base: str, environ: Mapping[str, str]) -> str | None:
    """``gh auth token`` for the git host behind ``api_base``, if ``gh`` is on PATH and answers within 3 s.

    Any failure means "no token".
    """
    gh = shutil.which("gh", path=environ.get("PATH", ""))
    if gh is None:
        return None
    host = urlsplit(git_origin(provider, api_base)).hostname or "github.com"
    try:
        done = subprocess.run(
            [gh, "auth", "token", "--hostname", host],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=GH_TIMEOUT_SECONDS,
            env=dict(environ),
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.strip().splitlines() if done.returncode == 0 else []
    if not lines or not lines[0].strip():
        return None
    return lines[0].strip()


TokenHolder = tuple[str, Mapping[str, Any], str]
"""A table of the config file that may name a token: (its label, the table, how ``config show`` names it)."""


@dataclass(frozen=True, slots=True)
class FoundToken:
    """The token of a target, and where it came from."""

    token: str | None = field(repr=False)
    source: str
    """Where, as ``config show`` says it: ``flag``, ``env GH_TOKEN``, ``config /path [profiles.work] token_cmd``..."""
    token_source: str
    """Where, as a run says it (``Settings.token_source``): ``--token``, ``GH_TOKEN``, ``gh auth token``..."""
    command: tuple[str, ...] = ()
    """The token command it came from (run again on a 401), if it did."""


NO_TOKEN = FoundToken(None, "default", "")


def find_token(
    given: Mapping[str, Any],
    holders: Sequence[TokenHolder],
    provider: str,
    api_base: str,
    environ: Mapping[str, str],
    warnings: list[str],
    gh_answers: dict[str, str | None] | None = None,
    *,
    limit: float,
) -> FoundToken:
    """The token for ``provider``'s API at ``api_base``: the first source that has one wins.

    ``holders`` are the tables that may hold ``token_env``, ``token_cmd``, ``token_file`` or ``token`` for this
    run, most specific first (a ``[targets.NAME]`` table, then its profile), and only those whose forge is the one
    in use: a token written for one forge is never sent anywhere else. The first table naming a way to get the
    token (``token_env``, ``token_cmd`` or ``token_file``) is the one used. ``gh_answers`` remembers ``gh auth
    token`` per API root across the targets of one run. A token command (run for at most ``limit`` seconds) or file
    that fails raises :class:`TokenSourceError`, and so does a token, from wherever, that no forge could be sent
    (:func:`~gz_tui.forges.auth.token_problem`; a leading byte-order mark is dropped, not refused).
    """
    found = _find_token(given, holders, provider, api_base, environ, warnings, gh_answers, limit)
    if not found.token:
        return found
    token = auth.clean_token(found.token)
    problem = auth.token_problem(token)
    if problem:
        raise TokenSourceError(
            f"the token from {found.token_source} holds {problem}; a token is printable ASCII (check for a stray character)"
        )
    return replace(found, token=token)


def _find_token(
    given: Mapping[str, Any],
    holders: Sequence[TokenHolder],
    provider: str,
    api_base: str,
    environ: Mapping[str, str],
    warnings: list[str],
    gh_answers: dict[str, str | None] | None,
    limit: float,
) -> FoundToken:
    if "token" in given:
        return FoundToken(given["token"], "flag", "--token")
    if "token_cmd" in given:
        command = tuple(given["token_cmd"])
        return FoundToken(run_token_command(command, environ, limit=limit), "flag --token-cmd", "--token-cmd", command)
    if "token_file" in given:
        return FoundToken(read_token_file(Path(given["token_file"])), "flag --token-file", f"--token-file {given['token_file']}")
    for label, table, source in holders:
        if "token_env" in table:
            var = table["token_env"]
            value = environ.get(var, "").strip()
            if value:
                return FoundToken(value, f"env {var} ({label} token_env)", var)
            warnings.append(f'{label} token_env = "{var}", but {var} is not set')
        if "token_cmd" in table:
            command = tuple(table["token_cmd"])
            token = run_token_command(command, environ, f"{source} token_cmd", limit=limit)
            return FoundToken(token, f"{source} token_cmd", f"token_cmd of {label}", command)
        if "token_file" in table:
            path = Path(table["token_file"])
            return FoundToken(read_token_file(path, f"{source} token_file"), f"{source} token_file", f"token_file {path}")
    from_env, var = token_from_environment(provider, environ)
    if from_env:
        return FoundToken(from_env, f"env {var}", var)
    if provider_info(provider).gh_cli:
        answers = {} if gh_answers is None else gh_answers
        if api_base not in answers:
            answers[api_base] = token_from_gh(provider, api_base, environ)
        from_gh = answers[api_base]
        if from_gh:
            return FoundToken(from_gh, "gh auth token", "gh auth token")
    file_holder = next((h for h in holders if "token" in h[1]), None)
    if file_holder is not None:
        label, table, source = file_holder
        return FoundToken(table["token"], source, f"config file {label}")
    return NO_TOKEN
