"""Command line: arguments → Settings → dashboard or headless run. Exit codes: 0, 1, 2, 130."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from gz_tui import __version__
from gz_tui.config import (
    PROTOCOLS,
    PROVIDERS,
    RULES,
    UPDATE_MODES,
    NoTargets,
    Resolved,
    Settings,
    resolve_owners,
    resolve_targets,
)
from gz_tui.forges.registry import provider_info
from gz_tui.kinds import Affiliation, PartialFilter
from gz_tui.pipeline.control import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from gz_tui.shard import ShardError, shard_from

AFFILIATIONS = tuple(Affiliation)
COMMANDS = ("status", "config", "sync")
"""Words that name a command, never an owner. An owner spelled like one is named with ``--owner NAME``
or after ``--``."""
_WORDS = ", ".join(COMMANDS)

EXAMPLES = f"""\
examples:
  gz-tui --demo                          try it: a local demo forge, no token, no network
  gz-tui apache                          clone or update every repo of github.com/apache into ./apache
  gz-tui apache kubernetes --dest ~/src  several owners in one run: ~/src/apache, ~/src/kubernetes
  gz-tui my-org --base-url https://ghe.example.com/api/v3 --dest ~/src/my-org
  gz-tui gitlab-org/security --provider gitlab --skip-archived
  gz-tui my-org --no-tui --json >> sync.jsonl   headless, for cron
  gz-tui sync                            every [targets.NAME] of the config file, in one run
  gz-tui sync apache work --dry-run      some of them; flags apply to each
  gz-tui status ./apache                 what the last run did
  gz-tui config init                     write a commented config file
  gz-tui --owner status                  an owner named like a command ({_WORDS})
  gz-tui -- status                       the same: the word after -- is always the owner

exit codes: 0 all done · 1 some repos failed · 2 usage, auth or not found · 130 interrupted
"""

SYNC_EXAMPLES = """\
examples:
  gz-tui sync                            every [targets.NAME] of the config file
  gz-tui sync apache backend             two of them
  gz-tui sync --dry-run --workers 4      flags apply to each target, over its table
  gz-tui config show apache              a target's settings and where each came from
  gz-tui config init                     a config file with a commented [targets.NAME] example

exit codes: 0 all done · 1 some repos failed · 2 usage, auth or not found · 130 interrupted
"""


PARTIAL_FILTERS = tuple(PartialFilter)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"gz-tui: {message} (see {self.prog} --help)\n")


def build_parser(*, sync: bool = False) -> argparse.ArgumentParser:
    """The options of a run: ``gz-tui OWNER... [options]``, or with ``sync`` ``gz-tui sync [NAME...] [options]``."""
    p = _Parser(
        prog="gz-tui sync" if sync else "gz-tui",
        description=(
            "Sync the targets of the config file ([targets.NAME] tables) in one run: all of them, or the NAMEs given. "
            "The options apply to each target, over its table."
            if sync
            else "Clone and keep in sync every repository of a GitHub org, GitLab group tree or Gitea org."
        ),
        epilog=SYNC_EXAMPLES if sync else EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=None,
    )
    if sync:
        p.add_argument("names", nargs="*", metavar="NAME", help="[targets.NAME] of the config file to sync (default: all)")
    else:
        owner_help = (
            "org or user (GitHub, Gitea), or group path a/b/c (GitLab); several: one target each; "
            f"one named {_WORDS}: --owner NAME or -- NAME"
        )
        p.add_argument("owners", nargs="*", metavar="OWNER", help=owner_help)
        p.add_argument("--owner", dest="owner_flag", metavar="NAME", help="the owner, whatever its name (also: -- NAME)")
    p.add_argument("--version", action="version", version=f"gz-tui {__version__}")
    p.add_argument("--provider", choices=PROVIDERS, help="forge type (default github)")
    p.add_argument(
        "--base-url", dest="base_url", metavar="URL", help="API root (default https://api.github.com; GHES: https://HOST/api/v3)"
    )
    p.add_argument("--token", help="API token (else GH_TOKEN/GITHUB_TOKEN, GITLAB_TOKEN, GITEA_TOKEN, or `gh auth token`)")
    p.add_argument("--profile", help="use a [profiles.NAME] section of the config file")
    p.add_argument(
        "--dest", type=Path, metavar="DIR", help="where repos land (default ./OWNER; with several owners or targets: DIR/OWNER each)"
    )
    p.add_argument("--workers", type=int, metavar="N", help=f"parallel git processes (default 8, at most {RULES['workers'].most})")
    p.add_argument(
        "--buffer", type=int, metavar="N", help=f"listed repos held ahead of the workers (default 1000, at most {RULES['buffer'].most:,})"
    )
    p.add_argument("--protocol", choices=PROTOCOLS, help="clone over https (default) or ssh")
    p.add_argument("--update", choices=UPDATE_MODES, help="for repos already on disk (default fetch)")
    p.add_argument("--depth", type=int, metavar="N", help="shallow clones of N commits")
    p.add_argument("--mirror", action="store_true", default=None, help="bare mirror clones of every ref at DEST/NAME.git (backups)")
    p.add_argument("--wikis", action="store_true", default=None, help="also sync each repo's wiki (NAME.wiki) where the forge has one")
    p.add_argument("--filter", choices=PARTIAL_FILTERS, help="partial clones: blob:none (history, no file contents until needed) or tree:0")
    p.add_argument("--single-branch", dest="single_branch", action="store_true", default=None, help="clone and fetch one branch only")
    p.add_argument("--branch", metavar="NAME", help="check out branch NAME (a repo without it fails with no_branch)")
    p.add_argument(
        "--prune",
        action="store_true",
        default=None,
        help="move clones of repos the forge no longer lists to DEST/.gz-tui/attic/ (never deleted)",
    )
    p.add_argument(
        "--prune-force",
        dest="prune_force",
        action="store_true",
        default=None,
        help="prune even more than --prune-limit percent of the clones",
    )
    p.add_argument(
        "--prune-limit", dest="prune_limit", type=int, metavar="PERCENT", help="largest share of the clones one prune moves (default 10)"
    )
    p.add_argument("--include", metavar="REGEX", help="only repos whose path matches")
    p.add_argument("--exclude", metavar="REGEX", help="skip repos whose path matches")
    p.add_argument("--skip-archived", dest="skip_archived", action="store_true", default=None)
    p.add_argument("--skip-forks", dest="skip_forks", action="store_true", default=None)
    p.add_argument("--dry-run", dest="dry_run", action="store_true", default=None, help="list, filter and report; clone nothing")
    p.add_argument(
        "--no-tui", dest="headless", action="store_true", default=None, help="headless (automatic when stdout is not a terminal)"
    )
    p.add_argument("--json", action="store_true", default=None, help="headless, one JSON event per line on stdout")
    p.add_argument("--state", dest="state_path", type=Path, metavar="PATH", help="state database (default DEST/.gz-tui/state.sqlite3)")
    p.add_argument("--fresh", action="store_true", default=None, help="forget the saved state (clones on disk become updates)")
    p.add_argument("--retry-failed", dest="retry_failed", action="store_true", default=None, help="re-run only the last run's failures")
    p.add_argument(
        "--attempts", type=int, metavar="N", help=f"attempts per repo for transient failures (default 3, at most {RULES['attempts'].most})"
    )
    p.add_argument(
        "--outage-limit",
        dest="outage_limit",
        type=int,
        metavar="SECONDS",
        help="how long the forge may stay unreachable before the run stops, its repos left pending (default 600)",
    )
    p.add_argument(
        "--shard",
        metavar="K/N",
        help="sync only shard K of N (0 ≤ K < N; repos split by a stable hash of their forge id); N machines or pods, one destination",
    )
    p.add_argument(
        "--shards", type=int, metavar="N", help="how many shards, when K comes from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)"
    )
    p.add_argument("--insecure-http", dest="insecure_http", action="store_true", default=None, help="allow http:// to a non-loopback host")
    p.add_argument("--log-file", dest="log_file", type=Path, metavar="PATH", help="log file (rotated; never holds secrets)")
    p.add_argument("--stats-file", dest="stats_file", type=Path, metavar="PATH", help="append one JSON line per target per run")
    p.add_argument(
        "--token-cmd",
        dest="token_cmd",
        metavar="COMMAND",
        help='a command printing the token, run without a shell ("op read op://vault/gh/token"); run again on a 401, once',
    )
    p.add_argument(
        "--token-file",
        dest="token_file",
        type=Path,
        metavar="PATH",
        help="a file holding the token (must not be readable by group or others)",
    )
    p.add_argument(
        "--github-app-id",
        dest="github_app_id",
        type=int,
        metavar="ID",
        help="sign in as this GitHub App (also GZ_TUI_GITHUB_APP_ID); needs --github-app-key",
    )
    p.add_argument(
        "--github-app-key",
        dest="github_app_key",
        type=Path,
        metavar="PATH",
        help="the GitHub App's private key, PEM (also GZ_TUI_GITHUB_APP_KEY)",
    )
    p.add_argument(
        "--github-app-installation-id",
        dest="github_app_installation_id",
        type=int,
        metavar="ID",
        help="the app's installation (default: the owner's, asked of GitHub)",
    )
    p.add_argument("--topic", dest="topics", action="append", metavar="TOPIC", help="only repos with this topic (repeatable: any of them)")
    p.add_argument("--language", metavar="LANG", help="only repos in this language (GitLab: one request per repo)")
    p.add_argument(
        "--repos-file",
        dest="repos_file",
        type=Path,
        metavar="PATH",
        help="only the repos named in this file, one a line; names not listed are reported (exit 1)",
    )
    p.add_argument(
        "--affiliation", choices=AFFILIATIONS, help="a GitHub user's repos listed with their own token: owner (default), member, or all"
    )
    p.add_argument(
        "--subgroup-include",
        dest="subgroup_include",
        metavar="REGEX",
        help="GitLab: only repos whose subgroup path (below the group) matches",
    )
    p.add_argument("--subgroup-exclude", dest="subgroup_exclude", metavar="REGEX", help="GitLab: skip repos whose subgroup path matches")
    p.add_argument(
        "--ssh-hostname", dest="ssh_hostname", metavar="HOST", help="with --protocol ssh: clone from this ~/.ssh/config Host alias"
    )
    if not sync:
        p.add_argument("--demo", action="store_true", help="run against a built-in demo forge on 127.0.0.1 (no token, no network)")
        p.add_argument("--demo-repos", dest="demo_repos", type=int, default=None, help=argparse.SUPPRESS)
    return p


def fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(f"gz-tui: {message}\n")
    return code


def parse(args: list[str]) -> argparse.Namespace:
    """The options and the owners: ``OWNER...`` (several: one target each), or one named ``--owner OWNER``
    or ``-- OWNER`` (exit 2 if mixed). The word after ``--`` is the owner whatever it looks like; options
    may follow it. ``ns.owners`` is the list of owners (empty when none was named).
    """
    parser = build_parser()
    after_dashes: str | None = None
    if "--" in args:
        at = args.index("--")
        if at + 1 == len(args):
            parser.error("-- must be followed by the owner")
        after_dashes, args = args[at + 1], args[:at] + args[at + 2 :]
    ns = parser.parse_intermixed_args(args)
    for owner in ns.owners:
        if owner in COMMANDS:
            parser.error(f"{owner!r} is a gz-tui command word; to sync an owner named {owner}: gz-tui --owner {owner} ...")
    named = [owner for owner in (ns.owner_flag, after_dashes) if owner is not None]
    if named and (ns.owners or len(named) > 1):
        every = ", ".join(map(repr, [*ns.owners, *named]))
        parser.error(f"--owner and -- name one owner, on its own (got {every}); several owners: gz-tui OWNER OWNER ...")
    ns.owners = ns.owners or named
    del ns.owner_flag
    return ns


def parse_sync(args: list[str]) -> argparse.Namespace:
    """``gz-tui sync [NAME...] [options]``: ``ns.names`` are the targets named (empty: all)."""
    return build_parser(sync=True).parse_intermixed_args(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    syncing = bool(args) and args[0] == "sync"
    if args and args[0] in COMMANDS and not syncing:
        return command(args[0], args[1:])
    ns = parse_sync(args[1:]) if syncing else parse(args)
    demo = bool(getattr(ns, "demo", False))
    flags: dict[str, Any] = {k: v for k, v in vars(ns).items() if k not in ("demo", "demo_repos", "owners", "names")}
    with ExitStack() as stack:
        owners: list[str] = [] if syncing else ns.owners
        if demo:
            if len(owners) > 1:
                return fail("--demo runs one owner")
            flags = _start_demo(stack, {**flags, "owner": owners[0] if owners else None}, ns.demo_repos)
            owners = [flags.pop("owner")]
        try:
            resolved = resolve_targets(flags, ns.names) if syncing else resolve_owners(flags, owners)
        except NoTargets as exc:
            return fail(f"{exc}; to sync an owner named sync: gz-tui --owner sync")
        except ValueError as exc:
            return fail(str(exc))
        for one in resolved:
            problem = one.problem()
            if problem:
                return fail(problem)
        return _run(resolved, demo=demo)
    return EXIT_OK


def with_shard(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """The settings with their shard decided: ``--shard``, else the environment (Indexed Job, GitLab CI)."""
    shard = shard_from(settings.shard, settings.shards, environ)
    if shard is None:
        return replace(settings, shard=None, shard_source="")
    return replace(settings, shard=shard.label, shard_source=shard.source)


def _run(resolved: list[Resolved], *, demo: bool) -> int:
    """Log, warn, and run the targets: headless, or on the dashboard."""
    targets = [r.settings for r in resolved]
    if demo:
        targets = [  # a demo is no sync to report, and signs in with nothing
            replace(t, token=None, token_source="", token_cmd=(), github_app_id=None, github_app_key=None, post_sync=(), stats_file=None)
            for t in targets
        ]
    try:
        targets = [with_shard(t, os.environ) for t in targets]
    except ShardError as exc:
        return fail(str(exc))
    warnings = list(dict.fromkeys(w for r in resolved for w in r.warnings))
    log_files = list(dict.fromkeys(t.log_file for t in targets))
    if len(log_files) > 1:
        warnings.append(f"the targets name different log files; this run logs to {log_files[0] or 'the default log file'}")
    from gz_tui.logs import setup_logging

    logger = setup_logging(log_files[0], [t.token for t in targets], warnings=warnings)
    for warning in warnings:
        sys.stderr.write(f"gz-tui: warning: {warning}\n")
    for t in targets:
        logger.info("start %s %s at %s (token from %s)", t.provider, t.owner, t.api_base, t.token_source or "nowhere")
    first = targets[0]
    if first.json or first.dry_run or not sys.stdout.isatty():
        targets = [replace(t, headless=True) for t in targets]
    notes: dict[str, list[str]] = {}
    for t in targets:
        note = provider_info(t.provider).anonymous_note
        if note and not t.token and t.github_app_id is None:
            notes.setdefault(note, []).append(t.target)
    for note, tokenless in notes.items():
        if not demo and not first.json:
            who = f" for {', '.join(tokenless)}" if len(targets) > 1 else ""
            sys.stderr.write(f"gz-tui: no token{who}: {note}\n")
    try:
        if targets[0].headless:
            from gz_tui.headless import run_headless

            return run_headless(targets)
        from gz_tui.pipeline.runner import make_pipeline
        from gz_tui.tui.app import make_app

        result = make_app(targets, make_pipeline).run()
        return int(result) if isinstance(result, int) else EXIT_INTERRUPTED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def command(word: str, argv: list[str]) -> int:
    """``gz-tui status ...``, ``gz-tui config ...`` (``sync`` is a run: see :func:`main`)."""
    if word == "status":
        from gz_tui.status import status_command

        return status_command(argv)
    from gz_tui.config.command import config_command

    return config_command(argv, stdout=sys.stdout, stderr=sys.stderr)


def _start_demo(stack: ExitStack, flags: dict[str, Any], repos: int | None) -> dict[str, Any]:
    """Start the embedded forge in-process; clones land in a temporary folder unless --dest is given."""
    from gz_tui.forge_sim import DEMO_REPOS, ForgeSim, demo_scenario

    provider = flags.get("provider") or "github"
    root = Path(tempfile.mkdtemp(prefix="gz-tui-forge-"))
    stack.callback(shutil.rmtree, root, True)
    owner = flags.get("owner") or "gz-demo"
    sim = ForgeSim(root=root, org=owner, repos=repos or DEMO_REPOS, scenario=demo_scenario())
    sim.start()
    stack.callback(sim.stop)
    # An empty token is "given": no environment variable or `gh` is consulted for the demo.
    flags = {**flags, "owner": owner, "provider": provider, "base_url": sim.api_url(provider), "token": ""}
    if not flags.get("dest"):
        dest = Path(tempfile.mkdtemp(prefix="gz-tui-demo-"))
        stack.callback(shutil.rmtree, dest, True)
        flags["dest"] = dest / owner
    return flags


def entry() -> None:
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `gz-tui status | head`: the reader has what it wanted
        from gz_tui.headless import silence

        silence(sys.stdout)
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    entry()
