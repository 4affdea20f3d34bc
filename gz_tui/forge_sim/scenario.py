"""What misbehaviour the embedded forge should show: every knob independent and off by default."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Scenario:
    """Fault and limit injection for :class:`~gz_tui.forge_sim.ForgeSim`.

    Each option reproduces one documented forge behaviour (see the module docs of
    ``limits``, ``catalog`` and ``hostile``) so a client can be tested against it in isolation.
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
    """``host:port`` GitLab and Gitea write into ``Link`` URLs (default: the Host the client used)."""

    error_status: int | None = None
    """Answer every API request with this status (e.g. 500)."""

    git_latency: float = 0.0
    """Seconds of real sleep added to every git request (a slow git server: a clone spans more time)."""


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
