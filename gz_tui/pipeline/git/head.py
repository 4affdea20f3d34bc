"""A clone whose HEAD names no commit although the repo has branches: the forge's HEAD points at a branch it does not
have (deleted or renamed behind it). git clones every branch and checks out nothing ("remote HEAD refers to nonexistent
ref, unable to checkout"); gz-tui then checks out the branch the forge names as default when there is one, and else
says so (``skipped``), never reporting an empty checkout as ``cloned``.

A repo with no branch at all (nothing pushed yet) is not this: its clone is what there is."""

from __future__ import annotations

from pathlib import Path

from gz_tui.pipeline.git.runner import GitRunner


async def settle_head(runner: GitRunner, clone: Path, named: str | None) -> str | None:
    """Give ``clone`` (HEAD naming no commit) a checkout of ``named`` (the forge's default branch) if it has that branch;
    None when it then has one, or has no branches at all; else why nothing is checked out (one line)."""
    listed = await runner.run(["for-each-ref", "--format=%(refname:strip=3)", "refs/remotes/origin"], cwd=clone)
    branches = [name for name in listed.output.splitlines() if name and name != "HEAD"] if listed.ok else []
    if not branches:
        return None
    if named and named in branches and not named.startswith("-"):
        step = await runner.run(["checkout", "--quiet", "-B", named, "--track", f"origin/{named}"], cwd=clone)
        if step.ok:
            return None
    head = _head_name(clone)
    return (
        f"no default branch: the forge's HEAD names {head!r}, a branch it does not have; nothing checked out "
        f"({len(branches)} branch{'es' if len(branches) != 1 else ''} fetched)"
    )


def _head_name(clone: Path) -> str:
    try:
        head = (clone / ".git" / "HEAD").read_text().strip()
    except OSError:
        return "?"
    return head.removeprefix("ref:").strip().removeprefix("refs/heads/")[:200]
