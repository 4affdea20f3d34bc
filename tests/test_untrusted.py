"""gz_tui.untrusted: forge text made inert for a terminal, secrets redacted in every form, JSON kept parseable."""

from __future__ import annotations

import base64
import io
import json
import sys
import unicodedata
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from gz_tui.forges.provider import basic_credentials
from gz_tui.headless import HeadlessReporter
from gz_tui.kinds import ErrorClass
from gz_tui.pipeline.events import Emitted, RepoFailed, Summary
from gz_tui.untrusted import (
    REDACTED,
    SECRETS,
    Redactor,
    inert,
    redact_values,
    secret_forms,
    shorten,
)

LONG = "glpat-S3cretAuditTok3n_0123456789"


@pytest.fixture(autouse=True)
def no_process_wide_secrets() -> Iterator[None]:
    saved = SECRETS.forms
    SECRETS.reset()
    yield
    SECRETS.reset(saved)


# ------------------------------------------------------------------------------------------------
# inert


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("acme/\x1b[31mred", "acme/\\x1b[31mred"),
        ("bad\nname", "bad\\nname"),
        ("tab\there\r", "tab\\there\\r"),
        ("nul\x00bell\x07del\x7f", "nul\\x00bell\\x07del\\x7f"),
        ("csi\x9b31m", "csi\\x9b31m"),  # the one-byte C1 form of ESC [
        ("osc\x1b]0;title\x07", "osc\\x1b]0;title\\x07"),
        ("evil\u202egnp.exe", "evil\\u202egnp.exe"),  # right-to-left override
        ("a\u2066b\u2069c\u200bd\ufeffe", "a\\u2066b\\u2069c\\u200bd\\ufeffe"),  # isolates, zero width, BOM
        ("line\u2028sep\u2029", "line\\u2028sep\\u2029"),
        ("hid\U000e0041den", "hid\\U000e0041den"),  # a Unicode tag: invisible text
        ("nb\xa0sp", "nb\\xa0sp"),
        ("[bold]markup[/bold] café ✓ 日本", "[bold]markup[/bold] café ✓ 日本"),  # printable text is left alone
    ],
)
def test_inert_shows_every_control_escape_and_invisible_character_literally(raw: str, shown: str) -> None:
    assert inert(raw) == shown
    assert inert(shown) == shown  # idempotent: already inert text is unchanged


def test_every_control_format_and_separator_code_point_is_shown_escaped() -> None:
    unsafe = [
        chr(code)
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in ("Cc", "Cf", "Cs", "Zl", "Zp") or (unicodedata.category(chr(code)) == "Zs" and code != 0x20)
    ]
    assert len(unsafe) > 200
    missed = [f"U+{ord(char):04X}" for char in unsafe if inert(f"a{char}b") == f"a{char}b" or not inert(char).isascii()]
    assert missed == []


def test_inert_output_is_one_printable_line() -> None:
    text = inert("".join(chr(code) for code in range(0x3000)))
    assert text.isprintable() and "\n" not in text and "\x1b" not in text


def test_flatten_drops_colour_codes_and_folds_whitespace() -> None:
    assert inert("  fatal: \x1b[31mdenied\x1b[0m\r\n\tnext  ", flatten=True) == "fatal: denied next"
    assert inert("title\x1b]0;pwned\x07 set \x9b2J", flatten=True) == "title set"
    assert inert("still \u202eshown", flatten=True) == "still \\u202eshown"


def test_limit_never_leaves_half_a_word() -> None:
    assert shorten("short", 10) == "short"
    assert shorten("the forge said hello world", 20) == "the forge said…"
    assert shorten("the forge said hello world", 15) == "the forge said…"
    text = f"denied for {LONG} and more"
    for limit in range(1, len(text)):
        cut = inert(text, limit=limit)
        assert len(cut) <= limit
        assert not any(cut.removesuffix("…").endswith(LONG[:n]) for n in range(1, len(LONG))), (limit, cut)


def test_redaction_runs_on_the_inert_text_and_before_the_cut() -> None:
    secrets = Redactor([LONG])
    split = LONG[:10] + "\x1b[0m" + LONG[10:]
    assert inert(f"echo {split}", flatten=True, redactor=secrets) == f"echo {REDACTED}"
    long_message = "x" * 290 + " " + LONG
    assert inert(long_message, limit=300, redactor=secrets).endswith(REDACTED)


# ------------------------------------------------------------------------------------------------
# Redaction


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_every_form_of_a_long_secret_is_redacted_even_inside_words() -> None:
    secrets = Redactor([LONG, None, "  "])
    forms = [
        LONG,
        quote(LONG, safe=""),
        b64(LONG),
        b64(LONG).rstrip("="),
        *(b64(f"{user}:{LONG}") for user in ("x-access-token", "oauth2", "gz-tui")),
        base64.urlsafe_b64encode(f"oauth2:{LONG}".encode()).decode(),
    ]
    for form in forms:
        assert form in secret_forms(LONG)
        assert secrets.redact(f"a{form}b and /{form}/") == f"a{REDACTED}b and /{REDACTED}/", form


def test_a_short_secret_is_redacted_only_as_a_whole_word() -> None:
    secrets = Redactor(["x"])
    assert secrets.redact("x") == REDACTED
    assert secrets.redact("token x rejected; url /acme/x.git") == "token *** rejected; url /acme/***.git"
    for word in ("exit_code", "x_y", "x-ray", "max", "xx", "0x1f", "box-x"):
        assert secrets.redact(word) == word
    assert secrets.redact(b64("x")) == REDACTED  # "eA==": its base64 forms are short words too
    assert secrets.redact(f"Basic {b64('x-access-token:x')}") == f"Basic {REDACTED}"


def test_redacting_values_keeps_keys_and_structure() -> None:
    secrets = Redactor(["x"])
    event = {"event": "summary", "exit_code": 0, "x": "x", "nested": {"max": ["x", "tax", 3, None]}, "pair": ("x", 1.5)}
    assert secrets.redact_values(event) == {
        "event": "summary",
        "exit_code": 0,
        "x": REDACTED,
        "nested": {"max": [REDACTED, "tax", 3, None]},
        "pair": [REDACTED, 1.5],
    }
    assert event["x"] == "x"  # a copy: the caller's event is untouched
    assert Redactor().redact_values(event) is event


def test_the_process_wide_registry_grows_and_resets() -> None:
    assert not SECRETS and redact_values({"a": LONG}) == {"a": LONG}
    SECRETS.add(LONG)
    assert SECRETS and redact_values({"a": LONG}) == {"a": REDACTED}
    SECRETS.reset()
    assert SECRETS.redact(LONG) == LONG


def test_headless_json_keeps_keys_parseable_with_a_one_letter_token() -> None:
    SECRETS.add("x")
    out = io.StringIO()
    reporter = HeadlessReporter(json_mode=True, out=out, err=io.StringIO(), color=False)
    summary = Emitted(
        Summary(
            exit_code=0,
            listed=1,
            cloned=1,
            updated=0,
            unchanged=0,
            checked=0,
            missed=0,
            skipped=0,
            failed=0,
            resumed_done=0,
            gone=0,
            moved=0,
            kept=0,
            wikis=0,
            seconds=1.0,
            api_requests=1,
            not_modified=0,
            state="/tmp/box/x/state.sqlite3",
        ),
        1.0,
    )
    reporter.event(summary)
    reporter.event(Emitted(RepoFailed(repo="acme/x", error_class=ErrorClass.AUTH, message="bad token x", attempts=1), 1.0, "acme"))
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert list(first) == list(summary.as_dict()) and "exit_code" in first
    assert first["state"] == "/tmp/box/***/state.sqlite3"
    assert second == {
        "event": "repo_failed",
        "time": 1.0,
        "target": "acme",
        "repo": "acme/***",
        "error_class": "auth",
        "message": "bad token ***",
        "attempts": 1,
    }


def test_a_basic_pair_with_a_user_name_no_builtin_forge_uses_is_redacted_once_built() -> None:
    """A new forge's git user name needs no list entry: building its Basic credential registers the pair."""
    header = basic_credentials("x-new-forge-user", LONG)
    echoed = f"server said: bad credentials {header.split()[-1]}"
    assert header.split()[-1] not in SECRETS.redact(echoed)
    assert SECRETS.redact(echoed) == f"server said: bad credentials {REDACTED}"
