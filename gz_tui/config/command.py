"""``gz-tui config init | show [NAME...] | path``: write a commented default file, print the effective
settings and where each came from (for an owner named on the command line, and for each configured
target), or print where the file is."""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, TextIO

from gz_tui.config.options import Parser, UsageError, add_setting_options
from gz_tui.config.resolve import Resolved, resolve_targets, resolve_with_sources
from gz_tui.config.schema import DEFAULTS_KEYS, config_path, load_config
from gz_tui.config.settings import BUILTIN, PROVIDERS, RULES, ConfigError, shown
from gz_tui.forges.registry import provider_info
from gz_tui.logs import default_log_path
from gz_tui.urls import shown_url

_SHOWN = (
    "provider",
    "base_url",
    "token",
    "github_app_id",
    "github_app_installation_id",
    "github_app_key",
    "dest",
    "workers",
    "buffer",
    "protocol",
    "ssh_hostname",
    "update",
    "depth",
    "mirror",
    "wikis",
    "lfs",
    "filter",
    "single_branch",
    "prune",
    "prune_limit",
    "skip_archived",
    "skip_forks",
    "attempts",
    "outage_limit",
    "token_cmd_timeout",
    "log_file",
    "metrics_file",
    "ping_url",
    "post_sync",
    "stats_file",
)
_SELECTION = ("topics", "language", "repos_file", "affiliation", "subgroup_include", "subgroup_exclude", "projects")
"""Selection beyond the regexes: a target's own, shown only when set."""
_TARGET_SHOWN = ("owner", *_SHOWN[:-2], "include", "exclude", "branch", *_SELECTION, *_SHOWN[-2:])
"""A target's block also says whose repos it syncs and which it keeps."""
_WHEN_SET = frozenset({"github_app_id", "github_app_installation_id", "github_app_key", "ssh_hostname", *_SELECTION})
"""Rows shown only when the setting has a value: what most runs never use."""

_HEADER = """\
# gz-tui configuration. `gz-tui config show` prints the effective settings and where each came from.
#
# Precedence, highest first: command-line flags > environment (tokens only) > this file
# ([profiles.NAME] over [defaults]) > built-in defaults.
#
# [defaults] may also hold (commented out here because they have no built-in value):
#   depth = 1                      # shallow clones; omit for full history
#   filter = "blob:none"           # partial clones (or "tree:0"); omit for full clones
#   dest_root = "~/src"            # clones go to dest_root/OWNER unless --dest is given
#   log_file = "~/gz-tui.log"      # absolute or starting with ~; default: the user log dir
#   profile = "work"               # profile used when no flag selects one
#   stats_file = "~/gz-tui-stats.jsonl"   # one JSON line per target per run (also --stats-file)
#   metrics_file = "/var/lib/node_exporter/textfile/gz-tui.prom"   # run health for Prometheus (also --metrics-file)
#   ping_url = "https://hc-ping.com/YOUR-UUID"   # a dead-man's switch pinged at start and end (also --ping-url)
#   post_sync = ["/usr/local/bin/reindex", "--quiet"]   # run after each target's sync (no shell)
#
# Profiles describe one forge each. One is used when --profile NAME names it, when it is the only
# profile matching --provider/--base-url, or when it is named after the provider in use.
#
#   [profiles.work]
#   provider = "gitlab"                       # {PROVIDER_NAMES}
#   base_url = "https://gitlab.example.com"   # API root; omit for the provider's public instance
#   token_env = "WORK_GITLAB_TOKEN"           # environment variable holding the token
#   dest_root = "~/src/work"
#   workers = 4
#
# Tokens: --token (or --token-cmd, --token-file), then the profile's token_env, token_cmd or token_file,
# then GH_TOKEN/GITHUB_TOKEN, GITLAB_TOKEN or GITEA_TOKEN, then `gh auth token` (GitHub). Prefer token_env,
# token_cmd = ["op", "read", "op://vault/gh/token"] or token_file = "~/.config/gz-tui/token" (mode 0600) to
# writing token = "..." here. A GitHub App: github_app_id = 123456, github_app_key = "~/.config/gz-tui/app.pem".

"""

_TARGETS_EXAMPLE = """
# Targets: `gz-tui sync` syncs every [targets.NAME] table in one run (one pool of workers), and
# `gz-tui sync NAME...` some of them; flags after `sync` apply to each. A target is an owner on a
# forge with its own settings: flags > its table > its profile > [defaults] > built-ins. It may hold
# owner (default: NAME), profile, dest (default: dest_root/OWNER), include, exclude, post_sync and
# anything a profile may. Uncomment and edit:
#
#   [targets.apache]                          # github.com/apache
#   dest = "~/mirror/apache"
#   exclude = "^incubator-"
#   skip_archived = true
#
#   [targets.backend]
#   profile = "work"                          # provider, base_url, token_env from [profiles.work]
#   owner = "platform/backend"                # a GitLab group path
#   post_sync = ["/usr/local/bin/reindex", "--quiet"]   # run after this target's sync (no shell)
#
# Every night at 03:00 from cron (which reads no shell profile: set the token variables in the
# crontab, and give gz-tui's full path, `command -v gz-tui`):
#
#   GH_TOKEN=...
#   0 3 * * * /home/me/.local/bin/gz-tui sync --json >> ~/gz-tui-sync.jsonl 2>> ~/gz-tui-sync.err
"""


_DEFAULTS_INTRO = """\
[defaults]
# The built-in defaults, commented out. A setting left commented follows gz-tui's own default, so
# `config show` says "default" for it and a default a later release changes reaches this file too.
# Uncomment a line to pin it, or edit it.
"""


def default_config_document() -> dict[str, Any]:
    """The built-in defaults that TOML can hold, as the ``[defaults]`` table ``config init`` shows them
    (commented out: :func:`default_config_text`)."""
    keys = [k for k in DEFAULTS_KEYS if BUILTIN.get(k) not in (None, ())]
    return {"defaults": {k: _plain(BUILTIN[k]) for k in keys}}


def _plain(value: Any) -> Any:
    """A TOML-ready value: an enum member becomes its string."""
    return str(value) if isinstance(value, str) else value


_DEFAULT_SAID = re.compile(r" \(default [^)]*\)")
"""The "(default X)" of a help line: the commented line beside it already shows X."""


def _commented_default(key: str, value: Any, dumps: Callable[[dict[str, Any]], str]) -> str:
    line = "# " + dumps({key: value}).strip()
    help_text = RULES[key].help
    if not help_text:
        return line
    return f"{line:<34} # {_DEFAULT_SAID.sub('', help_text)}"


def default_config_text() -> str:
    import tomli_w  # a config writer: loaded by `config init` only, not by every start that builds the parser

    defaults = default_config_document()["defaults"]
    table = _DEFAULTS_INTRO + "".join(_commented_default(k, v, tomli_w.dumps) + "\n" for k, v in defaults.items())
    return _HEADER.replace("{PROVIDER_NAMES}", ", ".join(PROVIDERS)) + table + _TARGETS_EXAMPLE


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


DESCRIPTION = "Create, show or locate the gz-tui config file."

SHOW_OPTIONS = ("profile", "provider", "base_url")
"""The settings ``config show`` takes from the command line: what chooses a profile."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``gz-tui config``'s actions and their arguments, on the parser the command line gives it (or
    :func:`config_command`'s)."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="{init,show,path}")
    init = actions.add_parser("init", help="write a commented default config file (mode 0600)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    show = actions.add_parser(
        "show",
        help="print the effective settings and where each came from, then each configured target's",
        description="Print the effective settings of `gz-tui OWNER` and of each configured [targets.NAME] "
        "(only the targets named, if any), and where each setting came from.",
    )
    show.add_argument("names", nargs="*", metavar="NAME", help="only these [targets.NAME]")
    add_setting_options(show, SHOW_OPTIONS)
    actions.add_parser("path", help="print the config file path")


def error_line(message: str) -> str:
    """How ``gz-tui config`` says what went wrong, a usage error or another: ``gz-tui config: error: ...``."""
    return f"gz-tui config: error: {message}\n"


def _rows(resolved: Resolved, keys: tuple[str, ...], environ: Mapping[str, str]) -> list[tuple[str, str, str]]:
    s = resolved.settings
    rows: list[tuple[str, str, str]] = []
    for key in keys:
        if key in _WHEN_SET and getattr(s, key) in (None, ()):
            continue
        source = resolved.sources[key]
        value: str
        if key == "token" and s.github_app_id is not None and not s.token:
            value = f"(installation tokens of GitHub App {s.github_app_id})"
        elif key == "token":
            value = "***" if s.token else "(none)"
            if not s.token:
                info = provider_info(s.provider)
                hint = " or ".join(info.token_env_vars)
                source = f"set {hint}" + (", run gh auth login" if info.gh_cli else "") + " or pass --token"
        elif key == "base_url":
            value = s.api_base
        elif key == "dest" and not resolved.table:
            value = f"{resolved.dest_root or '.'}{os.sep}<owner>"
        elif key == "log_file" and s.log_file is None:
            value = str(default_log_path(environ))
        elif key == "ping_url" and s.ping_url:
            value = shown_url(s.ping_url)  # the path is the check's key: whoever has it can ping
        elif key in ("post_sync", "topics"):
            value = shown(key, getattr(s, key)) if getattr(s, key) else "(none)"
        else:
            raw = getattr(s, key)
            value = "(none)" if raw is None else str(raw).lower() if isinstance(raw, bool) else str(raw)
        rows.append((key, value, source))
    return rows


def _write_rows(rows: list[tuple[str, str, str]], stdout: TextIO) -> None:
    width = max(len(v) for _, v, _ in rows)
    keys = max(14, *(len(k) + 1 for k, _, _ in rows))
    for key, value, source in rows:
        stdout.write(f"{key:<{keys}}{value:<{width}}  {source}\n")


def _show(resolved: Resolved, targets: list[Resolved], stdout: TextIO, environ: Mapping[str, str], *, general: bool = True) -> None:
    """The file, then (``general``) the settings ``gz-tui OWNER`` would use, then a block per target."""
    state = "" if resolved.config_found else " (not found; built-in defaults)"
    profile = f"   profile: {resolved.profile}" if resolved.profile and general else ""
    stdout.write(f"config file  {resolved.config_file}{state}{profile}\n")
    if general:
        _write_rows(_rows(resolved, _SHOWN, environ), stdout)
    for target in targets:
        profile = f"   profile: {target.profile}" if target.profile else ""
        stdout.write(f"\n{target.table}{profile}\n")
        _write_rows(_rows(target, _TARGET_SHOWN, environ), stdout)


def config_command(argv: list[str], *, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str] | None = None) -> int:
    """``gz-tui config ARGV`` in this process, writing to ``stdout`` and ``stderr`` (help included): its own
    parser (:func:`add_arguments`), then :func:`run_config`. Returns 0, or 2 on a usage or config error."""
    parser = Parser(prog="gz-tui config", description=DESCRIPTION)
    add_arguments(parser)
    try:
        with redirect_stdout(stdout):
            args = parser.parse_args(argv)
    except SystemExit as done:  # --help, written to stdout
        return int(done.code or 0)
    except UsageError as usage:
        stderr.write(error_line(usage.message))
        return 2
    return run_config(args, stdout=stdout, stderr=stderr, environ=environ)


def run_config(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str] | None = None) -> int:
    """``gz-tui config init [--force] | show [NAME...] [--profile NAME] [--provider P] [--base-url URL] | path``,
    parsed (``args.action`` and its options).

    Returns 0 on success, 2 on a config error (one line on ``stderr``, never a traceback).
    """
    environ = os.environ if environ is None else environ
    path = config_path(environ)
    try:
        if args.action == "path":
            stdout.write(f"{path}\n")
        elif args.action == "init":
            try:
                write_default_config(path, force=args.force)
            except FileExistsError:
                stderr.write(error_line(f"{path} already exists (use --force to overwrite)"))
                return 2
            stdout.write(f"wrote {path}\n")
        else:
            flags = {name: getattr(args, name) for name in SHOW_OPTIONS}
            config = load_config(path)
            shown_first = [] if args.names else [resolve_with_sources(flags, environ)]
            targets = resolve_targets(flags, args.names, environ) if args.names or (config and config.targets) else []
            _show([*shown_first, *targets][0], targets, stdout, environ, general=not args.names)
            warnings = dict.fromkeys(w for r in (*shown_first, *targets) for w in r.warnings)
            stderr.writelines(f"gz-tui config: warning: {warning}\n" for warning in warnings)
    except ConfigError as exc:
        stderr.write(error_line(str(exc)))
        return 2
    except BrokenPipeError:
        raise  # the reader went away (`| head`): not a config problem
    except OSError as exc:
        stderr.write(error_line(f"{exc.filename or path}: {exc.strerror or exc}"))
        return 2
    return 0
