"""Logs: one JSON object per line in production, one readable line in development, each carrying the ids of
what it is about.

The request id (web) and the rq job id (workers) come from context variables, so no function passes them
around; a handler that knows a ticket adds it with `extra={"ticket_id": ...}`. Logs carry ids and categories,
never a resident's words or phone number: those stay in the database, where access is controlled.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from rq import get_current_job

# The web request being answered; set and reset by bot/ops.py around each request.
request_id: ContextVar[str] = ContextVar("request_id", default="")
REQUEST_ID_HEADER = "X-Request-Id"
# A caller's id is kept only when it is short and plain, so a header cannot forge log fields or lines.
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# What every LogRecord has; any other attribute came through `extra=` and becomes a field of its own.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def new_request_id(given: str | None) -> str:
    """The caller's X-Request-Id when it is plain enough to log, else a fresh one."""
    if given and _PLAIN_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


class ContextFilter(logging.Filter):
    """Stamp each record with the request and rq job it happened in (at emit time, in the emitting thread)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and (rid := request_id.get()):
            record.request_id = rid
        if not hasattr(record, "job_id") and (job := get_current_job()) is not None:
            record.job_id = job.id
        return True


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's own fields: the ids from the context and whatever `extra=` added."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", <fields>, ["exc"]} on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        entry.update(fields(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The usual line, then the fields as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in fields(record).items())
        if not extra:
            return line
        head, sep, rest = line.partition("\n")  # after the message, before a traceback
        return f"{head} [{extra}]{sep}{rest}"


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def handler(stream: IO[str], log_format: str) -> logging.Handler:
    """A stream handler with the context filter and the chosen format."""
    result = logging.StreamHandler(stream)
    result.addFilter(ContextFilter())
    result.setFormatter(formatter(log_format))
    return result


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Log to stderr in this format, unless something (a test runner, an embedding program) configured logging."""
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(handler(sys.stderr, log_format))
    root.setLevel(level)
