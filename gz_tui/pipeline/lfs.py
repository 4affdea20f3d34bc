"""Git LFS (``--lfs``): the LFS objects of a copy, fetched by the real ``git-lfs`` through gz-tui's git runner.

A mirror gets every LFS object of every ref (``git lfs fetch --all``); a working clone the objects of its
checked-out tree, written into it (``git lfs pull``): a shallow, partial or single-branch clone stays so. git-lfs
runs as a git child of :class:`~gz_tui.pipeline.git.GitRunner`: the same locked-down environment, the token as the
same origin-scoped ``http.<origin>.extraHeader`` (never in argv or on disk), no credential helper, no prompt.

Where LFS traffic goes:

- The LFS server (the batch API) is the forge's own: the endpoint git-lfs derives from the clone URL
  (``…/NAME.git/info/lfs``), or the one a repo's ``.lfsconfig`` names (``lfs.url``, ``remote.origin.lfsurl``) when
  it is on the forge's own scheme, host and port. A ``.lfsconfig`` naming another host makes the repo fail
  (``unsafe``), as a clone URL on another host does; the endpoint is then passed to git-lfs as ``lfs.url``, so
  nothing a repo holds can send git-lfs elsewhere.
- The objects are downloaded from where the forge's batch answer says: github.com answers presigned URLs on other
  hosts (its media host, S3), GitLab and Gitea their own host (or presigned object-storage URLs when so set up).
  Such a download carries only the headers the forge put into that action: the token header is scoped to the
  forge's origin and git-lfs sends it to that origin only.

git-lfs writes an error log (``lfs/logs``) that lists every ``GIT_*`` variable of its environment, the token
header's among them: :func:`_no_error_logs` puts a file where that folder would be, so git-lfs writes its log to
stderr (which the runner redacts) and never to disk.

Incremental: git-lfs fetches only the objects a copy lacks; the bytes it wrote are measured on disk
(``lfs/objects`` before and after). A repo whose refs carry no ``filter=lfs`` attribute costs one ``git grep``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import anyio

from gz_tui.kinds import ErrorClass
from gz_tui.pipeline.git import GitResult, GitRunner, ProgressListener
from gz_tui.pipeline.refs import RefView

LFS_INSTALL_HINT = (
    "--lfs needs git-lfs, which is not installed or not on PATH; install it "
    "(apt-get install git-lfs, dnf install git-lfs, brew install git-lfs, or https://git-lfs.com) and try again"
)
LFS_VERSION_SECONDS = 10
LOGS_NOTE = b"gz-tui keeps this a file: git-lfs's error logs list its environment, which holds the token header of a sync.\n"
_GREP_TIPS = 200
"""Commits one ``git grep`` searches at most (a mirror with more tips takes several)."""
_ATTRIBUTES = ("*.gitattributes",)
"""Every ``.gitattributes`` of a tree (pathspec ``*`` crosses ``/``)."""
_ENDPOINT_KEYS = r"^(lfs\.url|remote\.origin\.lfsurl)$"


def lfs_available(git_lfs: str = "git-lfs") -> bool:
    """Whether git-lfs is installed and answers ``git-lfs version`` in time."""
    path = shutil.which(git_lfs)
    if path is None:
        return False
    env = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}  # no token variable reaches it
    try:
        done = subprocess.run([path, "version"], check=False, capture_output=True, timeout=LFS_VERSION_SECONDS, env=env)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@dataclass(frozen=True, slots=True)
class LfsResult:
    received_bytes: int = 0
    """Bytes of LFS objects written into the copy."""
    error_class: ErrorClass | None = None
    message: str = ""
    transient: bool = False

    @property
    def ok(self) -> bool:
        return self.error_class is None


def lfs_endpoint(clone_url: str) -> str:
    """The LFS endpoint git-lfs derives from an https clone URL: ``…/NAME.git/info/lfs``."""
    base = clone_url.rstrip("/")
    return (base if base.endswith(".git") else base + ".git") + "/info/lfs"


def _same_origin(url: str, forge: str) -> bool:
    mine, theirs = urlsplit(url), urlsplit(forge)
    return (mine.scheme.lower(), mine.hostname or "", mine.port) == (theirs.scheme.lower(), theirs.hostname or "", theirs.port)


class LfsSync:
    """Fetches the LFS objects of one copy (a mirror or a working clone) after git has brought it up to date."""

    def __init__(self, runner: GitRunner, *, mirror: bool, forge_origin: str, ssh: bool = False) -> None:
        self.runner = runner
        self.mirror = mirror
        self.forge_origin = forge_origin
        """``scheme://host:port/`` of the forge's git traffic: the only LFS server a ``.lfsconfig`` may name."""
        self.ssh = ssh
        """ssh clone URLs: git-lfs authenticates by ``git-lfs-authenticate`` over ssh and finds its endpoint itself."""

    async def fetch(self, repo_dir: Path, url: str, on_progress: ProgressListener, received: int) -> LfsResult:
        """The LFS objects ``repo_dir`` lacks, from the forge at ``url``; ``received``: bytes git received before
        (what the progress listener has heard so far)."""
        if not await self._uses_lfs(repo_dir):
            return LfsResult()
        endpoint = await self._endpoint(repo_dir, url)
        if isinstance(endpoint, LfsResult):
            return endpoint
        git_dir = repo_dir if self.mirror else repo_dir / ".git"
        await anyio.to_thread.run_sync(_no_error_logs, git_dir)
        before = await anyio.to_thread.run_sync(_objects_size, git_dir)
        on_progress("lfs", None, received)
        options = ["-c", f"lfs.url={endpoint}"] if endpoint else []
        command = ["fetch", "--all", "origin"] if self.mirror else ["pull", "origin"]
        result = await self.runner.run([*options, "lfs", *command], cwd=repo_dir)
        fetched = max(0, await anyio.to_thread.run_sync(_objects_size, git_dir) - before)
        on_progress("lfs", 100.0 if result.ok else None, received + fetched)
        if not result.ok:
            return _failed(result, fetched)
        return LfsResult(received_bytes=fetched)

    async def _uses_lfs(self, repo_dir: Path) -> bool:
        """Whether a ``.gitattributes`` of the copy's refs (a mirror: every ref's tip; a clone: HEAD) routes files to
        LFS. A search git cannot make counts as yes: git-lfs then decides."""
        if self.mirror:
            refs = await anyio.to_thread.run_sync(RefView(mirror=True, single=False).clone_refs, repo_dir)
            if refs is None:
                return True
            tips = sorted(set(refs.values()))
        else:
            tips = ["HEAD"]
        for start in range(0, len(tips), _GREP_TIPS):
            args = ["grep", "-l", "-I", "-F", "-e", "filter=lfs", *tips[start : start + _GREP_TIPS], "--", *_ATTRIBUTES]
            result = await self.runner.run(args, cwd=repo_dir)
            if result.returncode != 1:  # 0: found; anything else: git could not tell
                return True
        return False

    async def _endpoint(self, repo_dir: Path, url: str) -> str | LfsResult:
        """The forge's LFS endpoint for this copy ("" over ssh: git-lfs asks the ssh server), or why it is refused."""
        # git-lfs reads a working tree's .lfsconfig, else (and in a bare repo) HEAD's.
        in_tree = not self.mirror and (repo_dir / ".lfsconfig").is_file()
        source = ["--file", str(repo_dir / ".lfsconfig")] if in_tree else ["--blob", "HEAD:.lfsconfig"]
        result = await self.runner.run(["config", *source, "--get-regexp", _ENDPOINT_KEYS], cwd=repo_dir)
        named = {}
        if result.ok:
            named = {key.lower(): value.strip() for key, _, value in (line.partition(" ") for line in result.output.splitlines())}
        for key, value in named.items():
            if not _same_origin(value, self.forge_origin):
                host = urlsplit(value).netloc or value[:80]
                return LfsResult(
                    error_class=ErrorClass.UNSAFE,
                    message=f"its .lfsconfig sends Git LFS to another host ({key} = {host}); refused: LFS goes to the forge only",
                )
        chosen = named.get("lfs.url") or named.get("remote.origin.lfsurl")  # git-lfs's own order
        if chosen:
            return chosen
        return "" if self.ssh else lfs_endpoint(url)


def _failed(result: GitResult, fetched: int) -> LfsResult:
    return LfsResult(
        received_bytes=fetched,
        error_class=result.error_class or ErrorClass.OTHER,
        message=f"git lfs: {result.message}" if result.message else f"git lfs exited with {result.returncode}",
        transient=result.transient,
    )


def _no_error_logs(git_dir: Path) -> None:
    """A file where git-lfs would make its error-log folder (``lfs/logs``): its logs then go to stderr. A folder
    someone's own git-lfs made there is left alone when it holds logs."""
    logs = git_dir / "lfs" / "logs"
    if logs.is_dir():
        try:
            logs.rmdir()  # empty: ours to replace
        except OSError:
            return
    if not logs.exists():
        logs.parent.mkdir(parents=True, exist_ok=True)
        logs.write_bytes(LOGS_NOTE)


def _objects_size(git_dir: Path) -> int:
    """Bytes of the LFS objects a copy holds (``lfs/objects/aa/bb/OID``)."""
    total = 0
    stack = [git_dir / "lfs" / "objects"]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    return total
