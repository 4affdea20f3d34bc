"""Shards: N processes (Kubernetes Indexed Job pods, CI matrix jobs) split one org with no coordinator.

Every shard lists the whole org and keeps the repos whose **stable hash of the forge's numeric repo id** falls
in its slot: ``int.from_bytes(sha256(id).digest()[:8], "big") % N == K``. The id, not the name, so a renamed
repo stays in its shard; SHA-256, not Python's per-process randomised ``hash``, so every machine agrees. The
union of the N shards is exactly one full run.

Each shard keeps its own state, lock and temporary clones in ``DEST/.gz-tui/shard-K-of-N/`` (``gz_tui.layout``),
so N processes can share one destination; they hold the destination's lock shared, so a run that is not sharded
(which holds it exclusively) never works beside them. A leaf: ``config/`` checks ``--shard`` with it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_SHARDS = 1024
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(ValueError):
    """A shard that cannot be: one line for the user (exit 2)."""


@dataclass(frozen=True, slots=True)
class Shard:
    index: int
    """K, 0-based."""
    count: int
    """N."""
    source: str = "--shard"
    """Where K and N came from, said in the first line of output."""

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS:
            raise ShardError(f"a shard count must be between 1 and {MAX_SHARDS:,}, not {self.count}")
        if not 0 <= self.index < self.count:
            raise ShardError(f"shard {self.index} does not exist: shards of {self.count} are 0 to {self.count - 1}")

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def dir_name(self) -> str:
        return f"shard-{self.index}-of-{self.count}"

    def owns(self, repo_key: str) -> bool:
        return slot_of(repo_key, self.count) == self.index

    def describe(self) -> str:
        return f"shard {self.index} of {self.count} ({self.source}): this run syncs about 1/{self.count} of the repos"


def slot_of(repo_key: str, count: int) -> int:
    """The shard a repo belongs to among ``count``: stable across machines, runs and renames."""
    digest = hashlib.sha256(repo_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def parse_shard(text: str) -> Shard:
    """``--shard K/N``."""
    match = _SHARD.match(text)
    if not match:
        raise ShardError(f"--shard takes K/N (0 ≤ K < N), such as 0/4, not {text!r}")
    return Shard(int(match.group(1)), int(match.group(2)), "--shard")


def shard_from(flag: str | None, count: int | None, environ: Mapping[str, str]) -> Shard | None:
    """The shard of this run: ``--shard K/N``; else Kubernetes Indexed Jobs' ``JOB_COMPLETION_INDEX`` with a count
    from ``--shards N`` / ``shards`` in the config / ``GZ_TUI_SHARDS``; else GitLab CI's ``CI_NODE_INDEX`` and
    ``CI_NODE_TOTAL`` (1-based); else None (not sharded)."""
    if flag:
        return parse_shard(flag)
    env_count = environ.get("GZ_TUI_SHARDS", "").strip()
    job_index = environ.get("JOB_COMPLETION_INDEX", "").strip()
    if job_index:
        total = count
        where = "--shards"
        if total is None and env_count:
            total, where = _whole(env_count, "GZ_TUI_SHARDS"), "GZ_TUI_SHARDS"
        if total is None:
            raise ShardError(
                "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but not how many shards there are: "
                "pass --shards N (the Job's completions) or set GZ_TUI_SHARDS"
            )
        return Shard(_whole(job_index, "JOB_COMPLETION_INDEX"), total, f"JOB_COMPLETION_INDEX={job_index}, {where} {total}")
    node, nodes = environ.get("CI_NODE_INDEX", "").strip(), environ.get("CI_NODE_TOTAL", "").strip()
    if node and nodes:
        total = _whole(nodes, "CI_NODE_TOTAL")
        if total > 1:
            return Shard(_whole(node, "CI_NODE_INDEX") - 1, total, f"CI_NODE_INDEX={node} of CI_NODE_TOTAL={nodes}")
    if count is not None and count > 1:
        raise ShardError(f"--shards {count} needs this run's index: --shard K/{count}, or JOB_COMPLETION_INDEX")
    return None


def _whole(text: str, name: str) -> int:
    if not text.isdigit():
        raise ShardError(f"{name}={text!r} is not a whole number")
    return int(text)
