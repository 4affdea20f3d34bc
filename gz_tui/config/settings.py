"""The settings of one run, and the one table that checks every value, wherever it came from.

A value reaches :class:`Settings` from a flag, the config file's ``[defaults]``, a ``[profiles.NAME]``
or a ``[targets.NAME]`` table (the environment only carries tokens, which are free text). Each setting's
check — its type, its bounds, what it must look like — is declared once in :data:`RULES`, and
:func:`check` applies it to a value from any of those places. The error names the place:

    --workers must be at most 64
    /home/me/.config/gz-tui/config.toml: [defaults] workers = 1000: must be at most 64

:func:`validate` holds the checks that involve more than one setting (an owner is named, ``/`` only
in GitLab group paths, plain http only to a loopback host unless ``insecure_http``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from enum import Flag, StrEnum, auto
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gz_tui.forges.auth import CredentialError
from gz_tui.forges.github_app import load_app_key
from gz_tui.forges.registry import DEFAULT_PROVIDER, provider_info
from gz_tui.forges.registry import PROVIDERS as PROVIDER_CLASSES
from gz_tui.kinds import Affiliation, CloneProtocol, PartialFilter, ProviderName, UpdateMode
from gz_tui.shard import ShardError, parse_shard
from gz_tui.urls import is_loopback

PROVIDERS = tuple(ProviderName)
PROTOCOLS = tuple(CloneProtocol)
UPDATE_MODES = tuple(UpdateMode)

DEFAULT_BASE_URLS = {name: cls.info.default_base_url for name, cls in PROVIDER_CLASSES.items()}
"""Per provider, the API root used when no ``--base-url`` is given (each forge declares its own)."""


class ConfigError(ValueError):
    """A config file or option the user must fix. ``str()`` is one line naming where the value came from."""


@dataclass(slots=True)
class Settings:
    """Everything a run needs; built by ``resolve`` and never mutated by the pipeline."""

    owner: str
    """Org or user (GitHub, Gitea), or a group's full path (GitLab)."""
    provider: ProviderName = DEFAULT_PROVIDER
    base_url: str = ""
    """API root; empty means the provider's default."""
    token: str | None = field(default=None, repr=False)
    token_source: str = ""
    """Where the token came from (flag, environment variable name, gh, config): shown, never the token."""
    dest: Path = Path(".")
    workers: int = 8
    buffer: int = 1000
    protocol: CloneProtocol = CloneProtocol.HTTPS
    update: UpdateMode = UpdateMode.FETCH
    depth: int | None = None
    mirror: bool = False
    """Bare mirror clones (every ref) at ``DEST/NAME.git``, updated by a pruning fetch of all refs."""
    wikis: bool = False
    """Also sync each repo's wiki, where the forge says it has one, at ``NAME.wiki`` (``NAME.wiki.git`` mirrored)."""
    filter: PartialFilter | None = None
    """Partial working clones: ``blob:none`` or ``tree:0`` (``git clone --filter``)."""
    single_branch: bool = False
    """Working clones of one branch only (the default branch, or ``branch``)."""
    branch: str | None = None
    """The branch working clones check out (and, with ``single_branch``, the only one fetched)."""
    prune: bool = False
    """Move clones of repos the forge no longer lists to ``DEST/.gz-tui/attic/<date>/`` (never deleted)."""
    prune_force: bool = False
    """Prune even more than ``prune_limit`` percent of the destination's clones."""
    prune_limit: int = 10
    """The largest share (percent) of the destination's clones a prune moves without ``prune_force``."""
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
    shard: str | None = None
    """``K/N``: this run syncs shard K of N (``gz_tui.shard``); set from ``--shard`` or the environment."""
    shards: int | None = None
    """N, for a run whose index K comes from the environment (``JOB_COMPLETION_INDEX``)."""
    shard_source: str = ""
    """Where the shard came from (said in the first line of output); set by the CLI."""
    outage_limit: int = 600
    """Seconds the forge may stay unreachable before the run stops (its repos left pending)."""
    log_file: Path | None = None
    target: str = ""
    """The target's name: its ``[targets.NAME]`` name, or the owner for one named on the command line
    (the default, when left empty). Set by resolution, never by a flag or a file."""
    post_sync: tuple[str, ...] = ()
    """A command (argument list, no shell) run after the target's sync; empty means none."""
    stats_file: Path | None = None
    """Where one JSON line per target per run is appended; None means nowhere."""
    token_cmd: tuple[str, ...] = ()
    """The command (argument list, no shell) whose stdout is the token; after resolution it is set only when
    the token came from it (it is run again on a 401, once a run)."""
    token_file: Path | None = None
    """A file holding the token (must not be group/world readable)."""
    github_app_id: int | None = None
    """A GitHub App signs in instead of a token: its id, its private key file, its installation (optional:
    found from the owner, ``GET /orgs/{org}/installation``)."""
    github_app_key: Path | None = None
    github_app_installation_id: int | None = None
    topics: tuple[str, ...] = ()
    """Only repos carrying one of these topics (case-insensitive); empty means any."""
    language: str | None = None
    """Only repos whose (primary) language is this (case-insensitive)."""
    repos_file: Path | None = None
    """Only the repos named in this file, one per line; names the forge did not list are reported."""
    affiliation: str | None = None
    """A GitHub user owner listed with their own token: their own repos (owner), the ones they are a member
    or collaborator of (member), or both (all)."""
    subgroup_include: str | None = None
    """GitLab: only repos whose subgroup path below the group matches this regex."""
    subgroup_exclude: str | None = None
    """GitLab: skip repos whose subgroup path below the group matches this regex."""
    ssh_hostname: str | None = None
    """With ``--protocol ssh``: clone from this host alias (a ``Host`` of ``~/.ssh/config``) instead of the forge's."""

    def __post_init__(self) -> None:
        if not self.target:
            self.target = self.owner

    @property
    def name(self) -> str:
        """The target's name in events, panels and notices: ``target``, or the owner when it has none."""
        return self.target or self.owner

    @property
    def api_base(self) -> str:
        return (self.base_url or DEFAULT_BASE_URLS[self.provider]).rstrip("/")


SETTING_NAMES = tuple(f.name for f in fields(Settings))
BUILTIN: dict[str, Any] = {f.name: f.default for f in fields(Settings) if f.name not in ("owner", "target")}
"""The built-in default of every setting but ``owner`` and ``target``."""


# --------------------------------------------------------------------------- value kinds


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


Kind = Callable[[Any], Any]
"""Reads one value: returns it normalised, or raises :class:`Invalid`."""


def whole_number(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise Invalid.expecting("a whole number of at least 1")


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise Invalid.expecting("true or false")


def choice(options: type[StrEnum]) -> Kind:
    def check(value: Any) -> StrEnum:
        if isinstance(value, str) and value in tuple(options):
            return options(value)
        raise Invalid.expecting("one of " + ", ".join(f'"{o}"' for o in options))

    return check


def text(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise Invalid.expecting("a non-empty string")


def secret(value: Any) -> str:
    """A token: any string; an empty one means "no token" (``--token ''`` skips the environment and gh)."""
    if isinstance(value, str):
        return value.strip()
    raise Invalid.expecting("a string")


def env_name(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        return value
    raise Invalid.expecting('the name of an environment variable, such as "WORK_GITLAB_TOKEN"')


def http_url(value: Any) -> str:
    url = urlsplit(value) if isinstance(value, str) else None
    if url is None or url.scheme not in ("http", "https") or not url.hostname:
        raise Invalid.expecting('an http(s) URL, such as "https://gitlab.example.com"')
    if url.username or url.password:
        raise Invalid.expecting("a URL without credentials (give the token with --token, a variable or token_env)")
    return str(value).rstrip("/")


def absolute_path(value: Any) -> Path:
    """A path that means the same from any directory. A flag's relative path is made absolute before
    it is checked (see :func:`check`): on the command line, relative means the current directory."""
    if isinstance(value, (str, Path)) and str(value).strip():
        path = Path(str(value).strip()).expanduser()
        if path.is_absolute():
            return path
    raise Invalid.expecting('an absolute path or one starting with "~"')


def any_path(value: Any) -> Path:
    if isinstance(value, (str, Path)) and str(value).strip():
        return Path(str(value).strip()).expanduser()
    raise Invalid.expecting("a path")


def argv(value: Any) -> tuple[str, ...]:
    """A command as an argument list (run without a shell); an empty list means "no command"."""
    if isinstance(value, (list, tuple)) and all(isinstance(arg, str) and arg.strip() for arg in value):
        return tuple(value)
    raise Invalid.expecting('an array of non-empty strings (a command and its arguments, no shell), such as ["git", "status"]')


def shard_text(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid.expecting("K/N, such as 0/4")
    try:
        return parse_shard(value).label
    except ShardError as exc:
        raise Invalid(f"must be K/N with 0 ≤ K < N ({exc})") from None


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


def command_line(value: Any) -> tuple[str, ...]:
    """A command given as one string (split like a shell would, but run without one) or an argument list."""
    import shlex

    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            raise Invalid(f"is not a command line ({exc})") from None
        if not value:
            raise Invalid.expecting('a command, such as "op read op://vault/gh/token"')
    return argv(value)


def words(value: Any) -> tuple[str, ...]:
    """One or more non-empty words (a flag given several times, or a TOML array of strings)."""
    items = [value] if isinstance(value, str) else value
    if isinstance(items, (list, tuple)) and items and all(isinstance(v, str) and v.strip() for v in items):
        return tuple(dict.fromkeys(v.strip() for v in items))
    raise Invalid.expecting('a non-empty string or an array of them, such as ["backend", "infra"]')


def host_alias(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", value.strip()):
        return value.strip()
    raise Invalid.expecting('a host name or a Host alias of ~/.ssh/config, such as "github-work"')


def regex(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid.expecting("a regular expression")
    try:
        re.compile(value)
    except re.error as exc:
        raise Invalid(f"is not a valid regular expression: {exc}") from None
    return value


# --------------------------------------------------------------------------- the table


class InFile(Flag):
    """Which tables of the config file may hold a setting.

    A ``[targets.NAME]`` table may hold everything a profile may (``PROFILES``), and also what is marked
    ``TARGETS``.
    """

    NO = 0
    DEFAULTS = auto()
    PROFILES = auto()
    TARGETS = auto()
    BOTH = DEFAULTS | PROFILES


@dataclass(frozen=True, slots=True)
class Rule:
    """How one setting is checked, and where it may be written."""

    kind: Kind
    most: int | None = None
    """Upper bound of a whole number (the lower bound, 1, is part of :func:`whole_number`)."""
    in_file: InFile = InFile.NO
    flag: str = ""
    """The option that sets it; empty for a setting that only the config file holds."""

    def apply(self, value: Any) -> Any:
        value = self.kind(value)
        if self.most is not None and value > self.most:
            raise Invalid(f"must be at most {self.most:,}")
        return value


RULES: dict[str, Rule] = {
    "provider": Rule(choice(ProviderName), in_file=InFile.BOTH, flag="--provider"),
    "base_url": Rule(http_url, in_file=InFile.PROFILES, flag="--base-url"),
    "token": Rule(secret, in_file=InFile.PROFILES, flag="--token"),
    "token_env": Rule(env_name, in_file=InFile.PROFILES),
    "profile": Rule(text, in_file=InFile.DEFAULTS | InFile.TARGETS, flag="--profile"),
    # On the command line a relative --dest means the current directory; in the file it must be absolute.
    "dest": Rule(absolute_path, in_file=InFile.TARGETS, flag="--dest"),
    "dest_root": Rule(absolute_path, in_file=InFile.BOTH),
    # More parallel clones only earn throttling from a forge; a bigger buffer only costs memory.
    "workers": Rule(whole_number, most=64, in_file=InFile.BOTH, flag="--workers"),
    "buffer": Rule(whole_number, most=100_000, in_file=InFile.BOTH, flag="--buffer"),
    "protocol": Rule(choice(CloneProtocol), in_file=InFile.BOTH, flag="--protocol"),
    "update": Rule(choice(UpdateMode), in_file=InFile.BOTH, flag="--update"),
    "depth": Rule(whole_number, in_file=InFile.BOTH, flag="--depth"),
    "mirror": Rule(boolean, in_file=InFile.BOTH, flag="--mirror"),
    "wikis": Rule(boolean, in_file=InFile.BOTH, flag="--wikis"),
    "filter": Rule(choice(PartialFilter), in_file=InFile.BOTH, flag="--filter"),
    "single_branch": Rule(boolean, in_file=InFile.BOTH, flag="--single-branch"),
    "branch": Rule(branch_name, in_file=InFile.TARGETS, flag="--branch"),
    "prune": Rule(boolean, in_file=InFile.BOTH, flag="--prune"),
    "prune_force": Rule(boolean, flag="--prune-force"),
    "prune_limit": Rule(whole_number, most=100, in_file=InFile.BOTH, flag="--prune-limit"),
    "include": Rule(regex, in_file=InFile.TARGETS, flag="--include"),
    "exclude": Rule(regex, in_file=InFile.TARGETS, flag="--exclude"),
    "skip_archived": Rule(boolean, in_file=InFile.BOTH, flag="--skip-archived"),
    "skip_forks": Rule(boolean, in_file=InFile.BOTH, flag="--skip-forks"),
    "dry_run": Rule(boolean, flag="--dry-run"),
    "headless": Rule(boolean, flag="--no-tui"),
    "json": Rule(boolean, flag="--json"),
    "insecure_http": Rule(boolean, flag="--insecure-http"),
    "state_path": Rule(any_path, flag="--state"),
    "fresh": Rule(boolean, flag="--fresh"),
    "retry_failed": Rule(boolean, flag="--retry-failed"),
    "attempts": Rule(whole_number, most=20, in_file=InFile.BOTH, flag="--attempts"),
    "shard": Rule(shard_text, flag="--shard"),
    "shards": Rule(whole_number, most=1024, in_file=InFile.BOTH, flag="--shards"),
    "outage_limit": Rule(whole_number, most=86_400, in_file=InFile.BOTH, flag="--outage-limit"),
    "log_file": Rule(absolute_path, in_file=InFile.BOTH, flag="--log-file"),
    "post_sync": Rule(argv, in_file=InFile.DEFAULTS | InFile.TARGETS),
    "stats_file": Rule(absolute_path, in_file=InFile.DEFAULTS, flag="--stats-file"),
    "token_cmd": Rule(command_line, in_file=InFile.PROFILES, flag="--token-cmd"),
    "token_file": Rule(absolute_path, in_file=InFile.PROFILES, flag="--token-file"),
    "github_app_id": Rule(whole_number, in_file=InFile.PROFILES, flag="--github-app-id"),
    "github_app_key": Rule(absolute_path, in_file=InFile.PROFILES, flag="--github-app-key"),
    "github_app_installation_id": Rule(whole_number, in_file=InFile.PROFILES | InFile.TARGETS, flag="--github-app-installation-id"),
    "topics": Rule(words, in_file=InFile.TARGETS, flag="--topic"),
    "language": Rule(text, in_file=InFile.TARGETS, flag="--language"),
    "repos_file": Rule(absolute_path, in_file=InFile.TARGETS, flag="--repos-file"),
    "affiliation": Rule(choice(Affiliation), in_file=InFile.TARGETS, flag="--affiliation"),
    "subgroup_include": Rule(regex, in_file=InFile.TARGETS, flag="--subgroup-include"),
    "subgroup_exclude": Rule(regex, in_file=InFile.TARGETS, flag="--subgroup-exclude"),
    "ssh_hostname": Rule(host_alias, in_file=InFile.BOTH, flag="--ssh-hostname"),
}
"""Every value a user can give, flag or file: its check, its bound, where the file may hold it, its flag.
Not here: ``owner`` (a flag, or ``owner`` in a ``[targets.NAME]`` table; checked by :func:`validate`),
``token_source`` and ``target`` (gz-tui sets them)."""

_HIDDEN = frozenset({"token", "token_cmd"})
"""Never echoed in an error, whatever its value."""


# --------------------------------------------------------------------------- origins


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value came from: a flag (no file), or a table of the config file."""

    file: Path | None = None
    table: str = ""
    """``[defaults]``, ``[profiles.NAME]`` or ``[targets.NAME]``."""

    def problem(self, name: str, value: Any, bad: Invalid) -> str:
        """The one-line error for ``value`` of setting ``name`` refused by ``bad``."""
        if self.file is None:
            return f"{RULES[name].flag} {bad.must}"
        return f"{self.file}: {self.table} {name} = {shown(name, value)}: {bad.after_value()}"

    def __str__(self) -> str:
        return "flag" if self.file is None else f"config {self.file} {self.table}"


FLAG = Origin()


def shown(name: str, value: Any) -> str:
    """``value`` as it would be written in TOML, or ``(hidden)`` for anything that may be a credential."""
    if name in _HIDDEN or (name == "base_url" and "@" in str(value)):
        return "(hidden)"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown("", item) for item in value) + "]"
    import tomli_w  # a config writer: only ``config show`` and messages need it, not every run's start-up

    return tomli_w.dumps({"v": value}).strip()[4:]


def check(name: str, value: Any, origin: Origin = FLAG) -> Any:
    """``value`` normalised by the rule of setting ``name``; :class:`ConfigError` naming ``origin`` if refused."""
    rule = RULES[name]
    if origin.file is None and rule.kind is absolute_path and isinstance(value, (str, Path)) and str(value).strip():
        value = Path(str(value).strip()).expanduser().absolute()
    try:
        return rule.apply(value)
    except Invalid as bad:
        raise ConfigError(origin.problem(name, value, bad)) from None


# --------------------------------------------------------------------------- across settings


def validate(settings: Settings, origins: Mapping[str, Origin] | None = None) -> str | None:
    """One-line reason these settings cannot run, or None: the checks that involve two settings.

    ``origins`` says where a value came from, when not from a flag (``Resolved.origins``).
    """
    origins = origins or {}
    if not settings.owner or not settings.owner.strip("/"):
        return "name the owner to clone (an org, a user, or a GitLab group path), or try --demo"
    info = provider_info(settings.provider)
    if not info.nested and "/" in settings.owner:
        return f"{settings.provider} owners have no '/': {settings.owner!r}"
    if settings.mirror:
        lean = [
            flag
            for flag, on in (
                ("--depth", settings.depth),
                ("--filter", settings.filter),
                ("--single-branch", settings.single_branch),
                ("--branch", settings.branch),
            )
            if on
        ]
        if lean:
            return f"--mirror copies every ref in full; {', '.join(lean)} {'is' if len(lean) == 1 else 'are'} for working clones"
    if settings.depth and settings.filter:
        return "--depth and --filter are two ways to a lean clone; choose one (see the README's lean clones section)"
    url = urlsplit(settings.api_base)
    if url.scheme == "http" and not (is_loopback(url.hostname) or settings.insecure_http):
        bad = Invalid(f"must use https: plain http to {url.hostname} would carry the token in clear (or pass --insecure-http)")
        return origins.get("base_url", FLAG).problem("base_url", settings.base_url, bad)
    return _credential_problem(settings) or _filter_problem(settings)


def _credential_problem(settings: Settings) -> str | None:
    """A GitHub App needs its id and key together, on GitHub, and a readable private key."""
    app = settings.github_app_id is not None or settings.github_app_key is not None
    if not app:
        if settings.github_app_installation_id is not None:
            return "--github-app-installation-id needs --github-app-id and --github-app-key"
        return None
    if not provider_info(settings.provider).app_login:
        return f"a GitHub App signs in to GitHub only, not {settings.provider} (use --token, --token-cmd or --token-file)"
    if settings.github_app_id is None or settings.github_app_key is None:
        return "--github-app-id and --github-app-key go together: the app's id and its private key file (PEM)"
    if settings.token_source == "--token":
        return "--token and a GitHub App both sign in: give one of them"
    try:
        load_app_key(settings.github_app_key)
    except CredentialError as exc:
        return str(exc)
    return None


def _filter_problem(settings: Settings) -> str | None:
    info = provider_info(settings.provider)
    if not info.nested and (settings.subgroup_include or settings.subgroup_exclude):
        flag = "--subgroup-include" if settings.subgroup_include else "--subgroup-exclude"
        return f"{flag} selects GitLab subgroups; {settings.provider} has none"
    if settings.affiliation and not info.affiliation:
        return f"--affiliation selects the repos of a GitHub user; {settings.provider} has no such listing"
    if settings.repos_file is not None:
        try:
            settings.repos_file.read_text(encoding="utf-8")
        except OSError as exc:
            return f"--repos-file: cannot read {settings.repos_file}: {exc.strerror or exc}"
        except UnicodeDecodeError:
            return f"--repos-file {settings.repos_file} is not a text file"
    return None
