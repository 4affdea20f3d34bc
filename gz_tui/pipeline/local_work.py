"""What only a clone holds, so that prune never moves it away and an update never drops it: the local work of a
working clone, every kind.

Asked of the clones of repos the forge no longer lists (a few per run), and, for ``--update pull|reset``, whether
the checked-out branch has commits no remote branch has; through the git runner's locked-down environment. The
README's ``--prune`` and ``--update`` paragraphs say what counts.
"""

from __future__ import annotations

from pathlib import Path

from gz_tui.pipeline.git import GitRunner
from gz_tui.pipeline.paths import is_bare

UNPUSHED = "commits on no remote branch"
"""Local work that exists only as commits (never pushed, or pushed to a branch since deleted)."""


async def local_work(runner: GitRunner, folder: Path) -> str | None:
    """Why ``folder`` must not be moved away, or None (:meth:`LocalWork.reason`)."""
    return await LocalWork(runner).reason(folder)


class LocalWork:
    """The questions git answers about one clone's local work."""

    def __init__(self, runner: GitRunner) -> None:
        self._runner = runner

    async def reason(self, folder: Path) -> str | None:
        """Why a clone must not be moved away, or None. Every kind of work only this clone holds counts: uncommitted
        changes (untracked files included), stashes, commits or tags no remote branch has, local branches the
        remote does not have, and linked worktrees (``git worktree add``: moving the clone would break them).
        Each kind found is named, in that order.

        A mirror holds only the forge's refs: it has no local work. A clone git cannot inspect is kept too.
        """
        if is_bare(folder):
            return None
        found: list[str] = []
        for check in (self._changes, self._unpushed, self._local_branches, self._worktrees):
            try:
                found += await check(folder)
            except _Uninspectable as exc:
                return f"git cannot inspect it ({exc})"
        return ", ".join(found) or None

    async def _git_output(self, folder: Path, *args: str) -> str:
        result = await self._runner.run(list(args), cwd=folder)
        if not result.ok:
            raise _Uninspectable(result.message or str(result.returncode))
        return result.output

    async def _changes(self, folder: Path) -> list[str]:
        found = []
        if (await self._git_output(folder, "status", "--porcelain", "--untracked-files=normal")).strip():
            found.append("uncommitted changes")
        if (await self._runner.run(["rev-parse", "--quiet", "--verify", "refs/stash"], cwd=folder)).ok:
            found.append("stashed changes")
        return found

    async def head_unpushed(self, folder: Path) -> bool:
        """Whether the checked-out commit has history no remote branch has (what ``--update reset`` would drop).
        A clone git cannot answer for counts as having some: it is left as is."""
        try:
            return await self._commits_only_here(folder, with_head=True)
        except _Uninspectable:
            return True

    async def _commits_only_here(self, folder: Path, *refs: str, with_head: bool) -> bool:
        """Whether ``refs`` (and HEAD, if ``with_head``) reach a commit that no remote-tracking branch does."""
        # A detached HEAD's own commits count too (HEAD of a clone of an empty repo names no commit).
        has_head = with_head and (await self._runner.run(["rev-parse", "--quiet", "--verify", "HEAD^{commit}"], cwd=folder)).ok
        head = ["HEAD"] if has_head else []
        if not head and not refs:
            return False
        return bool((await self._git_output(folder, "rev-list", "-n", "1", *head, *refs, "--not", "--remotes")).strip())

    async def _unpushed(self, folder: Path) -> list[str]:
        found = []
        if await self._commits_only_here(folder, "--branches", with_head=True):
            found.append(UNPUSHED)
        if (await self._git_output(folder, "rev-list", "-n", "1", "--tags", "--not", "--remotes")).strip():
            found.append("tags on no remote branch")
        return found

    async def _local_branches(self, folder: Path) -> list[str]:
        refs = (await self._git_output(folder, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes")).split()
        remote = {ref.split("/", 3)[3] for ref in refs if ref.startswith("refs/remotes/") and ref.count("/") >= 3}
        local = sorted(ref.removeprefix("refs/heads/") for ref in refs if ref.startswith("refs/heads/"))
        only_here = [name for name in local if name not in remote]
        if not only_here:
            return []
        return [f"local branch{'es' if len(only_here) > 1 else ''} {', '.join(only_here[:3])}{' …' if len(only_here) > 3 else ''}"]

    async def _worktrees(self, folder: Path) -> list[str]:
        listed = await self._git_output(folder, "worktree", "list", "--porcelain")
        linked = sum(1 for line in listed.splitlines() if line.startswith("worktree ")) - 1
        return [f"linked worktree{'s' if linked > 1 else ''}"] if linked > 0 else []


class _Uninspectable(Exception):
    """git could not answer a question about a clone; ``str()`` is git's message."""
