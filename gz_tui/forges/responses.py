"""Reading a forge's HTTP answers: its error text, integer headers, quota headers and ``Retry-After``.

A leaf of ``forges/``: the client (:mod:`~gz_tui.forges.http`), the providers and the GitHub App login all read
responses with it, and it imports none of them.
"""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime

import httpx

from gz_tui.forges.records import RateInfo
from gz_tui.untrusted import SECRETS, inert

USER_AGENT = "gz-tui (+https://github.com/gz-tui/gz-tui)"


def error_message(response: httpx.Response) -> str:
    """The forge's own error text as one inert line, redacted of every registered secret, at most 300 characters."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return inert(response.text, flatten=True, limit=200, redactor=SECRETS)
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, dict):
        message = message.get("error") or json.dumps(message)
    if not isinstance(message, str):
        return inert(json.dumps(body), flatten=True, limit=200, redactor=SECRETS)
    return inert(message, flatten=True, limit=300, redactor=SECRETS)


def int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None or not value.strip():
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def rate_from_headers(response: httpx.Response, now: float, prefix: str = "x-ratelimit-") -> RateInfo:
    """Quota headers: GitHub and Gitea send ``x-ratelimit-*``, GitLab ``ratelimit-*`` (reset in epoch seconds)."""
    reset = int_header(response, prefix + "reset")
    if reset is not None and reset > 10_000_000_000:
        reset //= 1000  # tolerate millisecond-sized values
    return RateInfo(
        limit=int_header(response, prefix + "limit"),
        remaining=int_header(response, prefix + "remaining"),
        reset_at=float(reset) if reset is not None else None,
        retry_after=retry_after_seconds(response, now),
    )


def retry_after_seconds(response: httpx.Response, now: float) -> float | None:
    value = response.headers.get("retry-after")
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            return None
