"""Log lines of every Picket process: one line a record, JSON for machines, plain for people.

    PICKET_LOG_FORMAT   json | text; unset: json when stderr is not a terminal, text when it is
    PICKET_LOG_LEVEL    WARNING unless set

A JSON line is `{"ts", "level", "logger", "msg", "process", "pid", ...}`: the time in UTC
(ISO 8601, milliseconds), the level in lower case, the logger's name, the message, the command
(`gateway`, `worker`, `run`, …) and its pid, then `request_id` when the record was logged while
the gateway handled a request, the record's `extra=` fields, and `exc` (the traceback, as one
JSON string) for an exception. A text line holds the same on one line, the traceback shortened to
the exception and the frames it went through.

The request id is `REQUEST_ID`, a context variable the gateway's middleware sets for each request
(`picket.gateway.request_id`); tasks and threads started while it is set carry it too.

No secret reaches a line: `redact` masks Authorization headers' credentials, `sentry_key=` and
`sentry_secret=` values, the user info of URLs (a DSN's key, a password), `password=`,
`secret=`, `token=` values and every run of 40 or more hex digits (tokens; SHA-1 checksums look
the same and are masked too), in the message, its `extra=` values and the traceback.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, TextIO

REQUEST_ID: ContextVar[str | None] = ContextVar("picket_request_id", default=None)

MASK = "[redacted]"

_SECRETS = [
    # Authorization: Bearer <token>, 'authorization': 'Basic …', (b'authorization', b'Bearer …')
    (re.compile(r"(?i)(\bauthorization\b['\"]?\s*[:=,]\s*(?:b?['\"])?)((?:bearer|basic|token|dsn|sentry)\s+)?"
                r"[^\s'\",;)}\]]+"), r"\1\2" + MASK),
    # sentry_key=…, sentry_secret=… (query strings, X-Sentry-Auth), also as JSON or dict keys
    (re.compile(r"(?i)(\bsentry_(?:key|secret)['\"]?\s*[=:]\s*['\"]?)[^\s&,'\";)}\]]+"), r"\1" + MASK),
    # password=…, client_secret=…, token=…, and their JSON or dict spelling
    (re.compile(r"(?i)(\b[\w-]*(?:password|passwd|secret|token)(?:=|['\"]\s*:\s*['\"]))[^\s&,'\";)}\]]+"),
     r"\1" + MASK),
    # scheme://user:password@host → scheme://user:[redacted]@host; scheme://key@host (a DSN) → [redacted]
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@'\"]+:)[^\s/@'\"]+@"), r"\1" + MASK + "@"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s:/@'\"]+@"), r"\1" + MASK + "@"),
    # tokens: 40 or more hex digits
    (re.compile(r"\b[0-9a-fA-F]{40,}\b"), MASK),
]


def redact(text: str) -> str:
    """`text` with every secret it shows masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


# The attributes every LogRecord has: what is left are the fields given with `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


def extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message and string `extra=` fields (on the handler: every
    record that reaches it, whichever logger it came from)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as logging does
            return True
        record.msg, record.args = redact(message), None
        for key, value in extras(record).items():
            if isinstance(value, str):
                setattr(record, key, redact(value))
        return True


def _request_id(record: logging.LogRecord) -> str | None:
    return getattr(record, "request_id", None) or REQUEST_ID.get()


def _utc(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object a record, on one line."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "process": self.process,
            "pid": record.process,
        }
        request_id = _request_id(record)
        if request_id:
            line["request_id"] = request_id
        for key, value in extras(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


_COLORS = {"DEBUG": "\x1b[2m", "INFO": "\x1b[36m", "WARNING": "\x1b[33m", "ERROR": "\x1b[31m",
           "CRITICAL": "\x1b[1;31m"}


def one_line(text: str) -> str:
    return " ⏎ ".join(part for part in text.strip().splitlines() if part.strip())


def short_exception(exc_info: Any) -> str:
    """`ValueError: boom (at parse.py:12 in read ← app.py:40 in handle)`: the exception and the
    frames it went through, innermost first, on one line."""
    _, exc, tb = exc_info
    frames = traceback.extract_tb(tb)[::-1]
    where = " ← ".join(f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}" for f in frames)
    summary = one_line("".join(traceback.format_exception_only(type(exc), exc)))
    return f"{summary} (at {where})" if where else summary


class TextFormatter(logging.Formatter):
    """`2026-12-06 10:00:00.123 WARNING gateway[4242] picket.x: message request_id=… key=value`."""

    def __init__(self, process: str, color: bool = False) -> None:
        super().__init__()
        self.process = process
        self.color = color

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created)) + f".{int(record.created % 1 * 1000):03d}"
        level = record.levelname
        if self.color and level in _COLORS:
            level = f"{_COLORS[level]}{level}\x1b[0m"
        parts = [f"{stamp} {level} {self.process}[{record.process}] {record.name}: {one_line(record.getMessage())}"]
        request_id = _request_id(record)
        if request_id:
            parts.append(f"request_id={request_id}")
        parts.extend(f"{key}={one_line(str(value))}" for key, value in extras(record).items() if key != "request_id")
        if record.exc_info:
            parts.append("| " + redact(short_exception(record.exc_info)))
        return " ".join(parts)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def log_format(env: Mapping[str, str], stream: TextIO) -> str:
    """`json` or `text`: PICKET_LOG_FORMAT if it says one, else text on a terminal, json elsewhere."""
    chosen = env.get("PICKET_LOG_FORMAT", "").strip().lower()
    if chosen in ("json", "text"):
        return chosen
    return "text" if _is_terminal(stream) else "json"


def setup(process: str, env: Mapping[str, str] | None = None, stream: TextIO | None = None) -> logging.Handler:
    """Send every record at PICKET_LOG_LEVEL or above to `stream` (stderr), one line each,
    secrets masked; replaces the root logger's handlers. Returns the handler."""
    env = os.environ if env is None else env
    stream = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(stream)
    if log_format(env, stream) == "json":
        handler.setFormatter(JsonFormatter(process))
    else:
        handler.setFormatter(TextFormatter(process, color=_is_terminal(stream) and not env.get("NO_COLOR")))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(env.get("PICKET_LOG_LEVEL", "WARNING").upper())
    return handler
