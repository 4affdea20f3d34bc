"""The decoder every forge answer goes through (``forges.bounded.parse_json``): orjson for speed, the standard
library wherever orjson refuses what the standard library reads, so a page parses exactly as it did before."""

from __future__ import annotations

import json
import math

import pytest

from gz_tui.forges.bounded import MAX_JSON_DEPTH, parse_json

ODD_BUT_READ_BEFORE = [
    b'[{"id": 1, "description": NaN}]',  # NaN: JavaScript servers have sent it
    b'[{"id": 1, "size": 1e400}]',  # a float past double: inf
    b'[{"id": 1, "name": "a\\ud800b"}]',  # a lone surrogate (a forge cut a string inside an emoji)
    b'\xef\xbb\xbf[{"id": 1}]',  # a byte order mark before the body
    b'{"a": 1, "a": 2}',  # a repeated key: the last one wins, as before
    b'  [1, -0.0, 1.5e-320, "\xc3\xa9", null, true]  \n',
]


@pytest.mark.parametrize("body", ODD_BUT_READ_BEFORE)
def test_what_the_standard_library_read_still_reads_the_same(body: bytes) -> None:
    got, expected = parse_json(body), json.loads(body)
    assert json.dumps(got) == json.dumps(expected)  # NaN != NaN: compare the text


def test_a_real_sized_page_is_the_same_value_either_way() -> None:
    page = [{"id": i, "name": f"r{i}", "owner": {"login": "acme", "id": 7}, "topics": ["a", "b"], "x": i / 3} for i in range(300)]
    body = json.dumps(page).encode()
    assert parse_json(body) == page


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1500, 100_000])
def test_nesting_past_what_a_forge_sends_is_refused_at_any_depth(depth: int) -> None:
    with pytest.raises(ValueError, match="nests deeper"):
        parse_json(b"[" * depth + b"]" * depth)


def test_nesting_a_forge_does_send_is_read() -> None:
    assert parse_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None


@pytest.mark.parametrize("body", [b"", b"<html>rate limited</html>", b'{"a": 1', b"[1,]"])
def test_what_is_not_json_is_a_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_json(body)


def test_an_integer_past_64_bits_is_not_an_integer_any_more() -> None:
    parsed = parse_json(b"[123456789012345678901234567890]")
    assert isinstance(parsed, list) and len(parsed) == 1
    assert isinstance(parsed[0], float) and math.isclose(parsed[0], 1.2345678901234568e29)
