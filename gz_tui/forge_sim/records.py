"""The request log: what the forge saw, for tests and benchmarks to assert on (never the token)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

RequestKind = Literal["api", "git", "lfs"]
Provider = Literal["github", "gitlab", "gitea", "bitbucket", "bitbucket-server", "git"]

_SECRET_PARAMS = frozenset({"token", "access_token", "private_token"})


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the forge answered it.

    ``status`` is 0 when the forge dropped the connection without answering.
    """

    time: float
    method: str
    path: str
    status: int
    kind: RequestKind
    rate_limited: bool
    conditional: bool
    provider: Provider
    credential: str = ""
    """The credential the request carried, by label (``installation:N``, ``expired:installation:N``, ``jwt``,
    ``token``, ``none``...): which token, never its value."""


def redact_path(raw_path: str) -> str:
    """Path + query with token-carrying query parameters masked, so the log never holds a secret."""
    parts = urlsplit(raw_path)
    if not parts.query:
        return parts.path
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
        return f"{parts.path}?{parts.query}"
    clean = [(k, "REDACTED" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs]
    return f"{parts.path}?{urlencode(clean)}"


MAX_RECORDS = 1_000_000
"""Oldest records are dropped beyond this, so a long-running demo forge cannot grow without bound."""


class RequestLog:
    """Append-only, thread-safe log of :class:`RequestRecord` (bounded by ``MAX_RECORDS``)."""

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=max_records)

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
