"""The settings of one run: each declared once, with its default, its check, where the config file may hold it and
its command-line option; and the checks that involve more than one.

A value reaches :class:`Settings` from a flag, the config file's ``[defaults]``, a ``[profiles.NAME]`` or a
``[targets.NAME]`` table (the environment only carries credentials). Each field a user can set is declared with
:func:`setting`, whose :class:`Rule` is the one place that says what the value must be (its kind and bound, from
:mod:`gz_tui.config.values`), which tables may hold it, and its option: ``gz-tui --help`` is generated from the
rules (:mod:`gz_tui.config.options`), and :func:`check` applies a rule to a value from anywhere. The error names
the place:

    --workers must be at most 64
    /home/me/.config/gz-tui/config.toml: [defaults] workers = 1000: must be at most 64

:func:`validate` holds the checks that involve more than one setting (an owner is named, ``/`` only
in GitLab group paths, plain http only to a loopback host unless ``insecure_http``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Flag, auto
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from gz_tui.config.values import (
    Invalid,
    Kind,
    absolute_path,
    any_path,
    argv,
    boolean,
    branch_name,
    choice,
    command_line,
    env_name,
    host_alias,
    http_url,
    owner_path_problem,
    regex,
    secret,
    shard_text,
    text,
    whole_number,
    words,
)
from gz_tui.forges.auth import CredentialError
from gz_tui.forges.github_app import load_app_key
from gz_tui.forges.registry import DEFAULT_PROVIDER, TOKEN_ENV_VARS, provider_info
from gz_tui.forges.registry import PROVIDERS as PROVIDER_CLASSES
from gz_tui.kinds import Affiliation, CloneProtocol, Listing, PartialFilter, ProviderName, UpdateMode
from gz_tui.urls import is_loopback

PROVIDERS = tuple(ProviderName)
PROTOCOLS = tuple(CloneProtocol)
UPDATE_MODES = tuple(UpdateMode)

DEFAULT_BASE_URLS = {name: cls.info.default_base_url for name, cls in PROVIDER_CLASSES.items()}
"""Per provider, the API root used when no ``--base-url`` is given (each forge declares its own)."""


class ConfigError(ValueError):
    """A config file or option the user must fix. ``str()`` is one line naming where the value came from."""


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
    """How one setting is checked, where the file may write it, and its command-line option."""

    kind: Kind
    most: int | None = None
    """Upper bound of a whole number (the lower bound, 1, is part of :func:`~gz_tui.config.values.whole_number`)."""
    in_file: InFile = InFile.NO
    flag: str = ""
    """The option that sets it; empty for a setting that only the config file holds."""
    metavar: str | None = None
    """What ``--help`` calls the option's value (None: argparse's default, the setting's name in capitals)."""
    help: str | None = None
    """The option's line in ``--help`` (None: none)."""

    def apply(self, value: Any) -> Any:
        value = self.kind(value)
        if self.most is not None and value > self.most:
            raise Invalid(f"must be at most {self.most:,}")
        return value


RULE = "rule"
"""The key of a :class:`Settings` field's metadata that holds its :class:`Rule`."""

T = TypeVar("T")


def setting(
    default: T,
    kind: Kind,
    *,
    most: int | None = None,
    in_file: InFile = InFile.NO,
    flag: str = "",
    metavar: str | None = None,
    help: str | None = None,
    repr: bool = True,
) -> T:
    """A field of :class:`Settings` a user can set: its default and its :class:`Rule`.

    ``help`` may say ``{default}`` and ``{most}``: they are filled in from this declaration, so ``--help`` cannot
    drift from the value it describes.
    """
    shown = None if help is None else help.format(default=default, most=most)
    rule = Rule(kind, most=most, in_file=in_file, flag=flag, metavar=metavar, help=shown)
    return field(default=default, repr=repr, metadata={RULE: rule})


_TOKEN_VARIABLES = ", ".join("/".join(names) for names in TOKEN_ENV_VARS.values())


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs, built once by resolution (:mod:`gz_tui.config.resolve`) and never changed; a front
    end that needs others makes them with :func:`dataclasses.replace`.

    The fields a user sets are declared with :func:`setting`, in the order ``gz-tui --help`` lists their options.
    """

    owner: str
    """Org or user (GitHub, Gitea), or a group's full path (GitLab)."""
    provider: ProviderName = setting(
        DEFAULT_PROVIDER, choice(ProviderName), in_file=InFile.BOTH, flag="--provider", help="forge type (default {default})"
    )
    base_url: str = setting(
        "",
        http_url,
        in_file=InFile.PROFILES,
        flag="--base-url",
        metavar="URL",
        help="API root (default https://api.github.com; GHES: https://HOST/api/v3)",
    )
    """API root; empty means the provider's default."""
    token: str | None = setting(
        None, secret, in_file=InFile.PROFILES, flag="--token", help=f"API token (else {_TOKEN_VARIABLES}, or `gh auth token`)", repr=False
    )
    token_source: str = ""
    """Where the token came from (flag, environment variable name, gh, config): shown, never the token."""
    profile: str | None = setting(
        None, text, in_file=InFile.DEFAULTS | InFile.TARGETS, flag="--profile", help="use a [profiles.NAME] section of the config file"
    )
    """The ``[profiles.NAME]`` these settings drew on: named by ``--profile``, the target's table or ``[defaults]``,
    or the one profile matching the forge in use; None for none (set by resolution)."""
    # On the command line a relative --dest means the current directory; in the file it must be absolute.
    dest: Path = setting(
        Path("."),
        absolute_path,
        in_file=InFile.TARGETS,
        flag="--dest",
        metavar="DIR",
        help="where repos land (default ./OWNER; with several owners or targets: DIR/OWNER each)",
    )
    # More parallel clones only earn throttling from a forge; a bigger buffer only costs memory.
    workers: int = setting(
        8,
        whole_number,
        most=64,
        in_file=InFile.BOTH,
        flag="--workers",
        metavar="N",
        help="parallel git processes (default {default}, at most {most})",
    )
    buffer: int = setting(
        1000,
        whole_number,
        most=100_000,
        in_file=InFile.BOTH,
        flag="--buffer",
        metavar="N",
        help="listed repos held ahead of the workers (default {default}, at most {most:,})",
    )
    protocol: CloneProtocol = setting(
        CloneProtocol.HTTPS, choice(CloneProtocol), in_file=InFile.BOTH, flag="--protocol", help="clone over https (default) or ssh"
    )
    update: UpdateMode = setting(
        UpdateMode.FETCH, choice(UpdateMode), in_file=InFile.BOTH, flag="--update", help="for repos already on disk (default {default})"
    )
    verify: bool = setting(
        False,
        boolean,
        in_file=InFile.BOTH,
        flag="--verify",
        help="check every clone with git ls-remote (no API quota) instead of trusting the change signal",
    )
    """Check every clone whose change signal has not moved with ``git ls-remote``, fetch the ones that did move, and
    report what the signal missed (a periodic "trust but verify", e.g. weekly from cron)."""
    depth: int | None = setting(None, whole_number, in_file=InFile.BOTH, flag="--depth", metavar="N", help="shallow clones of N commits")
    mirror: bool = setting(
        False, boolean, in_file=InFile.BOTH, flag="--mirror", help="bare mirror clones of every ref at DEST/NAME.git (backups)"
    )
    """Bare mirror clones (every ref) at ``DEST/NAME.git``, updated by a pruning fetch of all refs."""
    wikis: bool = setting(
        False, boolean, in_file=InFile.BOTH, flag="--wikis", help="also sync each repo's wiki (NAME.wiki) where the forge has one"
    )
    """Also sync each repo's wiki, where the forge says it has one, at ``NAME.wiki`` (``NAME.wiki.git`` mirrored)."""
    lfs: bool = setting(
        False,
        boolean,
        in_file=InFile.BOTH,
        flag="--lfs",
        help="also fetch Git LFS objects (mirrors: of every ref; clones: of the checkout); needs git-lfs",
    )
    """Fetch each copy's Git LFS objects with git-lfs: a mirror every ref's (``git lfs fetch --all``), a working clone
    its checkout's (``git lfs pull``), from the forge's own LFS server only."""
    filter: PartialFilter | None = setting(
        None,
        choice(PartialFilter),
        in_file=InFile.BOTH,
        flag="--filter",
        help="partial clones: blob:none (history, no file contents until needed) or tree:0",
    )
    """Partial working clones: ``blob:none`` or ``tree:0`` (``git clone --filter``)."""
    single_branch: bool = setting(False, boolean, in_file=InFile.BOTH, flag="--single-branch", help="clone and fetch one branch only")
    """Working clones of one branch only (the default branch, or ``branch``)."""
    branch: str | None = setting(
        None,
        branch_name,
        in_file=InFile.TARGETS,
        flag="--branch",
        metavar="NAME",
        help="check out branch NAME (a repo without it fails with no_branch)",
    )
    """The branch working clones check out (and, with ``single_branch``, the only one fetched)."""
    prune: bool = setting(
        False,
        boolean,
        in_file=InFile.BOTH,
        flag="--prune",
        help="move clones of repos the forge no longer lists to DEST/.gz-tui/attic/ (never deleted)",
    )
    """Move clones of repos the forge no longer lists to ``DEST/.gz-tui/attic/<date>/`` (never deleted)."""
    prune_force: bool = setting(False, boolean, flag="--prune-force", help="prune even more than --prune-limit percent of the clones")
    """Prune even more than ``prune_limit`` percent of the destination's clones."""
    prune_limit: int = setting(
        10,
        whole_number,
        most=100,
        in_file=InFile.BOTH,
        flag="--prune-limit",
        metavar="PERCENT",
        help="largest share of the clones one prune moves (default {default})",
    )
    """The largest share (percent) of the destination's clones a prune moves without ``prune_force``."""
    include: str | None = setting(
        None, regex, in_file=InFile.TARGETS, flag="--include", metavar="REGEX", help="only repos whose path matches"
    )
    exclude: str | None = setting(
        None, regex, in_file=InFile.TARGETS, flag="--exclude", metavar="REGEX", help="skip repos whose path matches"
    )
    instance: bool = setting(
        False,
        boolean,
        in_file=InFile.TARGETS,
        flag="--all",
        help="every repository the token can see on the instance (no owner; GitLab, Gitea, Data Center, GHES), each at DEST/OWNER/PATH",
    )
    """``--all``: every repository the token can see on the instance, instead of one owner's."""
    starred: bool = setting(
        False,
        boolean,
        in_file=InFile.TARGETS,
        flag="--starred",
        help="the repos the user OWNER starred, not their own (GitHub, Gitea, GitLab), each at DEST/OWNER/NAME (default DEST ./OWNER+starred)",
    )
    """``--starred``: the repos the user ``owner`` starred, each in a folder of its own owner, instead of the user's own."""
    gists: bool = setting(
        False,
        boolean,
        in_file=InFile.TARGETS,
        flag="--gists",
        help="the gists of the user OWNER, not their repos (GitHub; secret ones too with their own token), each at DEST/ID (default DEST ./OWNER+gists)",
    )
    """``--gists``: the gists of the user ``owner`` (each a git repo), instead of their repos."""
    snippets: bool = setting(
        False,
        boolean,
        in_file=InFile.TARGETS,
        flag="--snippets",
        help="the snippets of OWNER's projects, not the projects (GitLab; a user's personal ones too with their own token), each at DEST/ID (default DEST ./OWNER+snippets)",
    )
    """``--snippets``: the snippets of the projects of ``owner`` (a group tree, or a user's namespace), and a user's
    personal snippets, instead of the projects."""
    skip_archived: bool = setting(False, boolean, in_file=InFile.BOTH, flag="--skip-archived")
    skip_forks: bool = setting(False, boolean, in_file=InFile.BOTH, flag="--skip-forks")
    dry_run: bool = setting(False, boolean, flag="--dry-run", help="list, filter and report; clone nothing")
    headless: bool = setting(False, boolean, flag="--no-tui", help="headless (automatic when stdout is not a terminal)")
    json: bool = setting(False, boolean, flag="--json", help="headless, one JSON event per line on stdout")
    state_path: Path | None = setting(
        None, any_path, flag="--state", metavar="PATH", help="state database (default DEST/.gz-tui/state.sqlite3)"
    )
    fresh: bool = setting(False, boolean, flag="--fresh", help="forget the saved state (clones on disk become updates)")
    retry_failed: bool = setting(False, boolean, flag="--retry-failed", help="re-run only the last run's failures")
    attempts: int = setting(
        3,
        whole_number,
        most=20,
        in_file=InFile.BOTH,
        flag="--attempts",
        metavar="N",
        help="attempts per repo for transient failures (default {default}, at most {most})",
    )
    """Attempts per repo for transient git failures."""
    outage_limit: int = setting(
        600,
        whole_number,
        most=86_400,
        in_file=InFile.BOTH,
        flag="--outage-limit",
        metavar="SECONDS",
        help="how long the forge may stay unreachable before the run stops, its repos left pending (default {default})",
    )
    """Seconds the forge may stay unreachable before the run stops (its repos left pending)."""
    git_low_speed_limit: int = setting(
        1000,
        whole_number,
        most=1_000_000_000,
        in_file=InFile.BOTH,
        flag="--git-low-speed-limit",
        metavar="BYTES",
        help="a git transfer slower than this many bytes a second for --git-low-speed-time is a network failure (default {default:,})",
    )
    """git's ``http.lowSpeedLimit``: bytes a second under which an https transfer counts as stalled."""
    git_low_speed_time: int = setting(
        60,
        whole_number,
        most=86_400,
        in_file=InFile.BOTH,
        flag="--git-low-speed-time",
        metavar="SECONDS",
        help="seconds a git transfer may stay under --git-low-speed-limit before it is stopped (default {default})",
    )
    """git's ``http.lowSpeedTime``: how long an https transfer may stall before git gives it up (a ``network`` failure)."""
    git_timeout: int = setting(
        3600,
        whole_number,
        most=604_800,
        in_file=InFile.BOTH,
        flag="--git-timeout",
        metavar="SECONDS",
        help="wall-clock ceiling of one git process (one attempt of one repo; ssh has no speed limit) (default {default})",
    )
    """Seconds one git process may run before it is stopped and that attempt is a ``network`` failure, retried."""
    shard: str | None = setting(
        None,
        shard_text,
        flag="--shard",
        metavar="K/N",
        help="sync only shard K of N (0 ≤ K < N; repos split by a stable hash of their forge id); N machines or pods, one destination",
    )
    """``K/N``: this run syncs shard K of N (``gz_tui.shard``); set from ``--shard`` or the environment."""
    shards: int | None = setting(
        None,
        whole_number,
        most=1024,
        in_file=InFile.BOTH,
        flag="--shards",
        metavar="N",
        help="how many shards, when K comes from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)",
    )
    """N, for a run whose index K comes from the environment (``JOB_COMPLETION_INDEX``)."""
    shard_source: str = ""
    """Where the shard came from (said in the first line of output); set by the CLI."""
    insecure_http: bool = setting(False, boolean, flag="--insecure-http", help="allow http:// to a non-loopback host")
    log_file: Path | None = setting(
        None, absolute_path, in_file=InFile.BOTH, flag="--log-file", metavar="PATH", help="log file (rotated; never holds secrets)"
    )
    stats_file: Path | None = setting(
        None, absolute_path, in_file=InFile.DEFAULTS, flag="--stats-file", metavar="PATH", help="append one JSON line per target per run"
    )
    """Where one JSON line per target per run is appended; None means nowhere."""
    metrics_file: Path | None = setting(
        None,
        absolute_path,
        in_file=InFile.DEFAULTS,
        flag="--metrics-file",
        metavar="PATH",
        help="write each target's run health as Prometheus text (node_exporter's textfile collector: NAME.prom), during and after each run",
    )
    """Where run health is written for node_exporter's textfile collector (``pipeline.metrics``); None means nowhere."""
    ping_url: str | None = setting(
        None,
        http_url,
        in_file=InFile.DEFAULTS,
        flag="--ping-url",
        metavar="URL",
        help="a dead-man's switch (healthchecks.io style): GET URL/start, then URL on success or URL/fail, the summary as the body",
        repr=False,
    )
    """A healthchecks.io-style check pinged at the start and end of each run (``pipeline.health``); its path is its key."""
    token_cmd: tuple[str, ...] = setting(
        (),
        command_line,
        in_file=InFile.PROFILES,
        flag="--token-cmd",
        metavar="COMMAND",
        help='a command printing the token, run without a shell ("op read op://vault/gh/token"); run again on a 401, once',
    )
    """The command (argument list, no shell) whose stdout is the token; after resolution it is set only when
    the token came from it (it is run again on a 401, once a run)."""
    token_cmd_timeout: int = setting(
        60,
        whole_number,
        most=3600,
        in_file=InFile.BOTH,
        flag="--token-cmd-timeout",
        metavar="SECONDS",
        help="how long a token command may take before it is stopped, its whole process group killed (default {default})",
    )
    """Seconds a token command (``--token-cmd``, a ``token_cmd``) may run before it is killed: a helper that hangs
    (waiting for an unlocked vault, a network) ends in one line instead of holding the run."""
    token_file: Path | None = setting(
        None,
        absolute_path,
        in_file=InFile.PROFILES,
        flag="--token-file",
        metavar="PATH",
        help="a file holding the token (must not be readable by group or others)",
    )
    """A file holding the token (must not be group/world readable)."""
    github_app_id: int | None = setting(
        None,
        whole_number,
        in_file=InFile.PROFILES,
        flag="--github-app-id",
        metavar="ID",
        help="sign in as this GitHub App (also GZ_TUI_GITHUB_APP_ID); needs --github-app-key",
    )
    """A GitHub App signs in instead of a token: its id, its private key file, its installation (optional:
    found from the owner, ``GET /orgs/{org}/installation``)."""
    github_app_key: Path | None = setting(
        None,
        absolute_path,
        in_file=InFile.PROFILES,
        flag="--github-app-key",
        metavar="PATH",
        help="the GitHub App's private key, PEM (also GZ_TUI_GITHUB_APP_KEY)",
    )
    github_app_installation_id: int | None = setting(
        None,
        whole_number,
        in_file=InFile.PROFILES | InFile.TARGETS,
        flag="--github-app-installation-id",
        metavar="ID",
        help="the app's installation (default: the owner's, asked of GitHub)",
    )
    topics: tuple[str, ...] = setting(
        (), words, in_file=InFile.TARGETS, flag="--topic", metavar="TOPIC", help="only repos with this topic (repeatable: any of them)"
    )
    """Only repos carrying one of these topics (case-insensitive); empty means any."""
    language: str | None = setting(
        None,
        text,
        in_file=InFile.TARGETS,
        flag="--language",
        metavar="LANG",
        help="only repos in this language (GitLab, old Gitea: one request per repo)",
    )
    """Only repos whose (primary) language is this (case-insensitive)."""
    repos_file: Path | None = setting(
        None,
        absolute_path,
        in_file=InFile.TARGETS,
        flag="--repos-file",
        metavar="PATH",
        help="only the repos named in this file, one a line; names not listed are reported (exit 1)",
    )
    """Only the repos named in this file, one per line; names the forge did not list are reported."""
    projects: tuple[str, ...] = setting(
        (),
        words,
        in_file=InFile.TARGETS,
        flag="--project",
        metavar="KEY",
        help="only repos of the project with this key (repeatable: any of them), on a forge with projects",
    )
    """Only repos in one of these projects (by key), asked of the server; empty means any."""
    affiliation: Affiliation | None = setting(
        None,
        choice(Affiliation),
        in_file=InFile.TARGETS,
        flag="--affiliation",
        help="a GitHub user's repos listed with their own token: owner (default), member, or all",
    )
    """A GitHub user owner listed with their own token: their own repos (owner), the ones they are a member
    or collaborator of (member), or both (all)."""
    subgroup_include: str | None = setting(
        None,
        regex,
        in_file=InFile.TARGETS,
        flag="--subgroup-include",
        metavar="REGEX",
        help="GitLab: only repos whose subgroup path (below the group) matches",
    )
    """GitLab: only repos whose subgroup path below the group matches this regex."""
    subgroup_exclude: str | None = setting(
        None,
        regex,
        in_file=InFile.TARGETS,
        flag="--subgroup-exclude",
        metavar="REGEX",
        help="GitLab: skip repos whose subgroup path matches",
    )
    """GitLab: skip repos whose subgroup path below the group matches this regex."""
    ssh_hostname: str | None = setting(
        None,
        host_alias,
        in_file=InFile.BOTH,
        flag="--ssh-hostname",
        metavar="HOST",
        help="with --protocol ssh: clone from this ~/.ssh/config Host alias",
    )
    """With ``--protocol ssh``: clone from this host alias (a ``Host`` of ``~/.ssh/config``) instead of the forge's."""
    post_sync: tuple[str, ...] = setting((), argv, in_file=InFile.DEFAULTS | InFile.TARGETS)
    """A command (argument list, no shell) run after the target's sync; empty means none."""
    target: str = ""
    """The target's name: its ``[targets.NAME]`` name, or the owner for one named on the command line
    (the default, when left empty). Set by resolution, never by a flag or a file."""

    def __post_init__(self) -> None:
        if not self.target:  # frozen: the one default computed from other fields
            object.__setattr__(self, "target", default_target(self.owner, self.api_base, instance=self.instance, listing=self.listing))

    @property
    def listing(self) -> Listing:
        """What of the owner's a run lists: their repos, the repos they starred, their gists or their snippets."""
        return chosen_listing(starred=self.starred, gists=self.gists, snippets=self.snippets)

    @property
    def name(self) -> str:
        """The target's name in events, panels and notices: ``target``, or the owner when it has none."""
        return self.target or self.owner

    @property
    def api_base(self) -> str:
        return api_base_of(self.provider, self.base_url)


def chosen_listing(*, starred: bool, gists: bool, snippets: bool) -> Listing:
    """The listing the flags choose (``validate`` refuses more than one)."""
    if gists:
        return Listing.GISTS
    if snippets:
        return Listing.SNIPPETS
    return Listing.STARRED if starred else Listing.REPOS


def default_target(owner: str, api_base: str, *, instance: bool = False, listing: Listing = Listing.REPOS) -> str:
    """A target's name (and its default folder) when none is given: the owner; ``OWNER+starred``, ``OWNER+gists`` or
    ``OWNER+snippets`` for another listing of the owner's (a name no forge gives a user or a group, so it never meets
    the folder and the state of the owner's own repos); the instance's host for ``--all``."""
    if listing != Listing.REPOS and owner:
        return f"{owner}+{listing}"
    return owner or (instance_name(api_base) if instance else "")


def instance_name(api_base: str) -> str:
    """What a ``--all`` target is called (and its default folder): the instance's host, with its port if not the
    scheme's (``gitlab.example.com``, ``127.0.0.1:8080``)."""
    parts = urlsplit(api_base)
    host = (parts.hostname or "instance").lower()
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def api_base_of(provider: str, base_url: str) -> str:
    """The API root of ``provider`` at ``base_url``: without a trailing slash, and the provider's own when empty."""
    return (base_url or DEFAULT_BASE_URLS[ProviderName(provider)]).rstrip("/")


FILE_ONLY: dict[str, Rule] = {
    "token_env": Rule(env_name, in_file=InFile.PROFILES),
    "dest_root": Rule(absolute_path, in_file=InFile.BOTH),
}
"""What the config file may say that is no setting of a run but steers its resolution: the variable holding a
forge's token, and the folder whose ``OWNER`` subfolders targets land in when they name no ``dest``."""

RULES: dict[str, Rule] = {f.name: f.metadata[RULE] for f in fields(Settings) if RULE in f.metadata} | FILE_ONLY
"""Every value a user can give, flag or file: its check, its bound, where the file may hold it, its option.
Not here: ``owner`` (a flag, or ``owner`` in a ``[targets.NAME]`` table; checked by :func:`validate`),
``token_source``, ``shard_source`` and ``target`` (gz-tui sets them)."""

SETTING_NAMES = tuple(f.name for f in fields(Settings))
BUILTIN: dict[str, Any] = {f.name: f.default for f in fields(Settings) if f.name not in ("owner", "target")}
"""The built-in default of every setting but ``owner`` and ``target``."""

_HIDDEN = frozenset({"token", "token_cmd", "ping_url"})
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
    if settings.instance:
        problem = _instance_problem(settings)
        if problem:
            return problem
    elif not settings.owner or not settings.owner.strip("/"):
        return "name the owner to clone (an org, a user, or a GitLab group path), --all for a whole instance, or try --demo"
    if settings.starred:
        problem = _starred_problem(settings)
        if problem:
            return problem
    if settings.gists or settings.snippets:
        problem = _paste_problem(settings)
        if problem:
            return problem
    problem = owner_problem(settings)
    if problem:
        return problem
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
    if not settings.api_base:
        return f"{settings.provider} has no public instance: name your server with --base-url (or a profile's base_url)"
    url = urlsplit(settings.api_base)
    if url.scheme == "http" and not (is_loopback(url.hostname) or settings.insecure_http):
        bad = Invalid(f"must use https: plain http to {url.hostname} would carry the token in clear (or pass --insecure-http)")
        return origins.get("base_url", FLAG).problem("base_url", settings.base_url, bad)
    ping = urlsplit(settings.ping_url or "")
    if ping.scheme == "http" and not (is_loopback(ping.hostname) or settings.insecure_http):
        bad = Invalid(f"must use https: plain http to {ping.hostname} would show the check's key to the network (or pass --insecure-http)")
        return origins.get("ping_url", FLAG).problem("ping_url", settings.ping_url, bad)
    return _credential_problem(settings) or _filter_problem(settings)


def owner_problem(settings: Settings) -> str | None:
    """Why the owner cannot be this forge's, or None: a ``/`` where the forge has no group paths, a ``..``
    segment anywhere (:func:`owner_path_problem`). Resolution refuses it for every command, before any request."""
    owner = settings.owner
    if not owner:
        return None  # no owner is validate's problem (or --all's)
    if not provider_info(settings.provider).nested and "/" in owner:
        return f"{settings.provider} owners have no '/': {owner!r}"
    shape = owner_path_problem(owner)
    return f"owner {owner!r} {shape}" if shape else None


def _instance_problem(settings: Settings) -> str | None:
    """``--all`` names no owner, on a forge that lists a whole instance, and on one's own instance: the public ones
    (github.com, gitlab.com, codeberg.org) hold millions of other people's repositories."""
    info = provider_info(settings.provider)
    if settings.owner:
        return f"--all lists every repository of the instance; it takes no owner (got {settings.owner!r})"
    if not info.instance_listing:
        return f"--all lists a whole instance; {settings.provider} has no such listing (name a workspace instead)"
    if info.default_base_url and settings.api_base == info.default_base_url.rstrip("/"):
        return (
            f"--all is for your own instance, not {instance_name(settings.api_base)} (millions of other people's repositories): "
            "name it with --base-url"
        )
    for flag, on in (
        ("--project", settings.projects),
        ("--affiliation", settings.affiliation),
        ("--subgroup-include", settings.subgroup_include),
        ("--subgroup-exclude", settings.subgroup_exclude),
    ):
        if on:
            return f"{flag} selects within an owner; --all lists the whole instance (use --include/--exclude on OWNER/PATH)"
    return None


def _starred_problem(settings: Settings) -> str | None:
    """``--starred`` names a user, on a forge that lists what a user starred, and selects nothing else of theirs."""
    if not provider_info(settings.provider).starred:
        return f"--starred lists the repos a user starred; {settings.provider} has no such listing (GitHub, Gitea and GitLab do)"
    if settings.instance:
        return "--starred lists the repos one user starred; --all lists a whole instance: choose one"
    if "/" in settings.owner:
        return f"--starred names a user, not a group path: {settings.owner!r}"
    for flag, on in (
        ("--project", settings.projects),
        ("--affiliation", settings.affiliation),
        ("--subgroup-include", settings.subgroup_include),
        ("--subgroup-exclude", settings.subgroup_exclude),
    ):
        if on:
            return f"{flag} selects among an owner's own repos; --starred lists the repos a user starred (use --include/--exclude on OWNER/NAME)"
    return None


def _paste_problem(settings: Settings) -> str | None:
    """``--gists`` (GitHub) and ``--snippets`` (GitLab) name an owner on a forge that has them, and choose one listing."""
    flag, kind = ("--gists", "gists") if settings.gists else ("--snippets", "snippets")
    info = provider_info(settings.provider)
    if not (info.gists if settings.gists else info.snippets):
        where = "GitHub" if settings.gists else "GitLab"
        return f"{flag} lists {kind}; {settings.provider} has none ({where} does)"
    chosen = [name for name, on in (("--starred", settings.starred), ("--gists", settings.gists), ("--snippets", settings.snippets)) if on]
    if len(chosen) > 1 or settings.instance:
        return f"{' and '.join(chosen + (['--all'] if settings.instance else []))} are different listings: choose one (a target each)"
    if settings.gists and "/" in settings.owner:
        return f"--gists names a user, not a path: {settings.owner!r}"
    if settings.gists and settings.protocol == CloneProtocol.SSH:
        return "--gists clones over https (GitHub lists no ssh URL for a gist): drop --protocol ssh"
    for option, on in (
        ("--project", settings.projects),
        ("--affiliation", settings.affiliation),
        ("--topic", settings.topics),
        ("--language", settings.language),
        ("--wikis", settings.wikis),
        ("--skip-forks", settings.skip_forks),
        ("--repos-file", settings.repos_file),
    ):
        if on:
            return f"{option} selects among repos; {flag} lists {kind} (use --include/--exclude on the {kind[:-1]} id)"
    return None


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
    if settings.projects and not info.projects:
        return f"--project filters a listing by project key; {settings.provider} has no such listing"
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
