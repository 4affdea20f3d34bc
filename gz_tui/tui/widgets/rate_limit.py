"""The forge API: quota left and when it resets, or the countdown of a rate-limit wait."""

from __future__ import annotations

from rich.text import Text

from gz_tui.format import WAIT_WORDS
from gz_tui.pipeline.snapshot import Snapshot
from gz_tui.tui.format import Fit, countdown, forge_text, target_label, thousands, wall_time
from gz_tui.tui.widgets.bar_panel import BarPanel, BarReading


def is_waiting(snap: Snapshot) -> bool:
    rate = snap.rate
    return rate.wait_kind is not None and rate.wait_until is not None and rate.wait_until > snap.now


def rate_limit_text(snap: Snapshot) -> Fit:
    """``4,211 / 5,000 left · resets in 41:09 · 22 requests · 304s: 0``, or a wait countdown:
    ``WAITING primary limit: waiting 41:09 (resets 13:52:10)`` / ``WAITING secondary limit: retry in 0:58``.
    """
    rate = snap.rate
    now = snap.now
    core = Text()
    whose = _whose_quota(snap)
    if snap.outage is not None:
        outage = snap.outage
        core.append("UNREACHABLE", style="bold white on red")
        core.append(" ")
        core.append_text(forge_text(outage.where, "bold"))
        retry = f": retrying in {countdown(outage.retry_at - now)}" if outage.retry_at and outage.retry_at > now else ": probing"
        core.append(retry, style="bold")
        short = core.copy()
        core.append(f" · gives up at {wall_time(outage.stops_at)}, repos stay pending")
        return Fit(core, short)
    if is_waiting(snap):
        word = WAIT_WORDS.get(rate.wait_kind or "", rate.wait_kind or "waiting")
        left = countdown((rate.wait_until or now) - now)
        core.append("WAITING", style="bold black on yellow")
        core.append(" ")
        if rate.wait_kind == "primary":
            core.append(f"{word}: waiting {left}", style="bold")
            reset = Text(f" (resets {wall_time(rate.wait_until)})")
        else:
            core.append(f"{word}: retry in {left}", style="bold")
            reset = Text()
        short = core.copy()
        core.append_text(reset)
    else:
        if rate.limit is not None and rate.remaining is not None:
            core.append(f"{thousands(rate.remaining)} / {thousands(rate.limit)} left", style="bold")
        else:
            core.append("no limit reported")
        short = core.copy()
        if rate.reset_at is not None and rate.reset_at > now and rate.limit is not None:
            core.append(f" · resets in {countdown(rate.reset_at - now)}")
    noun = "request" if rate.requests == 1 else "requests"
    counters = Text(f" · {thousands(rate.requests)} {noun} · 304s: {thousands(rate.not_modified)}")
    git = Text()
    if rate.git_throttled_until is not None and rate.git_throttled_until > now:
        git.append(" · ")
        git.append("git throttled", style="bold yellow")
        git.append(f" for {countdown(rate.git_throttled_until - now)}")
    variants = [core + counters + git, core + git, core, short + git, short]
    named = [who + variant for who in whose for variant in variants]
    return Fit(*named, short)


def _whose_quota(snap: Snapshot) -> tuple[Text, ...]:
    """``github/acme: `` then ``github: `` when several targets share the row: each forge has its own quota,
    and the row shows one. Nothing in a run of one target (the header names it)."""
    named = [t for t in snap.targets if t.name == snap.rate.quota_of]
    if len(snap.targets) < 2 or not named:
        return (Text(),)
    target = named[0]
    return forge_text(target_label(target.forge, target.owner) + ": ", "bold"), forge_text(target.forge + ": ", "bold")


class RateLimitPanel(BarPanel):
    """``API      ━━━━━━━━━━━━━━━  4,211 / 5,000 left · resets in 41:09 · 22 requests · 304s: 0``."""

    LABEL = "API"
    ALARM_CLASS = "-waiting"

    def read(self, snap: Snapshot) -> BarReading:
        rate = snap.rate
        text = rate_limit_text(snap)
        alarm = is_waiting(snap) or snap.outage is not None
        if rate.limit and rate.remaining is not None:
            left = max(0, min(rate.remaining, rate.limit))
            return BarReading(progress=left, total=rate.limit, text=text, alarm=alarm)
        return BarReading(progress=0, total=1, text=text, alarm=alarm)
