"""Logging to stdout, one line per event (text, or JSON for log collectors), every secret replaced before writing."""

from __future__ import annotations

import errno
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Passed with `extra=` by the service, so a collector can follow one task or one member.
CONTEXT_FIELDS = ("task_id", "user_id")


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then removes the Discord token and API keys from the whole line, tracebacks included."""

    def __init__(self, secrets: Iterable[str], fmt: str | None = TEXT_FORMAT) -> None:
        super().__init__(fmt)
        self._secrets = sorted({secret for secret in secrets if secret}, key=len, reverse=True)

    def add_secret(self, secret: str) -> None:
        if secret and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


class JsonFormatter(RedactingFormatter):
    """One JSON object per line: time, level, logger, message, the task and member ids when given, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage(), self._secrets),
        }
        for name in CONTEXT_FIELDS:
            if (value := getattr(record, name, None)) is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info), self._secrets)
        return json.dumps(entry, ensure_ascii=False)


class OneLineReconnects(logging.Filter):
    """discord.py logs every failed gateway reconnect with a whole traceback; its cause in the same line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        # discord.client logs it for a plain client, discord.shard for each shard of a sharded one (Encore's).
        if record.name in ("discord.client", "discord.shard") and record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            if str(record.msg).startswith("Attempting a reconnect"):
                record.msg = f"{record.getMessage()} after {type(error).__name__}: {error}"
                record.args, record.exc_info, record.exc_text = None, None, None
        return True


class FileLimitNotices(logging.Filter):
    """Lets "Too many open files" (or a full system file table) through once per `interval`, from any logger.

    When the limit is reached, every accept, connect and file open fails at once, in loops that retry: one line
    per interval says it, with how many more were left out since the last one, instead of a flood that hides the
    rest of the log (and fills the disk).
    """

    EXHAUSTED = (errno.EMFILE, errno.ENFILE)

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._interval = interval
        self._clock = clock
        self._logged_at: float | None = None
        self._left_out = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._about_the_file_limit(record):
            return True
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < self._interval:
            self._left_out += 1
            return False
        message = record.getMessage()
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and str(error) not in message:
            message = f"{message}: {error}"
        if self._left_out:
            message = f"{message} ({self._left_out} more like it left out of the log)"
        # One line: the cause is the limit, not the code that happened to hit it.
        record.msg, record.args, record.exc_info, record.exc_text = message, None, None, None
        self._logged_at, self._left_out = now, 0
        return True

    def _about_the_file_limit(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, OSError) and error.errno in self.EXHAUSTED:
            return True
        return record.levelno >= logging.WARNING and "Too many open files" in record.getMessage()


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def configure_logging(level: str, secrets: Iterable[str], log_format: str = "text") -> None:
    """Send every logger (discord.py's too) to stdout through the redacting formatter of the chosen format."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(secrets) if log_format == "json" else RedactingFormatter(secrets))
    handler.addFilter(OneLineReconnects())
    handler.addFilter(FileLimitNotices())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLevelName(level)))
    # aiosqlite's DEBUG lines carry every SQL parameter, the webhook secret among them.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLevelName(level)))


def redact_also(secret: str) -> None:
    """A secret known only after start-up (the webhook secret, read from the database): redact it from now on."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, RedactingFormatter):
            handler.formatter.add_secret(secret)
