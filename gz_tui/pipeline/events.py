"""The JSON event stream, declared once: one frozen dataclass per event.

These are a public interface (``gz-tui --json`` writes one per line, cron jobs and dashboards parse them).
The README's event table is generated from these definitions (``python -m gz_tui.pipeline.events``) and a
test checks that the README holds exactly that table, so the two cannot drift.

Every event serialises as ``{"event": NAME, "time": EPOCH_SECONDS, "target": NAME, **fields}`` — ``target``
names the target it is about (``null`` for what concerns a whole run of several targets); a field declared
``optional`` is left out while it is ``None``. In-process, a sink (``Pipeline(events=sink)``) receives each event as
an :class:`Emitted` record (the event object, its time and target); ``Emitted.as_dict()`` is that JSON object.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from gz_tui.kinds import CloneKind, ErrorClass, PlannedAction, RepoStatus, WaitKind


def doc(text: str, *, optional: bool = False, default: Any = dataclasses.MISSING) -> Any:
    """A field with its README description; ``optional`` fields are omitted from JSON while None."""
    metadata = {"doc": text, "optional": optional}
    if optional:
        return field(default=None, metadata=metadata)
    if default is not dataclasses.MISSING:
        return field(default=default, metadata=metadata)
    return field(metadata=metadata)


@dataclass(frozen=True, slots=True)
class Event:
    name: ClassVar[str]
    about: ClassVar[str] = ""
    """What the event means, for the README."""

    def as_dict(self, time: float, target: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.name, "time": round(time, 3), "target": target}
        for name, optional in _layout(type(self)):
            value = getattr(self, name)
            if value is None and optional:
                continue
            data[name] = str(value) if isinstance(value, str) else value
        return data


class Emitted(NamedTuple):
    """One event as it happened: what a sink receives (``Pipeline(events=sink)``).

    A named tuple, not a frozen dataclass: one is built per repo whenever someone listens, and a tuple is built in
    half the time.
    """

    event: Event
    time: float
    """Epoch seconds (the run's clock) when it was emitted."""
    target: str | None = None
    """The target it is about; None for what concerns a whole run of several targets."""

    def as_dict(self) -> dict[str, Any]:
        """The JSON object ``gz-tui --json`` writes for it."""
        return self.event.as_dict(self.time, self.target)


_LAYOUTS: dict[type, tuple[tuple[str, bool], ...]] = {}


def _layout(kind: type[Event]) -> tuple[tuple[str, bool], ...]:
    """An event class's fields as (name, optional), worked out once per class (events are built per repo)."""
    layout = _LAYOUTS.get(kind)
    if layout is None:
        layout = _LAYOUTS[kind] = tuple((item.name, bool(item.metadata.get("optional"))) for item in dataclasses.fields(kind))
    return layout


@dataclass(frozen=True, slots=True)
class Resume(Event):
    name = "resume"
    about = "an interrupted run is being continued from its checkpoint"
    run: int = doc("the run's number in the state")
    listing_done: bool = doc("whether its listing had finished (then only its queue is left)")


@dataclass(frozen=True, slots=True)
class ServerIdentified(Event):
    name = "server"
    about = "the forge said what it is, before the listing (Gitea or Forgejo, served by the gitea provider)"
    server: str = doc("its name and version: `Forgejo 9.0.0`, `Gitea 1.23.0`")
    page_size: int | None = doc("the repos a listing page holds: the server's own cap (`max_response_items`)", optional=True)


@dataclass(frozen=True, slots=True)
class PageListed(Event):
    name = "page"
    about = "a listing page was journaled"
    number: int = doc("page number in this run")
    repos: int = doc("repos new in this run")
    cached: bool = doc("answered by a 304 (no quota spent; the stored page is reused)")


@dataclass(frozen=True, slots=True)
class RepoDone(Event):
    name = "repo_done"
    about = "a repo is up to date on disk"
    repo: str = doc("`owner/name` or the GitLab path")
    outcome: RepoStatus = doc("`cloned`, `updated`, `unchanged` or `skipped`")
    commit: str | None = doc("HEAD after the sync, when known")
    bytes: int = doc("bytes git received (with `--lfs`, its Git LFS objects' too)")
    kind: CloneKind = doc(
        "`checkout`, `shallow` (`--depth`), `partial` (`--filter`), `mirror` (`--mirror`) or `wiki` (`--wikis`: `repo` ends in `.wiki`)",
        default=CloneKind.CHECKOUT,
    )
    message: str | None = doc("why it was skipped (`no wiki`: the wiki is enabled but empty)", optional=True)


@dataclass(frozen=True, slots=True)
class RepoFailed(Event):
    name = "repo_failed"
    about = "a repo gave up (recorded in the state; the run goes on)"
    repo: str = doc("`owner/name` or the GitLab path")
    error_class: ErrorClass = doc(
        "`auth`, `not_found`, `network`, `throttled`, `disk`, `unsafe`, `conflict`, `refused`, `dirty`, `no_branch` "
        "(`--branch` names a branch the repo lacks) or `other`"
    )
    message: str = doc("git's or gz-tui's one-line reason")
    attempts: int = doc("attempts made")


@dataclass(frozen=True, slots=True)
class RepoRetry(Event):
    name = "repo_retry"
    about = "a transient failure; the repo is tried again after `delay` seconds"
    repo: str = doc("`owner/name` or the GitLab path")
    error_class: ErrorClass = doc("`network` or `throttled`")
    message: str = doc("the failure")
    attempt: int = doc("the attempt that failed")
    delay: float = doc("seconds until the next attempt")


@dataclass(frozen=True, slots=True)
class RepoSkipped(Event):
    name = "repo_skipped"
    about = "a filter left the repo out"
    repo: str = doc("`owner/name` or the GitLab path")
    reason: str = doc("which filter")


@dataclass(frozen=True, slots=True)
class RepoPlanned(Event):
    name = "repo_planned"
    about = "dry run only: what a real run would do"
    repo: str = doc("`owner/name` or the GitLab path")
    action: PlannedAction = doc("`clone`, `update`, `unchanged` (its change signal vouches for the clone) or `refuse` (an unsafe name)")
    reason: str | None = doc(
        "why `update` or `unchanged` (`pushed since the last sync`, `not pushed since the last sync`, `no change signal: git ls-remote decides`…)",
        optional=True,
    )


@dataclass(frozen=True, slots=True)
class SignalMissed(Event):
    name = "signal_missed"
    about = "`git ls-remote` found a repo moved although the forge's change signal had not; it is fetched"
    repo: str = doc("`owner/name` or the GitLab path")
    signal: str = doc("the change signal the listing gave, unchanged since the last sync")
    refs: int = doc("how many refs differ from what the clone holds")
    reason: str = doc("why it was checked: `uncertain` (synced within the signal's resolution) or `verify` (`--verify`)")


@dataclass(frozen=True, slots=True)
class RepoMoved(Event):
    name = "repo_moved"
    about = "`--prune`: a clone of a repo the forge no longer lists was moved to the attic (never deleted)"
    repo: str = doc("its path below the destination")
    attic: str = doc("where it is now: `DEST/.gz-tui/attic/DATE/PATH`")


@dataclass(frozen=True, slots=True)
class RepoKept(Event):
    name = "repo_kept"
    about = "`--prune`: a clone the forge no longer lists stays in place: it holds local work, or the forge says the repo still exists"
    repo: str = doc("its path below the destination")
    reason: str = doc(
        "each kind of local work found, comma-separated: `uncommitted changes` (untracked files included), `stashed changes`, "
        "`commits on no remote branch`, `tags on no remote branch`, `local branch NAME` or `linked worktree`; or what the "
        "forge answered when asked about it: `still on the forge (the listing missed it)`, `renamed on the forge to NAME`, "
        "`moved on the forge to NAME`, `the forge could not confirm it is gone: WHY`"
    )


@dataclass(frozen=True, slots=True)
class RepoRenamed(Event):
    name = "repo_renamed"
    about = "a repo was renamed upstream (same forge id): its clone (and wiki) moved to the new path, nothing fetched again"
    old: str = doc("its former path below the destination")
    new: str = doc("its path now")


@dataclass(frozen=True, slots=True)
class PruneRefused(Event):
    name = "prune_refused"
    about = "`--prune` moved nothing more, and the run says why (a link on the way also makes it exit 1)"
    reason: str = doc(
        "`limit` (more than `--prune-limit` percent of the clones are no longer listed), `link` (a symbolic link on a "
        "path it would move through), `incomplete` (the listing yielded fewer repos than the forge says the owner has) "
        "or `visibility` (the listing holds no private repo, though earlier ones did)"
    )
    message: str = doc("the one line naming what to fix")


@dataclass(frozen=True, slots=True)
class RateLimitWait(Event):
    name = "rate_limit_wait"
    about = "the lister sends no API request until `until`; git transfers go on"
    kind: WaitKind = doc("`primary`, `secondary`, `throttled`, `backoff` (server errors) or `pacing`")
    seconds: float = doc("length of the wait")
    until: float = doc("epoch seconds when requests resume")


@dataclass(frozen=True, slots=True)
class ForgeUnreachable(Event):
    name = "forge_unreachable"
    about = "git transfers keep failing to connect: workers pause (no repo spends an attempt) while the forge is probed"
    host: str = doc("`host:port` probed")
    stops_at: float = doc("epoch seconds when the run stops if the forge is still down (repos stay pending)")


@dataclass(frozen=True, slots=True)
class ForgeReachable(Event):
    name = "forge_reachable"
    about = "the forge answers again; workers carry on"
    host: str = doc("`host:port`")
    seconds: float = doc("how long it was unreachable")


@dataclass(frozen=True, slots=True)
class ListingFailed(Event):
    name = "listing_failed"
    about = "the listing stopped (state saved; queued repos are still synced)"
    message: str = doc("why, and what to do")
    exit_code: int = doc("the exit code it implies")


@dataclass(frozen=True, slots=True)
class Progress(Event):
    name = "progress"
    about = "every 2 s in headless mode"
    done: int = doc("repos finished (any outcome, earlier attempts of this run included)")
    listed: int = doc("repos listed so far")
    total: int | None = doc("the forge's own count, when it tells one")
    failed: int = doc("repos failed")
    repos_per_second: float = doc("recent throughput")
    bytes_per_second: float = doc("recent git transfer rate")
    buffer_used: int = doc("listed repos waiting for a worker")
    buffer_capacity: int = doc("`--buffer`")
    api_requests: int = doc("API requests so far")
    state: str = doc("`starting`, `listing`, `running`, `paused`, `waiting`, `finished`, `cancelled` or `failed`")


@dataclass(frozen=True, slots=True)
class Paused(Event):
    name = "paused"
    about = "workers finish their current repo and take nothing new"


@dataclass(frozen=True, slots=True)
class Unpaused(Event):
    name = "unpaused"
    about = "workers take repos again"


@dataclass(frozen=True, slots=True)
class Notice(Event):
    name = "notice"
    about = "worth knowing, not an error (e.g. a user owner listed without their own token: public repos only)"
    message: str = doc("the notice")


@dataclass(frozen=True, slots=True)
class RunError(Event):
    name = "error"
    about = "the run could not start, or had to stop (e.g. its state could not be written: a full disk)"
    message: str = doc("why, and what to do")


@dataclass(frozen=True, slots=True)
class Summary(Event):
    name = "summary"
    about = "the last event of every run (only a `notice` that a `--ping-url` ping failed may follow it)"
    exit_code: int = doc("the process exit code")
    listed: int = doc("repos listed in this run")
    cloned: int = doc("new clones")
    updated: int = doc("clones that received commits")
    unchanged: int = doc("clones already up to date (not fetched when the forge's change signal had not moved)")
    skipped: int = doc("left out by a filter or `--update skip`")
    failed: int = doc("repos that failed (those of an interrupted earlier part of this run included)")
    resumed_done: int = doc("repos an interrupted earlier part of this run finished (not redone)")
    gone: int = doc("clones the forge no longer lists (kept on disk unless `--prune` moved them)")
    moved: int = doc("of those, clones `--prune` moved to the attic")
    kept: int = doc("of those, clones `--prune` left in place: local work, or the forge says the repo still exists")
    wikis: int = doc("wikis synced (`--wikis`; not counted in the repo counts)")
    checked: int = doc("clones checked with `git ls-remote` (no API quota): uncertain or no change signal, or `--verify`")
    missed: int = doc("of those, clones the forge had moved although its change signal had not (fetched)")
    seconds: float = doc("wall time")
    api_requests: int = doc("API requests")
    not_modified: int = doc("of which answered 304")
    state: str = doc("the state database")
    server: str | None = doc("what the forge said it is (`Forgejo 9.0.0`, `Gitea 1.23.0`), where it says", optional=True)
    renamed: int = doc("clones moved to the new path of a repo renamed upstream (same forge id)", default=0)
    would_clone: int | None = doc("dry run: repos a run would clone", optional=True)
    would_update: int | None = doc(
        "dry run: clones a run would update (the signal moved, or is uncertain: `git ls-remote` decides)", optional=True
    )
    would_leave: int | None = doc("dry run: clones a run would leave as they are (the change signal vouches for them)", optional=True)
    would_refuse: int | None = doc("dry run: repos a run would refuse (unsafe names)", optional=True)
    message: str | None = doc("why the run stopped, when it did", optional=True)
    unmatched: str | None = doc("the filters, when they left out every repo a complete listing held (e.g. `--topic infra`)", optional=True)
    expected: int | None = doc(
        "how many repos the forge says the owner has, when it says (a complete listing with fewer `listed` missed some)",
        optional=True,
    )
    prune_refused: str | None = doc(
        "a `--prune` that moved nothing, or stopped: the `prune_refused` event's reason (`limit`, `incomplete`, "
        "`visibility`, `link`); absent when no prune was asked or it went through",
        optional=True,
    )
    lfs_bytes: int | None = doc("`--lfs`: bytes of Git LFS objects fetched (0 when nothing was missing)", optional=True)
    shard: int | None = doc("a sharded run: its K (`--shard K/N`)", optional=True)
    shards: int | None = doc("a sharded run: N", optional=True)


@dataclass(frozen=True, slots=True)
class Total(Event):
    name = "total"
    about = "a run of several targets only: the last event, after each target's `summary` (only a `notice` that a `--ping-url` ping failed may follow it)"
    exit_code: int = doc("the process exit code: 130 when interrupted, else the worst of the targets' (2 > 1 > 0)")
    targets: int = doc("how many targets ran")
    listed: int = doc("repos listed, all targets")
    cloned: int = doc("new clones")
    updated: int = doc("clones that received commits")
    unchanged: int = doc("clones already up to date")
    skipped: int = doc("left out by a filter or `--update skip`")
    failed: int = doc("repos that failed")
    seconds: float = doc("wall time")
    api_requests: int = doc("API requests")


EVENTS: tuple[type[Event], ...] = (
    Resume,
    ServerIdentified,
    PageListed,
    RepoDone,
    RepoFailed,
    RepoRetry,
    RepoSkipped,
    RepoPlanned,
    SignalMissed,
    RepoMoved,
    RepoKept,
    RepoRenamed,
    PruneRefused,
    RateLimitWait,
    ForgeUnreachable,
    ForgeReachable,
    ListingFailed,
    Progress,
    Paused,
    Unpaused,
    Notice,
    RunError,
    Summary,
    Total,
)
LOGGED = frozenset(
    {
        Resume,
        ServerIdentified,
        Notice,
        RepoFailed,
        SignalMissed,
        RepoMoved,
        RepoKept,
        RepoRenamed,
        PruneRefused,
        RateLimitWait,
        ForgeUnreachable,
        ForgeReachable,
        ListingFailed,
        RunError,
        Summary,
        Total,
        Paused,
        Unpaused,
    }
)
"""Events also written to the log file (the others are too frequent to be worth it)."""


def markdown_table() -> str:
    """The README's event table, generated from the definitions above."""
    lines = ["| event | meaning | fields |", "|---|---|---|"]
    for event in EVENTS:
        parts = []
        for item in dataclasses.fields(event):
            optional = " (optional)" if item.metadata.get("optional") else ""
            parts.append(f"`{item.name}`{optional}: {item.metadata['doc']}")
        lines.append(f"| `{event.name}` | {event.about} | {'; '.join(parts) or '—'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
