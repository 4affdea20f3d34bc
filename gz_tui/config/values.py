"""The kinds of value a setting takes, each declared once for the config file and the command line alike.

A :class:`Kind` reads one value (a TOML value, or a flag's value once argparse has converted it) and returns it
normalised, or raises :class:`Invalid`; it also says how argparse takes it from the command line (``type``,
``action``, ``choices``), so an option is generated from the setting's declaration (:mod:`gz_tui.config.options`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gz_tui.shard import ShardError, parse_shard


class Invalid(Exception):
    """A value a check refused.

    ``must`` reads after the setting's flag (``--workers must be at most 64``); ``expected`` is set when
    the value is not even of the right kind, and a config file reports it as ``expected ...``, the way
    TOML type errors read.
    """

    def __init__(self, must: str, expected: str | None = None) -> None:
        super().__init__(must)
        self.must = must
        self.expected = expected

    @classmethod
    def expecting(cls, what: str) -> Invalid:
        return cls(f"must be {what}", what)

    def after_value(self) -> str:
        """The phrase that follows ``key = value:`` in a config file error."""
        return f"expected {self.expected}" if self.expected else self.must


@dataclass(frozen=True, slots=True)
class Kind:
    """What a setting's values are: how one is read, and how argparse takes it from the command line."""

    read: Callable[[Any], Any]
    """Returns the value normalised, or raises :class:`Invalid`."""
    arg_type: Callable[[str], Any] | None = None
    """argparse's ``type``: what the flag's string becomes before :attr:`read` sees it (None: the string)."""
    action: str = "store"
    """argparse's ``action``: ``store_true`` for a switch, ``append`` for a flag given once per value."""
    choices: tuple[str, ...] | None = None
    """The words argparse accepts, listed in ``--help`` (None: any)."""

    def __call__(self, value: Any) -> Any:
        return self.read(value)


def kind(arg_type: Callable[[str], Any] | None = None, action: str = "store") -> Callable[[Callable[[Any], Any]], Kind]:
    """Declares a reading function as a :class:`Kind` taken from the command line with ``arg_type``/``action``."""

    def declare(read: Callable[[Any], Any]) -> Kind:
        return Kind(read, arg_type, action)

    return declare


@kind(int)
def whole_number(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise Invalid.expecting("a whole number of at least 1")


@kind(action="store_true")
def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise Invalid.expecting("true or false")


def choice(options: type[StrEnum]) -> Kind:
    """One of the members of ``options``, written as its value."""

    def read(value: Any) -> StrEnum:
        if isinstance(value, str) and value in tuple(options):
            return options(value)
        raise Invalid.expecting("one of " + ", ".join(f'"{o}"' for o in options))

    return Kind(read, choices=tuple(str(o) for o in options))


@kind()
def text(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise Invalid.expecting("a non-empty string")


def owner_path_problem(owner: str) -> str | None:
    """Why ``owner`` cannot name an owner (its folder is ``DEST/<last segment>``), or None: a ``.`` or ``..``
    segment or an empty one would put clones outside the destination or in the wrong folder, and a backslash
    or a control character names no owner on any forge."""
    if any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in owner):
        return "has a backslash or a control character (an owner never does)"
    if any(segment in ("", ".", "..") for segment in owner.strip("/").split("/")):
        return 'has a "." or ".." or empty path segment (an owner is a name, or a GitLab group path like group/subgroup)'
    return None


@kind()
def owner_name(value: Any) -> str:
    """An owner: a non-empty name, or a GitLab group path, with no segment that leaves the destination."""
    owner: str = text(value)
    problem = owner_path_problem(owner)
    if problem:
        raise Invalid(problem)
    return owner


@kind()
def secret(value: Any) -> str:
    """A token: any string; an empty one means "no token" (``--token ''`` skips the environment and gh)."""
    if isinstance(value, str):
        return value.strip()
    raise Invalid.expecting("a string")


@kind()
def env_name(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        return value
    raise Invalid.expecting('the name of an environment variable, such as "WORK_GITLAB_TOKEN"')


@kind()
def http_url(value: Any) -> str:
    url = urlsplit(value) if isinstance(value, str) else None
    if url is None or url.scheme not in ("http", "https") or not url.hostname:
        raise Invalid.expecting('an http(s) URL, such as "https://gitlab.example.com"')
    if url.username or url.password:
        raise Invalid.expecting("a URL without credentials (give the token with --token, a variable or token_env)")
    return str(value).rstrip("/")


@kind(Path)
def absolute_path(value: Any) -> Path:
    """A path that means the same from any directory. A flag's relative path is made absolute before
    it is checked (:func:`gz_tui.config.settings.check`): on the command line, relative means the current directory."""
    if isinstance(value, (str, Path)) and str(value).strip():
        path = Path(str(value).strip()).expanduser()
        if path.is_absolute():
            return path
    raise Invalid.expecting('an absolute path or one starting with "~"')


@kind(Path)
def any_path(value: Any) -> Path:
    if isinstance(value, (str, Path)) and str(value).strip():
        return Path(str(value).strip()).expanduser()
    raise Invalid.expecting("a path")


@kind()
def argv(value: Any) -> tuple[str, ...]:
    """A command as an argument list (run without a shell); an empty list means "no command"."""
    if isinstance(value, (list, tuple)) and all(isinstance(arg, str) and arg.strip() for arg in value):
        return tuple(value)
    raise Invalid.expecting('an array of non-empty strings (a command and its arguments, no shell), such as ["git", "status"]')


@kind()
def shard_text(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid.expecting("K/N, such as 0/4")
    try:
        return parse_shard(value).label
    except ShardError as exc:
        raise Invalid(f"must be K/N with 0 ≤ K < N ({exc})") from None


@kind()
def branch_name(value: Any) -> str:
    """A branch name git accepts and cannot read as an option (``git check-ref-format --branch`` rules, roughly)."""
    if (
        isinstance(value, str)
        and value
        and not value.startswith(("-", "/", "."))
        and not value.endswith((".lock", "/", "."))
        and ".." not in value
        and "@{" not in value
        and "//" not in value
        and not any(ord(c) <= 0x20 or c in "~^:?*[\\\x7f" for c in value)
    ):
        return value
    raise Invalid.expecting('a branch name, such as "main"')


@kind()
def command_line(value: Any) -> tuple[str, ...]:
    """A command given as one string (split like a shell would, but run without one) or an argument list."""
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            raise Invalid(f"is not a command line ({exc})") from None
        if not value:
            raise Invalid.expecting('a command, such as "op read op://vault/gh/token"')
    result: tuple[str, ...] = argv(value)
    return result


@kind(action="append")
def words(value: Any) -> tuple[str, ...]:
    """One or more non-empty words (a flag given several times, or a TOML array of strings)."""
    items = [value] if isinstance(value, str) else value
    if isinstance(items, (list, tuple)) and items and all(isinstance(v, str) and v.strip() for v in items):
        return tuple(dict.fromkeys(v.strip() for v in items))
    raise Invalid.expecting('a non-empty string or an array of them, such as ["backend", "infra"]')


@kind()
def host_alias(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", value.strip()):
        return value.strip()
    raise Invalid.expecting('a host name or a Host alias of ~/.ssh/config, such as "github-work"')


@kind()
def regex(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid.expecting("a regular expression")
    try:
        re.compile(value)
    except re.error as exc:
        raise Invalid(f"is not a valid regular expression: {exc}") from None
    return value
