"""Untrusted text, in one place to audit: forge strings made inert for a terminal, and secrets redacted.

Everything a forge sends (names, URLs, error bodies, what git relays from the server) may be hostile, and the
token must never be printed, journaled or logged. Every output path of gz-tui goes through this module:

- :func:`inert` turns any text into one harmless line: a character passes only if ``str.isprintable()``
  says so (or is a plain space); every other one (escape, C0/C1 controls, newline and tab included, bidi
  overrides, zero-width and other invisible format characters, odd spaces, unassigned code points) is
  shown as its Python escape, ``\\x1b``, ``\\n``, ``\\u202e``. ``flatten=True`` is for prose (a forge's
  error body, a line of git's stderr): whitespace runs become one space and ANSI escape sequences are
  dropped whole. An optional ``limit`` shortens the result without leaving a piece of a word at the cut.
- :class:`Redactor` replaces a set of secrets by ``***`` in each form they can travel in
  (:func:`secret_forms`): raw, URL-encoded, and base64 (standard and URL-safe, padded or not) of the raw
  secret and of the ``USER:SECRET`` pairs git sends in HTTP Basic auth. A form shorter than
  :data:`SHORT_SECRET` characters is replaced only as a whole word (never inside ``exit_code`` for a token
  ``x``); :meth:`Redactor.redact_values` redacts the values of a JSON-able structure and never its keys.
  :data:`SECRETS` is the process-wide registry (the run registers its token there; the log file, headless
  output and the state journal redact with it).
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

REDACTED = "***"
SHORT_SECRET = 8
"""Forms shorter than this are redacted only as whole words: a short token is also a common substring."""
TOKEN_CHARS = "A-Za-z0-9_-"
"""What a word is made of, for the whole-word match of short forms (a regex character-class body)."""
BASIC_AUTH_USERS = ("x-access-token", "oauth2", "gz-tui", "x-token-auth", "x-bitbucket-api-token-auth")
"""The user names the built-in forges send with a token in Basic auth (GitHub, GitLab, Gitea, Bitbucket Cloud's
access and API tokens), so any :class:`Redactor` knows ``base64(USER:TOKEN)`` from the token alone. Not a list to
extend: :func:`gz_tui.forges.provider.basic_credentials` registers every pair it builds, whatever the user."""

_ANSI = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC: window title, hyperlinks, clipboard
    r"|\x1b[ -/]*[0-~]"  # any other escape sequence
)
_SPACES = re.compile(r"\s+")
_WORD_TAIL = re.compile(r"[^\s\"'<>()\[\]{},;]+$")


def _show(char: str) -> str:
    return char if char.isprintable() else char.encode("unicode_escape").decode("ascii")


def inert(text: object, *, flatten: bool = False, limit: int | None = None, redactor: Redactor | None = None) -> str:
    """``text`` as one line a terminal shows literally, redacted by ``redactor`` if given, at most ``limit`` long.

    Non-printable characters are shown as escapes (``"a\\x1b[31mb"`` → ``a\\x1b[31mb``). With ``flatten``,
    ANSI escape sequences are dropped and whitespace runs (newlines, tabs included) become one space, ends
    stripped. Redaction runs on the inert text (so a secret split by a control character cannot come back
    together) and before shortening (so a cut never leaves the start of a secret).
    """
    text = str(text)
    if flatten:
        text = _SPACES.sub(" ", _ANSI.sub("", text)).strip()
    if not text.isprintable():
        text = "".join(map(_show, text))
    if redactor is not None:
        text = redactor.redact(text)
    return shorten(text, limit) if limit is not None else text


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``…`` when cut.

    A word cut in two is dropped whole: half a token (or half of its base64) is still a leak.
    """
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    head = text[: limit - 1]
    if _WORD_TAIL.search(text[limit - 1]):  # the cut falls inside a word: drop its first half too
        head = _WORD_TAIL.sub("", head)
    return head.rstrip() + "…"


def secret_forms(secret: str) -> set[str]:
    """The secret and the encodings in which it can show up in a request, a URL or a server's echo."""
    forms = {secret, quote(secret, safe=""), inert(secret)}
    for raw in (secret, *(f"{user}:{secret}" for user in BASIC_AUTH_USERS)):
        data = raw.encode("utf-8")
        for encoded in (base64.b64encode(data), base64.urlsafe_b64encode(data)):
            text = encoded.decode("ascii")
            forms.add(text)
            forms.add(text.rstrip("="))
    return {form for form in forms if form}


def _pattern(forms: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = []
    for form in sorted(forms, key=lambda f: (-len(f), f)):  # longest first: a longer form is never half-replaced
        escaped = re.escape(form)
        if len(form) < SHORT_SECRET:
            escaped = f"(?<![{TOKEN_CHARS}]){escaped}(?![{TOKEN_CHARS}])"
        alternatives.append(escaped)
    return re.compile("|".join(alternatives)) if alternatives else None


class Redactor:
    """Replaces every form of a set of secrets by ``***``. Thread-safe; adding a secret is cheap and rare."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._forms: frozenset[str] = frozenset()
        self._compiled: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    @property
    def forms(self) -> frozenset[str]:
        """Every registered form (what :meth:`reset` takes back)."""
        return self._forms

    def add(self, secret: str | None) -> None:
        """Register a secret (a token, a password); ``None`` and blank strings are ignored."""
        if secret is None or not secret.strip():
            return
        forms = secret_forms(secret) | secret_forms(secret.strip())
        with self._lock:
            if not forms <= self._forms:  # a secret met again (a header built per request) costs no recompile
                self._set(self._forms | forms)

    def reset(self, forms: Iterable[str] = ()) -> None:
        """Forget every secret, or go back to ``forms`` as read earlier from :attr:`forms` (tests)."""
        with self._lock:
            self._set(frozenset(forms))

    def _set(self, forms: frozenset[str]) -> None:
        self._forms = forms
        self._compiled = _pattern(forms)

    def redact(self, text: str) -> str:
        """``text`` with every form of every secret replaced by ``***``."""
        compiled = self._compiled
        return compiled.sub(REDACTED, text) if compiled is not None else text

    def redact_values(self, value: Any) -> Any:
        """A copy of a JSON-able value with its strings redacted; dict keys and the structure are kept."""
        if self._compiled is None:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {key: self.redact_values(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_values(item) for item in value]
        return value

    def __bool__(self) -> bool:
        return self._compiled is not None


SECRETS = Redactor()
"""The process-wide registry: the run's token is added once; logs, headless output and the journal use it."""


def add_secret(secret: str | None) -> None:
    """Register a secret process-wide (see :data:`SECRETS`)."""
    SECRETS.add(secret)


def redact(text: str) -> str:
    """``text`` with every secret registered process-wide replaced by ``***``."""
    return SECRETS.redact(text)


def redact_values(value: Any) -> Any:
    """A JSON-able value with its strings redacted of every process-wide secret, keys untouched."""
    return SECRETS.redact_values(value)
