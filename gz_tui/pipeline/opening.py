"""Opening a target: preflight, locks, the state, the kind of clone, then a new pass or a resume.

What it decides is a frozen :class:`TargetPlan`; what it holds (the state and the locks) it releases in
:meth:`Opening.close`, whether the opening succeeded or not, and a destination it made for nothing (a typo'd
owner) goes with them.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio

from gz_tui.clock import Clock
from gz_tui.config import Settings
from gz_tui.kinds import PERMANENT_ERRORS, Listing, RepoStatus
from gz_tui.layout import STATE_DIR, WorkDir, state_lock_path
from gz_tui.pipeline.context import Events
from gz_tui.pipeline.events import Resume
from gz_tui.pipeline.git import MIN_GIT_VERSION, git_version
from gz_tui.pipeline.lfs import LFS_INSTALL_HINT, lfs_available
from gz_tui.pipeline.lock import LockedError, ProcessLock, lock_shard_count
from gz_tui.pipeline.paths import is_bare
from gz_tui.pipeline.prune import reconcile_attic
from gz_tui.pipeline.state import StateStore
from gz_tui.pipeline.stats import TargetStats
from gz_tui.urls import origin_of


class SetupError(Exception):
    """The target cannot start; one line for the user, exit 2."""


@dataclass(frozen=True, slots=True)
class TargetPlan:
    """What opening decided: the state to journal in, the run of it, and where the listing starts."""

    store: StateStore
    run_id: int
    cursor: str | None
    """The page a resumed listing continues from (None: the first)."""
    listing_done: bool
    """The resumed run had listed everything: only its unfinished repos are left."""
    retry_failed: bool
    """``--retry-failed`` on a resume: the run's failed repos are queued again first."""
    moved_from: str | None
    """The API base the last run used, when the forge has moved since (the listing then starts over)."""
    locks: tuple[ProcessLock, ...]
    """Held until :meth:`Opening.close`: the destination's (and a shard's slot), then the state's."""


def kind_on_disk(dest: Path, limit: int = 2000) -> str | None:
    """``mirror`` or ``checkout``: the kind of the first clone found at the top of ``dest``, if any."""
    try:
        entries = os.scandir(dest)
    except OSError:
        return None
    with entries:
        for number, entry in enumerate(entries):
            if number >= limit:
                break
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            folder = Path(entry.path)
            if (folder / ".git").exists():
                return "checkout"
            if entry.name.endswith(".git") and is_bare(folder):
                return "mirror"
    return None


def run_options(settings: Settings) -> dict[str, object]:
    """What a run records of its settings in the state (``gz-tui status`` says what it covered)."""
    s = settings
    options: dict[str, object] = {
        "workers": s.workers,
        "buffer": s.buffer,
        "protocol": s.protocol,
        "update": s.update,
        "depth": s.depth,
        "mirror": s.mirror,
        "wikis": s.wikis,
        "lfs": s.lfs,
        "filter": s.filter,
        "single_branch": s.single_branch,
        "branch": s.branch,
        "include": s.include,
        "exclude": s.exclude,
        "skip_archived": s.skip_archived,
        "skip_forks": s.skip_forks,
    }
    if s.instance:
        options["instance"] = True
    if s.starred:
        options["starred"] = True
    if s.listing != Listing.REPOS:
        options["listing"] = str(s.listing)
    # What limits the repos a run covers, recorded only when given.
    covered = {
        "topics": list(s.topics),
        "language": s.language,
        "repos_file": str(s.repos_file) if s.repos_file else None,
        "affiliation": s.affiliation,
        "subgroup_include": s.subgroup_include,
        "subgroup_exclude": s.subgroup_exclude,
        "auth": "github-app" if s.github_app_id is not None else None,
    }
    options.update({key: value for key, value in covered.items() if value})
    return options


def _taken(lock: ProcessLock) -> Callable[[], ProcessLock]:
    """Acquires ``lock`` when called, and returns it."""

    def take() -> ProcessLock:
        lock.acquire()
        return lock

    return take


class Opening:
    """Everything a target does before it lists; :meth:`open` raises :class:`SetupError` or a ``StateError``."""

    def __init__(
        self, settings: Settings, layout: WorkDir, stats: TargetStats, *, clock: Clock, events: Events, notice: Callable[[str], None]
    ) -> None:
        self.settings = settings
        self.layout = layout
        self.dest = layout.dest
        self.stats = stats
        self.clock = clock
        self.events = events
        self.notice = notice
        self.store: StateStore | None = None
        self._locks: list[ProcessLock] = []
        self._created_dest = False

    async def open(self) -> TargetPlan:
        """Lock, open the state, decide between a new pass and a resume."""
        self._created_dest = not self.dest.exists()
        if self.layout.shard is not None:
            self.notice(self.layout.shard.describe())
        self._preflight()
        self._lock()
        # --fresh on a damaged or unreadable state moves it aside (under the locks) and starts a new one.
        store = self.store = StateStore.open(Path(self.stats.state_path), fresh=self.settings.fresh, clock=self.clock.now)
        if store.notice:
            self.notice(store.notice)
        self._check_clone_kind(store)
        reconcile_attic(store, self.notice)
        plan = self._begin_or_resume(store)
        if self.layout.tmp.exists():
            await anyio.to_thread.run_sync(shutil.rmtree, self.layout.tmp, True)
        if plan.moved_from is not None:
            self.notice(
                f"the forge moved: the last run used {plan.moved_from}, this one {self.settings.api_base}; listing starts "
                "over there, and clones of the same repos (same forge id) have their origin moved to it"
            )
        return plan

    def _preflight(self) -> None:
        version = git_version()
        if version is None:
            raise SetupError("git is not installed or not on PATH; install git (2.31 or newer) and try again")
        if version < MIN_GIT_VERSION:
            raise SetupError(
                f"git {version[0]}.{version[1]} is too old (gz-tui needs 2.31+ to keep tokens out of process lists); upgrade git"
            )
        if self.settings.lfs and not self.settings.dry_run and not lfs_available():
            raise SetupError(LFS_INSTALL_HINT)
        try:
            self.layout.base.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.layout.root.mkdir(exist_ok=True, mode=0o700)
        except OSError as exc:
            raise SetupError(f"cannot create {self.dest}: {exc.strerror}; choose a writable --dest") from None
        if not os.access(self.dest, os.W_OK):
            raise SetupError(f"{self.dest} is not writable; choose another --dest")

    def _lock(self) -> None:
        """The destination, then the state: --state can point two runs with different --dest at one state.

        A shard holds the destination's lock shared (its sibling shards work beside it; an unsharded run, which
        holds it exclusively, does not) and its own slot's lock exclusively."""
        shard, state_path = self.layout.shard, Path(self.stats.state_path)
        locks: list[tuple[Callable[[], ProcessLock], str]] = [
            (_taken(ProcessLock.for_dest(self.dest, shared=shard is not None)), str(self.dest))
        ]
        if shard is not None:
            # Its N's lock: refused while shards of another N run (they would clone the same repos beside it).
            locks.append((functools.partial(lock_shard_count, self.layout, shard), str(self.layout.base)))
            locks.append((_taken(ProcessLock(self.layout.slot_lock, f"syncing {shard.dir_name} of {self.dest}")), str(self.layout.root)))
        locks.append((_taken(ProcessLock.for_state(state_path)), f"the state {state_path}"))
        for take, what in locks:
            try:
                self._locks.append(take())
            except LockedError as exc:
                raise SetupError(str(exc)) from None
            except OSError as exc:
                raise SetupError(f"cannot lock {what}: {exc.strerror}") from None

    def _check_clone_kind(self, store: StateStore) -> None:
        """A destination keeps one kind of clone: bare mirrors (``NAME.git``) or working clones (``NAME``)."""
        wanted = "mirror" if self.settings.mirror else "checkout"
        found = store.clone_kind() or kind_on_disk(self.dest)
        if found is not None and found != wanted:
            held = "bare mirrors (--mirror)" if found == "mirror" else "working clones"
            made = "bare mirrors (--mirror)" if wanted == "mirror" else "working clones (no --mirror)"
            raise SetupError(
                f"{self.dest} holds {held}; this run makes {made}, and one destination keeps one kind: use another --dest for them"
            )
        if not self.settings.dry_run and store.clone_kind() is None:
            store.set_clone_kind(wanted)

    def _begin_or_resume(self, store: StateStore) -> TargetPlan:
        settings, stats = self.settings, self.stats
        store.runs.check_identity(settings.provider, settings.owner, settings.listing)
        last = store.runs.last()
        moved_from = None
        if last is not None and origin_of(last.base_url) != origin_of(settings.api_base):
            moved_from = last.base_url
            last = None  # a cursor (or a failed URL) of another origin is never reused: list from the start
        resume = not settings.dry_run and last is not None and (settings.retry_failed or not last.finished)
        if last is None or not resume:
            run_id = self._begin(store, dry_run=settings.dry_run)
            return TargetPlan(store, run_id, None, False, False, moved_from, tuple(self._locks))
        store.runs.reopen(last.id)
        self.events.emit(Resume(run=last.id, listing_done=last.listing_done))
        done = store.repos.done_counts(last.id)
        finished_before = sum(n for status, n in done.items() if status != RepoStatus.FAILED)
        stats.count(resumed_done=finished_before, listed=store.repos.listed_count(last.id))
        if not settings.retry_failed:  # failures of the interrupted part stay failures of this run (and its exit code)
            classes = store.repos.failure_classes(last.id)
            permanent = sum(n for error_class, n in classes.items() if error_class in PERMANENT_ERRORS)
            stats.count(failed=sum(classes.values()), failed_permanent=permanent)
        return TargetPlan(store, last.id, last.cursor, last.listing_done, settings.retry_failed, moved_from, tuple(self._locks))

    def _begin(self, store: StateStore, *, dry_run: bool) -> int:
        s = self.settings
        return store.runs.begin(
            forge=s.provider, base_url=s.api_base, owner=s.owner, dest=str(self.dest), options=run_options(s), dry_run=dry_run
        )

    def close(self, *, unused: bool, stop_note: str | None = None) -> None:
        """Close the state, release the locks; ``unused`` (nothing listed, exit 2): a destination this opening
        made goes too, so a typo'd owner leaves no empty destination behind. ``stop_note``: why the run stopped
        while the state records it ``running`` (a full disk), left in the state's lock file for ``gz-tui status``."""
        if self.store is not None:
            self.store.close()
        for lock in reversed(self._locks):
            lock.release(note=stop_note if lock.path == state_lock_path(Path(self.stats.state_path)) else None)
        self._locks.clear()
        if self._created_dest and unused:
            self._remove_unused_dest()

    def _remove_unused_dest(self) -> None:
        """A typo'd owner or a refused token must not leave an empty ``./apahce/.gz-tui`` behind.

        Only this run's own folder goes (a shard's, never its siblings' live state), and the folders above it
        only when that leaves them empty."""
        state_dir, work_dir = self.layout.base, self.layout.root
        try:
            if [p.name for p in self.dest.iterdir()] != [STATE_DIR] or not Path(self.stats.state_path).is_relative_to(work_dir):
                return
            if self.layout.shard is None and any(state_dir.glob("shard-*-of-*")):
                return
            shutil.rmtree(work_dir)
            if self.layout.shard is not None:
                state_dir.rmdir()  # OSError while other shards keep state there: they stay
            self.dest.rmdir()
        except OSError:
            return
        self.stats.state_path = ""
