"""Reading a forge's HTTP answers: its error text, integer headers, quota headers and ``Retry-After``.

A leaf of ``forges/``: the client (:mod:`~gz_tui.forges.http`), the providers and the GitHub App login all read
responses with it, and it imports none of them.
"""

from __future__ import annotations

import json
import math
from email.utils import parsedate_to_datetime

import httpx

from gz_tui.forges.bounded import parse_json
from gz_tui.forges.records import RateInfo
from gz_tui.untrusted import SECRETS, inert

USER_AGENT = "gz-tui (+https://github.com/gz-tui/gz-tui)"


def error_message(response: httpx.Response) -> str:
    """The forge's own error text as one inert line, redacted of every registered secret, at most 300 characters."""
    try:
        body = parse_json(response.content)
    except ValueError:  # JSON and Unicode decoding errors are ValueErrors
        return inert(response.text, flatten=True, limit=200, redactor=SECRETS)
    message = body.get("message") if isinstance(body, dict) else None
    errors = body.get("errors") if isinstance(body, dict) else None
    if message is None and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        message = errors[0].get("message")  # GraphQL's errors array (Sourcehut), or Bitbucket Data Center's
    if isinstance(message, dict):
        message = message.get("error") or json.dumps(message)
    if not isinstance(message, str):
        return inert(json.dumps(body), flatten=True, limit=200, redactor=SECRETS)
    return inert(message, flatten=True, limit=300, redactor=SECRETS)


RESET_HORIZON = 86_400.0
"""The furthest ahead a quota reset is believed (a day; real windows are an hour or less): a reset further off is
taken as this far, so nothing downstream meets an absurd time (``datetime`` overflows past year 9999)."""


def finite_number(text: str) -> float | None:
    """A header's number, or None when it is not one (``NaN``, ``inf``, ``1e400`` and junk are not: absent)."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None or not value.strip():
        return None
    number = finite_number(value)
    return int(number) if number is not None else None


def rate_from_headers(response: httpx.Response, now: float, prefix: str = "x-ratelimit-") -> RateInfo:
    """Quota headers: GitHub and Gitea send ``x-ratelimit-*``, GitLab ``ratelimit-*`` (reset in epoch seconds).

    What the server says is not believed beyond reason: a reset that is no number is absent, one in the past stays
    in the past (the client decides how long to wait: :class:`gz_tui.forges.http.ApiClient` clamps), one more than
    :data:`RESET_HORIZON` ahead is taken as that far."""
    reset = int_header(response, prefix + "reset")
    if reset is not None and reset > 10_000_000_000:
        reset //= 1000  # tolerate millisecond-sized values
    reset_at = min(float(reset), now + RESET_HORIZON) if reset is not None and reset >= 0 else None
    return RateInfo(
        limit=int_header(response, prefix + "limit"),
        remaining=int_header(response, prefix + "remaining"),
        reset_at=reset_at,
        retry_after=retry_after_seconds(response, now),
    )


def retry_after_seconds(response: httpx.Response, now: float) -> float | None:
    """``Retry-After`` in seconds from now: a number or an HTTP date (RFC 9110 §10.2.3). Negative or past values are
    kept as they are (the client clamps every wait to its floor); what is no number or date is absent."""
    value = response.headers.get("retry-after")
    if value is None or not value.strip():
        return None
    number = finite_number(value)
    if number is not None:
        return number
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
