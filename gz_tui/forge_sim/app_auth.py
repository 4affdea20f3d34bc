"""GitHub App authentication as GitHub does it (FORGE-APIS; docs.github.com "Authenticating as a GitHub App").

The app signs a JWT (RS256, ``iss`` = the app id, ``exp`` at most 10 minutes ahead) with its private key; the forge
verifies it with the app's public key and mints installation tokens (``ghs_…``) that expire after
``token_lifetime`` seconds (an hour on GitHub; seconds here, so a test can run past several expiries). Every token
minted stays valid until it expires, as on GitHub. Each credential a request carries is named by a label — never
its value — so the request log can show which token every request used. ``fail_mints`` makes the mint endpoint
(``POST /app/installations/{id}/access_tokens``) answer an error or hang while the forge runs, as it does during a
GitHub incident; tokens already minted keep working until they expire.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from dataclasses import dataclass, field
from typing import Literal

from gz_tui.clock import SYSTEM_CLOCK, Clock

MintFailure = int | Literal["hang"] | None

JWT_MAX_SECONDS = 600
"""GitHub refuses a JWT whose ``exp`` is more than 10 minutes ahead (a minute of clock drift tolerated)."""


@dataclass(slots=True)
class GitHubApp:
    """The app the forge knows: its id, its public key (PEM), its installation on the forge's owner."""

    app_id: int
    public_key: bytes
    installation_id: int = 4_711
    token_lifetime: float = 3600.0
    slug: str = "gz-tui-mirror"


@dataclass(slots=True)
class AppAuthority:
    """Verifies app JWTs and issues, recognises and expires installation tokens (thread-safe)."""

    app: GitHubApp
    clock: Clock = SYSTEM_CLOCK
    _tokens: dict[str, tuple[int, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _failure: MintFailure = None

    def fail_mints(self, failure: MintFailure) -> None:
        """From now on the mint endpoint answers ``failure`` (a status such as 500), or holds the request open without
        a byte of answer (``"hang"``); None restores it."""
        with self._lock:
            self._failure = failure

    @property
    def mint_failure(self) -> MintFailure:
        with self._lock:
            return self._failure

    @property
    def issued(self) -> int:
        """Installation tokens minted so far."""
        with self._lock:
            return len(self._tokens)

    def verify_jwt(self, authorization: str | None) -> str:
        """``"jwt"`` for a valid ``Bearer JWT`` of the app, else a label saying why it is refused (``bad-jwt``, ...)."""
        import jwt

        scheme, _, credential = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or credential.count(".") != 2:
            return "no-jwt"
        now = self.clock.now()
        try:
            claims = jwt.decode(
                credential.strip(),
                self.app.public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"], "verify_iat": False},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            return "expired-jwt"
        except jwt.PyJWTError:
            return "bad-jwt"
        if str(claims.get("iss")) != str(self.app.app_id):
            return "bad-jwt"
        if float(claims["exp"]) > now + JWT_MAX_SECONDS + 60 or float(claims["iat"]) > now + 60:
            return "bad-jwt"
        return "jwt"

    def mint(self) -> tuple[str, float]:
        """A new installation token and when it expires (epoch seconds)."""
        token = "ghs_" + secrets.token_urlsafe(27)[:36]
        expires = self.clock.now() + self.app.token_lifetime
        with self._lock:
            self._tokens[token] = (len(self._tokens) + 1, expires)
        return token, expires

    def label(self, token: str) -> str | None:
        """``installation:N`` for a live token (N counts the mints), ``expired:installation:N`` for an expired one,
        None for a string that is no installation token of this forge."""
        with self._lock:
            found = self._tokens.get(token.strip())
        if found is None:
            return None
        number, expires = found
        return f"installation:{number}" if self.clock.now() < expires else f"expired:installation:{number}"

    def label_header(self, authorization: str | None) -> str | None:
        """:meth:`label` of the token in an ``Authorization`` header (Bearer, token, or git's Basic)."""
        scheme, _, credential = (authorization or "").strip().partition(" ")
        scheme = scheme.lower()
        if scheme in ("bearer", "token"):
            return self.label(credential)
        if scheme == "basic":
            try:
                decoded = base64.b64decode(credential.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            return self.label(decoded.partition(":")[2])
        return None
