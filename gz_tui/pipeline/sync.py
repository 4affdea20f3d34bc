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

    @property
    def reported_class(self) -> ErrorClass:
        """The class a failure (or a ``dirty`` skip) is reported under: ``error_class``, ``other`` if unknown."""
        return self.error_class or ErrorClass.OTHER


def git_dir_of(repo_dir: Path) -> Path:
    """Where a clone's git files are: ``NAME/.git`` for a working clone, the folder itself for a bare mirror."""
    return repo_dir if is_bare(repo_dir) else repo_dir / ".git"


def is_bare(repo_dir: Path) -> bool:
    """A bare clone (``--mirror``): HEAD, objects and refs at the top, no ``.git``."""
    return (repo_dir / "HEAD").is_file() and (repo_dir / "objects").is_dir() and not (repo_dir / ".git").exists()


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

    Only the scheme, host or port may differ (a forge that moved), never the path (an origin someone pointed
    elsewhere is theirs); and the clone must record this forge repo id, or, made before ids were recorded,
    the state must already know this repo id. Never otherwise.
    """
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
    ) -> None:
        self.runner = runner
        self.dest = dest
        self.tmp_root = tmp_root
        self.update_mode = update_mode
        self.depth = depth
        self.mirror = mirror
        self.partial = partial
        """``--filter``: ``blob:none`` or ``tree:0``; None for full clones."""
        self.single_branch = single_branch
        self.branch = branch

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
        if wiki and result.error_class == ErrorClass.NOT_FOUND:
            # The forge says the wiki is enabled, but nobody has written a page yet: git finds no repository.
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
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(tmp, final)
            except OSError as exc:
                return Outcome(RepoStatus.FAILED, ErrorClass.DISK, f"cannot move the clone into place: {exc.strerror}", kind=kind)
            return Outcome(RepoStatus.CLONED, last_commit=read_head(final), received_bytes=result.received_bytes, kind=kind)
        finally:
            if tmp.exists():
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(shutil.rmtree, tmp, True)

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
        if outcome.error_class == ErrorClass.NOT_FOUND:
            return Outcome(RepoStatus.SKIPPED, message="no wiki", kind=CloneKind.WIKI)
        return replace(outcome, kind=CloneKind.WIKI)

    async def _update(self, repo: RemoteRepo, url: str, final: Path, on_progress: ProgressListener, *, known: bool, wiki: bool) -> Outcome:
        origin, clone_id = await self._origin_and_id(final)
        if origin is None:
            return Outcome(
                RepoStatus.FAILED, ErrorClass.CONFLICT, f"{final.name} exists but is not a git clone; move it away or use another --dest"
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
        if self.update_mode in (UpdateMode.PULL, UpdateMode.RESET) and not self.mirror:
            status = await self.runner.run(["status", "--porcelain", "--untracked-files=no"], cwd=final)
            if not status.ok:
                return _failed(status)
            if status.output.strip():  # through GitRunner: the locked-down environment, no token variable
                return Outcome(RepoStatus.SKIPPED, ErrorClass.DIRTY, "local changes in the checkout; left as is (not merged or reset)")
            if self.update_mode == UpdateMode.PULL:
                step = await self.runner.run(["merge", "--ff-only", "--quiet", "@{upstream}"], cwd=final)
            else:
                step = await self.runner.run(["reset", "--hard", "--quiet", "@{upstream}"], cwd=final)
            if not step.ok:
                return _failed(step)
        after = read_head(final)
        changed = fetched or before != after
        return Outcome(
            RepoStatus.UPDATED if changed else RepoStatus.UNCHANGED,
            last_commit=after,
            received_bytes=result.received_bytes,
            moved_origin=moved,
        )

    async def local_work(self, folder: Path) -> str | None:
        """Why a clone must not be moved away (uncommitted changes, stashes, commits on no remote branch), or None.

        A mirror holds only the forge's refs: it has no local work. A clone git cannot inspect is kept too.
        """
        if is_bare(folder):
            return None
        status = await self.runner.run(["status", "--porcelain"], cwd=folder)
        if not status.ok:
            return f"git cannot inspect it ({status.message or status.returncode})"
        if status.output.strip():
            return "uncommitted changes"
        stash = await self.runner.run(["rev-parse", "--quiet", "--verify", "refs/stash"], cwd=folder)
        if stash.ok:
            return "stashed changes"
        head = read_head(folder)  # a detached HEAD's own commits count too (None: a clone of an empty repo)
        unpushed = await self.runner.run(["rev-list", "-n", "1", *([head] if head else []), "--branches", "--not", "--remotes"], cwd=folder)
        if not unpushed.ok:
            return f"git cannot inspect it ({unpushed.message or unpushed.returncode})"
        if unpushed.output.strip():
            return "commits on no remote branch"
        return None


def _failed(result: GitResult) -> Outcome:
    return Outcome(
        RepoStatus.FAILED,
        result.error_class or ErrorClass.OTHER,
        result.message or f"git exited with {result.returncode}",
        transient=result.transient,
    )
