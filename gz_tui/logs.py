"""The log file: rotating, private (mode 0600), one line per record, and free of secrets.

Every handler :func:`setup_logging` installs carries a :class:`SecretFilter` and a formatter that
redacts again after formatting (so tracebacks are covered too). Redaction is :mod:`gz_tui.untrusted`'s:
secrets are registered once with :func:`add_secret` (``setup_logging`` does it for the ones it is
given) and replaced by ``***`` in every form they travel in (raw, URL-encoded, base64 and base64 of
the HTTP basic-auth pairs). Messages are made inert (escapes and control characters shown literally),
so a log read with ``cat`` or ``tail -f`` cannot drive the terminal either.

The ``gz_tui`` logger stops propagating to the root logger once set up, so no handler without the
filter ever sees its records.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import platformdirs

from gz_tui.untrusted import REDACTED, add_secret, inert, redact, secret_forms

__all__ = [
    "REDACTED",
    "NoLogFile",
    "OneLineFormatter",
    "PrivateRotatingFileHandler",
    "SecretFilter",
    "add_secret",
    "default_log_path",
    "log_file_of",
    "redact",
    "secret_forms",
    "setup_logging",
]

APP_NAME = "gz-tui"
LOGGER_NAME = "gz_tui"
LOG_DIR_ENV_VAR = "GZ_TUI_LOG_DIR"
"""Directory for the default log file instead of the per-user log dir (tests set it)."""
LOG_FILE_NAME = "gz-tui.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 3


class SecretFilter(logging.Filter):
    """Replaces secrets in a record's message and arguments (the record is rewritten, never dropped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 -- a bad format string: keep what we can, redacted
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = redact(message)
        record.args = None
        return True


class OneLineFormatter(logging.Formatter):
    """``2026-11-28T13:45:00Z LEVEL message``: UTC, the message inert (newlines, escapes shown literally), redacted.

    A traceback, when there is one, follows on lines indented by two spaces.
    """

    converter = time.gmtime  # type: ignore[assignment]  # a builtin: never bound as a method

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ")

    def formatMessage(self, record: logging.LogRecord) -> str:
        return inert(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return "\n".join("  " + inert(line) for line in super().formatException(ei).splitlines())

    def formatStack(self, stack_info: str) -> str:
        return "\n".join("  " + inert(line) for line in stack_info.splitlines())

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose files are created 0600 and stay 0600 after rotation.

    Errors while writing (disk full, file removed) are dropped silently: a log must never
    paint a traceback over the dashboard.
    """

    def _open(self) -> Any:
        return open(self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors, opener=_private_opener)

    def doRollover(self) -> None:
        super().doRollover()
        for index in range(1, self.backupCount + 1):
            try:
                os.chmod(f"{self.baseFilename}.{index}", 0o600)
            except OSError:
                pass

    def handleError(self, record: logging.LogRecord) -> None:
        pass

    def flush(self) -> None:
        try:
            super().flush()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        try:
            super().close()
        except (OSError, ValueError):
            pass


def default_log_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$GZ_TUI_LOG_DIR/gz-tui.log`` if set, else ``<user log dir>/gz-tui/gz-tui.log``."""
    environ = os.environ if environ is None else environ
    override = environ.get(LOG_DIR_ENV_VAR, "").strip()
    base = Path(override).expanduser() if override else platformdirs.user_log_path(APP_NAME)
    return base / LOG_FILE_NAME


class NoLogFile(logging.NullHandler):
    """Where records go when the log file cannot be opened; the next :func:`setup_logging` replaces it."""


def _remove_our_handlers(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        if isinstance(handler, (PrivateRotatingFileHandler, NoLogFile)):
            logger.removeHandler(handler)
            handler.close()


def setup_logging(
    log_file: Path | None,
    secrets: Sequence[str | None],
    *,
    environ: Mapping[str, str] | None = None,
    warnings: list[str] | None = None,
    level: int = logging.INFO,
) -> logging.Logger:
    """Configure and return the ``gz_tui`` logger, writing to ``log_file`` or :func:`default_log_path`.

    The file rotates at 5 MiB keeping 3 backups, is created with mode 0600 and never holds a secret
    from ``secrets`` (``None`` entries are ignored) or from a later :func:`add_secret`. Never raises:
    when the file cannot be opened, the logger gets a :class:`NoLogFile` handler and one line is appended to
    ``warnings`` (if given). Calling it again replaces the previous handler.
    """
    for secret in secrets:
        add_secret(secret)
    logger = logging.getLogger(LOGGER_NAME)
    _remove_our_handlers(logger)
    logger.setLevel(level)
    logger.propagate = False
    path = Path(log_file).expanduser() if log_file is not None else default_log_path(environ)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        os.chmod(path, 0o600)
        handler: logging.Handler = PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if warnings is not None:
            warnings.append(f"cannot write the log file {path}: {reason}; continuing without a log file")
        handler = NoLogFile()
    handler.addFilter(SecretFilter())
    handler.setFormatter(OneLineFormatter())
    logger.addHandler(handler)
    return logger


def log_file_of(logger: logging.Logger) -> Path | None:
    """The file the logger writes to, or ``None`` when file logging fell back."""
    for handler in logger.handlers:
        if isinstance(handler, PrivateRotatingFileHandler):
            return Path(handler.baseFilename)
    return None
