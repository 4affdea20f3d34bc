"""The failures a forge can hand the pipeline, declared once; ``str()`` of each is one line a user can act on.

Each carries the exit code a run ends with when it stops the listing (0 ok, 1 some repos failed, 2 usage,
auth or not found). The message is built from untrusted forge text already made inert and redacted
(:mod:`gz_tui.forges.responses`).
"""

from __future__ import annotations


class ForgeError(Exception):
    """A failure that stops the listing (exit 1: the state is saved and a rerun resumes)."""

    exit_code = 1


class UsageError(ForgeError):
    """The request cannot be made as configured (exit 2)."""

    exit_code = 2


class AuthError(ForgeError):
    """Bad or missing credentials: never retried (GitHub locks accounts out after repeated 401s); exit 2."""

    exit_code = 2


class NotFoundError(ForgeError):
    """The owner (or the endpoint) does not exist on this forge; exit 2."""

    exit_code = 2


class ForbiddenError(ForgeError):
    """A 403 that is not a rate limit: SSO enforcement or missing permission; exit 2."""

    exit_code = 2


class UnreachableError(ForgeError):
    """The API could not be reached at all (DNS, refused, TLS); exit 2."""

    exit_code = 2


class PageError(ForgeError):
    """A listing page kept failing after bounded retries, or could not be read; the state is saved and a rerun
    resumes (exit 1)."""

    exit_code = 1


class CredentialUnavailable(ForgeError):
    """No valid token can be had any more (a GitHub App's minting kept failing after its last token expired): the run
    stops with its unfinished repos still pending, and a rerun resumes (exit 1)."""

    exit_code = 1
