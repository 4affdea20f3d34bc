"""The log file: private, rotating, one line per record, and never holding a secret."""

from __future__ import annotations

import base64
import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from gz_tui import logs
from gz_tui.logs import add_secret, default_log_path, log_file_of, setup_logging
from gz_tui.untrusted import SECRETS

posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S.*$")


@pytest.fixture(autouse=True)
def fresh_logger() -> Iterator[None]:
    """Each test starts and ends with an unconfigured `gz_tui` logger and no registered secrets."""
    logger = logging.getLogger("gz_tui")
    saved = (logger.level, logger.propagate, SECRETS.forms)
    yield
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.level, logger.propagate = saved[:2]
    SECRETS.reset(saved[2])


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_default_log_path_follows_the_environment_variable(tmp_path: Path) -> None:
    assert default_log_path({"GZ_TUI_LOG_DIR": str(tmp_path)}) == tmp_path / "gz-tui.log"


def test_records_are_one_line_utc_level_message(tmp_path: Path) -> None:
    warnings: list[str] = []
    logger = setup_logging(None, [], environ={"GZ_TUI_LOG_DIR": str(tmp_path)}, warnings=warnings)
    logger.info("cloned %s in %.1f s", "acme/widgets", 1.25)
    logger.getChild("pipeline").warning("repo name with\nnewline")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("worker %d crashed", 3)

    assert warnings == []
    assert log_file_of(logger) == tmp_path / "gz-tui.log"
    lines = (tmp_path / "gz-tui.log").read_text().splitlines()
    assert lines[0].endswith(" INFO cloned acme/widgets in 1.2 s") and LINE.match(lines[0])
    assert lines[1].endswith(" WARNING repo name with\\nnewline") and LINE.match(lines[1])
    assert lines[2].endswith(" ERROR worker 3 crashed") and LINE.match(lines[2])
    assert lines[-1] == "  RuntimeError: boom"
    assert all(LINE.match(line) or line.startswith("  ") for line in lines)


def test_no_secret_in_any_form_reaches_the_file(tmp_path: Path) -> None:
    secret, late = "ghp_S3cretTokenValue0123456789", "glpat-AnotherSecret42"
    log = tmp_path / "run.log"
    logger = setup_logging(log, [secret, None])
    add_secret(late)  # e.g. a token learned after start-up

    logger.info("token=%s", secret)
    logger.info("GET https://x-access-token:" + secret + "@github.com/acme/a.git")
    logger.info("Authorization: Basic %s", b64("x-access-token:" + secret))
    logger.info("Authorization: Basic %s", b64("oauth2:" + late))
    logger.info("raw base64 %s and unpadded %s", b64(secret), b64(late).rstrip("="))
    logger.info("urlsafe %s", base64.urlsafe_b64encode(b"oauth2:" + secret.encode()).decode())
    logger.getChild("forges.github").warning("child logger %r", {"token": late})
    try:
        raise PermissionError(f"git said: remote rejected {secret}")
    except PermissionError:
        logger.exception("push failed")

    text = log.read_text()
    forbidden = [secret, late, b64(secret), b64(late), b64("x-access-token:" + secret), b64("oauth2:" + late)]
    for form in forbidden:
        assert form not in text
        assert form.rstrip("=") not in text
    # The records are there, redacted, not dropped.
    assert "token=***" in text
    assert "x-access-token:***@github.com/acme/a.git" in text
    assert "Authorization: Basic ***" in text
    assert "{'token': '***'}" in text
    assert "remote rejected ***" in text
    assert text.count("***") >= 9


def test_records_that_fail_to_format_are_still_redacted(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    logger = setup_logging(log, ["tok-abcdef-123"])
    logger.info("two placeholders %s %s", "tok-abcdef-123")  # noqa: PLE1206 -- the point of the test
    text = log.read_text()
    assert "tok-abcdef-123" not in text and "***" in text


@posix_only
def test_log_file_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    log = tmp_path / "deep" / "dir" / "run.log"
    old = os.umask(0)
    try:
        setup_logging(log, []).info("hello")
    finally:
        os.umask(old)
    assert mode(log) == 0o600
    assert "hello" in log.read_text()


@posix_only
def test_an_existing_readable_log_file_is_made_private(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("old line\n")
    os.chmod(log, 0o644)
    setup_logging(log, []).info("new line")
    assert mode(log) == 0o600
    assert log.read_text().startswith("old line\n")  # appended, not truncated


def test_rotation_keeps_three_private_backups_without_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    secret = "ghs_RotateMeNotIntoTheFile"
    log = tmp_path / "run.log"
    logger = setup_logging(log, [secret])
    for i in range(400):
        logger.info("record %04d token %s padding %s", i, secret, "x" * 40)

    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["run.log", "run.log.1", "run.log.2", "run.log.3"]
    for path in tmp_path.iterdir():
        assert path.stat().st_size <= 2_000
        assert secret not in path.read_text()
        if os.name != "nt":
            assert mode(path) == 0o600, path.name
    assert "record 0399" in log.read_text()
    assert "record 0000" not in "".join(p.read_text() for p in tmp_path.iterdir())


@posix_only
def test_rotation_makes_backups_left_by_earlier_runs_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    log = tmp_path / "run.log"
    old_backup = tmp_path / "run.log.1"  # e.g. from a version that did not care
    old_backup.write_text("old backup\n")
    os.chmod(old_backup, 0o644)
    logger = setup_logging(log, [])
    for i in range(30):  # a single rollover: the old .1 becomes .2
        logger.info("record %04d padding %s", i, "x" * 40)

    assert (tmp_path / "run.log.2").read_text() == "old backup\n"
    assert not (tmp_path / "run.log.3").exists()
    assert {p.name: mode(p) for p in tmp_path.iterdir()} == {
        "run.log": 0o600,
        "run.log.1": 0o600,
        "run.log.2": 0o600,
    }


def test_setting_up_twice_does_not_duplicate_lines(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    setup_logging(log, [])
    setup_logging(log, []).info("once")
    assert log.read_text().count("once") == 1


def test_records_do_not_propagate_to_unfiltered_root_handlers(tmp_path: Path) -> None:
    seen: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    root_handler = Collect()
    logging.getLogger().addHandler(root_handler)
    try:
        setup_logging(tmp_path / "run.log", ["abc-secret-xyz"]).getChild("pipeline").error("t=abc-secret-xyz")
    finally:
        logging.getLogger().removeHandler(root_handler)
    assert seen == []
    assert "t=***" in (tmp_path / "run.log").read_text()


def test_an_unusable_log_location_falls_back_with_one_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    warnings: list[str] = []
    logger = setup_logging(None, ["s3cret-value"], environ={"GZ_TUI_LOG_DIR": str(blocker / "logs")}, warnings=warnings)

    logger.error("still fine s3cret-value")  # must not raise or print
    assert log_file_of(logger) is None
    assert len(warnings) == 1
    assert str(blocker / "logs" / "gz-tui.log") in warnings[0]
    assert "continuing without a log file" in warnings[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-dir"]


@posix_only
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_a_read_only_log_dir_falls_back_with_a_warning(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    warnings: list[str] = []
    try:
        logger = setup_logging(locked / "run.log", [], warnings=warnings)
        logger.info("no file")
    finally:
        locked.chmod(0o700)
    assert log_file_of(logger) is None and len(warnings) == 1 and "ermission denied" in warnings[0]


def test_a_write_error_later_never_reaches_the_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "run.log"
    logger = setup_logging(log, [])
    handler = logger.handlers[0]
    handler.stream.close()  # type: ignore[attr-defined]  # e.g. the disk went away
    logger.info("lost")
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
