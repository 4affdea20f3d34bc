"""What misbehaviour the embedded forge should show: every knob independent and off by default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gz_tui.forge_sim.lfs import LfsStyle

EmptyWiki = Literal["not_found", "no_refs", "server_error"]
HostileListing = Literal["self_next", "next_cycle", "deep_json", "gzip_bomb", "duplicates"]
RateLimitLie = Literal[
    "retry_after_negative", "retry_after_zero", "retry_after_past_date", "retry_after_huge", "reset_in_past", "reset_nan"
]


@dataclass(slots=True)
class Scenario:
    """Fault and limit injection for :class:`~gz_tui.forge_sim.ForgeSim`.

    Each option reproduces one documented forge behaviour (see the module docs of
    ``limits``, ``catalog`` and ``hostile``) so a client can be tested against it in isolation.
    Every option is off by default; the ones that change a real forge's answer say which forge answers so, and
    where that is documented (FORGE-APIS.md is the project's notes on the forges).
    """

    latency: float = 0.0
    """Seconds of real sleep added to every API request (never to git)."""

    primary_limit: int | None = None
    """Requests allowed per ``primary_window`` (one quota per API flavour); the L-th is a 200 with remaining 0,
    then GitHub answers 403 (GitLab/Gitea 429) until the reset time. 304s and ``/rate_limit`` are free."""

    primary_window: float = 3600.0
    """Length of the primary rate-limit window in (clock) seconds."""

    secondary_every: int | None = None
    """Every N-th API request that passes authentication gets a secondary-limit answer."""

    secondary_status: int = 403
    """GitHub status for a secondary limit (403 or 429); GitLab and Gitea always use 429."""

    secondary_retry_after: int | None = 60
    """``Retry-After`` seconds on secondary answers; ``None`` sends no header (GitHub sometimes does that)."""

    fault_rate: float = 0.0
    """Fraction of API requests answered 502, 503 or with a dropped connection (about a third each)."""

    seed: int = 0
    """Seed for every random choice (faults, git throttling, blob contents): runs are reproducible."""

    churn: bool = False
    """Once the 2nd page of a listing is served, add 5 new repos and delete 3 not yet served."""

    hostile: bool = False
    """Add entries with dangerous names and clone URLs (and a legitimate ``.github`` repo)."""

    repo_size_kb: int = 0
    """Size of an incompressible blob committed in every repo, so clones take visible time."""

    heavy_history: bool = False
    """Keep that blob in history only: the first commit has it, the second (HEAD) removes it. What a partial
    clone (``--filter blob:none``) saves: the blobs of old commits, never downloaded."""

    git_throttle_rate: float = 0.0
    """Fraction of git ``info/refs`` requests answered 429 or 503."""

    gitlab_host: str | None = None
    """``host:port`` GitLab and Gitea write into ``Link`` URLs, and Bitbucket Cloud into ``next`` (default: the Host
    the client used)."""

    error_status: int | None = None
    """Answer every API request with this status (e.g. 500)."""

    git_latency: float = 0.0
    """Seconds of real sleep added to every git request (a slow git server: a clone spans more time)."""

    # -- identity and credentials (issue 24) --

    bad_token_as_anonymous: bool = False
    """A wrong (or missing) token is served as anonymous instead of 401: listings hold the public repos only (totals
    count them only), private repos answer 404 to the API, git serves the public ones to a request without credentials
    but still refuses a wrong one, and only "who am I" (``/user``) still says 401. Gitea 1.15 does this with a revoked token, and so do proxies that strip a
    credential they do not know. Off: with ``token`` set the forge refuses every request without it (a private
    instance: Gitea ``REQUIRE_SIGNIN_VIEW``, GitLab with public visibility restricted)."""

    git_redirect_status: int = 301
    """Status of git's answer at a renamed repo's old ``/{org}/{old}.git`` URL (``Location``: the same request's path
    under the new name; GitHub writes a full URL, Gitea a path, git resolves both). GitHub answers 301; Gitea 307 (``context.RedirectToRepo``; 302 before 1.17, ``ctx.Redirect``'s
    default). git follows it on its first request and warns ``redirecting to``. GitLab serves an old path in place
    (its redirect routes), which the sim does at the GitLab group URL of a repo in a subgroup."""

    # -- change signals and selection (issue 25) --

    gitlab_activity_hold: float = 0.0
    """GitLab moves a project's ``last_activity_at`` at most once per this many seconds: a push within it after the
    last recorded activity leaves ``last_activity_at`` where it was (GitLab uses 3600, gitlab-org/gitlab#16729;
    ``Event#reset_project_activity`` updates only when the old value is an hour old). Measured on the forge's
    injectable clock. 0: every push moves it."""

    empty_wiki: EmptyWiki = "not_found"
    """How git answers an enabled wiki nobody wrote (``wiki_of(name) == "empty"``): ``not_found`` (GitHub, GitLab:
    404, "repository not found"), ``no_refs`` (Gitea 1.15: ``info/refs`` is a 200 carrying only the service line and
    a flush, no refs at all, so git says "Could not read from remote repository") or ``server_error`` (newer Gitea:
    500). A disabled wiki (``off``) is always not found."""

    gitea_version: tuple[int, int] | None = None
    """The Gitea release to imitate (``/api/v1/version`` says ``X.Y.0``); None is 1.23. Before 1.23 the listing's repo
    objects carry no ``topics``, before 1.17 no ``language`` (the per-repo ``/topics`` and ``/languages`` endpoints
    answer either way); before 1.17 a renamed repo's API redirect is a 302 instead of 307."""

    forgejo_version: str | None = None
    """Present the Gitea dialect as Forgejo of this release (e.g. ``9.0.0``): ``/api/v1/version`` then answers
    ``9.0.0+gitea-1.22.0`` (Forgejo v7 and later; FORGE-APIS §7.11) instead of Gitea's plain ``1.23.0``."""

    gitea_max_response_items: int = 50
    """Gitea's and Forgejo's ``[api] MAX_RESPONSE_ITEMS`` (50 as shipped; some instances raise it): ``limit`` is
    clamped to it, and ``/api/v1/settings/api`` says it as ``max_response_items``."""

    # -- reliability (issue 26) --

    hostile_listing: HostileListing | None = None
    """A listing that attacks its client, on every flavour's repo listing, at page ``hostile_listing_page``:
    ``self_next`` (its ``next`` link points at itself), ``next_cycle`` (its ``next`` points back at page 1, which
    links to page 2 again: two pages pointing at each other), ``deep_json`` (the body is 100,000 nested ``[``: valid JSON no recursive parser
    survives), ``gzip_bomb`` (``Content-Encoding: gzip``, 3 MB on the wire that inflate to 3 GiB, streamed) or
    ``duplicates`` (page 1 lists its first repo twice, and its last repo again first on page 2; the totals count each
    repo once)."""

    hostile_listing_page: int = 2
    """The page ``hostile_listing`` spoils (``duplicates`` always spoils pages 1 and 2)."""

    git_stall: tuple[str, ...] = ()
    """Repos (by name; ``NAME.wiki`` for a wiki) whose pack transfer stops mid-way: half the pack is sent, then the
    connection is held open, silent, until the client hangs up or the forge stops (a wedged proxy or server)."""

    git_trickle: tuple[str, ...] = ()
    """Repos whose pack is sent ``git_trickle_rate`` bytes a second (a congested or throttled link)."""

    git_trickle_rate: float = 4.0
    """Bytes per second for the repos in ``git_trickle``."""

    rate_limit_lie: RateLimitLie | None = None
    """Rate-limit headers that lie, on every API flavour (git's throttling is left alone). ``retry_after_*`` replace
    ``Retry-After`` on every throttled answer (primary or secondary: combine with ``primary_limit`` or
    ``secondary_every``) with ``-5``, ``0``, an HTTP date an hour in the past, or ``99999999999``. ``reset_in_past``
    makes ``x-ratelimit-reset``/``RateLimit-Reset`` an hour in the past on every answer while the forge keeps
    refusing until its real reset (a client clock ahead of the forge's); ``reset_nan`` sends ``NaN`` there (Gitea
    sends neither header, so only ``retry_after_*`` reach it). The refusals themselves are unchanged."""

    app_mints_before_failure: int | None = None
    """A GitHub App's installation-token endpoint mints this many tokens, then fails every later mint the way
    ``app_mint_failure`` says (a GitHub incident that starts mid-run; tokens already minted keep working until they
    expire). None: it never fails by itself (``ForgeSim.fail_app_tokens`` still makes it fail on demand)."""

    app_mint_failure: int | Literal["hang"] = 500
    """How a mint fails after ``app_mints_before_failure``: an HTTP status (answered with GitHub's error body) or
    ``hang`` (the request is held open without a byte of answer, until the client gives up or the forge stops)."""

    # -- Bitbucket and whole instances (issue 27) --

    gitlab_offset_limit: int = 50_000
    """GitLab's ``offset_pagination_limit`` (50,000 as shipped; an admin setting): ``/projects`` refuses an offset page
    beyond it with 405 "Offset pagination has a maximum allowed offset of …" and only keyset pagination
    (``pagination=keyset``) goes further (gitlabhq ``lib/api/helpers/pagination_strategies.rb``)."""

    bitbucket_cursor_pages: bool = False
    """Bitbucket Cloud pages its repository listing the way its cursor-paged endpoints do: ``next`` carries an opaque
    ``page`` token instead of a number, and the body has neither ``page`` nor ``size`` (both optional in Bitbucket's
    ``Paginated`` schema)."""

    bitbucket_server_page_max: int = 1000
    """Bitbucket Data Center's cap on ``limit`` (1000 as shipped; an admin setting): a larger ``limit`` is clamped."""

    bitbucket_server_hidden_every: int | None = None
    """After every N repos of a Bitbucket Data Center project, one the caller may not see (another team's): the server
    cuts each page from the whole project and then leaves such repos out, so a page holds fewer than ``limit`` values
    and ``nextPageStart`` is not ``start + size`` (docs.atlassian.com/bitbucket-server/rest, "Paged APIs")."""

    # -- Sourcehut and Gogs (issue 27) --

    empty_repos: tuple[str, ...] = ()
    """Repos (by name) nothing has been pushed to yet: Gogs lists them ``empty: true`` (gogs ``APIFormatLegacy``)."""

    # -- gists and snippets (issue 29.2) --

    gists: int = 0
    """Gists of the forge's user (GitHub ``/users/U/gists``, ``/gists``); every 4th secret (``forge_sim.pastes``)."""

    snippets: int = 0
    """GitLab project snippets, spread over the projects (``/projects/:id/snippets``); every 4th private."""

    personal_snippets: int = 0
    """GitLab personal snippets of the token's user (``/snippets``)."""

    # -- Git LFS (issue 29) --

    lfs_repos: int = 0
    """The first N generated repos (by creation) carry Git LFS files: ``lfs_files`` pointer files ``lfs-K.bin`` (with
    a ``.gitattributes`` routing ``*.bin`` to LFS) whose ``lfs_kb`` KiB of contents the batch API serves."""

    lfs_files: int = 2
    lfs_kb: int = 64
    """KiB of LFS contents per repo, shared among its ``lfs_files`` files (incompressible, unique to the repo)."""

    lfs_style: LfsStyle = "gitea"
    """Where the batch API's download actions point (see ``forge_sim.lfs``): ``github`` (a presigned URL on another
    host, no header), ``gitlab`` (``/gitlab-lfs/objects/OID`` on the forge) or ``gitea`` (``/info/lfs/objects/OID``);
    the last two echo the request's ``Authorization`` into the action, as those forges do."""

    lfs_elsewhere: tuple[str, ...] = ()
    """Repos (by name) that carry LFS files and a ``.lfsconfig`` naming an LFS server on another host (``lfs.url``)."""


DEMO_REPOS = 240


def demo_scenario() -> Scenario:
    """What ``gz-tui --demo`` shows within its first minute: clones heavy enough to watch (and pause), a
    short primary rate-limit window (after two requests the lister waits about 20 s with a countdown while
    the workers keep cloning), a few hostile entries and throttled clones for the error log."""
    return Scenario(
        latency=0.15,
        repo_size_kb=6144,
        hostile=True,
        git_throttle_rate=0.004,
        primary_limit=2,
        primary_window=20.0,
        seed=1,
    )
