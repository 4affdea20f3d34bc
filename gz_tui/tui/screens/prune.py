"""The question before ``--prune`` moves clones to the attic: how many, which, and where they go."""

from __future__ import annotations

from gz_tui.pipeline.snapshot import PruneQuestion
from gz_tui.tui.screens.confirm import ConfirmScreen
from gz_tui.untrusted import inert


def prune_detail(question: PruneQuestion) -> str:
    """The modal's body: plain text (the screen shows it without markup); names from the forge made inert."""
    names = ", ".join(inert(name) for name in question.names)
    more = question.count - len(question.names)
    if more > 0:
        names += f" and {more:,} more"
    kept = (
        f" {question.kept:,} other clone{'s' if question.kept != 1 else ''} with local work stay{'' if question.kept != 1 else 's'} in place."
        if question.kept
        else ""
    )
    return (
        f"{question.count:,} of {question.total:,} clones belong to repos the forge no longer lists: {names}. "
        f"They move to {inert(question.attic)} — nothing is deleted.{kept} "
        "Leave them (n) keeps every one in place, and the next run asks again."
    )


class PruneScreen(ConfirmScreen):
    """``Move N clones to the attic?``: yes moves them, no (the default) leaves them in place."""

    def __init__(self, question: PruneQuestion) -> None:
        plural = "s" if question.count != 1 else ""
        super().__init__(
            f"Move {question.count:,} clone{plural} to the attic?",
            prune_detail(question),
            yes="Move",
            no="Leave them",
            kind="prune",
        )
        self.prune = question
