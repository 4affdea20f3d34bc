"""The config file: where it is, and reading it into checked ``[defaults]`` and ``[profiles.NAME]`` tables.

Every value is checked by its rule in :data:`gz_tui.config.settings.RULES`, the same rule a flag meets;
an error names the file, the table, the key and the value (never a token).
"""

from __future__ import annotations

import difflib
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from gz_tui.config.settings import PROVIDERS, RULES, ConfigError, InFile, Origin, check

APP_NAME = "gz-tui"
CONFIG_ENV_VAR = "GZ_TUI_CONFIG"
"""Path of the config file to use instead of the per-user one (tests always set it)."""

DEFAULTS_KEYS = tuple(name for name, rule in RULES.items() if InFile.DEFAULTS in rule.in_file)
"""What ``[defaults]`` may hold; ``profile`` names the profile used when no flag selects one."""
PROFILE_KEYS = tuple(name for name, rule in RULES.items() if InFile.PROFILES in rule.in_file)
"""What a ``[profiles.NAME]`` table may hold."""


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


def _unknown_key(path: Path, table: str, key: str, known: tuple[str, ...]) -> ConfigError:
    if table == "[defaults]" and key in PROFILE_KEYS:
        return ConfigError(f'{path}: "{key}" belongs in a [profiles.NAME] table, not in [defaults]')
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
        checked[key] = check(key, value, origin)
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
            raise _unknown_key(path, "the top level", key, ("defaults", "profiles"))
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
            profile["provider"] = check("provider", name)
        profiles[name] = profile
    if "profile" in defaults and defaults["profile"] not in profiles:
        raise ConfigError(f'{path}: [defaults] profile = "{defaults["profile"]}" names no [profiles.*] table')
    return ConfigFile(path, defaults, profiles, _token_warnings(path, profiles))


def _token_warnings(path: Path, profiles: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    holders = [f"[profiles.{n}]" for n, p in profiles.items() if "token" in p]
    if not holders or os.name == "nt":
        return ()
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o044:
        return ()
    warning = (
        f"{path} holds a token ({', '.join(holders)}) and is readable by other users "
        f"(mode {mode:04o}); run: chmod 600 {path}"
    )
    return (warning,)
