"""Bringing one repository up to date on disk: clone into a temp dir and rename, or update in place."""

from __future__ import annotations

import os
import re
import secrets as _secrets
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import anyio

from gz_tui.forges.records import RemoteRepo
from gz_tui.kinds import CloneKind, ErrorClass, PartialFilter, RepoStatus, UpdateMode
from gz_tui.pipeline.git import GitResult, GitRunner, ProgressListener
from gz_tui.pipeline.git.head import settle_head
from gz_tui.pipeline.lfs import LfsSync
from gz_tui.pipeline.local_work import UNPUSHED, LocalWork
from gz_tui.pipeline.paths import is_bare
from gz_tui.pipeline.refs import RefView

LS_REMOTE_MAX_OUTPUT = 1_000_000
"""The git runner keeps about this much of a command's output: a longer ref list cannot be compared whole."""


@dataclass(frozen=True, slots=True)
class Outcome:
    status: RepoStatus
    error_class: ErrorClass | None = None
    """Why it failed; ``dirty`` for a checkout skipped for its local changes; else None."""
    message: str = ""
    last_commit: str | None = None
    received_bytes: int = 0
    transient: bool = False
    moved_origin: bool = False
    """The clone's ``origin`` was moved to the forge's new address (same forge repo id)."""
    kind: CloneKind = CloneKind.CHECKOUT
    """What kind of copy this was."""
    lfs_bytes: int = 0
    """Of ``received_bytes``, the bytes of Git LFS objects (``--lfs``)."""

    @property
    def reported_class(self) -> ErrorClass:
        """The class a failure (or a ``dirty`` skip) is reported under: ``error_class``, ``other`` if unknown."""
        return self.error_class or ErrorClass.OTHER


def git_dir_of(repo_dir: Path) -> Path:
    """Where a clone's git files are: ``NAME/.git`` for a working clone, the folder itself for a bare mirror."""
    return repo_dir if is_bare(repo_dir) else repo_dir / ".git"


def read_head(repo_dir: Path) -> str | None:
    """HEAD's commit id read from the files git wrote (no process needed)."""
    git_dir = git_dir_of(repo_dir)
    try:
        head = (git_dir / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None
    ref = head[4:].strip()
    try:
        return (git_dir / ref).read_text().strip()
    except OSError:
        pass
    try:
        for line in (git_dir / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    except OSError:
        pass
    return None


def _normalise_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if url.endswith(".git"):
        url = url[:-4]
    return url.lower()


REPO_ID_KEY = "gz-tui.repo-id"
"""Written into every clone's ``.git/config``: the forge's id of the repo, so a clone is recognised as the
same repo after the forge moves (another host or port), even once the state is gone (``--fresh``)."""
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def same_repo_moved(origin: str, url: str, *, clone_id: str | None, repo_id: str, known: bool) -> bool:
    """Whether a clone whose origin differs from the forge's URL is the same repo at a moved forge.

    Either the scheme, host or port differ (a forge that moved) and the path is the same, or the host is the same
    and only the path differs (a rename upstream) in a clone that records this repo's id; an origin someone pointed
    at another host and path is theirs. A moved forge also needs the clone to record this forge repo id, or, for a
    clone made before ids were recorded, the state to know this repo id already. Never otherwise.
    """
    if urlsplit(origin).netloc.lower() == urlsplit(url).netloc.lower():
        return clone_id is not None and clone_id == repo_id  # renamed on the same forge: its recorded id says so
    if urlsplit(origin).path.rstrip("/").removesuffix(".git") != urlsplit(url).path.rstrip("/").removesuffix(".git"):
        return False
    return clone_id == repo_id if clone_id is not None else known


class RepoSyncer:
    """Clone or update one repo. A failure of git or of the move into place is returned as an Outcome; an ``OSError``
    from preparing the folders is raised (the worker records it as that repo's failure)."""

    def __init__(
        self,
        *,
        runner: GitRunner,
        dest: Path,
        tmp_root: Path,
        update_mode: UpdateMode,
        depth: int | None,
        mirror: bool = False,
        partial: PartialFilter | None = None,
        single_branch: bool = False,
        branch: str | None = None,
        lfs: LfsSync | None = None,
    ) -> None:
        self.runner = runner
        self.lfs = lfs
        """``--lfs``: what fetches a copy's LFS objects once git has brought it up to date (never a wiki's)."""
        self.dest = dest
        self.tmp_root = tmp_root
        self.update_mode = update_mode
        self.depth = depth
        self.mirror = mirror
        self.partial = partial
        """``--filter``: ``blob:none`` or ``tree:0``; None for full clones."""
        self.single_branch = single_branch
        self.branch = branch

    @property
    def ref_view(self) -> RefView:
        """Which refs its copies hold: every ref (mirrors), or the branches a working clone keeps."""
        return RefView(mirror=self.mirror, single=not self.mirror and (self.single_branch or bool(self.depth)))

    async def moved_refs(self, url: str, final: Path) -> list[str] | None:
        """The refs the forge has moved against what the clone at ``final`` holds (``[]``: none), by one
        ``git ls-remote`` and the clone's own files; None when either cannot be read (the clone is then fetched)."""
        view = self.ref_view
        result = await self.runner.run(view.ls_remote_args(url))
        if not result.ok or len(result.output) >= LS_REMOTE_MAX_OUTPUT:
            return None
        clone = await anyio.to_thread.run_sync(view.clone_refs, final)
        return None if clone is None else view.moved(view.forge_refs(result.output), clone)

    def kind(self, *, wiki: bool = False) -> CloneKind:
        """The kind of copy this syncer makes of a repo (or of its wiki)."""
        if wiki:
            return CloneKind.WIKI
        if self.mirror:
            return CloneKind.MIRROR
        if self.partial:
            return CloneKind.PARTIAL
        return CloneKind.SHALLOW if self.depth else CloneKind.CHECKOUT

    def _clone_options(self, wiki: bool) -> list[str]:
        if self.mirror:
            return ["--mirror"]
        options = ["--no-recurse-submodules"]
        if wiki:
            return options  # a wiki is small and has its own branches: a plain clone
        if self.depth:
            options += ["--depth", str(self.depth)]
        if self.partial:
            options += [f"--filter={self.partial}"]
        if self.single_branch:
            options += ["--single-branch"]
        if self.branch:
            options += ["--branch", self.branch]
        return options

    def _outcome_of_failure(self, result: GitResult, *, wiki: bool) -> Outcome:
        kind = self.kind(wiki=wiki)
        if wiki and never_written(result.error_class, result.message):
            return Outcome(RepoStatus.SKIPPED, message="no wiki", kind=kind)
        if not wiki and self.branch and "remote branch" in result.message.lower():
            return Outcome(
                RepoStatus.FAILED,
                ErrorClass.NO_BRANCH,
                f"this repository has no branch {self.branch!r} (--branch); it is left out",
                kind=kind,
            )
        return replace(_failed(result), kind=kind)

    async def clone(self, repo: RemoteRepo, url: str, final: Path, on_progress: ProgressListener, *, wiki: bool = False) -> Outcome:
        self.tmp_root.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", repo.rel_path)[-60:]
        tmp = self.tmp_root / f"{slug}.{_secrets.token_hex(4)}"
        args = ["clone", "--progress", *self._clone_options(wiki)]
        if _SAFE_ID.match(repo.key):
            args += ["--config", f"{REPO_ID_KEY}={repo.key}"]
        args += ["--", url, str(tmp)]
        kind = self.kind(wiki=wiki)
        try:
            result = await self.runner.run(args, on_progress=on_progress)
            if not result.ok:
                return self._outcome_of_failure(result, wiki=wiki)
            headless = None if self.mirror or read_head(tmp) is not None else await settle_head(self.runner, tmp, repo.default_branch)
            lfs_bytes = 0
            if not wiki and headless is None:  # before the move: a copy in place has its LFS objects
                lfs = await self._lfs(tmp, url, on_progress, result.received_bytes)
                if isinstance(lfs, Outcome):
                    return replace(lfs, kind=kind)
                lfs_bytes = lfs
            received = result.received_bytes + lfs_bytes
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(tmp, final)
            except OSError as exc:
                return Outcome(RepoStatus.FAILED, ErrorClass.DISK, f"cannot move the clone into place: {exc.strerror}", kind=kind)
            if headless is not None:  # kept in place: its branches are there, and the next sync says so again
                return Outcome(RepoStatus.SKIPPED, message=headless, received_bytes=result.received_bytes, kind=kind)
            return Outcome(RepoStatus.CLONED, last_commit=read_head(final), received_bytes=received, kind=kind, lfs_bytes=lfs_bytes)
        finally:
            if tmp.exists():
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(shutil.rmtree, tmp, True)

    async def _lfs(self, repo_dir: Path, url: str, on_progress: ProgressListener, received: int) -> int | Outcome:
        """``--lfs``: the bytes of LFS objects fetched into ``repo_dir``, or the repo's failure."""
        if self.lfs is None:
            return 0
        result = await self.lfs.fetch(repo_dir, url, on_progress, received)
        if not result.ok:
            assert result.error_class is not None
            return Outcome(RepoStatus.FAILED, result.error_class, result.message, transient=result.transient)
        return result.received_bytes

    async def _origin_and_id(self, final: Path) -> tuple[str | None, str | None]:
        """(origin URL, recorded forge repo id) of an existing checkout; (None, None) if it is not a git clone.

        One ``git config`` through the runner's locked-down environment (GitPython would start ``git version``
        with gz-tui's own environment, token variables and all).
        """
        if not (final / ".git").exists() and not is_bare(final):
            return None, None
        keys = "^(remote\\.origin\\.url|gz-tui\\.repo-id)$"
        result = await self.runner.run(["config", "--local", "--null", "--get-regexp", keys], cwd=final)
        if result.returncode not in (0, 1):  # 1: neither key is set
            return None, None
        found = dict(entry.split("\n", 1) for entry in result.output.split("\0") if "\n" in entry)
        return found.get("remote.origin.url"), found.get(REPO_ID_KEY)

    async def update(
        self, repo: RemoteRepo, url: str, final: Path, on_progress: ProgressListener, *, known: bool = False, wiki: bool = False
    ) -> Outcome:
        """Update a clone on disk. ``known``: the state has synced this repo id before."""
        kind = self.kind(wiki=wiki)
        if self.update_mode == UpdateMode.SKIP:
            return Outcome(RepoStatus.SKIPPED, message="already on disk (--update skip)", kind=kind)
        if is_bare(final) != self.mirror:
            has, wants = ("a bare mirror", "a working clone") if self.mirror is False else ("a working clone", "a mirror")
            return Outcome(
                RepoStatus.FAILED, ErrorClass.CONFLICT, f"{final.name} is {has}, this run makes {wants}; not touching it", kind=kind
            )
        outcome = await self._update(repo, url, final, on_progress, known=known, wiki=wiki)
        return replace(outcome, kind=kind) if outcome.status != RepoStatus.FAILED or not wiki else self._wiki_failure(outcome)

    def _wiki_failure(self, outcome: Outcome) -> Outcome:
        if never_written(outcome.error_class, outcome.message):
            return Outcome(RepoStatus.SKIPPED, message="no wiki", kind=CloneKind.WIKI)
        return replace(outcome, kind=CloneKind.WIKI)

    async def _update(self, repo: RemoteRepo, url: str, final: Path, on_progress: ProgressListener, *, known: bool, wiki: bool) -> Outcome:
        origin, clone_id = await self._origin_and_id(final)
        if origin is None:
            return Outcome(
                RepoStatus.FAILED, ErrorClass.CONFLICT, f"{final.name} exists but is not a git clone; move it away or use another --dest"
            )
        if clone_id is not None and _SAFE_ID.match(repo.key) and clone_id != repo.key:
            return Outcome(
                RepoStatus.FAILED,
                ErrorClass.CONFLICT,
                f"{final.name} holds the clone of another repo (forge id {clone_id}) that had this name; "
                "not fetching this one's history into it (--prune moves it to the attic once the forge confirms it is gone)",
            )
        moved = False
        if _normalise_url(origin) != _normalise_url(url):
            if not same_repo_moved(origin, url, clone_id=clone_id, repo_id=repo.key, known=known):
                return Outcome(RepoStatus.FAILED, ErrorClass.CONFLICT, "the existing clone's origin is another repository; not touching it")
            step = await self.runner.run(["remote", "set-url", "origin", "--", url], cwd=final)
            if not step.ok:
                return _failed(step)
            moved = True
        before = read_head(final)
        # Commits of the checked-out branch that no remote branch has are local work: a reset would drop them (into
        # the reflog) and a fast-forward cannot be made. Asked before the fetch: a shallow fetch (--depth) cuts the
        # history the new remote tips share with the old HEAD, which would make pushed commits look local.
        keeps_work = self.update_mode in (UpdateMode.PULL, UpdateMode.RESET) and not self.mirror
        unpushed = keeps_work and await LocalWork(self.runner).head_unpushed(final)
        # A mirror's fetch refspec is +refs/*:refs/*: every ref comes, and --prune drops the ones deleted upstream.
        # A partial or single-branch clone's fetch keeps to its filter and branch (recorded in its config).
        fetch = ["fetch", "--prune", "--progress", "--no-recurse-submodules"]
        if self.depth and not wiki and not self.mirror:
            fetch += ["--depth", str(self.depth)]
        fetch += ["origin"]
        result = await self.runner.run(fetch, cwd=final, on_progress=on_progress)
        if not result.ok:
            return _failed(result)
        fetched = result.changed_refs > 0
        if keeps_work:
            status = await self.runner.run(["status", "--porcelain", "--untracked-files=no"], cwd=final)
            if not status.ok:
                return _failed(status)
            if status.output.strip():  # through GitRunner: the locked-down environment, no token variable
                return Outcome(RepoStatus.SKIPPED, ErrorClass.DIRTY, "local changes in the checkout; left as is (not merged or reset)")
            if unpushed:
                return Outcome(RepoStatus.SKIPPED, ErrorClass.DIRTY, f"{UNPUSHED} checked out; left as is (not merged or reset)")
            if self.update_mode == UpdateMode.PULL:
                step = await self.runner.run(["merge", "--ff-only", "--quiet", "@{upstream}"], cwd=final)
            else:
                step = await self.runner.run(["reset", "--hard", "--quiet", "@{upstream}"], cwd=final)
            if not step.ok:
                return _failed(step)
        after = read_head(final)
        if after is None and not self.mirror:
            headless = await settle_head(self.runner, final, repo.default_branch)
            if headless is not None:
                return Outcome(RepoStatus.SKIPPED, message=headless, received_bytes=result.received_bytes, moved_origin=moved)
            after = read_head(final)
        lfs = await self._lfs(final, url, on_progress, result.received_bytes) if not wiki else 0
        if isinstance(lfs, Outcome):
            return lfs
        changed = fetched or before != after or lfs > 0
        return Outcome(
            RepoStatus.UPDATED if changed else RepoStatus.UNCHANGED,
            last_commit=after,
            received_bytes=result.received_bytes + lfs,
            moved_origin=moved,
            lfs_bytes=lfs,
        )


def never_written(error_class: ErrorClass | None, message: str) -> bool:
    """Whether git's failure on a wiki the forge says is enabled means nobody has written a page yet.

    GitHub and GitLab answer such a wiki "not found"; Gitea 1.15 answers ``info/refs`` with a 200 that advertises
    no refs at all (git: "Could not read from remote repository"), newer Gitea with a 500. The repo itself was
    reached moments before, so none of these is the forge being down; auth, network and disk failures stay failures.
    """
    text = message.lower()
    if error_class == ErrorClass.NOT_FOUND:
        return True
    if error_class == ErrorClass.OTHER:
        return "could not read from remote repository" in text
    return error_class == ErrorClass.NETWORK and "returned error: 500" in text


def _failed(result: GitResult) -> Outcome:
    return Outcome(
        RepoStatus.FAILED,
        result.error_class or ErrorClass.OTHER,
        result.message or f"git exited with {result.returncode}",
        transient=result.transient,
    )
