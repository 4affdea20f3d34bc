"""Signing in as a GitHub App: a JWT signed by the app's private key buys installation tokens.

The JWT is made by PyJWT (RS256, ``iat`` 60 s in the past, ``exp`` 9 minutes ahead: GitHub allows 10). An
installation token is refreshed ahead of its expiry — once less than a third of its lifetime (at most 5 minutes)
is left — one refresh at a time. Tokens already handed out stay valid until they expire, so a git transfer under
way keeps its header. The key's lines, every JWT and every token are registered with the process-wide redactor
(:func:`gz_tui.untrusted.add_secret`) before they are used.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import anyio
import httpx

from gz_tui.clock import SYSTEM_CLOCK, Clock
from gz_tui.forges.auth import Credential, CredentialError, private_text
from gz_tui.forges.errors import AuthError, ForgeError, UnreachableError
from gz_tui.forges.responses import USER_AGENT, error_message
from gz_tui.untrusted import add_secret

JWT_PAST_SECONDS = 60
"""``iat`` this far in the past, for clock drift (GitHub's advice)."""
JWT_LIFETIME_SECONDS = 540
"""``exp`` this far ahead; GitHub refuses more than 600."""
REFRESH_SHARE = 1 / 3
"""An installation token is refreshed once less than this share of its lifetime is left ..."""
REFRESH_MARGIN_MAX = 300.0
"""... or at most this many seconds (5 minutes of a one-hour token)."""
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


class GitHubAppToken(Credential):
    """A GitHub App installation token, minted and refreshed ahead of expiry (one refresh at a time)."""

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
    ) -> None:
        self.app_id = app_id
        self.key_path = key_path
        self.installation_id = installation_id
        self.owner = owner
        self.api_base = api_base.rstrip("/")
        self.identity = f"github-app:{app_id}:{installation_id if installation_id is not None else owner.lower()}"
        self.clock = clock
        self._transport = transport
        self._key: bytes | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        self._margin = 0.0
        self._renewals = APP_RENEWALS
        self._lock = anyio.Lock()
        self.minted = 0
        """Installation tokens minted so far (the first one included)."""

    def current(self) -> str | None:
        return self._token

    def _stale(self) -> bool:
        return self._token is None or self._expires_at - self.clock.now() <= self._margin

    async def fresh(self) -> str | None:
        if self._stale():
            async with self._lock:
                if self._stale():
                    await self._mint()
        return self._token

    async def renew(self, rejected: str | None) -> bool:
        async with self._lock:
            if rejected != self._token:
                return True
            if self._renewals <= 0:
                return False
            self._renewals -= 1
            await self._mint()
            return True

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

    async def _mint(self) -> None:
        signed = self.jwt()
        headers = {
            "Authorization": f"Bearer {signed}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": USER_AGENT,
        }
        host = httpx.URL(self.api_base).host
        try:
            async with httpx.AsyncClient(
                headers=headers, timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=False, transport=self._transport
            ) as client:
                installation = self.installation_id
                if installation is None:
                    installation = await self._find_installation(client)
                response = await client.post(f"{self.api_base}/app/installations/{installation}/access_tokens")
        except httpx.HTTPError as exc:
            raise UnreachableError(f"cannot reach {host} to sign in as GitHub App {self.app_id}: {type(exc).__name__}") from None
        if response.status_code == 401:
            raise AuthError(
                f"GitHub refused GitHub App {self.app_id}'s signature ({error_message(response)}); check --github-app-id "
                "and that --github-app-key is that app's private key"
            )
        if response.status_code == 404:
            raise AuthError(f"GitHub App {self.app_id} has no installation {installation} (check --github-app-installation-id)")
        if response.status_code not in (200, 201):
            raise ForgeError(
                f"GitHub App {self.app_id}: minting an installation token failed: HTTP {response.status_code} {error_message(response)}"
            )
        token, expires_at = self._parse(response)
        add_secret(token)
        now = self.clock.now()
        self._token, self._expires_at = token, expires_at
        self._margin = min(REFRESH_MARGIN_MAX, max(0.0, expires_at - now) * REFRESH_SHARE)
        self.minted += 1

    async def _find_installation(self, client: httpx.AsyncClient) -> int:
        name = quote(self.owner, safe="")
        for kind in ("orgs", "users"):
            response = await client.get(f"{self.api_base}/{kind}/{name}/installation")
            if response.status_code == 404:
                continue
            if response.status_code == 401:
                raise AuthError(
                    f"GitHub refused GitHub App {self.app_id}'s signature ({error_message(response)}); check --github-app-id "
                    "and that --github-app-key is that app's private key"
                )
            if response.status_code != 200:
                raise ForgeError(
                    f"GitHub App {self.app_id}: finding its installation failed: HTTP {response.status_code} {error_message(response)}"
                )
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
            if not isinstance(token, str) or not token.strip() or not isinstance(expires, str):
                raise TypeError
            when = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ForgeError(f"GitHub App {self.app_id}: the installation token answer is unreadable") from None
        return token.strip(), when
