"""What a front end (dashboard or headless reporter) may do with a running pipeline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from gz_tui.config import Settings
from gz_tui.pipeline.snapshot import Snapshot


class RunControl(Protocol):
    """One run of the pipeline. ``run()`` returns the exit code (``kinds.ExitCode``: 0, 1, 2 or 130)."""

    def snapshot(self) -> Snapshot: ...

    @property
    def paused(self) -> bool: ...

    def pause(self) -> None:
        """Close the gate: workers take nothing new, in-flight repos finish, the buffer fills."""

    def unpause(self) -> None:
        """Open the gate again."""

    def pause_target(self, name: str) -> None:
        """Pause one target of the run: its repos are not taken, so its buffer fills and its lister stops."""

    def unpause_target(self, name: str) -> None: ...

    def cancel(self) -> None:
        """Stop everything within 2 s: git killed, temp dirs removed, state saved."""

    def answer_prune(self, target: str, yes: bool) -> None:
        """Answer ``Snapshot.prune_question`` of target ``target``: move the clones to the attic, or leave them."""

    async def run(self) -> int: ...


PipelineFactory = Callable[[Sequence[Settings]], RunControl]
"""Builds a run of one or more targets from their settings; the dashboard calls it again (with
retry_failed=True on each) for `r`."""
