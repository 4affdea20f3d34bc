"""Resolving the settings of a run, and where each came from.

Precedence, highest first:

1. flags the user typed (``flags`` maps option name to value; ``None`` means "not given");
2. the environment, for credentials only: ``GH_TOKEN``/``GITHUB_TOKEN``, ``GITLAB_TOKEN``, ``GITEA_TOKEN``,
   the variable a profile names in ``token_env``, and a GitHub App's ``GZ_TUI_GITHUB_APP_ID``,
   ``GZ_TUI_GITHUB_APP_KEY`` and ``GZ_TUI_GITHUB_APP_INSTALLATION_ID``;
3. the config file: for a configured target its ``[targets.NAME]`` table, then the selected
   ``[profiles.NAME]`` table, then the ``[defaults]`` table;
4. the built-in defaults of :class:`Settings`.

A run syncs one or more *targets* (an owner on a forge, with its own settings and destination):
:func:`resolve_targets` resolves the ``[targets.NAME]`` tables of the config file, :func:`resolve_owners`
the owners named on the command line; both check that no two targets share a destination or a state.

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
from collections.abc import Mapping, Sequence
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
    Invalid,
    Origin,
    Settings,
    check,
    validate,
)
from gz_tui.config.tokens import TokenHolder, find_token
from gz_tui.kinds import ProviderName
from gz_tui.layout import default_state_path


@dataclass(slots=True)
class Resolved:
    """The settings for a run of one target, where each one came from, and what the user should be told."""

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
    table: str = ""
    """``[targets.NAME]`` for a target of the config file; empty for an owner named on the command line."""

    def problem(self) -> str | None:
        """One-line reason this target cannot run (:func:`validate`), naming its table if it has one."""
        problem = validate(self.settings, self.origins)
        if problem and self.table and not problem.startswith(f"{self.config_file}:"):
            return f"{self.config_file}: {self.table}: {problem}"
        return problem


class NoTargets(ConfigError):
    """``gz-tui sync`` with no ``[targets.NAME]`` in the config file (or no config file)."""


def _last_segment(owner: str) -> str:
    return owner.rstrip("/").split("/")[-1]


def _norm_url(url: str) -> str:
    return url.rstrip("/").lower()


def _profile_api_base(profile: Mapping[str, Any]) -> str:
    return _norm_url(profile.get("base_url") or DEFAULT_BASE_URLS[profile["provider"]])


def _select_profile(given: Mapping[str, Any], name: str | None, config: ConfigFile | None, path: Path, warnings: list[str]) -> str | None:
    """The profile a run uses: the one named, else the only one matching the provider/base URL given
    (by a flag, or a target's table), else ``[defaults] profile``, else the one named after the provider."""
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


def _checked_flags(flags: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The flags the user gave, each checked by its rule, and ``--profile``."""
    given = {k: check(k, v) if k in RULES else v for k, v in flags.items() if v is not None and k in SETTING_NAMES and k != "target"}
    profile_flag = flags.get("profile")
    return given, None if profile_flag is None else check("profile", profile_flag)


def _resolve(
    given: Mapping[str, Any],
    profile_flag: str | None,
    config: ConfigFile | None,
    path: Path,
    environ: Mapping[str, str],
    *,
    target: str | None = None,
    dest_is_root: bool = False,
    with_tokens: bool = True,
    gh_answers: dict[str, str | None] | None = None,
) -> Resolved:
    """One target: the command-line owner in ``given``, or the ``[targets.NAME]`` table named ``target``.

    ``dest_is_root``: ``--dest`` names the folder the targets land in (``DEST/OWNER``), as it does when a
    run has several targets.
    """
    warnings: list[str] = list(config.warnings) if config else []
    table: Mapping[str, Any] = config.targets[target] if config is not None and target is not None else {}
    label = f"[targets.{target}]" if target is not None else ""
    forge = {k: table[k] for k in ("provider", "base_url") if k in table} | {k: given[k] for k in ("provider", "base_url") if k in given}
    name = _select_profile(forge, profile_flag or table.get("profile"), config, path, warnings)
    profile = config.profiles[name] if config is not None and name is not None else None
    layers: list[tuple[Origin, Mapping[str, Any]]] = []
    if table:
        layers.append((Origin(path, label), table))
    if profile is not None:
        layers.append((Origin(path, f"[profiles.{name}]"), profile))
    if config is not None:
        layers.append((Origin(path, "[defaults]"), config.defaults))

    origins: dict[str, Origin] = {}

    def pick(key: str, default: Any) -> tuple[Any, str]:
        if key in given:
            origins[key] = FLAG
            return given[key], str(FLAG)
        for origin, layer in layers:
            if key in layer:
                origins[key] = origin
                return layer[key], str(origin)
        return default, "default"

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in SETTING_NAMES:
        if key not in ("owner", "target", "token", "token_source", "dest", "token_cmd", "token_file"):
            values[key], sources[key] = pick(key, BUILTIN.get(key, ""))
            if key in APP_ENV and sources[key] != str(FLAG) and environ.get(APP_ENV[key], "").strip():
                values[key], sources[key] = _from_env(key, environ), f"env {APP_ENV[key]}"
    if profile is not None and "provider" in given and given["provider"] != profile["provider"]:
        raise ConfigError(f'--provider {given["provider"]} conflicts with [profiles.{name}] provider = "{profile["provider"]}" in {path}')
    if target is not None:
        values["owner"], values["target"] = table.get("owner", target), target
        sources["owner"] = f"config {path} {label}" if "owner" in table else f"the name of {label}"
        sources["target"] = f"config {path} {label}"
    else:
        values["owner"], sources["owner"] = given.get("owner", ""), "flag" if "owner" in given else "default"
        sources["target"] = sources["owner"]

    settings = Settings(**values)
    for key in ("state_path", "log_file"):
        value = getattr(settings, key)
        if value is not None:
            setattr(settings, key, Path(value).expanduser())

    # Destination: --dest (with several targets: --dest/OWNER), else the target's dest, else
    # dest_root/OWNER-last-segment, else ./OWNER-last-segment.
    dest_root, root_source = pick("dest_root", None)
    last = _last_segment(settings.owner)
    if "dest" in given:
        flag_dest = Path(given["dest"]).expanduser()
        settings.dest, sources["dest"] = (flag_dest / last, "flag --dest/<owner>") if dest_is_root else (flag_dest, "flag")
    elif "dest" in table:
        settings.dest, sources["dest"] = Path(table["dest"]), f"config {path} {label}"
    elif dest_root is not None:
        settings.dest, sources["dest"] = Path(dest_root) / last, f"{root_source} dest_root"
    else:
        settings.dest, sources["dest"] = Path(last or "."), "default"

    command: tuple[str, ...] = ()
    if settings.github_app_id is not None and settings.provider == ProviderName.GITHUB and "token" not in given:
        token, source, token_source = None, f"GitHub App {settings.github_app_id}", f"GitHub App {settings.github_app_id}"
    elif with_tokens:
        token, source, token_source, command = find_token(
            given, _token_holders(settings, table, label, profile, name, path, warnings), settings, environ, warnings, gh_answers
        )
    else:
        token, source, token_source = None, "not looked up", ""
    settings.token, settings.token_source, settings.token_cmd = token, token_source, command
    sources["token"] = sources["token_source"] = sources["token_cmd"] = sources["token_file"] = source

    return Resolved(
        settings=settings,
        sources=sources,
        warnings=warnings,
        config_file=path,
        config_found=config is not None,
        profile=name,
        dest_root=Path(dest_root) if dest_root is not None else None,
        origins=origins,
        table=label,
    )


TOKEN_KEYS = ("token", "token_env", "token_cmd", "token_file")
"""The keys of a table that say where its forge's token is."""

APP_ENV = {
    "github_app_id": "GZ_TUI_GITHUB_APP_ID",
    "github_app_key": "GZ_TUI_GITHUB_APP_KEY",
    "github_app_installation_id": "GZ_TUI_GITHUB_APP_INSTALLATION_ID",
}
"""The environment variables that may name a GitHub App (over the config file, under the flags)."""


def _from_env(key: str, environ: Mapping[str, str]) -> Any:
    var = APP_ENV[key]
    raw: Any = environ[var].strip()
    if key != "github_app_key":
        raw = int(raw) if raw.isdigit() else raw
    try:
        return RULES[key].apply(Path(raw).expanduser().absolute() if key == "github_app_key" else raw)
    except Invalid as bad:
        raise ConfigError(f"{var} {bad.must}") from None


def _token_holders(
    settings: Settings,
    table: Mapping[str, Any],
    label: str,
    profile: Mapping[str, Any] | None,
    name: str | None,
    path: Path,
    warnings: list[str],
) -> list[TokenHolder]:
    """The tables whose ``token_env``/``token`` this run may use: the target's, then its profile's, each
    only when its own forge is the one in use (a token is never sent to another forge)."""
    holders: list[TokenHolder] = []
    api_base = _norm_url(settings.api_base)
    if table and any(key in table for key in TOKEN_KEYS):
        provider = table.get("provider") or (profile["provider"] if profile is not None else settings.provider)
        own = table.get("base_url") or (profile.get("base_url") if profile is not None else None)
        own_base = _norm_url(own or DEFAULT_BASE_URLS[provider])
        if own_base == api_base:
            holders.append((label, table, f"config {path} {label}"))
        else:
            warnings.append(f"not using the token of {label}: its base URL {own_base} differs from {settings.api_base}")
    if profile is not None and any(key in profile for key in TOKEN_KEYS):
        profile_label = f"[profiles.{name}]"
        if _profile_api_base(profile) == api_base:
            holders.append((profile_label, profile, f"config {path} {profile_label}"))
        else:
            warnings.append(
                f"not using the token of {profile_label}: its base URL {_profile_api_base(profile)} differs from {settings.api_base}"
            )
    return holders


def _load(environ: Mapping[str, str] | None, config_file: Path | None) -> tuple[Mapping[str, str], Path, ConfigFile | None]:
    environ = os.environ if environ is None else environ
    path = config_path(environ) if config_file is None else Path(config_file)
    return environ, path, load_config(path)


def resolve_with_sources(
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Resolved:
    """One owner named on the command line (``flags["owner"]``): flags > environment > config file
    (profile over defaults) > built-in defaults. Its target name is the owner.

    ``flags`` holds only the options the user typed (``None`` means "not given"), keyed by Settings
    field name, plus ``profile``. ``config_file`` defaults to :func:`config_path`; a missing file is
    no config. Raises :class:`ConfigError` for a bad file or flag, an unknown profile or conflicting
    options; the message names the flag or the file, table and key.
    """
    environ, path, config = _load(environ, config_file)
    given, profile_flag = _checked_flags(flags)
    return _resolve(given, profile_flag, config, path, environ)


def resolve_owners(
    flags: Mapping[str, Any],
    owners: Sequence[str],
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    *,
    with_tokens: bool = True,
) -> list[Resolved]:
    """One target per owner named on the command line (``gz-tui apache kubernetes``), in order, each named
    after its owner. With one owner this is ``[resolve_with_sources(flags | {"owner": owner})]``; with
    several, ``--dest D`` puts each at ``D/OWNER``. ``flags["owner"]`` is ignored.

    Raises :class:`ConfigError` as :func:`resolve_with_sources` does, and when two owners would share a
    destination or a state (:func:`check_distinct`).
    """
    environ, path, config = _load(environ, config_file)
    given, profile_flag = _checked_flags({k: v for k, v in flags.items() if k != "owner"})
    chosen = list(dict.fromkeys(owners)) or [""]
    gh_answers: dict[str, str | None] = {}
    resolved = [
        _resolve(
            {**given, "owner": owner} if owner else given,
            profile_flag,
            config,
            path,
            environ,
            dest_is_root=len(chosen) > 1,
            with_tokens=with_tokens,
            gh_answers=gh_answers,
        )
        for owner in chosen
    ]
    check_distinct(resolved)
    return resolved


def target_names(environ: Mapping[str, str] | None = None, config_file: Path | None = None) -> list[str]:
    """The names of the ``[targets.NAME]`` tables of the config file, in file order (none without a file)."""
    _, _, config = _load(environ, config_file)
    return list(config.targets) if config is not None else []


def resolve_targets(
    flags: Mapping[str, Any],
    names: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    *,
    with_tokens: bool = True,
) -> list[Resolved]:
    """The configured targets named (every one, in file order, when ``names`` is empty), for ``gz-tui sync``.

    Per target: flags > its ``[targets.NAME]`` table > the profile it names (or the one its provider/base
    URL selects) > ``[defaults]`` > built-ins; its token is found as a single run's is. With several
    targets, ``--dest D`` puts each at ``D/OWNER``. ``flags["owner"]`` is ignored; ``with_tokens=False``
    skips looking for tokens (``gz-tui status``).

    Raises :class:`ConfigError` (one line) for a bad file or flag, no targets configured (:class:`NoTargets`), a name that is
    not configured (listing the known ones), or two targets sharing a destination or a state.
    """
    environ, path, config = _load(environ, config_file)
    configured = list(config.targets) if config is not None else []
    if not configured:
        where = f"{path} has no [targets.NAME] tables" if config is not None else f"no config file at {path}"
        raise NoTargets(f"{where}: nothing to sync (run gz-tui config init for a commented [targets.NAME] example)")
    unknown = [n for n in dict.fromkeys(names) if n not in configured]
    if unknown:
        which = "target " + repr(unknown[0]) if len(unknown) == 1 else "targets " + ", ".join(map(repr, unknown))
        raise ConfigError(f"no {which} in {path} (targets there: {', '.join(configured)})")
    given, profile_flag = _checked_flags({k: v for k, v in flags.items() if k != "owner"})
    chosen = list(dict.fromkeys(names)) or configured
    gh_answers: dict[str, str | None] = {}
    resolved = [
        _resolve(
            given,
            profile_flag,
            config,
            path,
            environ,
            target=name,
            dest_is_root=len(chosen) > 1,
            with_tokens=with_tokens,
            gh_answers=gh_answers,
        )
        for name in chosen
    ]
    check_distinct(resolved)
    return resolved


def check_distinct(resolved: Sequence[Resolved]) -> None:
    """:class:`ConfigError` naming both targets when two would sync into one destination (or one inside
    the other's), or share a state file."""
    seen: list[tuple[str, Path, Path]] = []
    for r in resolved:
        s = r.settings
        dest = s.dest.expanduser().resolve()
        state = (s.state_path.expanduser() if s.state_path else default_state_path(dest)).resolve()
        for other, other_dest, other_state in seen:
            pair = f"targets {other} and {s.target}"
            if dest == other_dest:
                raise ConfigError(f"{pair} would both sync into {dest} (give one its own dest)")
            if state == other_state:
                raise ConfigError(
                    f"{pair} would share the state file {state} (--state names one state: leave it out when syncing several targets)"
                )
            if dest.is_relative_to(other_dest) or other_dest.is_relative_to(dest):
                inner, outer = (dest, other_dest) if dest.is_relative_to(other_dest) else (other_dest, dest)
                raise ConfigError(f"{pair}: destination {inner} is inside {outer} (give each its own folder)")
        seen.append((s.target, dest, state))


def resolve(flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """The settings for a run: flags > environment > config file at :func:`config_path` > defaults.

    ``flags`` holds only the options the user actually gave (None means "not given").
    Warnings are dropped; a front end that can show them calls :func:`resolve_with_sources`.
    """
    return resolve_with_sources(flags, environ).settings
