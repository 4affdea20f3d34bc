"""Hostile listings: entries with dangerous names and clone URLs, and page bodies built to hurt a parser.

Each entry is otherwise normal, so a client is tested on exactly one dangerous field at a time
(FORGE-APIS §5.3: ext:: transport, file://, option injection, path traversal, markup, userinfo).
The bodies (``Scenario.hostile_listing``) attack the parser itself: nesting no recursive decoder survives, and a
gzip stream a few MB long that inflates to gigabytes, streamed from three cached pieces, never built in memory.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True, slots=True)
class HostileEntry:
    """One extra listing entry; ``clone_url`` may hold ``{hostport}`` and ``{org}`` placeholders."""

    name: str
    clone_url: str | None = None
    owner: str | None = None
    servable: bool = False


HOSTILE_NAMES: tuple[str, ...] = (
    "../escape",
    "a/b",
    "-rf",
    "bad\nname",
    "\x1b[31mred",
    "[bold]markup[/bold]",
    ".git",
    ".",
    "Dup-Case",
    "dup-case",
    "n" * 256,  # one byte over NAME_MAX on nearly every file system
)

HOSTILE_URLS: tuple[tuple[str, str], ...] = (
    ("evil-ext", "ext::sh -c touch% /tmp/pwned"),
    ("evil-file", "file:///etc/passwd"),
    ("evil-host", "https://evil.example.invalid/x.git"),
    ("evil-upload-pack", "--upload-pack=touch /tmp/pwned"),
    ("evil-u", "-uwhatever"),
    ("userinfo", "http://user:pw@{hostport}/{org}/userinfo.git"),
)


def hostile_entries() -> list[HostileEntry]:
    """All hostile entries plus the legitimate ``.github`` repo, which must clone fine."""
    entries = [HostileEntry(name) for name in HOSTILE_NAMES]
    entries += [HostileEntry(name, clone_url=url) for name, url in HOSTILE_URLS]
    entries.append(HostileEntry("stolen", clone_url="http://{hostport}/other/stolen.git", owner="other"))
    entries.append(HostileEntry(".github", servable=True))
    return entries


DEEP_JSON_LEVELS = 100_000


def deep_json_body(levels: int = DEEP_JSON_LEVELS) -> bytes:
    """``[[[…]]]``: valid JSON nested ``levels`` deep (Python's ``json`` gives up at about 1,000)."""
    return b"[" * levels + b"]" * levels


BOMB_BLOCK = 1 << 20
"""Zero bytes per deflate block of the bomb (each ~1 KB on the wire: deflate's best ratio is about 1032:1)."""
BOMB_BLOCKS = 3 * 1024
"""Blocks in the bomb: it inflates to 3 GiB (the gzip trailer's size field holds it exactly)."""


@cache
def _bomb_pieces() -> tuple[bytes, bytes, bytes]:
    """(gzip header + first block, every later block, the final empty block without its trailer).

    Each block ends with a full flush, which resets the compressor, so every block after the first compresses to
    the same bytes and the stream can be any number of blocks long.
    """
    zeros = bytes(BOMB_BLOCK)
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush(zlib.Z_FINISH)[:-8]  # the trailer is for 2 blocks: gzip_bomb writes the real one
    return first, block, end


def gzip_bomb_length(blocks: int = BOMB_BLOCKS) -> int:
    """Bytes on the wire of :func:`gzip_bomb` (its ``Content-Length``)."""
    first, block, end = _bomb_pieces()
    return len(first) + (blocks - 1) * len(block) + len(end) + 8


def gzip_bomb(blocks: int = BOMB_BLOCKS) -> Iterator[bytes]:
    """A valid single-member gzip stream of ``blocks`` MiB of zeros (CRC and size correct), chunk by chunk."""
    first, block, end = _bomb_pieces()
    yield first
    for _ in range(blocks - 1):
        yield block
    size = blocks * BOMB_BLOCK
    yield end + struct.pack("<II", _crc32_of_zeros(size), size & 0xFFFFFFFF)


def _crc32_of_zeros(length: int) -> int:
    """``zlib.crc32(bytes(length))`` in O(log length), by zlib's ``crc32_combine`` arithmetic (GF(2) matrices)."""
    crc = 0
    chunk, chunk_crc = BOMB_BLOCK, zlib.crc32(bytes(BOMB_BLOCK))
    remainder = length % BOMB_BLOCK
    count = length // BOMB_BLOCK
    while count:  # double-and-add over whole blocks
        if count & 1:
            crc = _crc32_combine(crc, chunk_crc, chunk)
        chunk_crc = _crc32_combine(chunk_crc, chunk_crc, chunk)
        chunk *= 2
        count >>= 1
    return _crc32_combine(crc, zlib.crc32(bytes(remainder)), remainder) if remainder else crc


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, matrix[row]) for row in range(32)]


def _crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of ``A + B`` from ``crc32(A)``, ``crc32(B)`` and ``len(B)`` (zlib's ``crc32_combine``)."""
    if length2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << row for row in range(31)]  # the operator for one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four zero bits
    while True:
        even = _gf2_square(odd)  # first pass: one zero byte
        if length2 & 1:
            crc1 = _gf2_times(even, crc1)
        length2 >>= 1
        if not length2:
            break
        odd = _gf2_square(even)
        if length2 & 1:
            crc1 = _gf2_times(odd, crc1)
        length2 >>= 1
        if not length2:
            break
    return crc1 ^ crc2
