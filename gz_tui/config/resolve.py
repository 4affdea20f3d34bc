"""Resolving the settings of a run, and where each came from.

Precedence, highest first:

1. flags the user typed (``flags`` maps option name to value; ``None`` means "not given");
2. the environment, for tokens only: ``GH_TOKEN``/``GITHUB_TOKEN``, ``GITLAB_TOKEN``, ``GITEA_TOKEN``
   and the variable a profile names in ``token_env``;
3. the config file: the selected ``[profiles.NAME]`` table over the ``[defaults]`` table;
4. the built-in defaults of :class:`Settings`.

The environment deliberately carries nothing else: a stray ``GZ_TUI_WORKERS`` in a shell profile is
a surprise nobody can see, while the config file is one ``gz-tui config show`` away. Two variables
locate files instead of setting options: ``GZ_TUI_CONFIG`` (:mod:`gz_tui.config.schema`) and
``GZ_TUI_LOG_DIR`` (:mod:`gz_tui.logs`). Colour conventions such as ``NO_COLOR`` belong to the front
end, not to Settings.

For GitHub, when no token was given or found in the environment, ``gh auth token`` is asked (3 s at most)
before a ``token`` written in the config file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gz_tui.config.schema import ConfigFile, config_path, load_config
from gz_tui.config.settings import (
    BUILTIN,
    DEFAULT_BASE_URLS,
    FLAG,
    RULES,
    SETTING_NAMES,
    ConfigError,
    Origin,
    Settings,
    check,
)
from gz_tui.config.tokens import find_token


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
    origins: dict[str, Origin] = field(default_factory=dict)
    """Per setting taken from a flag or the config file: where, for error messages (``validate``)."""


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
            raise ConfigError(f"--profile {name}: no [profiles.{name}] in {path} ({where})")
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
            return str(flag_provider)
        if matches:
            warnings.append(f"profiles {', '.join(matches)} all match; none used (choose one with --profile NAME)")
        return None
    if "profile" in defaults:
        return str(defaults["profile"])
    provider = defaults.get("provider", BUILTIN["provider"])
    return provider if provider in profiles else None


def resolve_with_sources(
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Resolved:
    """Merge flags > environment > config file (profile over defaults) > built-in defaults.

    ``flags`` holds only the options the user typed (``None`` means "not given"), keyed by Settings
    field name, plus ``profile``. ``config_file`` defaults to :func:`config_path`; a missing file is
    no config. Raises :class:`ConfigError` for a bad file or flag, an unknown profile or conflicting
    options; the message names the flag or the file, table and key.
    """
    environ = os.environ if environ is None else environ
    path = config_path(environ) if config_file is None else Path(config_file)
    config = load_config(path)
    warnings: list[str] = list(config.warnings) if config else []
    given = {k: check(k, v) if k in RULES else v for k, v in flags.items() if v is not None and k in SETTING_NAMES}
    profile_flag = flags.get("profile")
    if profile_flag is not None:
        profile_flag = check("profile", profile_flag)

    name = _select_profile(given, profile_flag, config, path, warnings)
    profile = config.profiles[name] if config is not None and name is not None else None
    layers: list[tuple[Origin, Mapping[str, Any]]] = []
    if profile is not None:
        layers.append((Origin(path, f"[profiles.{name}]"), profile))
    if config is not None:
        layers.append((Origin(path, "[defaults]"), config.defaults))

    origins: dict[str, Origin] = {}

    def pick(key: str, default: Any) -> tuple[Any, str]:
        if key in given:
            origins[key] = FLAG
            return given[key], str(FLAG)
        for origin, table in layers:
            if key in table:
                origins[key] = origin
                return table[key], str(origin)
        return default, "default"

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in SETTING_NAMES:
        if key not in ("token", "token_source", "dest"):
            values[key], sources[key] = pick(key, BUILTIN.get(key, ""))
    if profile is not None and "provider" in given and given["provider"] != profile["provider"]:
        raise ConfigError(
            f'--provider {given["provider"]} conflicts with [profiles.{name}] provider = "{profile["provider"]}" in {path}'
        )

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
    label = f"[profiles.{name}]"
    token, source, token_source = find_token(given, own, label, settings, environ, f"config {path} {label}", warnings)
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
        origins=origins,
    )


def resolve(flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """The settings for a run: flags > environment > config file at :func:`config_path` > defaults.

    ``flags`` holds only the options the user actually gave (None means "not given").
    Warnings are dropped; a front end that can show them calls :func:`resolve_with_sources`.
    """
    return resolve_with_sources(flags, environ).settings
