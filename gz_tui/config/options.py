"""The command line's options, generated from the settings' declarations, and the parser they are added to.

Each option of a setting comes from its :class:`~gz_tui.config.settings.Rule`: the flag, the help line and the
metavar are declared there, the argparse ``type``, ``action`` and ``choices`` by its kind
(:mod:`gz_tui.config.values`). Every option's value is ``None`` when not given (``flags`` to resolution hold only
what the user typed), and its ``dest`` is the setting's name.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any, NoReturn

from gz_tui.config.settings import RULES


class UsageError(Exception):
    """A command line argparse refused: ``message`` is argparse's (one line), ``prog`` the (sub)command's name."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.message = message
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` where it would print the usage and exit 2, so that the front end
    says it in one line. Subcommands made with ``add_subparsers`` are of this class too (argparse's default).

    Abbreviated long options are refused (``allow_abbrev=False``).

    (``exit_on_error=False`` is not enough on Python 3.11: an unrecognized or ambiguous option and a missing
    subcommand still print and exit.)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No abbreviations: `--worker 4` taken as `--workers 4` would change meaning the day a `--worker…` flag is added.
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog)


def setting_options(names: Iterable[str] | None = None) -> list[str]:
    """The settings that have an option, in declaration order (``--help``'s): all of them, or those of ``names``."""
    chosen = RULES if names is None else {name: RULES[name] for name in names}
    return [name for name, rule in chosen.items() if rule.flag]


def add_setting_options(parser: argparse.ArgumentParser, names: Iterable[str] | None = None) -> None:
    """Add the option of every setting that has one (or of the settings ``names``), as declared."""
    for name in setting_options(names):
        rule = RULES[name]
        options: dict[str, Any] = {"dest": name, "action": rule.kind.action, "default": None, "help": rule.help}
        if rule.kind.action == "store_true":
            parser.add_argument(rule.flag, **options)
            continue
        if rule.kind.arg_type is not None:
            options["type"] = rule.kind.arg_type
        if rule.kind.choices is not None:
            options["choices"] = rule.kind.choices
        if rule.metavar is not None:
            options["metavar"] = rule.metavar
        parser.add_argument(rule.flag, **options)
