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
    FLAG,
    RULES,
    SETTING_NAMES,
    ConfigError,
    Origin,
    Settings,
    api_base_of,
    check,
    chosen_listing,
    default_target,
    owner_problem,
    validate,
)
from gz_tui.config.tokens import FoundToken, TokenHolder, find_token
from gz_tui.config.values import Invalid
from gz_tui.forges.registry import provider_info
from gz_tui.kinds import Listing
from gz_tui.layout import default_state_path


@dataclass(frozen=True, slots=True)
class Resolved:
    """The settings for a run of one target, where each one came from, and what the user should be told."""

    settings: Settings
    sources: dict[str, str]
    """Per setting name: "flag", "env GH_TOKEN", "config /path [profiles.work]", "gh auth token" or "default"."""
    warnings: list[str]
    config_file: Path
    """The file that was consulted (it may not exist)."""
    config_found: bool
    dest_root: Path | None = None
    """Where clones go (``dest_root/OWNER``) when --dest is not given, if the config sets it."""
    origins: dict[str, Origin] = field(default_factory=dict)
    """Per setting taken from a flag or the config file: where, for error messages (``validate``)."""
    table: str = ""
    """``[targets.NAME]`` for a target of the config file; empty for an owner named on the command line."""
    notes: tuple[str, ...] = ()
    """What the user is told without it being wrong: the profile chosen for them, and why."""

    @property
    def profile(self) -> str | None:
        """The selected profile, if any."""
        return self.settings.profile

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
    return _norm_url(api_base_of(profile["provider"], profile.get("base_url") or ""))


def _select_profile(
    given: Mapping[str, Any], name: str | None, config: ConfigFile | None, path: Path, warnings: list[str], *, said: Mapping[str, str]
) -> tuple[str | None, str]:
    """The profile a run uses: the one named, else the only one matching the provider/base URL given
    (by a flag, or a target's table), else ``[defaults] profile``, else the one named after the provider;
    and, for a profile nobody named, why it was chosen (the user is told: a profile's token and settings
    should never apply unannounced). ``said`` spells each given key as the user wrote it."""
    profiles = config.profiles if config else {}
    defaults = config.defaults if config else {}
    if name is not None:
        if name not in profiles:
            where = f"profiles there: {', '.join(profiles)}" if profiles else "it defines no profiles"
            if config is None:
                where = "the file does not exist; run: gz-tui config init"
            raise ConfigError(f"--profile {name}: no [profiles.{name}] in {path} ({where})")
        return name, ""
    flag_provider, flag_base = given.get("provider"), given.get("base_url")
    if flag_provider is not None or flag_base is not None:
        matches = [
            n
            for n, p in profiles.items()
            if (flag_provider is None or p["provider"] == flag_provider)
            and (flag_base is None or _profile_api_base(p) == _norm_url(flag_base))
        ]
        matched = " ".join(said[k] for k in ("provider", "base_url") if k in given)
        if len(matches) == 1:
            return matches[0], f"it matches {matched}"
        if flag_provider in matches:
            return str(flag_provider), f"it is named after the provider of {matched}"
        if matches:
            warnings.append(f"profiles {', '.join(matches)} all match; none used (choose one with --profile NAME)")
        return None, ""
    if "profile" in defaults:
        return str(defaults["profile"]), ""
    provider = defaults.get("provider", BUILTIN["provider"])
    whose = "[defaults] provider" if "provider" in defaults else "the default provider"
    return (provider, f"it is named after {whose}, {provider}") if provider in profiles else (None, "")


def _checked_flags(flags: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The flags the user gave, each checked by its rule, and ``--profile`` (which resolution decides on)."""
    given = {
        k: check(k, v) if k in RULES else v
        for k, v in flags.items()
        if v is not None and k in SETTING_NAMES and k not in ("target", "profile")
    }
    profile_flag = flags.get("profile")
    return given, None if profile_flag is None else check("profile", profile_flag)


@dataclass(frozen=True, slots=True)
class Layers:
    """Where one target's values come from, highest first: the flags the user typed, then the tables of the
    config file: the target's ``[targets.NAME]``, the profile it uses, ``[defaults]``."""

    given: Mapping[str, Any]
    tables: tuple[tuple[Origin, Mapping[str, Any]], ...]
    path: Path
    """The config file (it may not exist)."""
    target: str | None
    """The ``[targets.NAME]`` resolved, or None for an owner named on the command line."""
    table: Mapping[str, Any]
    """That target's table (empty for an owner named on the command line)."""
    profile: str | None
    profile_table: Mapping[str, Any] | None
    profile_why: str
    """Why a profile nobody named was chosen ("it matches --provider gitlab"); empty when it was named."""

    @property
    def label(self) -> str:
        """``[targets.NAME]``, or empty for an owner named on the command line."""
        return f"[targets.{self.target}]" if self.target is not None else ""

    def pick(self, key: str) -> tuple[Any, Origin] | None:
        """The value of ``key`` from the highest layer that has it, and where it came from; None if none has it."""
        if key in self.given:
            return self.given[key], FLAG
        for origin, table in self.tables:
            if key in table:
                return table[key], origin
        return None


def _layers(
    given: Mapping[str, Any], profile_flag: str | None, config: ConfigFile | None, path: Path, target: str | None, warnings: list[str]
) -> Layers:
    """Step 1: the layers of one target, with the profile it uses (:func:`_select_profile`: chosen by the flags'
    or its table's provider and base URL). A ``--provider`` that contradicts that profile's is a ConfigError."""
    table: Mapping[str, Any] = config.targets[target] if config is not None and target is not None else {}
    forge = {k: table[k] for k in ("provider", "base_url") if k in table} | {k: given[k] for k in ("provider", "base_url") if k in given}
    said = {k: f"--{k.replace('_', '-')} {v}" if k in given else f'[targets.{target}] {k} = "{v}"' for k, v in forge.items()}
    name, why = _select_profile(forge, profile_flag or table.get("profile"), config, path, warnings, said=said)
    profile = config.profiles[name] if config is not None and name is not None else None
    if profile is not None and "provider" in given and given["provider"] != profile["provider"]:
        raise ConfigError(f'--provider {given["provider"]} conflicts with [profiles.{name}] provider = "{profile["provider"]}" in {path}')
    tables: list[tuple[Origin, Mapping[str, Any]]] = []
    if table:
        tables.append((Origin(path, f"[targets.{target}]"), table))
    if profile is not None:
        tables.append((Origin(path, f"[profiles.{name}]"), profile))
    if config is not None:
        tables.append((Origin(path, "[defaults]"), config.defaults))
    return Layers(given, tuple(tables), path, target, table, name, profile, why)


DECIDED = ("owner", "target", "profile", "dest", "token", "token_source", "token_cmd", "token_file")
"""The settings resolution decides on rather than picks from the layers (:func:`_pick` does the others)."""


def _pick(layers: Layers, environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str], dict[str, Origin]]:
    """Step 2: every setting but those :data:`DECIDED`, from the highest layer that has it, else its built-in
    default (a GitHub App's from the environment over the file, under the flags); then the owner, the target's
    name and the profile. Returns the values, their sources (for ``config show``) and their origins."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    origins: dict[str, Origin] = {}
    for key in SETTING_NAMES:
        if key in DECIDED:
            continue
        found = layers.pick(key)
        if found is None:
            values[key], sources[key] = BUILTIN[key], "default"
        else:
            values[key], origins[key] = found
            sources[key] = str(origins[key])
        if key in APP_ENV and origins.get(key) is not FLAG and environ.get(APP_ENV[key], "").strip():
            values[key], sources[key] = _from_env(key, environ), f"env {APP_ENV[key]}"
            origins.pop(key, None)
    for key in ("state_path", "log_file"):
        if values[key] is not None:
            values[key] = Path(values[key]).expanduser()
    path, label, table = layers.path, layers.label, layers.table
    if layers.target is not None:
        # A whole instance (``instance = true``) has no owner: the table's name is only the target's.
        named = table.get("owner", "" if values["instance"] else layers.target)
        values["owner"], values["target"] = named, layers.target
        sources["owner"] = f"config {path} {label}" if "owner" in table else ("none (--all)" if not named else f"the name of {label}")
        sources["target"] = f"config {path} {label}"
    else:
        values["owner"], sources["owner"] = layers.given.get("owner", ""), "flag" if "owner" in layers.given else "default"
        values["target"], sources["target"] = default_target(values["owner"], "", listing=_listing(values)), sources["owner"]
    values["profile"] = layers.profile
    return values, sources, origins


def _destination(layers: Layers, owner: str, root: tuple[Any, Origin] | None, *, dest_is_root: bool) -> tuple[Path, str]:
    """Step 3: where the target's clones go, and how ``config show`` names that. ``--dest`` (with several
    targets: ``--dest/OWNER``), else the target's ``dest``, else ``dest_root/OWNER`` (``root``: the
    ``dest_root`` the file sets, and where), else ``./OWNER`` (OWNER: the last segment of a GitLab group path)."""
    last = _last_segment(owner)
    if "dest" in layers.given:
        flag_dest = Path(layers.given["dest"]).expanduser()
        return (flag_dest / last, "flag --dest/<owner>") if dest_is_root else (flag_dest, "flag")
    if "dest" in layers.table:
        return Path(layers.table["dest"]), f"config {layers.path} {layers.label}"
    if root is not None:
        return Path(root[0]) / last, f"{root[1]} dest_root"
    return Path(last or "."), "default"


def _credential(
    layers: Layers,
    values: Mapping[str, Any],
    environ: Mapping[str, str],
    warnings: list[str],
    *,
    with_tokens: bool,
    gh_answers: dict[str, str | None] | None,
) -> FoundToken:
    """Step 4: what the target signs in with. A GitHub App (on a forge with app logins, and no ``--token``) needs
    no token; otherwise the token is looked for (:func:`~gz_tui.config.tokens.find_token`), unless
    ``with_tokens`` is false (``gz-tui status`` needs none)."""
    provider, app_id = values["provider"], values["github_app_id"]
    if app_id is not None and provider_info(provider).app_login and "token" not in layers.given:
        return FoundToken(None, f"GitHub App {app_id}", f"GitHub App {app_id}")
    if not with_tokens:
        return FoundToken(None, "not looked up", "")
    api_base = api_base_of(provider, values["base_url"])
    holders = _token_holders(layers, provider, api_base, warnings)
    return find_token(layers.given, holders, provider, api_base, environ, warnings, gh_answers, limit=values["token_cmd_timeout"])


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
    """One target: the command-line owner in ``given``, or the ``[targets.NAME]`` table named ``target``;
    its layers, the values picked from them, its destination and its credential, then its Settings, once.

    ``dest_is_root``: ``--dest`` names the folder the targets land in (``DEST/OWNER``), as it does when a
    run has several targets.
    """
    warnings: list[str] = list(config.warnings) if config else []
    layers = _layers(given, profile_flag, config, path, target, warnings)
    values, sources, origins = _pick(layers, environ)
    root = layers.pick("dest_root")
    if root is not None:
        origins["dest_root"] = root[1]
    folder = default_target(
        values["owner"], api_base_of(values["provider"], values["base_url"]), instance=values["instance"], listing=_listing(values)
    )
    dest, sources["dest"] = _destination(layers, folder, root, dest_is_root=dest_is_root)
    found = _credential(layers, values, environ, warnings, with_tokens=with_tokens, gh_answers=gh_answers)
    for key in ("token", "token_source", "token_cmd", "token_file"):
        sources[key] = found.source
    settings = Settings(**values, dest=dest, token=found.token, token_source=found.token_source, token_cmd=found.command)
    # A target's owner is the file's: refused for every command (a run, sync, config show, status) before any
    # request. An owner named on the command line is refused by validate (Resolved.problem), as other flags are.
    shape = owner_problem(settings) if layers.label else None
    if shape:
        raise ConfigError(f"{path}: {layers.label}: {shape}")
    return Resolved(
        settings=settings,
        sources=sources,
        warnings=warnings,
        notes=(f"using [profiles.{layers.profile}]: {layers.profile_why}",) if layers.profile_why else (),
        config_file=path,
        config_found=config is not None,
        dest_root=Path(root[0]) if root is not None else None,
        origins=origins,
        table=layers.label,
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


def _token_holders(layers: Layers, provider: str, api_base: str, warnings: list[str]) -> list[TokenHolder]:
    """The tables whose ``token_env``/``token`` this run may use: the target's, then its profile's, each
    only when its own forge is the one in use (a token is never sent to another forge)."""
    holders: list[TokenHolder] = []
    table, label, profile, path = layers.table, layers.label, layers.profile_table, layers.path
    in_use = _norm_url(api_base)
    if table and any(key in table for key in TOKEN_KEYS):
        own_provider = table.get("provider") or (profile["provider"] if profile is not None else provider)
        own = table.get("base_url") or (profile.get("base_url") if profile is not None else None)
        own_base = _norm_url(api_base_of(own_provider, own or ""))
        if own_base == in_use:
            holders.append((label, table, f"config {path} {label}"))
        else:
            warnings.append(f"not using the token of {label}: its base URL {own_base} differs from {api_base}")
    if profile is not None and any(key in profile for key in TOKEN_KEYS):
        profile_label = f"[profiles.{layers.profile}]"
        if _profile_api_base(profile) == in_use:
            holders.append((profile_label, profile, f"config {path} {profile_label}"))
        else:
            warnings.append(f"not using the token of {profile_label}: its base URL {_profile_api_base(profile)} differs from {api_base}")
    return holders


def _load(
    environ: Mapping[str, str] | None, config_file: Path | None, *, check_targets: bool = True
) -> tuple[Mapping[str, str], Path, ConfigFile | None]:
    environ = os.environ if environ is None else environ
    path = config_path(environ) if config_file is None else Path(config_file)
    config = load_config(path)
    if config is not None and check_targets:
        # Every target's owner is checked against its forge (no '/' on GitHub...) whatever the command, so
        # that one file gets one verdict: `gz-tui OWNER` refuses a file that `gz-tui sync` would.
        for name in config.targets:
            _resolve({}, None, config, path, environ, target=name, with_tokens=False)
    return environ, path, config


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
    environ, path, config = _load(environ, config_file, check_targets=bool(names))  # all of them: resolved below
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
    the other's), or share a state file.

    Linear in the number of targets (one target table per owner is a real use, thousands of them): each
    destination is looked up, with each of its parent folders, in a dict of the destinations seen."""
    by_dest: dict[Path, tuple[int, str]] = {}
    by_state: dict[Path, str] = {}
    for index, r in enumerate(resolved):
        s = r.settings
        dest = s.dest.expanduser().resolve()
        state = (s.state_path.expanduser() if s.state_path else default_state_path(dest)).resolve()
        if dest in by_dest:
            raise ConfigError(f"targets {by_dest[dest][1]} and {s.target} would both sync into {dest} (give one its own dest)")
        if state in by_state:
            raise ConfigError(
                f"targets {by_state[state]} and {s.target} would share the state file {state} "
                "(--state names one state: leave it out when syncing several targets)"
            )
        by_dest[dest], by_state[state] = (index, s.target), s.target
    for dest, (index, target) in by_dest.items():
        for parent in dest.parents:
            outer = by_dest.get(parent)
            if outer is not None:
                first, second = sorted((outer, (index, target)))
                raise ConfigError(f"targets {first[1]} and {second[1]}: destination {dest} is inside {parent} (give each its own folder)")


def resolve(flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """The settings for a run: flags > environment > config file at :func:`config_path` > defaults.

    ``flags`` holds only the options the user actually gave (None means "not given").
    Warnings are dropped; a front end that can show them calls :func:`resolve_with_sources`.
    """
    return resolve_with_sources(flags, environ).settings


def _listing(values: Mapping[str, Any]) -> Listing:
    return chosen_listing(starred=bool(values["starred"]), gists=bool(values["gists"]), snippets=bool(values["snippets"]))
