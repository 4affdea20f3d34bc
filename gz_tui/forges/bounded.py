"""Reading an answer a forge may have built to hurt its client: a body read with a bound on its decoded size, and
JSON parsed only when it nests no deeper than a forge's real answers do.

A leaf of ``forges/``: the client (:mod:`~gz_tui.forges.http`) reads every body with :func:`read_bounded`, and every
JSON a forge sends is parsed by :func:`parse_json` (through :func:`gz_tui.forges.provider.json_body` or
:func:`gz_tui.forges.responses.error_message`).

Why orjson: a listing page of 100 GitHub repos is about 0.5 MB of JSON, and the standard library's decoder spends
about 6 ms on it, most of gz-tui's CPU per page; orjson builds the same dicts and lists in about 1.3 ms. Where the two
disagree, the standard library decides (see :func:`_decode`), so every answer parses as it always did.

Why our own decoding: httpx inflates a gzip body one network chunk at a time, and a 64 KiB chunk of a gzip bomb
inflates to 64 MiB at once; here each chunk is inflated at most up to the bound, so memory stays within it.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import httpx
import orjson

MAX_BODY_BYTES = 32 << 20
"""The most bytes an answer may hold once decoded (32 MiB). A forge's largest real page is a few MB (1,000 Bitbucket
Data Center repos); past the bound the answer is a page that cannot be read (the listing stops, exit 1)."""

MAX_JSON_DEPTH = 64
"""The deepest nesting of arrays and objects an answer may have (a forge's real answers nest under 10)."""


class BodyTooLarge(Exception):
    """The answer's decoded body is over the bound (a gzip bomb, or a server that never stops sending)."""


class UnreadableBody(Exception):
    """The answer's body cannot be decoded (a content coding gz-tui did not ask for, or a broken stream)."""


def _inflater(encoding: str) -> zlib._Decompress | None:
    """A decompressor for ``Content-Encoding`` (None: identity); raises UnreadableBody for any other coding."""
    coding = encoding.strip().lower()
    if coding in ("", "identity"):
        return None
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib-wrapped (what the standard says) or gzip
    raise UnreadableBody(f"a body in a content coding gz-tui did not ask for ({coding[:40]!r})")


async def read_bounded(response: httpx.Response, limit: int = MAX_BODY_BYTES) -> bytes:
    """The decoded body of a streamed ``response``, read chunk by chunk; BodyTooLarge as soon as it passes ``limit``.

    The response's content is set to the body, so ``response.content`` and ``response.json()`` read it as usual."""
    if response.is_stream_consumed:  # an answer made in memory (a test's transport): its content is already decoded
        if len(response.content) > limit:
            raise BodyTooLarge(f"over {limit >> 20} MiB once decoded")
        return response.content
    inflater = _inflater(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0

    def take(data: bytes) -> None:
        nonlocal size
        size += len(data)
        if size > limit:
            raise BodyTooLarge(f"over {limit >> 20} MiB once decoded")
        chunks.append(data)

    raw_deflate_tried = False
    try:
        async for raw in response.aiter_raw():
            if inflater is None:
                take(raw)
                continue
            data = raw
            while data:  # inflated at most one byte past what is left: a bomb never fills memory
                try:
                    out = inflater.decompress(data, limit - size + 1)
                except zlib.error:
                    if size or raw_deflate_tried or response.headers.get("content-encoding", "").strip().lower() != "deflate":
                        raise
                    raw_deflate_tried = True  # "deflate" without its zlib wrapper, as some servers send it (httpx too)
                    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                take(out)
                data = inflater.unconsumed_tail
        if inflater is not None:
            take(inflater.flush())
    except zlib.error as exc:
        raise UnreadableBody(f"a body that does not decode ({exc})") from None
    body = b"".join(chunks)
    response._content = body  # what httpx's own read() sets: the body is decoded already
    return body


def json_depth(value: object, stop_past: int) -> int:
    """How deep arrays and objects nest in a parsed ``value``, walked level by level without recursion; stops counting
    past ``stop_past``. (About 1 ms for a page of 100 GitHub repos.)"""
    depth = 0
    level: list[Any] = [value] if type(value) is dict or type(value) is list else []
    while level and depth <= stop_past:
        depth += 1
        below: list[Any] = []
        for item in level:  # exact type checks: the decoders make only dicts and lists (and they are the fastest test)
            children = item.values() if type(item) is dict else item
            below.extend([child for child in children if type(child) is dict or type(child) is list])
        level = below
    return depth


def _decode(body: bytes | str) -> object:
    """The JSON value of ``body``: orjson's, or the standard library's where orjson refuses what the standard
    library reads (NaN and an overflowing float, a lone surrogate, a byte order mark, nesting past orjson's 1,024).

    One difference stays: an integer past 64 bits becomes a float. No forge's id or size is that large, the parsers
    read such a field as not an integer (that entry is skipped), and SQLite could not have stored it anyway."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)  # raises ValueError (or RecursionError) on what is truly not JSON


def parse_json(body: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> object:
    """``json.loads`` of an untrusted body; ValueError when it is not JSON or nests deeper than ``max_depth``.

    Python's parser itself stops at its recursion limit (about 1,000 levels) with a RecursionError; a value that deep
    would still break whatever walks it recursively later (``json.dumps`` of an error body), hence the lower bound."""
    try:
        value = _decode(body)
    except RecursionError:
        raise ValueError(f"the JSON nests deeper than {max_depth} levels") from None
    if json_depth(value, max_depth) > max_depth:
        raise ValueError(f"the JSON nests deeper than {max_depth} levels")
    return value
