"""Grouping of normalized events into issues, issue short ids and issue metadata.

Grouping follows Sentry's default ("newstyle") strategy:

* an error groups by its exceptions: each exception's type and the frames of its stack trace
  (module, or the file's base name, then the function, then the source line on platforms whose
  source is reliable). Only in-app frames count when the event has any, line numbers never do,
  and direct recursion counts once. An exception without usable frames groups by its value,
  with the variable parts (numbers, ids, addresses, dates, ...) replaced by placeholders;
* an event without exceptions groups by its message, normalized the same way;
* a custom fingerprint replaces this, `{{ default }}` standing for the default components and
  `{{ type }}`, `{{ transaction }}`, `{{ tags.<key> }}`, ... for the event's values.

A grouping hash is the MD5 of the components, as 32 hex characters.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from itertools import islice
from typing import Any

import msgspec

from picket.schemas.ingest import ExceptionValue, NormalizedEvent, StackFrame
from picket.ingest.normalize import crash_frame, is_synthetic, truncatechars

DEFAULT_FINGERPRINT_VAR = "default"
#: Platforms whose source lines are good enough to group by (as Sentry's strategy decides).
CONTEXT_LINE_PLATFORMS = frozenset({"javascript", "node", "python", "php", "ruby"})
MAX_CONTEXT_LINE = 120

_FINGERPRINT_VAR_RE = re.compile(r"\{\{\s*(\S+?)\s*\}\}")
_BASENAME_RE = re.compile(r"[/\\]")
_JS_UNKNOWN_FUNCTIONS = frozenset(
    {"?", "<anonymous>", "<anonymous function>", "Anonymous function"}
)

# Variable parts of a message, replaced by `<name>` before grouping (first match wins).
_IPV4 = r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_H16 = r"[0-9a-fA-F]{1,4}"
_IPV6 = (
    rf"(?:{_H16}:){{7}}{_H16}"
    rf"|(?:{_H16}:){{1,7}}:(?!\w)"
    rf"|(?:{_H16}:){{1,6}}(?::{_H16}){{1,6}}"
    rf"|::(?:ffff:)?{_IPV4}"
    rf"|::(?:{_H16}:){{0,6}}{_H16}"
)
_PARAMETERS: list[tuple[str, str]] = [
    ("email", r"[\w.!#$%&'*+/=?^`{|}~-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*"),
    ("url", r"\b(?:wss?|https?|ftp)://[^\s/$.?#][^\s]*"),
    ("uuid", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("ip", rf"\b{_IPV4}\b|(?<![\w:])(?:{_IPV6})"),
    ("sha1", r"\b[0-9a-fA-F]{40}\b"),
    ("md5", r"\b[0-9a-fA-F]{32}\b"),
    (
        "date",
        r"\b\d{4}-[01]\d-[0-3]\d[T ][0-2]\d:[0-5]\d(?::[0-5]\d(?:\.\d+)?)?"
        r"(?:Z|[+-][0-2]\d:?[0-5]\d)?"
        r"|\b\d{4}-[01]\d-[0-3]\d\b",
    ),
    ("hex", r"\b0[xX][0-9a-fA-F]+\b"),
    ("float", r"-?\b\d+\.\d+\b"),
    ("int", r"-?\b\d+\b"),
]
_PARAMETER_RE = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _PARAMETERS))


# --------------------------------------------------------------------------------------------
# Messages


def normalize_message_for_grouping(message: str) -> str:
    """At most the first two non-empty lines of `message`, variable parts as placeholders."""
    lines = islice((line for line in message.splitlines() if line.strip()), 2)
    trimmed = "\n".join(lines).strip()
    if trimmed != message.strip():
        trimmed += "..."
    return _PARAMETER_RE.sub(lambda m: f"<{m.lastgroup}>", trimmed)


def _message_template(event: NormalizedEvent) -> str:
    """The message before its parameters were filled in when the event knows it, else the
    formatted message."""
    template = getattr(event, "message_template", None)
    return template if isinstance(template, str) and template.strip() else event.message


# --------------------------------------------------------------------------------------------
# Frames


def _frame_components(frame: StackFrame, platform: str) -> list[str]:
    """The parts of a frame that contribute to grouping, as `name=value` strings."""
    parts: list[str] = []
    javascript = platform in ("javascript", "node")

    module = frame.module
    if module and javascript and "/" in module and (frame.abs_path or "").endswith(module):
        module = None  # a path posing as a module
    if module:
        parts.append(f"module={module}")
    elif frame.filename:
        filename = _BASENAME_RE.split(frame.filename)[-1].lower()
        from_url = (frame.abs_path or "").startswith(("http://", "https://"))
        if filename and not from_url and filename not in ("<anonymous>", "[native code]"):
            parts.append(f"filename={filename}")

    function = frame.function
    if function and javascript:
        function = function.rsplit(".", 1)[-1]
        if function in _JS_UNKNOWN_FUNCTIONS or function.endswith("/<"):
            function = None
    if function and platform in ("objc", "cocoa", "native", "c") and function in (
        "<redacted>",
        "<unknown>",
    ):
        function = None
    if function:
        parts.append(f"function={function}")

    if platform in CONTEXT_LINE_PLATFORMS and frame.context_line:
        line = " ".join(frame.context_line.expandtabs(2).split())
        if line and len(frame.context_line) <= MAX_CONTEXT_LINE:
            parts.append(f"context-line={line}")
    return parts


def _is_recursion(previous: StackFrame | None, frame: StackFrame) -> bool:
    if previous is None:
        return False
    return (
        previous.abs_path == frame.abs_path
        and previous.module == frame.module
        and previous.filename == frame.filename
        and previous.function == frame.function
        and previous.lineno == frame.lineno
        and previous.colno == frame.colno
    )


def _stacktrace_components(frames: list[StackFrame], platform: str) -> list[str]:
    components = []
    previous = None
    for frame in frames:
        if not _is_recursion(previous, frame):
            parts = _frame_components(frame, platform)
            if parts:
                components.append("frame:" + "|".join(parts))
        previous = frame
    return components


def _exception_components(
    exc: ExceptionValue, platform: str, in_app_only: bool
) -> list[str]:
    frames = [f for f in exc.frames if f.in_app] if in_app_only else list(exc.frames)
    stacktrace = _stacktrace_components(frames, platform)
    components = []
    if exc.type and not is_synthetic(exc):
        components.append(f"type={exc.type}")
    if stacktrace:
        components.extend(stacktrace)
    elif exc.value:
        components.append(f"value={normalize_message_for_grouping(exc.value)}")
    return components


# --------------------------------------------------------------------------------------------
# Components and hashes


def default_grouping_components(event: NormalizedEvent) -> list[str]:
    """What an event groups by when it has no custom fingerprint, as ordered strings."""
    if event.exceptions:
        in_app_only = any(f.in_app for exc in event.exceptions for f in exc.frames)
        components: list[str] = []
        for exc in event.exceptions:
            parts = _exception_components(exc, event.platform, in_app_only)
            if parts:
                components.append("exception")
                components.extend(parts)
        if components:
            return components
    message = _message_template(event)
    if message.strip():
        return [f"message={normalize_message_for_grouping(message)}"]
    return ["fallback=<no data>"]


def has_custom_fingerprint(event: NormalizedEvent) -> bool:
    return [_fingerprint_var(v) for v in event.fingerprint] != [DEFAULT_FINGERPRINT_VAR]


def _fingerprint_var(value: str) -> str | None:
    """The variable a fingerprint entry consists of (`{{ type }}` -> "type"), if it is one."""
    match = _FINGERPRINT_VAR_RE.fullmatch(value.strip())
    return match.group(1).lower() if match else None


def grouping_components(event: NormalizedEvent) -> list[str]:
    """What an event groups by: its fingerprint with variables resolved, `{{ default }}`
    standing for the default components."""
    components: list[str] = []
    default: list[str] | None = None
    for entry in event.fingerprint:
        var = _fingerprint_var(entry)
        if var == DEFAULT_FINGERPRINT_VAR:
            if default is None:
                default = default_grouping_components(event)
            components.extend(default)
        else:
            value = resolve_fingerprint_variable(event, var) if var else None
            components.append("fingerprint=" + (entry if value is None else value))
    return components or default_grouping_components(event)


def hash_components(components: list[str]) -> str:
    return hashlib.md5(msgspec.json.encode(components), usedforsecurity=False).hexdigest()


def grouping_hash(event: NormalizedEvent) -> str:
    """The 32 hex characters identifying the issue an event belongs to."""
    return hash_components(grouping_components(event))


def _crash_attr(event: NormalizedEvent, read: Callable[[StackFrame], Any], missing: str) -> str:
    frame = crash_frame(event.exceptions)
    value = read(frame) if frame is not None else None
    return value or missing


def resolve_fingerprint_variable(event: NormalizedEvent, var: str) -> str | None:
    """The value of a fingerprint variable (Sentry's names); None for an unknown variable."""
    last = event.exceptions[-1] if event.exceptions else None
    if var == "transaction":
        return event.transaction or "<no-transaction>"
    if var in ("type", "error.type"):
        return (last.type if last else None) or "<no-type>"
    if var in ("value", "error.value"):
        return (last.value if last else None) or "<no-value>"
    if var in ("function", "stack.function"):
        return _crash_attr(event, lambda f: f.function, "<no-function>")
    if var in ("path", "stack.abs_path"):
        return _crash_attr(event, lambda f: f.abs_path or f.filename, "<no-abs-path>")
    if var == "stack.filename":
        return _crash_attr(event, lambda f: f.filename or f.abs_path, "<no-filename>")
    if var in ("module", "stack.module"):
        return _crash_attr(event, lambda f: f.module, "<no-module>")
    if var in ("package", "stack.package"):
        return "<no-package>"  # native packages are not kept by normalization
    if var == "level":
        return event.level or "<no-level>"
    if var == "logger":
        return event.logger or "<no-logger>"
    if var == "message":
        return event.message or "<no-message>"
    if var.startswith("tags."):
        key = var[len("tags."):]
        value = next((v for k, v in event.tags if k == key), None)
        return value or f"<no-value-for-tag-{key}>"
    return None


# --------------------------------------------------------------------------------------------
# Short ids

#: Sentry writes the number of an issue's short id in Crockford's base 32.
SHORT_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SHORT_ID_DIGITS = {c: i for i, c in enumerate(SHORT_ID_ALPHABET)}
# Letters people mistake for digits, read as those digits.
_SHORT_ID_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def encode_short_number(number: int) -> str:
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValueError(f"a short id number is a non-negative integer, not {number!r}")
    base = len(SHORT_ID_ALPHABET)
    digits = []
    while True:
        number, digit = divmod(number, base)
        digits.append(SHORT_ID_ALPHABET[digit])
        if number == 0:
            return "".join(reversed(digits))


def decode_short_number(text: str) -> int | None:
    text = text.strip().upper().translate(_SHORT_ID_LOOKALIKES)
    if not text:
        return None
    number = 0
    for char in text:
        digit = _SHORT_ID_DIGITS.get(char)
        if digit is None:
            return None
        number = number * len(SHORT_ID_ALPHABET) + digit
    return number


def short_id(project_slug: str, number: int) -> str:
    """An issue's short id: `PROJECT-SLUG-<number in base 32>` (e.g. `BACKEND-1E` for 46)."""
    return f"{project_slug.upper()}-{encode_short_number(number)}"


def parse_short_id(short_id: str) -> tuple[str, int] | None:
    """(project slug, number) from a short id, case-insensitively; None if it is not one."""
    if not isinstance(short_id, str):
        return None
    slug, dash, encoded = short_id.strip().rpartition("-")
    if not dash or not slug or not encoded:
        return None
    number = decode_short_number(encoded)
    if number is None:
        return None
    return slug.lower(), number


# --------------------------------------------------------------------------------------------
# Issue metadata


def _in_app_frame_mix(event: NormalizedEvent) -> str | None:
    flags = {bool(f.in_app) for exc in event.exceptions for f in exc.frames}
    if not flags:
        return None
    if flags == {True}:
        return "in-app-only"
    if flags == {False}:
        return "system-only"
    return "mixed"


def metadata(event: NormalizedEvent) -> dict[str, Any]:
    """The metadata Sentry keeps on an issue: the exception's type and value and where it
    happened for errors, the title for other events."""
    if event.type != "error" or not event.exceptions:
        return {"title": event.title}
    exc = event.exceptions[-1]
    rv: dict[str, Any] = {"value": truncatechars(exc.value or "", 1024)}
    if not is_synthetic(exc):
        rv["type"] = truncatechars(exc.type or "Error", 128)
    frame = crash_frame(event.exceptions, with_function=True)
    if frame is not None:
        filename = frame.filename or frame.abs_path
        if filename:
            rv["filename"] = filename
        if frame.function:
            rv["function"] = frame.function
    rv["display_title_with_tree_label"] = False
    mix = _in_app_frame_mix(event)
    if mix is not None:
        rv["in_app_frame_mix"] = mix
    return rv
