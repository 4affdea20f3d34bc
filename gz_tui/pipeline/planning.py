"""What a dry run says a real run would do with each selected repo, and why: as the workers decide it, without
asking git (no ``ls-remote``, no fetch) and without resolving paths (a dry run of 100,000 repos stats each once)."""

from __future__ import annotations

import os

from gz_tui.kinds import PlannedAction, UpdateMode
from gz_tui.pipeline.context import RunContext
from gz_tui.pipeline.paths import UnsafeRepo, copy_path, safe_relative_text
from gz_tui.pipeline.refs import CheckReason, check_reason, signal_moved
from gz_tui.pipeline.state import StoredRepo

PLANNED_CHECKS = {
    CheckReason.UNCERTAIN: "synced within its change signal's resolution",
    CheckReason.NO_SIGNAL: "no change signal",
    CheckReason.VERIFY: "--verify",
}
"""What a dry run says of a clone a real run would check with ``git ls-remote`` first."""


def planned_action(item: StoredRepo, ctx: RunContext, signal_window: float) -> tuple[PlannedAction, str | None]:
    """The action for ``item`` and its reason. ``signal_window``: the provider's ``ProviderInfo.signal_window``."""
    settings, repo = ctx.settings, item.repo
    try:  # validated segments, no resolve()
        path = safe_relative_text(copy_path(repo.rel_path, mirror=settings.mirror), longest_name=ctx.longest_name)
        exists = os.path.exists(os.path.join(ctx.dest, path))
    except (UnsafeRepo, OSError):
        return PlannedAction.REFUSE, None
    if not exists:
        return PlannedAction.CLONE, None
    if settings.update == UpdateMode.SKIP:
        return PlannedAction.UNCHANGED, "--update skip"
    reason = check_reason(item, window=signal_window, verify=settings.verify)
    if reason is not None:
        return PlannedAction.UPDATE, f"{PLANNED_CHECKS[reason]}: git ls-remote decides"
    if not signal_moved(item):
        return PlannedAction.UNCHANGED, "not pushed since the last sync"
    if item.synced_pushed_at is None:
        return PlannedAction.UPDATE, "not synced by gz-tui yet" if repo.pushed_at else "no change signal"
    return PlannedAction.UPDATE, "pushed since the last sync"
