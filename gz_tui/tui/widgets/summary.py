"""The end-of-run summary that replaces the worker table once the run is over."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from gz_tui.format import binary_size
from gz_tui.pipeline.snapshot import RunState, Snapshot
from gz_tui.tui.format import clock_duration, common_parent, forge_text, home_path, repo_rate, thousands

MIN_SECONDS_FOR_A_RATE = 1.0
"""A run shorter than this has no meaningful average: 1 repo in 0.04 s is not "25 repos/s"."""


def headline(snap: Snapshot, exit_code: int | None) -> Text:
    """``Finished in 00:41:07 — 13 repos failed`` and friends."""
    counts = snap.counts
    elapsed = clock_duration(snap.elapsed)
    if snap.run_state == RunState.CANCELLED:
        goal = max(counts.total or 0, counts.listed)
        return Text.assemble(
            (" CANCELLED ", "bold black on yellow"),
            f"  after {elapsed} — {thousands(counts.done)} of {thousands(goal)} repos done; the rest is saved for later",
        )
    if snap.run_state == RunState.FAILED:
        return Text.assemble((" FAILED ", "bold white on red"), f"  after {elapsed}")
    if counts.failed:
        return Text.assemble(
            (" FINISHED ", "bold white on red"),
            f"  in {elapsed} — ",
            (f"{thousands(counts.failed)} {'repo' if counts.failed == 1 else 'repos'} failed", "bold red"),
        )
    return Text.assemble((" FINISHED ", "bold black on green"), f"  in {elapsed} — every repo is in place")


def summary_renderable(snap: Snapshot, exit_code: int | None, hint: Text | None = None) -> Group:
    counts = snap.counts
    left = Table.grid(padding=(0, 2))
    left.add_column(style="bold")
    left.add_column(justify="right")
    left.add_row("cloned", thousands(counts.cloned))
    left.add_row("updated", thousands(counts.updated))
    left.add_row("unchanged", thousands(counts.unchanged))
    left.add_row("skipped", thousands(counts.skipped))
    left.add_row(
        Text("failed", style="bold red" if counts.failed else "bold"),
        Text(thousands(counts.failed), style="bold red" if counts.failed else ""),
    )
    if counts.resumed_done:
        left.add_row("done earlier", thousands(counts.resumed_done))
    if counts.gone:
        left.add_row(Text("not on forge", style="bold yellow"), Text(f"{thousands(counts.gone - counts.moved)} (kept)", style="yellow"))
    if counts.moved:
        left.add_row("to the attic", thousands(counts.moved))
    if counts.wikis or counts.no_wiki:
        left.add_row("wikis", thousands(counts.wikis) + (f" ({thousands(counts.no_wiki)} empty)" if counts.no_wiki else ""))
    if "lfs" in snap.kinds:
        left.add_row("LFS", binary_size(counts.lfs_bytes))

    right = Table.grid(padding=(0, 2))
    right.add_column(style="bold", no_wrap=True)
    right.add_column(overflow="fold")
    worked = counts.done - counts.resumed_done
    right.add_row("elapsed", clock_duration(snap.elapsed))
    if snap.elapsed >= MIN_SECONDS_FOR_A_RATE and worked:
        right.add_row("average", repo_rate(worked / snap.elapsed))
    listed = thousands(counts.listed)
    if counts.total is not None and counts.listed < counts.total:
        listed += f" of {thousands(counts.total)}"
    right.add_row("listed", listed)
    if snap.kinds:
        right.add_row("copies", " + ".join(snap.kinds))
    if len(snap.targets) > 1:
        # Each target has its own destination and state: the targets panel shows them (t, then ↑↓).
        shared = common_parent(t.dest for t in snap.targets)
        where = Text.assemble(forge_text(home_path(shared)), " ") if shared else Text()
        where.append(f"({len(snap.targets)} targets, each with its own folder and state)")
        right.add_row("clones in", where)
    else:
        right.add_row("clones in", forge_text(home_path(snap.dest)))
        if snap.state_path:
            right.add_row("state in", forge_text(home_path(snap.state_path)))
    if exit_code is not None:
        right.add_row("exit code", str(exit_code))

    body = Table.grid(padding=(0, 6))
    body.add_column(no_wrap=True)
    body.add_column(ratio=1)
    body.add_row(left, right)

    parts: list[object] = [headline(snap, exit_code), Text("")]
    if snap.message:
        parts += [forge_text(snap.message, "bold"), Text("")]
    parts.append(body)
    if hint is not None:
        parts += [Text(""), hint]
    return Group(*parts)  # type: ignore[arg-type]


class RunSummary(Static):
    """What happened, where it went, and what the user can do next; stays until the user quits."""

    DEFAULT_CSS = """
    RunSummary {
        height: 1fr;
        padding: 0 1;
    }
    """

    def update_snapshot(self, snap: Snapshot, *, exit_code: int | None = None, hint: Text | None = None) -> None:
        self.update(summary_renderable(snap, exit_code, hint))
