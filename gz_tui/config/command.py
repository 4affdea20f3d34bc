"""``gz-tui config init | show | path``: write a commented default file, print the effective settings
and where each came from, or print where the file is."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn, TextIO

import tomli_w

from gz_tui.config.resolve import Resolved, resolve_with_sources
from gz_tui.config.schema import DEFAULTS_KEYS, config_path
from gz_tui.config.settings import BUILTIN, PROVIDERS, ConfigError
from gz_tui.config.tokens import TOKEN_ENV_VARS

_SHOWN = (
    "provider",
    "base_url",
    "token",
    "dest",
    "workers",
    "buffer",
    "protocol",
    "update",
    "depth",
    "skip_archived",
    "skip_forks",
    "attempts",
    "log_file",
)

_HEADER = """\
# gz-tui configuration. `gz-tui config show` prints the effective settings and where each came from.
#
# Precedence, highest first: command-line flags > environment (tokens only) > this file
# ([profiles.NAME] over [defaults]) > built-in defaults.
#
# [defaults] may also hold (commented out here because they have no built-in value):
#   depth = 1                      # shallow clones; omit for full history
#   dest_root = "~/src"            # clones go to dest_root/OWNER unless --dest is given
#   log_file = "~/gz-tui.log"      # absolute or starting with ~; default: the user log dir
#   profile = "work"               # profile used when no flag selects one
#
# Profiles describe one forge each. One is used when --profile NAME names it, when it is the only
# profile matching --provider/--base-url, or when it is named after the provider in use.
#
#   [profiles.work]
#   provider = "gitlab"                       # github, gitlab or gitea
#   base_url = "https://gitlab.example.com"   # API root; omit for the provider's public instance
#   token_env = "WORK_GITLAB_TOKEN"           # environment variable holding the token
#   dest_root = "~/src/work"
#   workers = 4
#
# Tokens: --token, then the profile's token_env, then GH_TOKEN/GITHUB_TOKEN, GITLAB_TOKEN or
# GITEA_TOKEN, then `gh auth token` (GitHub). Prefer token_env to writing token = "..." here.

"""


def default_config_document() -> dict[str, Any]:
    """The ``[defaults]`` table ``config init`` writes: exactly the built-in defaults that TOML can hold."""
    keys = [k for k in DEFAULTS_KEYS if BUILTIN.get(k) is not None]
    return {"defaults": {k: _plain(BUILTIN[k]) for k in keys}}


def _plain(value: Any) -> Any:
    """A TOML-ready value: an enum member becomes its string."""
    return str(value) if isinstance(value, str) else value


def default_config_text() -> str:
    return _HEADER + tomli_w.dumps(default_config_document())


def write_default_config(path: Path, *, force: bool = False) -> None:
    """Write the commented default config with mode 0600, creating parent directories.

    Raises ``FileExistsError`` when the file exists and ``force`` is false.
    """
    text = default_config_text().encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not force:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(text)
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")  # created 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Usage(Exception):
    pass


class _Exit(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse that reports instead of exiting and prints help to the given stream."""

    out: TextIO

    def error(self, message: str) -> NoReturn:
        raise _Usage(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise _Usage(message.strip())
        raise _Exit(status)

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            self.out.write(message)


def _config_parser(stdout: TextIO) -> _Parser:
    parser = _Parser(prog="gz-tui config", description="Create, show or locate the gz-tui config file.")
    parser.out = stdout
    sub = parser.add_subparsers(dest="action", required=True, metavar="{init,show,path}", parser_class=_Parser)
    init = sub.add_parser("init", help="write a commented default config file (mode 0600)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    show = sub.add_parser("show", help="print the effective settings and where each came from")
    show.add_argument("--profile", metavar="NAME")
    show.add_argument("--provider", choices=PROVIDERS)
    show.add_argument("--base-url", metavar="URL")
    sub.add_parser("path", help="print the config file path")
    for p in (parser, init, show, sub.choices["path"]):
        p.out = stdout
    return parser


def _show(resolved: Resolved, stdout: TextIO, environ: Mapping[str, str]) -> None:
    s = resolved.settings
    state = "" if resolved.config_found else " (not found; built-in defaults)"
    profile = f"   profile: {resolved.profile}" if resolved.profile else ""
    stdout.write(f"config file  {resolved.config_file}{state}{profile}\n")
    rows: list[tuple[str, str, str]] = []
    for key in _SHOWN:
        source = resolved.sources[key]
        if key == "token":
            value = "***" if s.token else "(none)"
            if not s.token:
                hint = " or ".join(TOKEN_ENV_VARS[s.provider])
                source = f"set {hint}" + (", run gh auth login" if s.provider == "github" else "") + " or pass --token"
        elif key == "base_url":
            value = s.api_base
        elif key == "dest":
            value = f"{resolved.dest_root or '.'}{os.sep}<owner>"
        elif key == "log_file" and s.log_file is None:
            from gz_tui.logs import default_log_path

            value = str(default_log_path(environ))
        else:
            value = getattr(s, key)
            value = "(none)" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        rows.append((key, value, source))
    width = max(len(v) for _, v, _ in rows)
    for key, value, source in rows:
        stdout.write(f"{key:<14}{value:<{width}}  {source}\n")


def config_command(
    argv: list[str], *, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str] | None = None
) -> int:
    """``gz-tui config init [--force] | show [--profile NAME] [--provider P] [--base-url URL] | path``.

    Returns 0 on success, 2 on a usage or config error (one line on ``stderr``, never a traceback).
    """
    environ = os.environ if environ is None else environ
    parser = _config_parser(stdout)
    try:
        args = parser.parse_args(argv)
    except _Exit as done:
        return done.status
    except _Usage as usage:
        stderr.write(f"gz-tui config: error: {usage}\n")
        return 2
    path = config_path(environ)
    try:
        if args.action == "path":
            stdout.write(f"{path}\n")
        elif args.action == "init":
            try:
                write_default_config(path, force=args.force)
            except FileExistsError:
                stderr.write(f"gz-tui config: error: {path} already exists (use --force to overwrite)\n")
                return 2
            stdout.write(f"wrote {path}\n")
        else:
            flags = {"profile": args.profile, "provider": args.provider, "base_url": args.base_url}
            resolved = resolve_with_sources(flags, environ)
            _show(resolved, stdout, environ)
            stderr.writelines(f"gz-tui config: warning: {warning}\n" for warning in resolved.warnings)
    except ConfigError as exc:
        stderr.write(f"gz-tui config: error: {exc}\n")
        return 2
    except BrokenPipeError:
        raise  # the reader went away (`| head`): not a config problem
    except OSError as exc:
        stderr.write(f"gz-tui config: error: {exc.filename or path}: {exc.strerror or exc}\n")
        return 2
    return 0
