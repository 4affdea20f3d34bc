"""Types and helpers shared by the three API flavours: request view, response, ETags, JSON cache."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from gz_tui.forge_sim.hostile import deep_json_body, gzip_bomb, gzip_bomb_length
from gz_tui.forge_sim.limits import QuotaState
from gz_tui.forge_sim.scenario import Scenario

T = TypeVar("T")

JSON_TYPE = "application/json; charset=utf-8"
TOKEN_USER = "forge-sim-user"
"""Whom the forge's token belongs to: what every flavour's "who am I" (``/user``) answers for it."""


@dataclass(frozen=True, slots=True)
class Site:
    """Where the forge lives, fixed once the socket is bound (clone URLs embed the port)."""

    base_url: str
    hostport: str
    org: str
    owner_kind: str

    def fill(self, template: str) -> str:
        """Expand ``{hostport}``/``{org}`` in hostile clone-URL templates."""
        return template.replace("{hostport}", self.hostport).replace("{org}", self.org)


@dataclass(slots=True)
class ApiRequest:
    """One API request below its provider prefix (``path`` stays percent-encoded, as GitLab needs)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    """Lower-cased header names."""
    host: str
    prefix: str
    anonymous: bool = False
    """Served as nobody (``Scenario.bad_token_as_anonymous``): public repos only, "who am I" refused."""
    credential: str = ""
    """The credential's label (see ``Response.credential``), set by the dispatcher once it is accepted."""
    body: bytes = b""
    """The request's body (a GraphQL query's POST)."""

    def param(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None

    def int_param(self, name: str, default: int) -> int:
        value = self.param(name)
        try:
            return int(value) if value not in (None, "") else default
        except ValueError:
            return default

    def bool_param(self, name: str, default: bool | None) -> bool | None:
        value = self.param(name)
        if value is None or value == "":
            return default
        return value.strip().lower() in ("true", "1", "t", "yes", "on")

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(slots=True)
class Response:
    """What the server writes; ``drop`` closes the socket instead, ``on_served`` runs after a 200."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = JSON_TYPE
    rate_limited: bool = False
    drop: bool = False
    cacheable: bool = False
    on_served: Callable[[], None] | None = None
    credential: str = ""
    """Which credential the request carried, by label, never by value (``installation:3``, ``jwt``, ``token``,
    ``none``, ``rejected``, ``anonymous`` for a wrong token served as nobody)."""
    stream: Callable[[], Iterator[bytes]] | None = None
    """A body too big to hold (a gzip bomb): its chunks are written as they come, ``stream_length`` bytes in all."""
    stream_length: int = 0
    hold: bool = False
    """Send nothing and keep the connection open until the client hangs up or the forge stops (a hung upstream)."""


class ForgeApi(Protocol):
    """What the dispatcher needs from one API flavour; the order of checks lives in the dispatcher."""

    provider: str

    def authorized(self, request: ApiRequest, token: str) -> bool: ...

    def unauthorized(self, request: ApiRequest) -> Response: ...

    def error(self, request: ApiRequest, status: int) -> Response: ...

    def counts_quota(self, request: ApiRequest) -> bool: ...

    def rate_headers(self, state: QuotaState) -> list[tuple[str, str]]: ...

    def primary_limited(self, request: ApiRequest, state: QuotaState, retry_after: int) -> Response: ...

    def secondary_limited(self, request: ApiRequest, retry_after: int | None) -> Response: ...

    def handle(self, request: ApiRequest, state: QuotaState) -> Response: ...


def json_bytes(value: Any) -> bytes:
    """Compact JSON like the forges send; non-ASCII kept, control characters escaped."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def weak_etag(body: bytes) -> str:
    return f'W/"{hashlib.sha256(body).hexdigest()}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison as RFC 9110 prescribes for If-None-Match."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def iso(ts: float | None, millis: bool = False) -> str | None:
    """Epoch seconds to the ``...Z`` form the forges use (GitLab adds milliseconds)."""
    if ts is None:
        return None
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    return f"{text}.000Z" if millis else f"{text}Z"


def bearer_or_token(value: str | None, token: str) -> bool:
    """``Authorization: Bearer X`` or ``token X`` (scheme case-insensitive)."""
    if not value:
        return False
    scheme, _, credential = value.strip().partition(" ")
    return scheme.lower() in ("bearer", "token") and credential.strip() == token


class JsonCache:
    """Bounded cache of serialized objects: a page is then a join of cached bytes, not 100 dumps."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._items: dict[Hashable, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], bytes]) -> bytes:
        cached = self._items.get(key)
        if cached is not None:
            return cached
        value = build()
        with self._lock:
            if len(self._items) >= self._capacity:
                self._items.pop(next(iter(self._items)))
            self._items[key] = value
        return value


def page_bounds(total: int, page: int, per_page: int) -> tuple[int, int, int]:
    """(start, end, last_page) of a 1-based offset page; ``last_page`` is at least 1."""
    start = (page - 1) * per_page
    last = max(1, -(-total // per_page))
    return start, min(total, start + per_page), last


@dataclass(frozen=True, slots=True)
class PageCut:
    """One page of a listing as the scenario serves it (``Scenario.hostile_listing`` included)."""

    items: Sequence[Any]
    page: int
    last: int
    """The last page's number (at least 1), from the entries actually paged."""
    total: int
    """What the totals headers say: the number of repos, each counted once."""
    next_page: int | None
    """The page the ``next`` link names; None when there is none."""
    spoiled: str | None = None
    """``deep_json`` or ``gzip_bomb`` when this page's body is replaced by that attack."""


def cut_page(
    items: Sequence[T], page: int, per_page: int, scenario: Scenario, hostile: bool = True, listing_page: int | None = None
) -> PageCut:
    """The ``page``-th slice of ``items`` (1-based offsets) and its ``next`` page; ``hostile`` lets
    ``Scenario.hostile_listing`` spoil it (repo listings only) when ``listing_page`` (the page of the whole listing this
    one is: ``page`` unless the items were already cut by a cursor such as GitLab's ``id_after``) is the spoiled one."""
    total = len(items)
    kind = scenario.hostile_listing if hostile else None
    if kind == "duplicates":
        items = with_duplicates(items, per_page)
    start, end, last = page_bounds(len(items), page, per_page)
    chosen = items[start:end] if start < len(items) else ()
    next_page: int | None = page + 1 if end < len(items) else None
    spoiled = None
    if kind is not None and (page if listing_page is None else listing_page) == scenario.hostile_listing_page:
        if kind == "self_next":
            next_page = page
        elif kind == "next_cycle":
            next_page = 1
        elif kind in ("deep_json", "gzip_bomb"):
            spoiled = kind
    return PageCut(chosen, page, last, total, next_page, spoiled)


def with_duplicates(items: Sequence[T], per_page: int) -> Sequence[T]:
    """``items`` with its first entry listed twice on page 1 and page 1's last entry again first on page 2."""
    if len(items) < 2 or per_page < 3:
        return items
    if len(items) < per_page:
        return [items[0], *items]
    return [items[0], *items[: per_page - 1], items[per_page - 2], *items[per_page - 1 :]]


def spoiled_page(cut: PageCut, headers: list[tuple[str, str]], on_served: Callable[[], None], content_type: str = JSON_TYPE) -> Response:
    """The answer for a page ``Scenario.hostile_listing`` spoils: a 200 with the usual headers and a hostile body."""
    if cut.spoiled == "gzip_bomb":
        bomb = [*headers, ("Content-Encoding", "gzip")]
        return Response(200, b"", bomb, content_type=content_type, stream=gzip_bomb, stream_length=gzip_bomb_length(), on_served=on_served)
    return Response(200, deep_json_body(), headers, content_type=content_type, on_served=on_served)
