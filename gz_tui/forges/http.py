"""The one HTTP client every provider shares: auth kept on its origin, waits, retries, conditional GETs.

Rate-limit etiquette (GitHub's documented rules, applied to every forge):
- a secondary limit waits ``retry-after`` when given, else at least 60 s, doubling on repeats;
- a primary limit (remaining 0) waits until the reset time plus one second;
- a 200 that shows remaining 0 schedules that wait *before* the next request;
- when few requests remain, the rest are spread evenly until the reset instead of burst;
- 401 is never retried; any other 403 is an error naming its cause;
- 5xx, timeouts and dropped connections get bounded retries with exponential backoff and jitter.
While a wait is on, no request leaves this client.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio
import httpx

from gz_tui.clock import SYSTEM_CLOCK, Clock
from gz_tui.forges.auth import Credential, StaticToken
from gz_tui.forges.errors import (
    AuthError,
    ForbiddenError,
    ForgeError,
    NotFoundError,
    PageError,
    UnreachableError,
)
from gz_tui.forges.records import RateInfo
from gz_tui.forges.responses import USER_AGENT, error_message
from gz_tui.untrusted import SECRETS, Redactor, inert
from gz_tui.urls import origin_of, without_fragment

if TYPE_CHECKING:
    from gz_tui.forges.provider import Provider

WaitListener = Callable[[str, float, float], None]
"""Called with (kind, seconds, until_epoch) when the client starts waiting."""


@dataclass(slots=True)
class RetryPolicy:
    transient_attempts: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    secondary_min_wait: float = 60.0
    secondary_attempts: int = 8
    primary_margin: float = 1.0
    spread_threshold: float = 0.05
    """Spread requests once remaining falls below this share of the limit (and at most 50 left)."""


class Quota:
    """One forge identity (an API origin and a token): its one request at a time, its pacing and its waits.

    Every client of a run that talks to the same origin with the same token shares one Quota, so targets on
    one forge identity see one quota and sit out one wait together, while a wait on another identity never
    holds them up.
    """

    def __init__(self) -> None:
        self.turn = anyio.Lock()
        """Held for a whole request, retries and waits included: GitHub asks for serial requests."""
        self.not_before = 0.0
        self._wait_listeners: list[WaitListener] = []
        self._rate_listeners: list[Callable[[RateInfo], None]] = []

    def subscribe(self, on_wait: WaitListener | None, on_rate: Callable[[RateInfo], None] | None) -> None:
        if on_wait is not None:
            self._wait_listeners.append(on_wait)
        if on_rate is not None:
            self._rate_listeners.append(on_rate)

    def announce_wait(self, kind: str, seconds: float, until: float) -> None:
        for listener in self._wait_listeners:
            listener(kind, seconds, until)

    def announce_rate(self, rate: RateInfo) -> None:
        for listener in self._rate_listeners:
            listener(rate)


class ApiClient:
    """Sends one provider's requests (GET, and POST for a GraphQL forge), honouring rate limits; one request at a time per forge identity (GitHub
    asks for serial requests): clients sharing a :class:`Quota` take turns."""

    def __init__(
        self,
        provider: Provider,
        base_url: str,
        token: str | Credential | None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        policy: RetryPolicy | None = None,
        on_wait: WaitListener | None = None,
        on_rate: Callable[[RateInfo], None] | None = None,
        on_request: Callable[[int], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        quota: Quota | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._origin = origin_of(self.base_url)
        self.credential = token if isinstance(token, Credential) else StaticToken(token)
        """Asked for the token of now before every request (a GitHub App's is refreshed ahead of its expiry)."""
        self._secrets = Redactor([self.credential.current()])
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.quota = quota or Quota()
        self.quota.subscribe(on_wait, on_rate)
        self._on_request = on_request
        self._rng = rng or random.Random()
        self.requests = 0
        headers = {"User-Agent": USER_AGENT, **provider.default_headers()}
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(30.0, connect=10.0),
            follow_redirects=False,
            transport=transport,
            http2=False,
            trust_env=True,
            verify=tls_context_for(self.base_url),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def same_origin(self, url: str) -> bool:
        return origin_of(url) == self._origin

    async def get(
        self, url: str, *, etag: str | None = None, quiet_404: bool = False, on_sent: Callable[[], None] | None = None
    ) -> httpx.Response:
        """GET with waiting and retrying; returns a 2xx or 304 response, else raises a ForgeError.

        An error's text comes partly from the forge (its message, a URL it linked to); a server that
        echoes the credentials it received must not get them printed, so the token is redacted from it.
        ``on_sent`` is called once the request is written and the answer awaited (the lister's page ahead).
        """
        return await self._turn("GET", url, etag=etag, quiet_404=quiet_404, on_sent=on_sent)

    async def post(self, url: str, body: object, *, quiet_404: bool = False, on_sent: Callable[[], None] | None = None) -> httpx.Response:
        """POST ``body`` as JSON with the same waits, retries and errors as :meth:`get` (a GraphQL query is a POST
        that only reads, so a failed one is as safe to send again as a GET)."""
        return await self._turn("POST", url, body=body, quiet_404=quiet_404, on_sent=on_sent)

    async def _turn(
        self,
        method: str,
        url: str,
        *,
        etag: str | None = None,
        body: object = None,
        quiet_404: bool,
        on_sent: Callable[[], None] | None,
    ) -> httpx.Response:
        try:
            async with self.quota.turn:
                return await self._send(method, url, etag=etag, body=body, quiet_404=quiet_404, on_sent=on_sent)
        except ForgeError as exc:
            text = str(exc)
            clean = self._redact(text)
            if clean == text:
                raise
            raise type(exc)(clean) from None

    def _redact(self, text: str) -> str:
        return SECRETS.redact(self._secrets.redact(text))

    async def _send(
        self, method: str, url: str, *, etag: str | None, body: object, quiet_404: bool, on_sent: Callable[[], None] | None
    ) -> httpx.Response:
        transient = 0
        secondary = 0
        redirects = 0
        renewed = False
        while True:
            await self._wait_turn()
            token = await self.credential.fresh() if self.same_origin(url) else None
            headers = self.provider.auth_headers(token) if token else {}
            if etag:
                headers["If-None-Match"] = etag
            extensions = {"trace": _answer_awaited(on_sent)} if on_sent is not None else None
            try:
                if method == "GET":
                    response = await self._client.get(url, headers=headers, extensions=extensions)
                else:
                    response = await self._client.request(method, url, headers=headers, json=body, extensions=extensions)
                # httpx's response and its (already read) stream point at each other; break the cycle so a
                # ~0.5 MB page is freed now, not at the next full GC (memory must not grow with the org).
                response.stream = httpx.ByteStream(b"")
            except httpx.TimeoutException as exc:
                transient = await self._backoff(transient, f"timed out ({type(exc).__name__})", url)
                continue
            except httpx.ConnectError as exc:
                if self.requests == 0:
                    raise UnreachableError(f"cannot reach {self._origin[1]}: {_short(exc)}") from None
                transient = await self._backoff(transient, _short(exc), url)
                continue
            except httpx.TransportError as exc:
                transient = await self._backoff(transient, _short(exc), url)
                continue
            self.requests += 1
            if self._on_request:
                self._on_request(response.status_code)
            rate = self.provider.rate_info(response, self.clock.now())
            if rate.limit is not None or rate.remaining is not None:
                self.quota.announce_rate(rate)
            status = response.status_code
            if status == 304 or 200 <= status < 300:
                self._plan_next(rate)
                return response
            if status in (301, 302, 307, 308) and redirects < 5:
                target = response.headers.get("location", "")
                redirects += 1
                url = str(httpx.URL(url).join(target))
                if not self.same_origin(url):
                    raise ForgeError(f"the forge redirected to another host ({origin_of(url)[1]}); not following it with your token")
                continue
            if status == 401 and token and self.credential.renewable and not renewed:
                renewed = True  # a token command run again, or an app token minted again: once per request
                if await self.credential.renew(token):
                    continue
            if status == 401:
                raise AuthError(
                    f"{self._origin[1]} rejected the credentials ({error_message(response)}); "
                    "check the token (--token or its environment variable) — not retried, to avoid a lockout"
                )
            if status in (403, 429):
                kind, seconds = self._classify_limit(response, rate, secondary)
                if kind is not None:
                    if kind == "secondary":
                        secondary += 1
                        if secondary > self.policy.secondary_attempts:
                            raise PageError(f"still rate-limited after {secondary - 1} waits at {url}")
                    await self._wait(kind, seconds)
                    continue
                raise ForbiddenError(self.provider.forbidden_message(response))
            if status == 404:
                raise NotFoundError(error_message(response) if not quiet_404 else "not found")
            if status >= 500:
                transient = await self._backoff(transient, f"HTTP {status}", url)
                continue
            raise ForgeError(f"HTTP {status} from {self._origin[1]}: {error_message(response)}")

    # -- waiting -----------------------------------------------------------------------------
    def _classify_limit(self, response: httpx.Response, rate: RateInfo, repeats: int) -> tuple[str | None, float]:
        now = self.clock.now()
        if self.provider.is_secondary_limit(response):
            if rate.retry_after is not None:
                return "secondary", rate.retry_after
            return "secondary", self.policy.secondary_min_wait * (2 ** min(repeats, 5))
        if rate.remaining == 0 and rate.reset_at is not None:
            return "primary", max(0.0, rate.reset_at - now) + self.policy.primary_margin
        if response.status_code == 429:
            if rate.retry_after is not None:
                return "throttled", rate.retry_after
            if rate.reset_at is not None and rate.reset_at > now:
                return "throttled", rate.reset_at - now + self.policy.primary_margin
            return "throttled", self.policy.secondary_min_wait * (2 ** min(repeats, 5))
        return None, 0.0

    def _plan_next(self, rate: RateInfo) -> None:
        """Proactive pacing from a successful response's quota headers."""
        if rate.remaining is None or rate.reset_at is None:
            return
        now = self.clock.now()
        if rate.remaining <= 0:
            self.quota.not_before = rate.reset_at + self.policy.primary_margin
            return
        limit = rate.limit or 0
        low = min(50.0, max(1.0, limit * self.policy.spread_threshold))
        if rate.remaining <= low and rate.reset_at > now:
            self.quota.not_before = max(self.quota.not_before, now + (rate.reset_at - now) / rate.remaining)

    async def _wait_turn(self) -> None:
        seconds = self.quota.not_before - self.clock.now()
        if seconds > 0:
            await self._wait("primary" if seconds > 5 else "pacing", seconds)

    async def _wait(self, kind: str, seconds: float) -> None:
        until = self.clock.now() + seconds
        self.quota.announce_wait(kind, seconds, until)
        await self.clock.sleep(seconds)
        self.quota.announce_wait("", 0.0, 0.0)

    async def _backoff(self, attempt: int, reason: str, url: str) -> int:
        attempt += 1
        if attempt >= self.policy.transient_attempts:
            raise PageError(f"listing stopped: {reason} after {attempt} attempts ({without_fragment(url)}); run again to resume")
        delay = min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** (attempt - 1))
        delay *= 0.5 + self._rng.random()
        await self._wait("backoff", delay)
        return attempt


def tls_context_for(base_url: str) -> ssl.SSLContext | bool:
    """What verifies TLS for a client of this API: the system's trust (httpx's default) for https.

    A plain-http API (loopback, or ``--insecure-http``) never makes a TLS connection: every request stays on its
    origin (next links are rebased onto it, a redirect elsewhere is refused). Loading the CA bundle for it would
    cost 20–40 ms of start-up; a context that verifies but trusts no one stands in, so an https request that
    somehow came would fail closed.
    """
    if urlsplit(base_url).scheme == "http":
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return True


def _short(exc: Exception) -> str:
    return inert(str(exc) or type(exc).__name__, flatten=True, limit=200, redactor=SECRETS)


def _answer_awaited(on_sent: Callable[[], None]) -> Callable[[str, dict[str, object]], Awaitable[None]]:
    """An httpcore trace hook calling ``on_sent`` when the request is out and its answer is awaited."""

    async def trace(event: str, info: dict[str, object]) -> None:
        if event.endswith("receive_response_headers.started"):
            on_sent()

    return trace
