"""The closed vocabularies of gz-tui, declared once.

Each is a ``StrEnum``: its members compare equal to their string values, so they serialise into JSON
events, the state database and the config file as plain strings, and a typo in code is a NameError.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ExitCode(IntEnum):
    """How a run ends, for the shell (headless and dashboard alike; README "Exit codes")."""

    OK = 0
    """Every repo is done."""
    FAILED = 1
    """Some repos failed (or the listing stopped part-way: a rerun resumes)."""
    USAGE = 2
    """Bad usage, refused credentials, an owner that does not exist: nothing to resume."""
    INTERRUPTED = 130
    """Ctrl+C, SIGTERM, a cancel or a closed output: the state is saved and a rerun resumes."""


class RunStatus(StrEnum):
    """How a run is recorded in the state (``runs.status``)."""

    RUNNING = "running"
    """Started and not recorded as ended: still going, or killed (the next run resumes it)."""
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"


class ProviderName(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"
    BITBUCKET = "bitbucket"
    """Bitbucket Cloud (bitbucket.org)."""
    BITBUCKET_SERVER = "bitbucket-server"
    """Bitbucket Data Center (formerly Server), self-hosted."""
    SOURCEHUT = "sourcehut"
    """Sourcehut's git service (git.sr.ht), GraphQL only."""
    GOGS = "gogs"
    """Gogs, self-hosted (Gitea's ancestor: the same ``/api/v1`` paths, unpaginated listings)."""


class Listing(StrEnum):
    """What of an owner's a target lists: each kind has its own folder, state and name (``OWNER+starred``, …)."""

    REPOS = "repos"
    STARRED = "starred"
    """``--starred``: the repos a user starred."""
    GISTS = "gists"
    """``--gists``: a GitHub user's gists."""
    SNIPPETS = "snippets"
    """``--snippets``: the snippets of a GitLab group's (or user's) projects, and a user's personal snippets."""


class CloneProtocol(StrEnum):
    HTTPS = "https"
    SSH = "ssh"


class UpdateMode(StrEnum):
    """What happens to a clone already on disk."""

    FETCH = "fetch"
    PULL = "pull"
    RESET = "reset"
    SKIP = "skip"


class RepoStatus(StrEnum):
    """How one repo ended in one run (the state's ``status`` and the ``repo_done`` outcome)."""

    CLONED = "cloned"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"


class ErrorClass(StrEnum):
    """Why a repo failed (``repo_failed.error_class``)."""

    AUTH = "auth"
    NOT_FOUND = "not_found"
    NETWORK = "network"
    THROTTLED = "throttled"
    DISK = "disk"
    UNSAFE = "unsafe"
    CONFLICT = "conflict"
    REFUSED = "refused"
    DIRTY = "dirty"
    NO_BRANCH = "no_branch"
    OTHER = "other"


TRANSIENT_ERRORS = frozenset({ErrorClass.NETWORK, ErrorClass.THROTTLED})
"""Failures a later attempt of the same run may cure: they are retried with backoff."""

PERMANENT_ERRORS = frozenset({ErrorClass.UNSAFE, ErrorClass.NOT_FOUND, ErrorClass.AUTH, ErrorClass.REFUSED, ErrorClass.NO_BRANCH})
"""Failures a retry run with the same settings cannot cure (a name gz-tui refuses, a repo that is gone,
credentials the forge rejects): the dashboard does not offer to retry them."""


class CloneKind(StrEnum):
    """What kind of copy a sync made or updated (``repo_done.kind``)."""

    CHECKOUT = "checkout"
    """A working clone with full history."""
    SHALLOW = "shallow"
    """A working clone of ``--depth N`` commits."""
    PARTIAL = "partial"
    """A working clone with ``--filter`` (blobs or trees fetched on demand)."""
    MIRROR = "mirror"
    """A bare ``--mirror`` clone of every ref."""
    WIKI = "wiki"
    """A repo's wiki (``--wikis``)."""


class PartialFilter(StrEnum):
    """``--filter``: what a partial clone leaves on the server until it is needed."""

    BLOB_NONE = "blob:none"
    TREE_0 = "tree:0"


class WaitKind(StrEnum):
    """Why the lister is not sending API requests (``rate_limit_wait.kind``)."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    THROTTLED = "throttled"
    BACKOFF = "backoff"
    PACING = "pacing"


class PlannedAction(StrEnum):
    """What a dry run would do with a repo (``repo_planned.action``)."""

    CLONE = "clone"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    """Left as it is: the change signal vouches for the clone (or ``--update skip``)."""
    REFUSE = "refuse"


class Affiliation(StrEnum):
    """Which repos of a GitHub user owner (listed with that user's own token) ``--affiliation`` selects."""

    OWNER = "owner"
    MEMBER = "member"
    ALL = "all"
