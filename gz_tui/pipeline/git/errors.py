"""What git's stderr says went wrong: an :class:`ErrorClass`, and the one line a user needs, made safe."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from gz_tui.kinds import ErrorClass
from gz_tui.untrusted import Redactor, inert

Marker = str | tuple[str, ...]
"""Lower-case text git's stderr holds; a tuple: every part of it, anywhere."""

MARKERS: tuple[tuple[Marker, ErrorClass], ...] = (
    # A transfer git gave up as stalled (http.lowSpeedLimit/lowSpeedTime): index-pack then dies for want of the rest
    # of the pack ("invalid index-pack output"), which without this would read as a full disk.
    ("operation too slow", ErrorClass.NETWORK),
    ("bytes of body are still expected", ErrorClass.NETWORK),
    # A ref name (the forge's) longer than a file name may be here: no disk is full, and no retry can help; as
    # unsafe as a repo name over the same limit (checked before any clone).
    (("cannot lock ref", "file name too long"), ErrorClass.UNSAFE),
    ("no space left", ErrorClass.DISK),
    ("disk quota", ErrorClass.DISK),
    ("read-only file system", ErrorClass.DISK),
    ("file name too long", ErrorClass.DISK),
    # What git says when a write fails on a full disk without naming the cause (quoted parts already blanked):
    ("could not set ''", ErrorClass.DISK),  # could not set 'core.filemode' / 'core.logallrefupdates' to ...
    ("unable to checkout working tree", ErrorClass.DISK),
    ("unable to update ref", ErrorClass.DISK),
    ("unable to write", ErrorClass.DISK),
    ("unable to create temporary", ErrorClass.DISK),
    ("failed to write", ErrorClass.DISK),
    ("invalid index-pack output", ErrorClass.DISK),  # index-pack died writing the pack (a full disk): fetch-pack read nothing
    ("429", ErrorClass.THROTTLED),
    ("503", ErrorClass.THROTTLED),
    ("too many requests", ErrorClass.THROTTLED),
    ("rate limit", ErrorClass.THROTTLED),
    ("service unavailable", ErrorClass.THROTTLED),
    ("authentication failed", ErrorClass.AUTH),
    ("authorization error", ErrorClass.AUTH),  # git-lfs: "batch response: Authorization error: …"
    ("credentials needed", ErrorClass.AUTH),  # git-lfs, a 401 without a credential to give
    ("could not read username", ErrorClass.AUTH),
    ("could not read password", ErrorClass.AUTH),
    ("terminal prompts disabled", ErrorClass.AUTH),
    ("returned error: 401", ErrorClass.AUTH),
    ("returned error: 403", ErrorClass.AUTH),
    ("permission denied (publickey)", ErrorClass.AUTH),
    ("access denied", ErrorClass.AUTH),
    ("not found", ErrorClass.NOT_FOUND),
    ("does not appear to be a git repository", ErrorClass.NOT_FOUND),
    ("returned error: 404", ErrorClass.NOT_FOUND),
    ("could not resolve", ErrorClass.NETWORK),
    ("connection refused", ErrorClass.NETWORK),
    ("remote end hung up", ErrorClass.NETWORK),
    ("early eof", ErrorClass.NETWORK),
    ("timed out", ErrorClass.NETWORK),
    ("connection reset", ErrorClass.NETWORK),
    ("rpc failed", ErrorClass.NETWORK),
    ("unexpected disconnect", ErrorClass.NETWORK),
    ("returned error: 50", ErrorClass.NETWORK),
    ("failed to connect", ErrorClass.NETWORK),
    ("transport endpoint is not connected", ErrorClass.NETWORK),  # curl's getpeername() on a server gone mid-connect
    ("transfer closed", ErrorClass.NETWORK),
    ("gnutls", ErrorClass.NETWORK),
    ("ssl", ErrorClass.NETWORK),
    ("broken pipe", ErrorClass.NETWORK),
    ("empty reply", ErrorClass.NETWORK),
    (("not allowed", "transport"), ErrorClass.REFUSED),  # transport 'file' not allowed (GIT_ALLOW_PROTOCOL)
    ("not possible to fast-forward", ErrorClass.CONFLICT),
    ("diverging branches", ErrorClass.CONFLICT),
    ("conflict", ErrorClass.CONFLICT),
)
"""The first row whose marker git's stderr holds names the class, so the order is the priority: a full disk
explains the failures it causes, a 429 the network errors around it, and so on down."""

_QUOTED = re.compile(r"'[^'\n]*'")


def classify(stderr: str) -> ErrorClass:
    """Why git failed, from its stderr: the first row of :data:`MARKERS` that matches, else ``other``."""
    # git quotes URLs and paths ('https://host:4290/org/repo-429.git/', the clone's directory): they hold
    # forge- and user-chosen text, so a repo name or port must not make an auth failure look like a 429.
    text = _QUOTED.sub("''", stderr.lower())
    for marker, error_class in MARKERS:
        if _holds(text, marker):
            return error_class
    return ErrorClass.OTHER


def _holds(text: str, marker: Marker) -> bool:
    return marker in text if isinstance(marker, str) else all(part in text for part in marker)


_QUOTED_URL = re.compile(r" '[a-z][a-z0-9+.-]*://[^']*'")
_LONG_QUOTED = re.compile(r"'([^'\n]{81,})'")
"""A quoted ref or path too long to show whole: its middle gives way, so the cause after it stays on the line."""


def _shortened(match: re.Match[str]) -> str:
    quoted = match.group(1)
    return f"'{quoted[:40]}…{quoted[-40:]}'"


def clean_line(line: str, secrets: Redactor | Iterable[str] = ()) -> str:
    """One line of git's stderr made safe and short: no escapes or controls, no secrets, no quoted URL."""
    redactor = secrets if isinstance(secrets, Redactor) else Redactor(secrets)
    return inert(_LONG_QUOTED.sub(_shortened, _QUOTED_URL.sub("", line)), flatten=True, limit=300, redactor=redactor)


_CONSEQUENCES = ("the remote end hung up unexpectedly", "early eof", "index-pack failed", "invalid index-pack output")
"""``fatal:`` lines that only say a transfer ended, not why: the first ``error:`` line before them (curl's ``RPC
failed; curl 28 Operation too slow``, an HTTP status) is the one a user needs."""


def summarize(lines: Sequence[str], secrets: Redactor | Iterable[str] = ()) -> str:
    """The line a user needs: git's ``fatal:`` line (or the ``error:`` line saying the cause of a fatal one that only
    says the transfer ended), else its ``error:`` line, else the last line."""
    redactor = secrets if isinstance(secrets, Redactor) else Redactor(secrets)
    cleaned = [clean_line(line, redactor) for line in lines if line.strip()]
    fatal = [line for line in cleaned if line.lower().startswith("fatal:")]
    errors = [line for line in cleaned if line.lower().startswith("error:")]
    if fatal and errors and all(any(c in line.lower() for c in _CONSEQUENCES) for line in fatal):
        return errors[0]  # the first: what came after it are its consequences too
    if fatal or errors:
        return (fatal or errors)[-1]
    return cleaned[-1] if cleaned else ""
