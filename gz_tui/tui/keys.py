"""Keys are declared once, as the ``Binding`` entries of a class's ``BINDINGS``; the rest is read from them.

Every binding has a ``tooltip`` that says what its key does: the footer shows it on hover and the command palette
as the command's help. A class may add ``KEY_HELP``, action → the longer text the help screen shows instead of
the tooltip. Bindings that share a key (``p`` pauses, ``p`` unpauses) map to the same text, which the help screen
shows once; the help screen's row for a key joins the texts of every source that binds it (the dashboard's ``p``
and the targets panel's ``p``), in the order of the sources.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType

KEY_NAMES = {"question_mark": "?", "escape": "Escape", "enter": "Enter"}
"""How the help screen writes the keys whose Textual name is not what is on the keycap."""


def key_name(key: str) -> str:
    """A binding's key as the help screen writes it: ``question_mark`` → ``?``, ``escape,q`` → ``Escape, q``."""
    return ", ".join(KEY_NAMES.get(name.strip(), name.strip()) for name in key.split(","))


def declared(bindings: Iterable[BindingType]) -> list[Binding]:
    """The ``Binding`` entries of a ``BINDINGS`` list, in order (gz-tui writes no other kind)."""
    return [binding for binding in bindings if isinstance(binding, Binding)]


@dataclass(frozen=True, slots=True)
class KeySource:
    """Bindings the help screen lists, with the longer texts their class gives some of them."""

    bindings: list[Binding]
    key_help: Mapping[str, str]
    """Action → what the help screen says of its key (the tooltip otherwise)."""

    @classmethod
    def of(cls, bindings: Iterable[BindingType], key_help: Mapping[str, str] | None = None, *, shown_only: bool = False) -> KeySource:
        """``shown_only``: just the bindings the footer shows (a panel's cursor keys are explained elsewhere)."""
        chosen = [binding for binding in declared(bindings) if binding.show or not shown_only]
        return cls(chosen, key_help or {})

    def text(self, binding: Binding) -> str:
        """The longer text, or the tooltip as a sentence (a tooltip is a phrase: the footer's and the palette's)."""
        longer = self.key_help.get(binding.action)
        if longer is not None:
            return longer
        return binding.tooltip if binding.tooltip.endswith((".", "?", "!")) else f"{binding.tooltip}."


@dataclass(frozen=True, slots=True)
class KeyHelp:
    """One row of the help screen's key table."""

    key: str
    text: str


def key_table(*sources: KeySource) -> list[KeyHelp]:
    """One row per key, in the order keys are first declared; a key's text is its bindings' texts, each once."""
    texts: dict[str, list[str]] = {}
    for source in sources:
        for binding in source.bindings:
            said = texts.setdefault(key_name(binding.key), [])
            text = source.text(binding)
            if text not in said:
                said.append(text)
    return [KeyHelp(key, " ".join(said)) for key, said in texts.items()]
