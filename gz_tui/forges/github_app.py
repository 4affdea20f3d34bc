"""Signing in as a GitHub App: a JWT signed by the app's private key buys installation tokens.

The JWT is made by PyJWT (RS256, ``iat`` 60 s in the past, ``exp`` 9 minutes ahead: GitHub allows 10). An
installation token is refreshed ahead of its expiry — once less than a third of its lifetime (at most 5 minutes)
is left — one refresh at a time. Tokens already handed out stay valid until they expire, so a git transfer under
way keeps its header. A mint that fails leaves the token of now in use until it really expires; after that the
callers share one mint, retried on a backoff until ``outage_limit`` (see :class:`GitHubAppToken`). The key's lines, every JWT and every token are registered with the process-wide redactor
(:func:`gz_tui.untrusted.add_secret`) before they are used.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import anyio
import httpx

from gz_tui.clock import SYSTEM_CLOCK, Clock
from gz_tui.forges.auth import Credential, CredentialError, private_text, token_problem
from gz_tui.forges.errors import (
    AuthError,
    CredentialUnavailable,
    ForbiddenError,
    ForgeError,
    NotFoundError,
    PageError,
    UnreachableError,
)
from gz_tui.forges.github import GitHub
from gz_tui.forges.http import ApiClient, RetryPolicy
from gz_tui.format import countdown, wall_time
from gz_tui.untrusted import add_secret

JWT_PAST_SECONDS = 60
"""``iat`` this far in the past, for clock drift (GitHub's advice)."""
JWT_LIFETIME_SECONDS = 540
"""``exp`` this far ahead; GitHub refuses more than 600."""
REFRESH_SHARE = 1 / 3
"""An installation token is refreshed once less than this share of its lifetime is left ..."""
REFRESH_MARGIN_MAX = 300.0
"""... or at most this many seconds (5 minutes of a one-hour token)."""
VALID_SLACK = 0.5
"""A token with less than this many seconds left counts as expired: a request sent with it may arrive too late."""
DATE_RESOLUTION = 1.0
"""``expires_at`` and the ``Date`` it is read against are both stated in whole seconds."""
APP_RENEWALS = 3
"""Extra mints after the forge refused a current installation token (revoked): a handful a run, not a loop."""


def load_app_key(path: Path) -> bytes:
    """A GitHub App's private key (PEM, RSA), checked; its lines are registered as secrets."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    text = private_text(path, "--github-app-key")
    add_secret(text)
    for line in text.splitlines():
        if not line.startswith("-----"):
            add_secret(line)
    try:
        key = load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        raise CredentialError(
            f"--github-app-key {path} is not an unencrypted PEM private key (download one from the app's settings)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialError(f"--github-app-key {path} is not an RSA key (GitHub Apps sign with RS256)")
    return text.encode()


class _AppSignature(Credential):
    """What the app's own requests (finding its installation, minting) sign in with: a fresh JWT for each request."""

    def __init__(self, app: GitHubAppToken) -> None:
        self._app = app
        self.identity = f"github-app-jwt:{app.app_id}"

    def current(self) -> str | None:
        return None

    async def fresh(self) -> str | None:
        return self._app.jwt()


class GitHubAppToken(Credential):
    """A GitHub App installation token, minted and refreshed ahead of expiry (one refresh at a time).

    A refresh that fails while the token of now is still valid costs nothing: the token is used until it really
    expires, and minting is tried again on a backoff (never by every caller at once: one request at a time, and a
    caller that finds a refresh under way takes the token of now). Once no valid token is left, callers wait
    together for the one mint under way; minting is retried with backoff (each mint request with the API's own
    timeouts and transient retries, :class:`~gz_tui.forges.http.ApiClient`) until it has failed for
    ``outage_limit`` seconds, and then no token can be had: :attr:`unavailable` is set, the watchers are told (the
    run stops, its repos left pending) and every caller gets :class:`CredentialUnavailable` without a request."""

    renewable = True

    def __init__(
        self,
        *,
        app_id: int,
        key_path: Path,
        installation_id: int | None,
        owner: str,
        api_base: str,
        clock: Clock = SYSTEM_CLOCK,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
        outage_limit: float = 600.0,
    ) -> None:
        self.app_id = app_id
        self.key_path = key_path
        self.installation_id = installation_id
        self.owner = owner
        self.api_base = api_base.rstrip("/")
        self.identity = f"github-app:{app_id}:{installation_id if installation_id is not None else owner.lower()}"
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.outage_limit = outage_limit
        """Seconds minting may keep failing before the run stops (``outage_limit``)."""
        self._transport = transport
        self._key: bytes | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        self._margin = 0.0
        self._renewals = APP_RENEWALS
        self._lock = anyio.Lock()
        self._failures = 0
        """Mints that failed in a row."""
        self._failing_since: float | None = None
        self._next_try = 0.0
        """No mint before this (the backoff after a failed one)."""
        self._notices: list[Callable[[str], None]] = []
        self._gone: list[Callable[[str], None]] = []
        self.minted = 0
        """Installation tokens minted so far (the first one included)."""

    def current(self) -> str | None:
        return self._token

    def watch(self, on_notice: Callable[[str], None], on_unavailable: Callable[[str], None]) -> None:
        self._notices.append(on_notice)
        self._gone.append(on_unavailable)

    def _stale(self) -> bool:
        return self._token is None or self._expires_at - self.clock.now() <= self._margin

    def _valid(self) -> bool:
        return self._token is not None and self._expires_at - self.clock.now() > VALID_SLACK

    async def fresh(self) -> str | None:
        if self.unavailable is not None:
            raise CredentialUnavailable(self.unavailable)
        if not self._stale():
            return self._token
        left = self._expires_at - self.clock.now()
        if self._valid() and (self.clock.now() < self._next_try or (self._lock.locked() and left > max(VALID_SLACK, self._margin / 2))):
            return self._token  # a refresh failed (retried after its backoff) or is under way: this one is still good
        async with self._lock:  # whoever waits here shares the refresh under way
            if self._stale() and self._valid() and self.clock.now() >= self._next_try:
                await self._attempt(single=True)  # the token of now is still valid: one request, no retries
            if not self._valid():
                await self._until_valid()
        return self._token

    async def renew(self, rejected: str | None) -> bool:
        async with self._lock:
            if rejected != self._token:
                return True
            if self._renewals <= 0:
                return False
            self._renewals -= 1
            self._expires_at = self.clock.now()  # refused by the forge (revoked): as good as expired
            await self._until_valid()
            return True

    async def _until_valid(self) -> None:
        """Mint (holding the lock: whoever waits on it shares the outcome) until a valid token is had, or give up."""
        while not self._valid():
            if self.unavailable is not None:
                raise CredentialUnavailable(self.unavailable)
            wait = self._next_try - self.clock.now()
            if wait > 0:
                await self.clock.sleep(wait)
            await self._attempt(single=False)

    async def _attempt(self, *, single: bool) -> None:
        """One mint (``single``: one request, no retries — the token of now is still valid); a failure is counted and
        sets the backoff, and ends in :meth:`_give_up` once no valid token is left and minting has failed too long
        (at once when GitHub refused the app's signature or installation)."""
        try:
            await self._mint(single=single)
        except ForgeError as exc:
            now = self.clock.now()
            self._failures += 1
            if self._failing_since is None:
                self._failing_since = now
            refused = isinstance(exc, AuthError)
            if refused and self.minted == 0:
                raise  # the first token of the run: a wrong key or app id is one line, exit 2
            if not single and (refused or now - self._failing_since >= self.outage_limit):
                self._give_up(str(exc), now - self._failing_since)
            self._next_try = now + min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** (self._failures - 1))
            if self._failures == 1:
                if self._valid():
                    self._tell(f"{exc}; the current installation token is used until it expires at {wall_time(self._expires_at)}")
                else:
                    self._tell(f"{exc}; no valid installation token: retrying for up to {countdown(self.outage_limit)}, the repos wait")
            return
        if self._failures:
            self._tell(f"GitHub App {self.app_id}: minting installation tokens works again")
        self._failures, self._failing_since, self._next_try = 0, None, 0.0

    def _tell(self, message: str) -> None:
        for listener in self._notices:
            listener(message)

    def _give_up(self, why: str, seconds: float) -> None:
        self.unavailable = (
            f"no valid installation token of GitHub App {self.app_id} for {countdown(seconds)} ({why}); stopped with the "
            "unfinished repos still pending: run again to resume"
        )
        for listener in self._gone:
            listener(self.unavailable)
        raise CredentialUnavailable(self.unavailable)

    def jwt(self) -> str:
        """A fresh JWT for the app (registered as a secret before it is returned)."""
        import jwt

        if self._key is None:
            try:
                self._key = load_app_key(self.key_path)
            except CredentialError as exc:
                raise AuthError(str(exc)) from None
        now = int(self.clock.now())
        claims = {"iat": now - JWT_PAST_SECONDS, "exp": now + JWT_LIFETIME_SECONDS, "iss": str(self.app_id)}
        signed = jwt.encode(claims, self._key, algorithm="RS256")
        add_secret(signed)
        return signed

    async def _mint(self, *, single: bool) -> None:
        """Mint an installation token (finding the installation first if need be), through an API client of its own:
        the timeouts, transient retries (none when ``single``) and rate-limit waits of every API request."""
        policy = replace(self.policy, transient_attempts=1) if single else self.policy
        provider = GitHub(self.api_base, self.owner)
        what = f"GitHub App {self.app_id}: minting an installation token failed"
        async with ApiClient(
            provider, self.api_base, _AppSignature(self), clock=self.clock, policy=policy, transport=self._transport
        ) as client:
            try:
                installation = self.installation_id
                if installation is None:
                    installation = await self._find_installation(client)
                try:
                    response = await client.post(f"{self.api_base}/app/installations/{installation}/access_tokens", None, quiet_404=True)
                except NotFoundError:
                    raise AuthError(
                        f"GitHub App {self.app_id} has no installation {installation} (check --github-app-installation-id)"
                    ) from None
            except AuthError as exc:
                if str(exc).startswith(f"GitHub App {self.app_id}") or str(exc).startswith("--github-app-key"):
                    raise
                raise AuthError(
                    f"GitHub refused GitHub App {self.app_id}'s signature; check --github-app-id and that --github-app-key "
                    "is that app's private key"
                ) from None
            except ForbiddenError as exc:
                raise AuthError(f"{what}: {exc}") from None
            except UnreachableError:
                raise UnreachableError(f"{what}: cannot reach {httpx.URL(self.api_base).host}") from None
            except PageError as exc:
                raise ForgeError(f"{what}: {_retried(str(exc))}") from None
            except ForgeError as exc:
                raise ForgeError(f"{what}: {exc}") from None
        token, expires_at = self._parse(response)
        add_secret(token)
        now = self.clock.now()
        if expires_at - now <= VALID_SLACK:  # minted again at once, it would loop: a failure, retried on the backoff
            raise ForgeError(f"GitHub App {self.app_id}: the installation token GitHub minted has expired already")
        self._token, self._expires_at = token, expires_at
        self._margin = min(REFRESH_MARGIN_MAX, max(0.0, expires_at - now) * REFRESH_SHARE)
        self.minted += 1

    async def _find_installation(self, client: ApiClient) -> int:
        name = quote(self.owner, safe="")
        for kind in ("orgs", "users"):
            try:
                response = await client.get(f"{self.api_base}/{kind}/{name}/installation", quiet_404=True)
            except NotFoundError:
                continue
            try:
                number = response.json().get("id")
            except (ValueError, AttributeError):
                number = None
            if isinstance(number, int) and not isinstance(number, bool):
                self.installation_id = number
                return number
            raise ForgeError(f"GitHub App {self.app_id}: the installation answer for {self.owner} holds no id")
        raise AuthError(
            f"GitHub App {self.app_id} is not installed on {self.owner} (install it there, or give --github-app-installation-id)"
        )

    def _parse(self, response: httpx.Response) -> tuple[str, float]:
        try:
            body = response.json()
            token, expires = body["token"], body["expires_at"]
            if not isinstance(token, str) or not token.strip() or token_problem(token.strip()) or not isinstance(expires, str):
                raise TypeError
            when = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ForgeError(f"GitHub App {self.app_id}: the installation token answer is unreadable") from None
        return token.strip(), self._on_our_clock(when, response)

    def _on_our_clock(self, expires: float, response: httpx.Response) -> float:
        """``expires_at`` is GitHub's clock: read against the answer's own ``Date``, the token's lifetime is put on
        ours. A machine whose clock runs ahead of GitHub's would otherwise see every new token as expired and mint
        again and again; one behind, use tokens GitHub has expired."""
        try:
            said = email.utils.parsedate_to_datetime(response.headers["date"]).timestamp()
        except (KeyError, TypeError, ValueError, IndexError):
            return expires
        # Both are whole seconds, each cut down from the moment it stands for: the token may have up to a second less
        # than their difference says. Counted from the lower bound, a token is never sent after GitHub expired it.
        return self.clock.now() + max(0.0, expires - said - DATE_RESOLUTION)


def _retried(message: str) -> str:
    """What an API client's "listing stopped: REASON after N attempts (URL); run again to resume" says happened."""
    return message.removeprefix("listing stopped: ").split(" (", 1)[0]
