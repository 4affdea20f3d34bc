"""Overall progress: a bar of done over the goal, the counts behind it and the ETA."""

from __future__ import annotations

from rich.text import Text

from gz_tui.pipeline.snapshot import ListerState, RunState, Snapshot
from gz_tui.tui.format import Fit, countdown, percent, thousands
from gz_tui.tui.widgets.bar_panel import BarPanel, BarReading


def goal(snap: Snapshot) -> int:
    """How many repos the run is heading for: the forge's total, or more when the listing found more
    (GitHub's ``public_repos`` leaves out the private repos a token can see)."""
    counts = snap.counts
    return max(counts.total, counts.listed) if counts.total is not None else counts.listed


def goal_known(snap: Snapshot) -> bool:
    """Whether the run knows how many repos it heads for: the forge said, or the listing is complete."""
    return snap.counts.total is not None or snap.lister_state == ListerState.DONE


def eta_seconds(snap: Snapshot) -> float | None:
    """Remaining repos over the current speed (the last 30 s when the last 5 s were idle)."""
    remaining = goal(snap) - snap.counts.done
    if remaining <= 0:
        return None
    recent = snap.throughput[-31:-1]
    rate = snap.repos_per_second or (sum(recent) / len(recent) if recent else 0.0)
    eta = remaining / rate if rate > 0 else None
    rate_limit = snap.rate
    if snap.counts.listed < goal(snap) and rate_limit.wait_until is not None and rate_limit.wait_until > snap.now:
        # The rest is not even listed yet: nothing ends before the lister's wait does.
        eta = max(eta or 0.0, rate_limit.wait_until - snap.now)
    return eta


def progress_text(snap: Snapshot) -> Fit:
    """``1,234 / 2,104  58%  ETA 3:27`` (+ ``· 1,300 listed`` while the listing is behind the total)."""
    counts = snap.counts
    done = counts.done
    core = Text()
    extra = Text()
    if counts.total is not None:
        target = goal(snap)
        core.append(f"{thousands(done)} / {thousands(target)}", style="bold")
        core.append(f"  {percent(done / target if target else 1.0)}")
        if counts.listed < target:
            extra.append(f"  · {thousands(counts.listed)} listed")
    else:
        core.append(f"{thousands(done)} / {thousands(counts.listed)}", style="bold")
        if snap.lister_state == ListerState.DONE:
            core.append(f"  {percent(done / counts.listed if counts.listed else 1.0)}")
        else:
            core.append(" listed so far")
    if snap.run_state.terminal:
        pass
    elif snap.run_state == RunState.PAUSED:
        core.append("  ETA paused")
    else:
        eta = eta_seconds(snap)
        if eta is None:
            core.append("  ETA —")
        else:  # with more repos to come than the listing has shown, the ETA is only a lower bound
            core.append(f"  ETA {'' if goal_known(snap) else '≥ '}{countdown(eta)}")
        paused = sum(1 for target in snap.targets if target.paused)
        if paused:
            extra.append(f"  · {paused} paused target{'s' if paused != 1 else ''} not in the ETA")
    return Fit(core + extra, core)


class ProgressPanel(BarPanel):
    """``Progress ━━━━━━━━━━━━━━━━━━━━━━━━  1,234 / 2,104  58%  ETA 3:27``."""

    LABEL = "Progress"

    def read(self, snap: Snapshot) -> BarReading:
        done = snap.counts.done
        total = max(goal(snap), done, 1) if goal_known(snap) or snap.run_state.terminal else None
        return BarReading(progress=done, total=total, text=progress_text(snap))
