"""Bringing one repository up to date on disk: clone into a temp dir and rename, or update in place."""

from __future__ import annotations

import os
import re
import secrets as _secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

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


def _origin_url(final: Path) -> str | None:
    """The origin URL of an existing checkout (None if it is not a git clone); run in a worker thread."""
    import git

    try:
        repo = git.Repo(final)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    try:
        with repo.config_reader() as config:
            url = config.get_value('remote "origin"', "url", default=None)
        return str(url) if url is not None else None
    finally:
        repo.close()


def _is_dirty(final: Path) -> bool:
    import git

    repo = git.Repo(final)
    try:
        return repo.is_dirty(untracked_files=False)
    finally:
        repo.close()


class RepoSyncer:
    """Clone or update one repo. Never raises for a repo's own failure: it returns an Outcome."""

    def __init__(
        self,
        *,
        runner: GitRunner,
        dest: Path,
        update_mode: str,
        depth: int | None,
        inspect_limiter: anyio.CapacityLimiter,
    ) -> None:
        self.runner = runner
        self.dest = dest
        self.tmp_root = dest / ".gz-tui" / TMP_DIR_NAME
        self.update_mode = update_mode
        self.depth = depth
        self.limiter = inspect_limiter

    async def clone(self, repo: RemoteRepo, url: str, final: Path, on_progress: ProgressListener) -> Outcome:
        self.tmp_root.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", repo.rel_path)[-60:]
        tmp = self.tmp_root / f"{slug}.{_secrets.token_hex(4)}"
        args = ["clone", "--progress", "--no-recurse-submodules"]
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

    async def update(self, repo: RemoteRepo, url: str, final: Path, on_progress: ProgressListener) -> Outcome:
        if self.update_mode == "skip":
            return Outcome("skipped", message="already on disk (--update skip)")
        origin = await anyio.to_thread.run_sync(_origin_url, final, limiter=self.limiter)
        if origin is None:
            return Outcome("failed", "conflict", f"{final.name} exists but is not a git clone; move it away or use another --dest")
        if _normalise_url(origin) != _normalise_url(url):
            return Outcome("failed", "conflict", "the existing clone's origin is another repository; not touching it")
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
            if await anyio.to_thread.run_sync(_is_dirty, final, limiter=self.limiter):
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
            "updated" if changed else "unchanged", last_commit=after, received_bytes=result.received_bytes
        )


def _failed(result: GitResult) -> Outcome:
    return Outcome(
        "failed", result.error_class or "other", result.message or f"git exited with {result.returncode}", transient=result.transient
    )

