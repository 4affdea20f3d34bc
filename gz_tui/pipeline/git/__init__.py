"""Running git safely, one module per idea.

- :mod:`~gz_tui.pipeline.git.env`: the locked-down environment every git child gets, the token only as an
  origin-scoped header (never in a URL, an argument list, ``.git/config`` or an inherited variable), and the
  installed git's version.
- :mod:`~gz_tui.pipeline.git.errors`: git's stderr as an ``ErrorClass`` (a table of markers) and one safe line.
- :mod:`~gz_tui.pipeline.git.runner`: :class:`GitRunner` starts git with the token of now, parses its progress
  and returns a :class:`GitResult`.
- :mod:`~gz_tui.pipeline.git.reaper`: no git child outlives gz-tui, however gz-tui dies.
- :mod:`~gz_tui.pipeline.git.head`: a clone whose HEAD names a branch the repo lacks gets the forge's default branch
  checked out, or is said to have none.
"""

from gz_tui.pipeline.git.env import (
    MIN_GIT_VERSION,
    GitAuth,
    allow_http_for,
    git_environment,
    git_version,
    with_header,
)
from gz_tui.pipeline.git.errors import classify, clean_line, summarize
from gz_tui.pipeline.git.runner import PROGRESS_INTERVAL, GitResult, GitRunner, ProgressListener

__all__ = [
    "MIN_GIT_VERSION",
    "PROGRESS_INTERVAL",
    "GitAuth",
    "GitResult",
    "GitRunner",
    "ProgressListener",
    "allow_http_for",
    "classify",
    "clean_line",
    "git_environment",
    "git_version",
    "summarize",
    "with_header",
]
