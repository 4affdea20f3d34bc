"""Bringing one repository up to date on disk: clone into a temp dir and rename, or update in place."""

from __future__ import annotations

import os
import re
import secrets as _secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import anyio

from gz_tui.forges.base import RemoteRepo
from gz_tui.pipeline.git import GitResult, GitRunner, ProgressListener

TMP_DIR_NAME = "tmp"


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    """cloned, updated, unchanged, skipped or failed."""
    error_class: str = ""
    message: str = ""
    last_commit: str | None = None
    received_bytes: int = 0
    transient: bool = False
    moved_origin: bool = False
    """The clone's ``origin`` was moved to the forge's new address (same forge repo id)."""


def read_head(repo_dir: Path) -> str | None:
    """HEAD's commit id read from the files git wrote (no process needed)."""
    git_dir = repo_dir / ".git"
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
    """Clone or update one repo. Never raises for a repo's own failure: it returns an Outcome."""

    def __init__(
        self,
        *,
        runner: GitRunner,
        dest: Path,
        tmp_root: Path,
        update_mode: str,
        depth: int | None,
    ) -> None:
        self.runner = runner
        self.dest = dest
        self.tmp_root = tmp_root
        self.update_mode = update_mode
        self.depth = depth

    async def clone(self, repo: RemoteRepo, url: str, final: Path, on_progress: ProgressListener) -> Outcome:
        self.tmp_root.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", repo.rel_path)[-60:]
        tmp = self.tmp_root / f"{slug}.{_secrets.token_hex(4)}"
        args = ["clone", "--progress", "--no-recurse-submodules"]
        if _SAFE_ID.match(repo.key):
            args += ["--config", f"{REPO_ID_KEY}={repo.key}"]
        if self.depth:
            args += ["--depth", str(self.depth)]
        args += ["--", url, str(tmp)]
        try:
            result = await self.runner.run(args, on_progress=on_progress)
            if not result.ok:
                return _failed(result)
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(tmp, final)
            except OSError as exc:
                return Outcome("failed", "disk", f"cannot move the clone into place: {exc.strerror}")
            return Outcome("cloned", last_commit=read_head(final), received_bytes=result.received_bytes)
        finally:
            if tmp.exists():
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(shutil.rmtree, tmp, True)

    async def _origin_and_id(self, final: Path) -> tuple[str | None, str | None]:
        """(origin URL, recorded forge repo id) of an existing checkout; (None, None) if it is not a git clone.

        One ``git config`` through the runner's locked-down environment (GitPython would start ``git version``
        with gz-tui's own environment, token variables and all).
        """
        if not (final / ".git").exists():
            return None, None
        keys = "^(remote\\.origin\\.url|gz-tui\\.repo-id)$"
        result = await self.runner.run(["config", "--local", "--null", "--get-regexp", keys], cwd=final)
        if result.returncode not in (0, 1):  # 1: neither key is set
            return None, None
        found = dict(entry.split("\n", 1) for entry in result.output.split("\0") if "\n" in entry)
        return found.get("remote.origin.url"), found.get(REPO_ID_KEY)

    async def update(
        self, repo: RemoteRepo, url: str, final: Path, on_progress: ProgressListener, *, known: bool = False
    ) -> Outcome:
        """Update a clone on disk. ``known``: the state has synced this repo id before."""
        if self.update_mode == "skip":
            return Outcome("skipped", message="already on disk (--update skip)")
        origin, clone_id = await self._origin_and_id(final)
        if origin is None:
            return Outcome("failed", "conflict", f"{final.name} exists but is not a git clone; move it away or use another --dest")
        moved = False
        if _normalise_url(origin) != _normalise_url(url):
            if not same_repo_moved(origin, url, clone_id=clone_id, repo_id=repo.key, known=known):
                return Outcome("failed", "conflict", "the existing clone's origin is another repository; not touching it")
            step = await self.runner.run(["remote", "set-url", "origin", "--", url], cwd=final)
            if not step.ok:
                return _failed(step)
            moved = True
        before = read_head(final)
        fetch = ["fetch", "--prune", "--progress", "--no-recurse-submodules"]
        if self.depth:
            fetch += ["--depth", str(self.depth)]
        fetch += ["origin"]
        result = await self.runner.run(fetch, cwd=final, on_progress=on_progress)
        if not result.ok:
            return _failed(result)
        fetched = result.changed_refs > 0
        if self.update_mode in ("pull", "reset"):
            status = await self.runner.run(["status", "--porcelain", "--untracked-files=no"], cwd=final)
            if not status.ok:
                return _failed(status)
            if status.output.strip():  # through GitRunner: the locked-down environment, no token variable
                return Outcome("skipped", "dirty", "local changes in the checkout; left as is (not merged or reset)")
            if self.update_mode == "pull":
                step = await self.runner.run(["merge", "--ff-only", "--quiet", "@{upstream}"], cwd=final)
            else:
                step = await self.runner.run(["reset", "--hard", "--quiet", "@{upstream}"], cwd=final)
            if not step.ok:
                return _failed(step)
        after = read_head(final)
        changed = fetched or before != after
        return Outcome(
            "updated" if changed else "unchanged", last_commit=after, received_bytes=result.received_bytes, moved_origin=moved
        )


def _failed(result: GitResult) -> Outcome:
    return Outcome(
        "failed", result.error_class or "other", result.message or f"git exited with {result.returncode}", transient=result.transient
    )

