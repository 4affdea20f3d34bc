"""Command line: arguments → Settings → dashboard or headless run, or the commands ``status`` and ``config``.

Exit codes: :class:`~gz_tui.kinds.ExitCode` (0, 1, 2, 130). A usage error is one line on stderr and exit 2."""

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
from typing import Any

from gz_tui import __version__, status
from gz_tui.config import NoTargets, Resolved, Settings, resolve_owners, resolve_targets
from gz_tui.config import command as config_command
from gz_tui.config.options import Parser, UsageError, add_setting_options, setting_options
from gz_tui.forges.registry import provider_info
from gz_tui.kinds import ExitCode
from gz_tui.shard import ShardError, shard_from

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


RUN = "run"
"""The subcommand of ``gz-tui OWNER... [options]``. It is never typed: :func:`parse` puts it before every command
line that starts with no command word, so that a run is one more subcommand of the one parser (and ``run`` is an
owner like any other)."""


def build_parser() -> Parser:
    """The command line: ``gz-tui OWNER... [options]``, ``gz-tui sync [NAME...] [options]``, ``gz-tui status``
    and ``gz-tui config``, as subcommands of one parser; the options of a run are generated from the settings'
    declarations (:mod:`gz_tui.config.options`)."""
    root = Parser(prog="gz-tui")
    commands = root.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    run = commands.add_parser(
        RUN,
        prog="gz-tui",
        description="Clone and keep in sync every repository of a GitHub org, GitLab group tree or Gitea org.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    owner_help = (
        f"org or user (GitHub, Gitea), or group path a/b/c (GitLab); several: one target each; one named {_WORDS}: --owner NAME or -- NAME"
    )
    run.add_argument("owners", nargs="*", metavar="OWNER", help=owner_help)
    run.add_argument("--owner", dest="owner_flag", metavar="NAME", help="the owner, whatever its name (also: -- NAME)")
    _add_run_options(run)
    run.add_argument("--demo", action="store_true", help="run against a built-in demo forge on 127.0.0.1 (no token, no network)")
    run.add_argument("--demo-repos", dest="demo_repos", type=int, default=None, help=argparse.SUPPRESS)

    sync_parser = commands.add_parser(
        "sync",
        help="sync the [targets.NAME] of the config file",
        description="Sync the targets of the config file ([targets.NAME] tables) in one run: all of them, or the NAMEs given. "
        "The options apply to each target, over its table.",
        epilog=SYNC_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sync_parser.add_argument("names", nargs="*", metavar="NAME", help="[targets.NAME] of the config file to sync (default: all)")
    _add_run_options(sync_parser)

    status.add_arguments(commands.add_parser("status", help="what the last run did", description=status.DESCRIPTION))
    config_command.add_arguments(commands.add_parser("config", help="the config file", description=config_command.DESCRIPTION))
    return root


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"gz-tui {__version__}")
    add_setting_options(parser)


def fail(message: str, code: int = ExitCode.USAGE) -> int:
    sys.stderr.write(f"gz-tui: {message}\n")
    return code


def parse(args: list[str]) -> argparse.Namespace:
    """The command and its arguments: ``ns.command`` is ``sync``, ``status``, ``config`` or :data:`RUN`.

    A run names its owners ``OWNER...`` (several: one target each), or one ``--owner OWNER`` or ``-- OWNER``
    (a usage error if mixed). The word after ``--`` is the owner whatever it looks like; options may follow it.
    ``ns.owners`` is the list of owners (empty when none was named); for ``sync``, ``ns.names`` the targets
    named. The owners and names may come before, between and after the options.

    Raises :class:`UsageError` for anything argparse or these rules refuse.
    """
    word = args[0] if args and args[0] in COMMANDS else RUN
    rest = args[1:] if word != RUN else args
    prog = "gz-tui" if word == RUN else f"gz-tui {word}"
    after_dashes: str | None = None
    if word == RUN and "--" in rest:
        at = rest.index("--")
        if at + 1 == len(rest):
            raise UsageError("-- must be followed by the owner", prog)
        after_dashes, rest = rest[at + 1], rest[:at] + rest[at + 2 :]
    ns, extras = build_parser().parse_known_args([word, *rest])
    # argparse gives a positional one run of words; the words after an option are left over: more owners or names.
    unknown = [arg for arg in extras if arg.startswith("-")]
    if unknown or (extras and word not in (RUN, "sync")):
        raise UsageError(f"unrecognized arguments: {' '.join(unknown or extras)}", prog)
    if word == "sync":
        ns.names = [*ns.names, *extras]
    if word != RUN:
        return ns
    ns.owners = [*ns.owners, *extras]
    for owner in ns.owners:
        if owner in COMMANDS:
            raise UsageError(f"{owner!r} is a gz-tui command word; to sync an owner named {owner}: gz-tui --owner {owner} ...", prog)
    named = [owner for owner in (ns.owner_flag, after_dashes) if owner is not None]
    if named and (ns.owners or len(named) > 1):
        every = ", ".join(map(repr, [*ns.owners, *named]))
        raise UsageError(f"--owner and -- name one owner, on its own (got {every}); several owners: gz-tui OWNER OWNER ...", prog)
    ns.owners = ns.owners or named
    del ns.owner_flag
    return ns


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        ns = parse(args)
    except UsageError as bad:
        if args and args[0] == "config":
            sys.stderr.write(config_command.error_line(bad.message))
            return ExitCode.USAGE
        return fail(f"{bad.message} (see {bad.prog} --help)")
    if ns.command == "status":
        return status.show_status(ns.dest, ns.state, out=sys.stdout, err=sys.stderr)
    if ns.command == "config":
        return config_command.run_config(ns, stdout=sys.stdout, stderr=sys.stderr)
    return run_targets(ns)


def run_targets(ns: argparse.Namespace) -> int:
    """A run: of the owners named (:data:`RUN`), or of the configured targets (``sync``)."""
    syncing = ns.command == "sync"
    demo = bool(getattr(ns, "demo", False))
    flags: dict[str, Any] = {name: getattr(ns, name) for name in setting_options()}
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
        return int(result) if isinstance(result, int) else ExitCode.INTERRUPTED
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED


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
