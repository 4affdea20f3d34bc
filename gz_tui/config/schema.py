"""The config file: where it is, and reading it into checked ``[defaults]``, ``[profiles.NAME]`` and
``[targets.NAME]`` tables.

Every value is checked by its rule in :data:`gz_tui.config.settings.RULES`, the same rule a flag meets;
an error names the file, the table, the key and the value (never a token).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from gz_tui.config.settings import PROVIDERS, RULES, ConfigError, InFile, Origin, Rule, check
from gz_tui.config.values import Invalid, owner_name, owner_path_problem

APP_NAME = "gz-tui"
CONFIG_ENV_VAR = "GZ_TUI_CONFIG"
"""Path of the config file to use instead of the per-user one (tests always set it)."""

DEFAULTS_KEYS = tuple(name for name, rule in RULES.items() if InFile.DEFAULTS in rule.in_file)
"""What ``[defaults]`` may hold; ``profile`` names the profile used when no flag selects one."""
PROFILE_KEYS = tuple(name for name, rule in RULES.items() if InFile.PROFILES in rule.in_file)
"""What a ``[profiles.NAME]`` table may hold."""
TARGET_KEYS = ("owner", *(name for name, rule in RULES.items() if rule.in_file & (InFile.PROFILES | InFile.TARGETS)))
"""What a ``[targets.NAME]`` table may hold: the owner (default: NAME), everything a profile may, and
``profile``, ``dest``, ``include``, ``exclude`` and ``post_sync``."""
OWNER_RULE = Rule(owner_name)
"""``owner`` in a ``[targets.NAME]`` table (on the command line the owner is checked by ``validate``)."""
TARGET_NAME = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@/-]*")
"""A target's name is typed on the command line (``gz-tui sync NAME``): one word, not an option."""


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The config file: ``$GZ_TUI_CONFIG`` if set, else ``<user config dir>/gz-tui/config.toml``."""
    environ = os.environ if environ is None else environ
    override = environ.get(CONFIG_ENV_VAR, "").strip()
    if override:
        return Path(override).expanduser()
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """A parsed and validated config file."""

    path: Path
    defaults: dict[str, Any]
    profiles: dict[str, dict[str, Any]]
    """Every profile has a ``provider`` (written, or taken from a profile named after a provider)."""
    warnings: tuple[str, ...] = ()
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``[targets.NAME]`` tables, in file order; the owner is NAME unless the table writes ``owner``."""


def _places(key: str) -> str:
    """The tables that may hold ``key``, as an error names them; empty for a key no table holds."""
    in_file = RULES[key].in_file if key in RULES else InFile.TARGETS if key == "owner" else InFile.NO
    tables = ["[profiles.NAME]"] if InFile.PROFILES in in_file else []
    if in_file & (InFile.PROFILES | InFile.TARGETS):
        tables.append("[targets.NAME]")
    places = ["[defaults]"] if InFile.DEFAULTS in in_file else []
    if tables:
        places.append(f"a {' or '.join(tables)} table")
    return " or ".join(places)


def _unknown_key(path: Path, table: str, key: str, known: tuple[str, ...]) -> ConfigError:
    places = _places(key)
    if places and table != "the top level":
        return ConfigError(f'{path}: "{key}" belongs in {places}, not in {table}')
    hint = difflib.get_close_matches(key, known, n=1)
    suggestion = f'; did you mean "{hint[0]}"?' if hint else f" (known keys: {', '.join(known)})"
    return ConfigError(f'{path}: unknown key "{key}" in {table}{suggestion}')


def _check_table(path: Path, table: str, data: Any, known: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: {table} must be a table, got {type(data).__name__}")
    origin = Origin(path, table)
    checked: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise _unknown_key(path, table, key, known)
        if key == "owner":
            try:
                checked[key] = OWNER_RULE.apply(value)
            except Invalid as bad:
                raise ConfigError(origin.problem(key, value, bad)) from None
        else:
            checked[key] = check(key, value, origin)
    return checked


def _load_targets(path: Path, raw: Any, profiles: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: targets must be tables written [targets.NAME]")
    targets: dict[str, dict[str, Any]] = {}
    for name, table in raw.items():
        if not TARGET_NAME.fullmatch(name):
            raise ConfigError(
                f"{path}: [targets.{_quoted(name)}]: a target's name is one word of letters, digits and - _ . @ /, "
                'not starting with "-" (it is typed as gz-tui sync NAME)'
            )
        shape = owner_path_problem(name)
        if shape:
            raise ConfigError(f"{path}: [targets.{_quoted(name)}]: the name {shape}")
        label = f"[targets.{name}]"
        target = _check_table(path, label, table, TARGET_KEYS)
        if "profile" in target:
            profile = profiles.get(target["profile"])
            if profile is None:
                raise ConfigError(f'{path}: {label} profile = "{target["profile"]}" names no [profiles.*] table')
            if "provider" in target and target["provider"] != profile["provider"]:
                raise ConfigError(
                    f'{path}: {label} provider = "{target["provider"]}" conflicts with '
                    f'[profiles.{target["profile"]}] provider = "{profile["provider"]}"'
                )
        targets[name] = target
    return targets


def _quoted(name: str) -> str:
    return json.dumps(name)


def _one_of(words: tuple[str, ...]) -> str:
    """``"a", "b" or "c"``."""
    quoted = [_quoted(str(word)) for word in words]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


MAX_CONFIG_BYTES = 4 * 1024 * 1024
"""A config file is at most this big (4 MiB: some 20,000 target tables); a bigger one is refused unread."""


def _read_config(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist. Only a regular file is read (a FIFO would block
    the start forever: it is opened without blocking and refused), and at most :data:`MAX_CONFIG_BYTES`."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as file:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ConfigError(f"{path}: not a regular file (a config file is a TOML text file)")
            raw = file.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB; a config file is a few KB of TOML")
    return raw


def load_config(path: Path) -> ConfigFile | None:
    """Read and validate a config file; ``None`` when it does not exist. Raises :class:`ConfigError`, for
    every command alike: too big, not a regular file, not UTF-8, not TOML, nested too deeply, a bad table."""
    raw = _read_config(path)
    if raw is None:
        return None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ConfigError(f"{path}: invalid TOML: arrays or inline tables nested too deeply") from None

    for key in data:
        if key not in ("defaults", "profiles", "targets"):
            raise _unknown_key(path, "the top level", key, ("defaults", "profiles", "targets"))
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
                raise ConfigError(f"{path}: {label} needs provider = {_one_of(PROVIDERS)}")
            profile["provider"] = check("provider", name)
        profiles[name] = profile
    if "profile" in defaults and defaults["profile"] not in profiles:
        raise ConfigError(f'{path}: [defaults] profile = "{defaults["profile"]}" names no [profiles.*] table')
    targets = _load_targets(path, data.get("targets", {}), profiles)
    return ConfigFile(path, defaults, profiles, _token_warnings(path, profiles, targets), targets)


def _token_warnings(path: Path, profiles: Mapping[str, Mapping[str, Any]], targets: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    holders = [f"[profiles.{n}]" for n, p in profiles.items() if "token" in p]
    holders += [f"[targets.{n}]" for n, t in targets.items() if "token" in t]
    if not holders or os.name == "nt":
        return ()
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o044:
        return ()
    warning = f"{path} holds a token ({', '.join(holders)}) and is readable by other users (mode {mode:04o}); run: chmod 600 {path}"
    return (warning,)
