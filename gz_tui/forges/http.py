"""The one HTTP client every provider shares: auth kept on its origin, waits, retries, conditional GETs.

Rate-limit etiquette (GitHub's documented rules, applied to every forge):
- a secondary limit waits ``retry-after`` when given, else at least 60 s, doubling on repeats;
- a primary limit (remaining 0) waits until the reset time plus one second;
- every wait a server names is clamped: at least ``server_wait_floor`` (5 s, doubling each time the same request is
  refused again: a ``Retry-After: 0`` or a reset already past never makes a tight loop), at most ``server_wait_ceiling``
  (an hour, said once in a notice); a value that is no number or date is absent (the default applies);
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
from gz_tui.forges.auth import Credential, StaticToken, token_problem
from gz_tui.forges.bounded import MAX_BODY_BYTES, BodyTooLarge, UnreadableBody, read_bounded
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
    request_timeout: float = 30.0
    """Seconds a request may wait for each read (and its write) before it counts as timed out and is retried."""
    connect_timeout: float = 10.0
    """Seconds a connection may take to open."""
    server_wait_floor: float = 5.0
    """The shortest wait a rate-limit answer gets, whatever it says (doubled for each repeat of one request, to 320 s)."""
    server_wait_ceiling: float = 3600.0
    """The longest wait a rate-limit answer gets (a real window resets within the hour); a longer one is said once."""
    request_ceiling: float = 120.0
    """Seconds one request may take, its whole answer read (a server that trickles its body); then retried as a timeout."""
    max_body_bytes: int = MAX_BODY_BYTES
    """The most bytes an answer may hold once decoded (a gzip bomb stops here: the listing stops, exit 1)."""


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
        on_notice: Callable[[str], None] | None = None,
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
        self._on_notice = on_notice
        self._said_ceiling = False
        self._rng = rng or random.Random()
        self.requests = 0
        # Only the codings gz-tui inflates itself, a bounded step at a time (``bounded.read_bounded``): never br or zstd,
        # which httpx would offer once their packages are installed.
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate", **provider.default_headers()}
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(self.policy.request_timeout, connect=self.policy.connect_timeout),
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
        limited = 0
        redirects = 0
        renewed = False
        while True:
            await self._wait_turn()
            token = await self.credential.fresh() if self.same_origin(url) else None
            headers = self.provider.auth_headers(token) if token else {}
            if etag:
                headers["If-None-Match"] = etag
            extensions: dict[str, object] | None = {"trace": _answer_awaited(on_sent)} if on_sent is not None else None
            try:
                response = await self._exchange(method, url, headers, body, extensions)
            except (BodyTooLarge, UnreadableBody) as exc:  # not retried: the same server would send the same again
                raise PageError(
                    f"the forge sent an answer that cannot be read: {exc} ({without_fragment(url)}); run again to resume"
                ) from None
            except TimeoutError:
                transient = await self._backoff(transient, f"no whole answer within {self.policy.request_ceiling:g} s", url)
                continue
            except httpx.TimeoutException as exc:
                transient = await self._backoff(transient, f"timed out ({type(exc).__name__})", url)
                continue
            except httpx.ConnectError as exc:
                if self.requests == 0:
                    raise UnreachableError(f"cannot reach {self._origin[1]}: {_short(exc)}") from None
                transient = await self._backoff(transient, _short(exc), url)
                continue
            except (httpx.LocalProtocolError, UnicodeEncodeError) as exc:
                # What cannot be sent never will be: not retried (a token with a NUL or a non-ASCII character).
                if token and token_problem(token):
                    raise AuthError(f"the token holds {token_problem(token)}: it cannot be sent; a token is printable ASCII") from None
                raise ForgeError(f"cannot send the request to {self._origin[1]}: {_short(exc)}") from None
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
            if self.provider.credentials_refused(response) and token and self.credential.renewable and not renewed:
                renewed = True  # a token command run again, or an app token minted again: once per request
                if await self.credential.renew(token):
                    continue
            if self.provider.credentials_refused(response) and not token:
                variable = " or ".join(self.provider.info.token_env_vars[:1]) or "a token"
                raise AuthError(
                    f"no token was sent; {self._origin[1]} requires one ({error_message(response)}): "
                    f"set {variable} (or --token, --token-cmd, --token-file)"
                )
            if self.provider.credentials_refused(response):
                raise AuthError(
                    f"{self._origin[1]} rejected the credentials ({error_message(response)}); "
                    "check the token (--token or its environment variable) — not retried, to avoid a lockout"
                )
            if status in (403, 429):
                kind, seconds = self._classify_limit(response, rate, limited)
                if kind is not None:
                    if kind == "secondary":
                        secondary += 1
                        if secondary > self.policy.secondary_attempts:
                            raise PageError(f"still rate-limited after {secondary - 1} waits at {url}")
                    await self._wait(kind, self._clamped(kind, seconds, limited))
                    limited += 1
                    continue
                raise ForbiddenError(self.provider.forbidden_message(response))
            if status == 404:
                raise NotFoundError(error_message(response) if not quiet_404 else "not found")
            if status >= 500:
                transient = await self._backoff(transient, f"HTTP {status}", url)
                continue
            raise ForgeError(f"HTTP {status} from {self._origin[1]}: {error_message(response)}")

    async def _exchange(
        self, method: str, url: str, headers: dict[str, str], body: object, extensions: dict[str, object] | None
    ) -> httpx.Response:
        """One request and its whole answer: the body streamed in with a bound on its decoded size, the whole
        exchange within ``request_ceiling`` (httpx's read timeout is per read: a trickle would never trip it)."""
        request = self._client.build_request(method, url, headers=headers, json=body if method != "GET" else None, extensions=extensions)
        with anyio.fail_after(self.policy.request_ceiling):
            response = await self._client.send(request, stream=True)
            try:
                await read_bounded(response, self.policy.max_body_bytes)
            finally:
                await response.aclose()
        # httpx's response and its stream point at each other; break the cycle so a ~0.5 MB page is freed now,
        # not at the next full GC (memory must not grow with the org).
        response.stream = httpx.ByteStream(b"")
        return response

    # -- waiting -----------------------------------------------------------------------------
    def _classify_limit(self, response: httpx.Response, rate: RateInfo, repeats: int) -> tuple[str | None, float]:
        now = self.clock.now()
        if self.provider.is_secondary_limit(response):
            if rate.retry_after is not None:
                return "secondary", rate.retry_after
            return "secondary", self.policy.secondary_min_wait * (2 ** min(repeats, 5))
        if rate.remaining == 0 and rate.reset_at is not None:
            return "primary", max(0.0, rate.reset_at - now) + self.policy.primary_margin
        if rate.remaining == 0:  # a quota used up, its reset unreadable (``NaN``): the documented default wait
            if rate.retry_after is not None:
                return "primary", rate.retry_after
            return "primary", self.policy.secondary_min_wait * (2 ** min(repeats, 5))
        if response.status_code == 429:
            if rate.retry_after is not None:
                return "throttled", rate.retry_after
            if rate.reset_at is not None and rate.reset_at > now:
                return "throttled", rate.reset_at - now + self.policy.primary_margin
            return "throttled", self.policy.secondary_min_wait * (2 ** min(repeats, 5))
        return None, 0.0

    def _clamped(self, kind: str, seconds: float, repeats: int) -> float:
        """A server-named wait within reason: at least the floor (doubling with each repeat of one request), at most
        the ceiling (said once: a forge asking for days is wrong, and the next answer will say again)."""
        policy = self.policy
        floor = min(policy.server_wait_floor * (1 << min(repeats, 6)), policy.server_wait_ceiling)
        if seconds > policy.server_wait_ceiling:
            if not self._said_ceiling and self._on_notice is not None:
                self._said_ceiling = True
                self._on_notice(
                    f"{self._origin[1]} asked for a {kind} rate-limit wait of {seconds:,.0f} s; "
                    f"waiting {policy.server_wait_ceiling:,.0f} s at most, then asking again"
                )
            return policy.server_wait_ceiling
        return max(seconds, floor)

    def _plan_next(self, rate: RateInfo) -> None:
        """Proactive pacing from a successful response's quota headers."""
        if rate.remaining is None or rate.reset_at is None:
            return
        now = self.clock.now()
        if rate.remaining <= 0:  # a reset already past waits nothing here: a refusal then gets the floor
            self.quota.not_before = min(rate.reset_at + self.policy.primary_margin, now + self.policy.server_wait_ceiling)
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
