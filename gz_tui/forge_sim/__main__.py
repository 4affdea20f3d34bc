"""``python -m gz_tui.forge_sim``: run the embedded forge standalone (demo, benchmarks, manual poking).

Prints exactly one line with the base URL once listening, then serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Literal, get_args

from gz_tui.forge_sim.scenario import EmptyWiki, HostileListing, RateLimitLie, Scenario
from gz_tui.forge_sim.sim import ForgeSim


def _retry_after(value: str) -> int | None:
    return None if value.lower() == "none" else int(value)


def _version(value: str) -> tuple[int, int]:
    major, _, minor = value.partition(".")
    try:
        return int(major), int(minor.split(".")[0] or 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a version like 1.15: {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gz_tui.forge_sim",
        description="Embedded forge: GitHub/GitLab/Gitea/Bitbucket listing APIs and git smart HTTP on 127.0.0.1.",
        allow_abbrev=False,
    )
    parser.add_argument("--org", default="acme", help="owner / top group name (default: acme)")
    parser.add_argument("--repos", type=int, default=30, help="number of generated repos (default: 30)")
    parser.add_argument("--root", type=Path, help="where bare repos are created (default: a temp dir removed on exit)")
    parser.add_argument("--token", help="require this token for API and git requests")
    parser.add_argument("--owner-kind", choices=("org", "user"), default="org")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: ephemeral)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API request")
    parser.add_argument("--primary-limit", type=int, help="API requests allowed per window")
    parser.add_argument("--primary-window", type=float, default=3600.0, help="window length in seconds")
    parser.add_argument("--secondary-every", type=int, help="every Nth API request hits a secondary limit")
    parser.add_argument("--secondary-status", type=int, choices=(403, 429), default=403)
    parser.add_argument("--secondary-retry-after", type=_retry_after, default=60, metavar="S|none")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="fraction of API requests failing 502/503/drop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--churn", action="store_true", help="add 5 / delete 3 repos after page 2 of a listing")
    parser.add_argument("--hostile", action="store_true", help="add hostile names and clone URLs to listings")
    parser.add_argument("--repo-size-kb", type=int, default=0, help="incompressible blob size per repo")
    parser.add_argument("--heavy-history", action="store_true", help="the blob only in the first commit; HEAD removes it")
    parser.add_argument("--lfs-repos", type=int, default=0, help="the first N repos carry Git LFS files")
    parser.add_argument("--lfs-kb", type=int, default=64, help="KiB of LFS contents per such repo")
    parser.add_argument("--lfs-files", type=int, default=2, help="LFS files per such repo")
    parser.add_argument("--lfs-style", choices=("github", "gitlab", "gitea"), default="gitea", help="where LFS downloads point")
    parser.add_argument("--git-throttle-rate", type=float, default=0.0, help="fraction of info/refs answered 429/503")
    parser.add_argument("--gitlab-host", help="host:port GitLab/Gitea write into Link URLs")
    parser.add_argument("--error-status", type=int, help="answer every API request with this status")
    parser.add_argument("--git-latency", type=float, default=0.0, help="seconds added to every git request")
    parser.add_argument("--bad-token-as-anonymous", action="store_true", help="serve a wrong token as anonymous (Gitea 1.15)")
    parser.add_argument("--git-redirect-status", type=int, default=301, help="git's redirect status for a renamed repo")
    parser.add_argument("--gitlab-activity-hold", type=float, default=0.0, help="seconds GitLab holds last_activity_at (3600)")
    parser.add_argument("--empty-wiki", choices=get_args(EmptyWiki), default="not_found", help="git's answer for an unwritten wiki")
    parser.add_argument("--gitea-version", type=_version, metavar="X.Y", help="Gitea release to imitate (default 1.23)")
    parser.add_argument("--forgejo-version", metavar="X.Y.Z", help="present the Gitea dialect as this Forgejo release")
    parser.add_argument("--gitea-max-response-items", type=int, default=50, help="Gitea/Forgejo's page-size cap")
    parser.add_argument("--gitlab-offset-limit", type=int, default=50_000, help="GitLab's offset limit on /projects")
    parser.add_argument("--hostile-listing", choices=get_args(HostileListing), help="spoil a listing page")
    parser.add_argument("--hostile-listing-page", type=int, default=2, help="the page --hostile-listing spoils")
    parser.add_argument("--git-stall", action="append", default=[], metavar="REPO", help="stall this repo's pack mid-way")
    parser.add_argument("--git-trickle", action="append", default=[], metavar="REPO", help="trickle this repo's pack")
    parser.add_argument("--git-trickle-rate", type=float, default=4.0, help="bytes a second for --git-trickle")
    parser.add_argument("--rate-limit-lie", choices=get_args(RateLimitLie), help="rate-limit headers that lie")
    parser.add_argument("--app-mints-before-failure", type=int, metavar="N", help="the GitHub App mints N tokens, then fails")
    parser.add_argument("--app-mint-failure", type=_mint_failure, default=500, metavar="STATUS|hang", help="how later mints fail")
    parser.add_argument("--bitbucket-cursor-pages", action="store_true", help="Bitbucket Cloud: opaque next, no page or size")
    parser.add_argument("--bitbucket-server-page-max", type=int, default=1000, help="Bitbucket Data Center's cap on limit")
    parser.add_argument("--bitbucket-server-hidden-every", type=int, metavar="N", help="Data Center: one hidden repo after every N")
    parser.add_argument("--empty-repo", action="append", default=[], metavar="REPO", help="Gogs lists this repo empty: true")
    return parser


def _mint_failure(text: str) -> int | Literal["hang"]:
    if text == "hang":
        return "hang"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a status such as 500, or hang") from None


def scenario_from(args: argparse.Namespace) -> Scenario:
    return Scenario(
        latency=args.latency,
        primary_limit=args.primary_limit,
        primary_window=args.primary_window,
        secondary_every=args.secondary_every,
        secondary_status=args.secondary_status,
        secondary_retry_after=args.secondary_retry_after,
        fault_rate=args.fault_rate,
        seed=args.seed,
        churn=args.churn,
        hostile=args.hostile,
        repo_size_kb=args.repo_size_kb,
        heavy_history=args.heavy_history,
        lfs_repos=args.lfs_repos,
        lfs_kb=args.lfs_kb,
        lfs_files=args.lfs_files,
        lfs_style=args.lfs_style,
        git_throttle_rate=args.git_throttle_rate,
        gitlab_host=args.gitlab_host,
        error_status=args.error_status,
        git_latency=args.git_latency,
        bad_token_as_anonymous=args.bad_token_as_anonymous,
        git_redirect_status=args.git_redirect_status,
        gitlab_activity_hold=args.gitlab_activity_hold,
        empty_wiki=args.empty_wiki,
        gitea_version=args.gitea_version,
        forgejo_version=args.forgejo_version,
        gitea_max_response_items=args.gitea_max_response_items,
        gitlab_offset_limit=args.gitlab_offset_limit,
        hostile_listing=args.hostile_listing,
        hostile_listing_page=args.hostile_listing_page,
        git_stall=tuple(args.git_stall),
        git_trickle=tuple(args.git_trickle),
        git_trickle_rate=args.git_trickle_rate,
        rate_limit_lie=args.rate_limit_lie,
        app_mints_before_failure=args.app_mints_before_failure,
        app_mint_failure=args.app_mint_failure,
        bitbucket_cursor_pages=args.bitbucket_cursor_pages,
        bitbucket_server_page_max=args.bitbucket_server_page_max,
        bitbucket_server_hidden_every=args.bitbucket_server_hidden_every,
        empty_repos=tuple(args.empty_repo),
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with tempfile.TemporaryDirectory(prefix="forge-sim-") as temp:
        root = args.root or Path(temp)
        sim = ForgeSim(
            root,
            org=args.org,
            repos=args.repos,
            token=args.token,
            scenario=scenario_from(args),
            owner_kind=args.owner_kind,
            port=args.port,
        )
        with sim:
            print(f"forge_sim listening on {sim.base_url} (org {args.org}, {args.repos} repos)", flush=True)
            while not stop.wait(0.5):
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
