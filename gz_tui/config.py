"""Settings for one run, and the single seam that resolves them.

Precedence, highest first:

1. flags the user typed (``flags`` maps option name to value; ``None`` means "not given");
2. the environment, for tokens only: ``GH_TOKEN``/``GITHUB_TOKEN``, ``GITLAB_TOKEN``, ``GITEA_TOKEN``
   and the variable a profile names in ``token_env``;
3. the config file: the selected ``[profiles.NAME]`` table over the ``[defaults]`` table;
4. the built-in defaults of :class:`Settings`.

The environment deliberately carries nothing else: a stray ``GZ_TUI_WORKERS`` in a shell profile is
a surprise nobody can see, while the config file is one ``gz-tui config show`` away. Two variables
locate files instead of setting options: ``GZ_TUI_CONFIG`` (this module) and ``GZ_TUI_LOG_DIR``
(:mod:`gz_tui.logs`). Colour conventions such as ``NO_COLOR`` belong to the front end, not to Settings.

For GitHub, when no token was given or found in the environment, ``gh auth token`` is asked (3 s at most)
before a ``token`` written in the config file.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn, TextIO
from urllib.parse import urlsplit

import platformdirs
import tomli_w

PROVIDERS = ("github", "gitlab", "gitea")
UPDATE_MODES = ("fetch", "pull", "reset", "skip")
PROTOCOLS = ("https", "ssh")

DEFAULT_BASE_URLS = {
    "github": "https://api.github.com",
    "gitlab": "https://gitlab.com",
    "gitea": "https://codeberg.org",
}

TOKEN_ENV_VARS = {
    "github": ("GH_TOKEN", "GITHUB_TOKEN"),
    "gitlab": ("GITLAB_TOKEN",),
    "gitea": ("GITEA_TOKEN",),
}

APP_NAME = "gz-tui"
CONFIG_ENV_VAR = "GZ_TUI_CONFIG"
"""Path of the config file to use instead of the per-user one (tests always set it)."""
GH_TIMEOUT_SECONDS = 3.0


class ConfigError(ValueError):
    """A config file or option the user must fix. ``str()`` is one line naming the file and the key."""


@dataclass(slots=True)
class Settings:
    """Everything a run needs; built by ``resolve`` and never mutated by the pipeline."""

    owner: str
    """Org or user (GitHub, Gitea), or a group's full path (GitLab)."""
    provider: str = "github"
    base_url: str = ""
    """API root; empty means the provider's default."""
    token: str | None = field(default=None, repr=False)
    token_source: str = ""
    """Where the token came from (flag, environment variable name, gh, config): shown, never the token."""
    dest: Path = Path(".")
    workers: int = 8
    buffer: int = 1000
    protocol: str = "https"
    update: str = "fetch"
    depth: int | None = None
    include: str | None = None
    exclude: str | None = None
    skip_archived: bool = False
    skip_forks: bool = False
    dry_run: bool = False
    headless: bool = False
    json: bool = False
    insecure_http: bool = False
    state_path: Path | None = None
    fresh: bool = False
    retry_failed: bool = False
    attempts: int = 3
    """Attempts per repo for transient git failures."""
    log_file: Path | None = None

    @property
    def api_base(self) -> str:
        return (self.base_url or DEFAULT_BASE_URLS[self.provider]).rstrip("/")


SETTING_NAMES = tuple(f.name for f in fields(Settings))
_BUILTIN = {f.name: f.default for f in fields(Settings) if f.name != "owner"}


# --------------------------------------------------------------------------- paths


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The config file: ``$GZ_TUI_CONFIG`` if set, else ``<user config dir>/gz-tui/config.toml``."""
    environ = os.environ if environ is None else environ
    override = environ.get(CONFIG_ENV_VAR, "").strip()
    if override:
        return Path(override).expanduser()
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


# --------------------------------------------------------------------------- schema


class _Bad(Exception):
    """A value of the wrong type; the message says what was expected."""


def _choice(options: tuple[str, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, str) and value in options:
            return value
        raise _Bad("one of " + ", ".join(f'"{o}"' for o in options))

    return check


def _positive_int(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise _Bad("a whole number of at least 1")


def _boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    raise _Bad("true or false")


def _text(value: Any) -> Any:
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise _Bad("a non-empty string")


def _env_name(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        return value
    raise _Bad('the name of an environment variable, such as "WORK_GITLAB_TOKEN"')


def _url(value: Any) -> Any:
    url = urlsplit(value) if isinstance(value, str) else None
    if url is None or url.scheme not in ("http", "https") or not url.hostname:
        raise _Bad('an http(s) URL, such as "https://gitlab.example.com"')
    if url.username or url.password:
        raise _Bad("a URL without credentials (name the token's variable in token_env)")
    return value.rstrip("/")


def _abs_path(value: Any) -> Any:
    if isinstance(value, str) and value.strip():
        path = Path(value.strip()).expanduser()
        if path.is_absolute():
            return path
    raise _Bad('an absolute path or one starting with "~"')


_PERSISTENT: dict[str, Callable[[Any], Any]] = {
    "provider": _choice(PROVIDERS),
    "workers": _positive_int,
    "buffer": _positive_int,
    "protocol": _choice(PROTOCOLS),
    "update": _choice(UPDATE_MODES),
    "depth": _positive_int,
    "skip_archived": _boolean,
    "skip_forks": _boolean,
    "dest_root": _abs_path,
    "attempts": _positive_int,
    "log_file": _abs_path,
}
DEFAULTS_KEYS: dict[str, Callable[[Any], Any]] = {**_PERSISTENT, "profile": _text}
"""What ``[defaults]`` may hold; ``profile`` names the profile used when no flag selects one."""
PROFILE_KEYS: dict[str, Callable[[Any], Any]] = {
    **_PERSISTENT,
    "base_url": _url,
    "token_env": _env_name,
    "token": _text,
}
"""What a ``[profiles.NAME]`` table may hold."""


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """A parsed and validated config file."""

    path: Path
    defaults: dict[str, Any]
    profiles: dict[str, dict[str, Any]]
    """Every profile has a ``provider`` (written, or taken from a profile named after a provider)."""
    warnings: tuple[str, ...] = ()


def _unknown_key(path: Path, table: str, key: str, known: Mapping[str, Any]) -> ConfigError:
    if table == "[defaults]" and key in PROFILE_KEYS:
        return ConfigError(f'{path}: "{key}" belongs in a [profiles.NAME] table, not in [defaults]')
    hint = difflib.get_close_matches(key, list(known), n=1)
    suggestion = f'; did you mean "{hint[0]}"?' if hint else f" (known keys: {', '.join(known)})"
    return ConfigError(f"{path}: unknown key \"{key}\" in {table}{suggestion}")


def _check_table(path: Path, table: str, data: Any, schema: Mapping[str, Callable[[Any], Any]]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: {table} must be a table, got {type(data).__name__}")
    checked: dict[str, Any] = {}
    for key, value in data.items():
        if key not in schema:
            raise _unknown_key(path, table, key, schema)
        try:
            checked[key] = schema[key](value)
        except _Bad as bad:
            shown = tomli_w.dumps({"v": value}).strip()[4:] if not isinstance(value, dict) else "a table"
            if key == "token" or (key == "base_url" and "@" in str(value)):
                shown = "(hidden)"  # never echo a credential
            raise ConfigError(f"{path}: {table} {key} = {shown}: expected {bad}") from None
    return checked


def load_config(path: Path) -> ConfigFile | None:
    """Read and validate a config file; ``None`` when it does not exist. Raises :class:`ConfigError`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None

    for key in data:
        if key not in ("defaults", "profiles"):
            raise _unknown_key(path, "the top level", key, {"defaults": 0, "profiles": 0})
    defaults = _check_table(path, "[defaults]", data.get("defaults", {}), DEFAULTS_KEYS)
    raw_profiles = data.get("profiles", {})
    if not isinstance(raw_profiles, dict):
        raise ConfigError(f"{path}: profiles must be tables written [profiles.NAME]")
    profiles: dict[str, dict[str, Any]] = {}
    for name, table in raw_profiles.items():
        label = f"[profiles.{name}]"
        profile = _check_table(path, label, table, PROFILE_KEYS)
        if "provider" not in profile:
            if name not in PROVIDERS:
                raise ConfigError(f'{path}: {label} needs provider = "github", "gitlab" or "gitea"')
            profile["provider"] = name
        profiles[name] = profile
    if "profile" in defaults and defaults["profile"] not in profiles:
        raise ConfigError(f'{path}: [defaults] profile = "{defaults["profile"]}" names no [profiles.*] table')

    warnings: list[str] = []
    holders = [f"[profiles.{n}]" for n, p in profiles.items() if "token" in p]
    if holders and os.name != "nt":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o044:
            warnings.append(
                f"{path} holds a token ({', '.join(holders)}) and is readable by other users "
                f"(mode {mode:04o}); run: chmod 600 {path}"
            )
    return ConfigFile(path, defaults, profiles, tuple(warnings))


# --------------------------------------------------------------------------- resolution


@dataclass(slots=True)
class Resolved:
    """The settings for a run, where each one came from, and what the user should be told."""

    settings: Settings
    sources: dict[str, str]
    """Per setting name: "flag", "env GH_TOKEN", "config /path [profiles.work]", "gh auth token" or "default"."""
    warnings: list[str]
    config_file: Path
    """The file that was consulted (it may not exist)."""
    config_found: bool
    profile: str | None = None
    """The selected profile, if any."""
    dest_root: Path | None = None
    """Where clones go (``dest_root/OWNER``) when --dest is not given, if the config sets it."""


def token_from_environment(provider: str, environ: Mapping[str, str]) -> tuple[str | None, str]:
    """The first non-empty token variable for this provider, with its name."""
    for name in TOKEN_ENV_VARS[provider]:
        value = environ.get(name, "").strip()
        if value:
            return value, name
    return None, ""


def token_from_gh(api_base: str, environ: Mapping[str, str]) -> str | None:
    """``gh auth token`` for the host behind ``api_base``, if ``gh`` is on PATH and answers within 3 s.

    The token is returned, never logged; any failure means "no token".
    """
    gh = shutil.which("gh", path=environ.get("PATH", ""))
    if gh is None:
        return None
    host = urlsplit(api_base).hostname or "github.com"
    if host == "api.github.com":
        host = "github.com"
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


def _last_segment(owner: str) -> str:
    return owner.rstrip("/").split("/")[-1]


def _norm_url(url: str) -> str:
    return url.rstrip("/").lower()


def _profile_api_base(profile: Mapping[str, Any]) -> str:
    return _norm_url(profile.get("base_url") or DEFAULT_BASE_URLS[profile["provider"]])


def _select_profile(
    given: Mapping[str, Any], name: str | None, config: ConfigFile | None, path: Path, warnings: list[str]
) -> str | None:
    profiles = config.profiles if config else {}
    defaults = config.defaults if config else {}
    if name is not None:
        if name not in profiles:
            where = f"profiles there: {', '.join(profiles)}" if profiles else "it defines no profiles"
            if config is None:
                where = "the file does not exist; run: gz-tui config init"
            raise ConfigError(f'--profile {name}: no [profiles.{name}] in {path} ({where})')
        return name
    flag_provider, flag_base = given.get("provider"), given.get("base_url")
    if flag_provider is not None or flag_base is not None:
        matches = [
            n
            for n, p in profiles.items()
            if (flag_provider is None or p["provider"] == flag_provider)
            and (flag_base is None or _profile_api_base(p) == _norm_url(flag_base))
        ]
        if len(matches) == 1:
            return matches[0]
        if flag_provider in matches:
            return flag_provider
        if matches:
            warnings.append(
                f"profiles {', '.join(matches)} all match; none used (choose one with --profile NAME)"
            )
        return None
    if "profile" in defaults:
        return defaults["profile"]
    provider = defaults.get("provider", _BUILTIN["provider"])
    return provider if provider in profiles else None


def _find_token(
    given: Mapping[str, Any],
    profile: Mapping[str, Any],
    label: str,
    settings: Settings,
    environ: Mapping[str, str],
    path: Path,
    warnings: list[str],
) -> tuple[str | None, str, str]:
    """(token, source for ``config show``, ``Settings.token_source``); the first source that has one wins."""
    if "token" in given:
        return given["token"], "flag", "--token"
    if "token_env" in profile:
        var = profile["token_env"]
        value = environ.get(var, "").strip()
        if value:
            return value, f"env {var} ({label} token_env)", var
        warnings.append(f'{label} token_env = "{var}", but {var} is not set')
    value, var = token_from_environment(settings.provider, environ)
    if value:
        return value, f"env {var}", var
    if settings.provider == "github":
        value = token_from_gh(settings.api_base, environ)
        if value:
            return value, "gh auth token", "gh auth token"
    if "token" in profile:
        return profile["token"], f"config {path} {label}", f"config file {label}"
    return None, "default", ""


def resolve_with_sources(
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Resolved:
    """Merge flags > environment > config file (profile over defaults) > built-in defaults.

    ``flags`` holds only the options the user typed (``None`` means "not given"), keyed by Settings
    field name, plus ``profile``. ``config_file`` defaults to :func:`config_path`; a missing file is
    no config. Raises :class:`ConfigError` for a bad file, an unknown profile or conflicting options.
    """
    environ = os.environ if environ is None else environ
    path = config_path(environ) if config_file is None else Path(config_file)
    config = load_config(path)
    warnings: list[str] = list(config.warnings) if config else []
    given = {k: v for k, v in flags.items() if v is not None and k in SETTING_NAMES}
    profile_flag = flags.get("profile")

    name = _select_profile(given, profile_flag, config, path, warnings)
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if config is not None and name is not None:
        layers.append((f"config {path} [profiles.{name}]", config.profiles[name]))
    if config is not None:
        layers.append((f"config {path} [defaults]", config.defaults))

    def pick(key: str, default: Any) -> tuple[Any, str]:
        if key in given:
            return given[key], "flag"
        for source, table in layers:
            if key in table:
                return table[key], source
        return default, "default"

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in SETTING_NAMES:
        if key not in ("token", "token_source", "dest"):
            values[key], sources[key] = pick(key, _BUILTIN.get(key, ""))
    profile = config.profiles[name] if config is not None and name is not None else None
    if profile is not None and "provider" in given and given["provider"] != profile["provider"]:
        raise ConfigError(
            f'--provider {given["provider"]} conflicts with [profiles.{name}] provider = '
            f'"{profile["provider"]}" in {path}'
        )
    if values["provider"] not in PROVIDERS:
        raise ConfigError(f"--provider {values['provider']}: expected one of {', '.join(PROVIDERS)}")

    settings = Settings(**values)
    for key in ("state_path", "log_file"):
        value = getattr(settings, key)
        if value is not None:
            setattr(settings, key, Path(value).expanduser())

    # Destination: --dest, else dest_root/OWNER-last-segment, else ./OWNER-last-segment.
    dest_root, root_source = pick("dest_root", None)
    last = _last_segment(settings.owner)
    if "dest" in given:
        settings.dest, sources["dest"] = Path(given["dest"]).expanduser(), "flag"
    elif dest_root is not None:
        settings.dest, sources["dest"] = Path(dest_root) / last, f"{root_source} dest_root"
    else:
        settings.dest, sources["dest"] = Path(last or "."), "default"

    # Token: --token, profile token_env, provider variables, gh (GitHub), config token. A profile's
    # token is only ever sent to the profile's own forge.
    own: Mapping[str, Any] = {}
    if profile is not None:
        if _profile_api_base(profile) == _norm_url(settings.api_base):
            own = profile
        elif "token" in profile or "token_env" in profile:
            warnings.append(
                f"not using the token of [profiles.{name}]: its base URL {_profile_api_base(profile)} "
                f"differs from {settings.api_base}"
            )
    token, source, token_source = _find_token(given, own, f"[profiles.{name}]", settings, environ, path, warnings)
    settings.token, settings.token_source = token, token_source
    sources["token"] = sources["token_source"] = source

    return Resolved(
        settings=settings,
        sources=sources,
        warnings=warnings,
        config_file=path,
        config_found=config is not None,
        profile=name,
        dest_root=Path(dest_root) if dest_root is not None else None,
    )


def resolve(flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """The settings for a run: flags > environment > config file at :func:`config_path` > defaults.

    ``flags`` holds only the options the user actually gave (None means "not given").
    Warnings are dropped; a front end that can show them calls :func:`resolve_with_sources`.
    """
    return resolve_with_sources(flags, environ).settings


# --------------------------------------------------------------------------- config init / show / path

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
    keys = [k for k in _PERSISTENT if k in _BUILTIN and _BUILTIN[k] is not None]
    return {"defaults": {k: _BUILTIN[k] for k in keys}}


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
        p.out = stdout  # type: ignore[attr-defined]
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
            for warning in resolved.warnings:
                stderr.write(f"gz-tui config: warning: {warning}\n")
    except ConfigError as exc:
        stderr.write(f"gz-tui config: error: {exc}\n")
        return 2
    except BrokenPipeError:
        raise  # the reader went away (`| head`): not a config problem
    except OSError as exc:
        stderr.write(f"gz-tui config: error: {exc.filename or path}: {exc.strerror or exc}\n")
        return 2
    return 0
