"""Command line: arguments → Settings → dashboard or headless run, or the commands ``status`` and ``config``.

Exit codes: :class:`~gz_tui.kinds.ExitCode` (0, 1, 2, 130). A usage error is one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import difflib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gz_tui import __version__, status
from gz_tui.config import NoTargets, Resolved, Settings, resolve_owners, resolve_targets
from gz_tui.config import command as config_command
from gz_tui.config.options import Parser, UsageError, add_setting_options, setting_options
from gz_tui.forges.registry import provider_info
from gz_tui.kinds import ExitCode
from gz_tui.owners import OwnerError, misfit_base_url, read_owners
from gz_tui.shard import ShardError, shard_from

if TYPE_CHECKING:
    from gz_tui.pipeline.snapshot import Snapshot

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
  gz-tui https://gitlab.com/gitlab-org   an owner's URL: its forge and API from the URL
  gz-tui my-org --no-tui --json >> sync.jsonl   headless, for cron
  gz-tui sync                            every [targets.NAME] of the config file, in one run
  gz-tui sync apache work --dry-run      some of them; flags apply to each
  gz-tui status ./apache                 what the last run did (--repos: every repo; --json)
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


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM, like Ctrl+C, raises KeyboardInterrupt while this holds (settings are resolved: a token command may
    be running), so whatever is under way is ended on the way out (a token command's process group is killed) and
    the exit is one line, 130. The run itself handles both signals on its own (the state is saved)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (an embedding test): nothing to install
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def interrupted() -> int:
    return fail("interrupted", ExitCode.INTERRUPTED)


def parse(args: list[str]) -> argparse.Namespace:
    """The command and its arguments: ``ns.command`` is ``sync``, ``status``, ``config`` or :data:`RUN`.

    A run names its owners ``OWNER...`` (several: one target each), or one ``--owner OWNER`` or ``-- OWNER``
    (a usage error if mixed). The word after ``--`` is the owner whatever it looks like; options may follow it.
    ``ns.owners`` is the list of owners (empty when none was named); for ``sync``, ``ns.names`` the targets
    named. The owners and names may come before, between and after the options.

    Raises :class:`UsageError` for anything argparse or these rules refuse.
    """
    word = args[0] if args and args[0] in COMMANDS else RUN
    near = difflib.get_close_matches(args[0], COMMANDS, n=1, cutoff=NEAR_MISS) if word == RUN and args else []
    if near and not args[0].startswith("-"):
        raise DidYouMean(f"did you mean `gz-tui {near[0]}`? (to sync an owner named {args[0]}: gz-tui --owner {args[0]} ...)", "gz-tui")
    rest = args[1:] if word != RUN else args
    prog = "gz-tui" if word == RUN else f"gz-tui {word}"
    after_dashes: str | None = None
    if word == RUN and "--" in rest:
        at = rest.index("--")
        if at + 1 == len(rest):
            raise UsageError("-- must be followed by the owner", prog)
        after_dashes, rest = rest[at + 1], rest[:at] + rest[at + 2 :]
    root = build_parser()
    ns, extras = root.parse_known_args([word, *rest])
    # argparse gives a positional one run of words; the words after an option are left over: more owners or names.
    unknown = [arg for arg in extras if arg.startswith("-")]
    if unknown:
        raise DidYouMean(_unknown_option(unknown[0], _option_strings(root, word), prog), prog)
    if extras and word not in (RUN, "sync"):
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


NEAR_MISS = 0.75
"""How alike a first word must be to a command word (difflib's ratio) to be taken for a typo of it: ``statsu``,
``synk``, ``confg`` are; ``state``, ``apache`` are not."""


class DidYouMean(UsageError):
    """A usage error whose message already says what to type instead (no "see --help")."""


def _option_strings(root: argparse.ArgumentParser, word: str) -> list[str]:
    """Every long option of the command ``word`` (and of its own subcommands, for ``config``)."""
    found: list[str] = []
    parsers = [root]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices if parser is not root else {word: action.choices[word]}
                parsers.extend(chosen.values())
            found.extend(s for s in action.option_strings if s.startswith("--") and parser is not root)
    return found


def _unknown_option(typed: str, known: Sequence[str], prog: str) -> str:
    """``unknown option --worker; did you mean --workers?``: abbreviations are never taken (a flag added later
    would change what a cron line does), so a near miss is named instead."""
    flag = typed.split("=", 1)[0]
    near = sorted({k for k in known if k.startswith(flag)})
    if not 1 <= len(near) <= 3:
        near = difflib.get_close_matches(flag, known, n=1, cutoff=0.7)
    return f"unknown option {flag}" + (f"; did you mean {' or '.join(near)}?" if near else f" (see {prog} --help)")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        ns = parse(args)
    except UsageError as bad:
        if args and args[0] == "config":
            sys.stderr.write(config_command.error_line(bad.message))
            return ExitCode.USAGE
        return fail(bad.message if isinstance(bad, DidYouMean) else f"{bad.message} (see {bad.prog} --help)")
    if ns.command in ("status", "config"):
        try:
            with interruptible():
                if ns.command == "status":
                    return status.show_status(ns.dest, ns.state, out=sys.stdout, err=sys.stderr, as_json=ns.json, repos=ns.repos)
                return config_command.run_config(ns, stdout=sys.stdout, stderr=sys.stderr)
        except KeyboardInterrupt:
            return interrupted()
    ns.resume = resume_command(args)
    return run_targets(ns)


def resume_command(args: Sequence[str]) -> str:
    """The command line that resumes a run: the one typed, without a ``--token`` (a token never reaches a line)."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip or arg.startswith("--token="):
            skip = False
            continue
        skip = arg == "--token"
        if not skip:
            kept.append(arg)
    return shlex.join(["gz-tui", *kept])


def run_targets(ns: argparse.Namespace) -> int:
    """A run: of the owners named (:data:`RUN`), or of the configured targets (``sync``)."""
    syncing = ns.command == "sync"
    demo = bool(getattr(ns, "demo", False))
    flags: dict[str, Any] = {name: getattr(ns, name) for name in setting_options()}
    with ExitStack() as stack:
        owners: list[str] = []
        if not syncing:
            try:
                owners, flags["provider"], flags["base_url"] = read_owners(
                    ns.owners, provider=flags["provider"], base_url=flags["base_url"]
                )
            except OwnerError as exc:
                return fail(str(exc))
        if demo:
            if len(owners) > 1:
                return fail("--demo runs one owner")
            flags = _start_demo(stack, {**flags, "owner": owners[0] if owners else None}, ns.demo_repos)
            owners = [flags.pop("owner")]
        try:
            with interruptible():
                resolved = resolve_targets(flags, ns.names) if syncing else resolve_owners(flags, owners)
        except KeyboardInterrupt:
            return interrupted()
        except NoTargets as exc:
            return fail(f"{exc}; to sync an owner named sync: gz-tui --owner sync")
        except ValueError as exc:
            return fail(str(exc))
        for one in resolved:
            problem = one.problem() or (misfit_base_url(one.settings.provider, one.settings.base_url) if one.settings.base_url else None)
            if problem:
                return fail(problem)
        return _run(resolved, demo=demo, resume="" if demo else getattr(ns, "resume", ""))


def with_shard(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """The settings with their shard decided: ``--shard``, else the environment (Indexed Job, GitLab CI)."""
    shard = shard_from(settings.shard, settings.shards, environ)
    if shard is None:
        return replace(settings, shard=None, shard_source="")
    return replace(settings, shard=shard.label, shard_source=shard.source)


def _run(resolved: list[Resolved], *, demo: bool, resume: str = "") -> int:
    """Log, warn, and run the targets: headless, or on the dashboard."""
    targets = [r.settings for r in resolved]
    if demo:
        targets = [  # a demo is no sync to report, and signs in with nothing
            replace(
                t,
                token=None,
                token_source="",
                token_cmd=(),
                github_app_id=None,
                github_app_key=None,
                post_sync=(),
                stats_file=None,
                metrics_file=None,
                ping_url=None,
            )
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
    for note in dict.fromkeys(n for r in resolved for n in r.notes):
        sys.stderr.write(f"gz-tui: {note}\n")
    for t in targets:
        logger.info("start %s %s at %s (token from %s)", t.provider, t.owner, t.api_base, t.token_source or "nowhere")
    first = targets[0]
    if first.json or first.dry_run or not sys.stdout.isatty():
        targets = [replace(t, headless=True) for t in targets]
    notes = tokenless_notes(targets)
    for hint in [] if demo else _ghorg_hints(targets, os.environ):
        sys.stderr.write(f"gz-tui: {hint}\n")
    for note, tokenless in notes.items():
        if not demo and not first.json:
            who = f" for {', '.join(tokenless)}" if len(targets) > 1 else ""
            sys.stderr.write(f"gz-tui: no token{who}: {note}\n")
    try:
        if targets[0].headless:
            from gz_tui.headless import run_headless

            return run_headless(targets, resume=resume)
        from gz_tui.pipeline.runner import make_pipeline
        from gz_tui.tui.app import make_app

        app = make_app(targets, make_pipeline, demo=demo)
        try:
            result = app.run()
        except KeyboardInterrupt:
            result = ExitCode.INTERRUPTED
        code = int(result) if isinstance(result, int) else ExitCode.INTERRUPTED
        _print_closing(app.closing_snapshot(), code, demo=demo, resume=resume)
        return code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED


def _print_closing(snap: Snapshot | None, code: int, *, demo: bool, resume: str) -> None:
    """The dashboard's alternate screen is gone: say on the terminal how the run ended and what to do next."""
    from gz_tui.closing import closing_lines

    if snap is None:
        return
    for line in closing_lines(snap, code, resume, demo=demo):
        sys.stdout.write(f"gz-tui: {line}\n")
    sys.stdout.flush()


def _remove_in_background(folder: Path, what: str) -> None:
    """Remove a folder the demo made, without holding the terminal: a demo's clones are gigabytes, and deleting them
    takes seconds that would look like a hang. Renamed aside at once (so nothing reads a half-deleted tree), then
    removed by a process of its own that outlives gz-tui; removed here if that cannot start."""
    if not folder.exists():
        return
    if what:
        sys.stderr.write(f"gz-tui: removing {what} in {folder} (pass --dest to keep them)\n")
    doomed = folder.with_name(f".{folder.name}.removing")
    try:
        folder.rename(doomed)
        subprocess.Popen(
            ["rm", "-rf", "--", str(doomed)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not killed with gz-tui's process group, nor by the terminal's hangup
        )
    except OSError:
        shutil.rmtree(doomed if doomed.exists() else folder, ignore_errors=True)


def tokenless_notes(targets: Sequence[Settings]) -> dict[str, list[str]]:
    """Per note a forge declares for runs without a token (GitHub's 60 requests an hour), the targets it is about:
    those with no token, on that forge (a note about a public instance only for runs against it)."""
    notes: dict[str, list[str]] = {}
    for t in targets:
        info = provider_info(t.provider)
        note = info.anonymous_note
        public = t.api_base == info.default_base_url.rstrip("/")
        if note and not t.token and t.github_app_id is None and (public or not info.anonymous_note_public_only):
            notes.setdefault(note, []).append(t.target)
    return notes


def _ghorg_hints(targets: Sequence[Settings], environ: Mapping[str, str]) -> list[str]:
    """``GHORG_GITHUB_TOKEN is set; gz-tui reads GH_TOKEN``, for each target that found no token while a variable
    ghorg reads its forge's token from is set (gz-tui never reads ghorg's: the README's table maps them)."""
    hints: list[str] = []
    for t in targets:
        if t.token or t.github_app_id is not None:
            continue
        info = provider_info(t.provider)
        for var in info.ghorg_token_vars:
            if environ.get(var) and info.token_env_vars:
                ours = info.token_env_vars[0]
                copy = f' (export {ours}="${var}")' if len(info.ghorg_token_vars) == 1 else ""  # Bitbucket's differ in form
                hints.append(f"{var} is set; gz-tui reads {ours}{copy}")
    return list(dict.fromkeys(hints))


def _start_demo(stack: ExitStack, flags: dict[str, Any], repos: int | None) -> dict[str, Any]:
    """Start the embedded forge in-process; clones land in a temporary folder unless --dest is given."""
    from gz_tui.forge_sim import DEMO_REPOS, ForgeSim, demo_scenario

    provider = flags.get("provider") or "github"
    root = Path(tempfile.mkdtemp(prefix="gz-tui-forge-"))
    stack.callback(_remove_in_background, root, "")
    owner = flags.get("owner") or "gz-demo"
    sim = ForgeSim(root=root, org=owner, repos=repos or DEMO_REPOS, scenario=demo_scenario())
    sim.start()
    stack.callback(sim.stop)
    # An empty token is "given": no environment variable or `gh` is consulted for the demo.
    flags = {**flags, "owner": owner, "provider": provider, "base_url": sim.api_url(provider), "token": ""}
    if not flags.get("dest"):
        dest = Path(tempfile.mkdtemp(prefix="gz-tui-demo-"))
        stack.callback(_remove_in_background, dest, "the demo's clones")
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
