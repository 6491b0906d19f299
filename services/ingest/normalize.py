"""Normalization of an event payload (what a Sentry SDK sends) into a `NormalizedEvent`.

The rules follow Sentry's ingestion pipeline (Relay's normalization, then the event manager):

* a malformed field never fails the event: the field is dropped (or replaced by its default) and
  an entry is added to `errors`, shaped like Sentry's event errors
  (`{"type": "invalid_data", "name": "<field>", "value": ...}`);
* the timestamp is clamped to the time of receipt when it is more than 30 days in the past or
  more than a minute in the future (`past_timestamp` / `future_timestamp`);
* level aliases (`warn`, `critical`, `log`, Python's numeric levels) are folded to Sentry's five
  levels, an unknown platform becomes `other`;
* the title, culprit and derived tags are computed as Sentry computes them for an issue.

`normalize_event` is pure: the same input always gives the same output, except for the event id
generated when the payload has none.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from picket.schemas.ingest import DebugImage, EventUser, ExceptionValue, NormalizedEvent, StackFrame

MAX_SECS_IN_PAST = timedelta(days=30)
MAX_SECS_IN_FUTURE = timedelta(minutes=1)

#: The platforms Relay accepts; anything else is stored as "other".
VALID_PLATFORMS = frozenset(
    {
        "as3", "c", "cfml", "cocoa", "csharp", "elixir", "go", "groovy", "haskell", "java",
        "javascript", "native", "node", "objc", "other", "perl", "php", "python", "ruby",
    }
)

LEVELS = ("fatal", "error", "warning", "info", "debug")
_LEVEL_ALIASES = {
    "debug": "debug",
    "info": "info",
    "log": "info",
    "warning": "warning",
    "warn": "warning",
    "error": "error",
    "fatal": "fatal",
    "critical": "fatal",
}
# Python's logging levels, which some SDKs send as numbers.
_NUMERIC_LEVELS = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "fatal"}

MAX_TITLE_VALUE = 100  # characters of the message / exception value shown in a title
MAX_CULPRIT = 200
MAX_TAG_KEY = 200
MAX_TAG_VALUE = 200
MAX_ENVIRONMENT = 64
MAX_RELEASE = 200
MAX_DIST = 64
MAX_DEBUG_IMAGES = 1000
MAX_DEBUG_FIELD = 1000
MAX_LOGGER = 64
MAX_TRANSACTION = 200
MAX_MESSAGE = 8192

_TAG_KEY_RE = re.compile(r"^[a-zA-Z0-9_.:-]+$")
_BAD_RELEASE_CHARS = frozenset("\r\n\f\t/\\")
_BAD_ENVIRONMENT_CHARS = frozenset("\r\n\f/")
# Tags Sentry computes itself: a client's own values for these are discarded (an `environment`
# tag is promoted to the event's environment when it has none).
_INTERNAL_TAGS = frozenset({"release", "dist", "user", "filename", "function", "environment"})
_USER_FIELDS = ("id", "email", "username", "ip_address", "name")
_AUTO_IP = "{{auto}}"
# Platforms whose SDKs historically relied on the server to fill in the user's address.
_INFER_IP_PLATFORMS = frozenset({"javascript", "cocoa", "objc"})
# `Type: value` in an exception value without a type (what old SDKs send).
_TYPE_IN_VALUE_RE = re.compile(r"(\w+):(.*)")
_HEX32_RE = re.compile(r"^[0-9a-f]{32}$")

_MISSING = object()


class _Errors:
    """Collects normalization problems in Sentry's event error shape."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, type_: str, name: str, value: Any = _MISSING, **details: Any) -> None:
        entry: dict[str, Any] = {"type": type_, "name": name}
        if value is not _MISSING:
            entry["value"] = _error_value(value)
        entry.update(details)
        self.items.append(entry)

    def invalid(self, name: str, value: Any = _MISSING, **details: Any) -> None:
        self.add("invalid_data", name, value, **details)


def _error_value(value: Any) -> Any:
    """A short, JSON-safe rendering of an offending value."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return truncatechars(value, 200)
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return truncatechars(repr(value), 200)
    # Small objects are kept as they came, large ones as shortened JSON text.
    return value if len(text) <= 200 else truncatechars(text, 200)


def truncatechars(value: str, length: int, ellipsis: str = "...") -> str:
    """Shortens `value` to at most `length` characters, marking the cut with an ellipsis."""
    if len(value) <= length:
        return value
    return value[: max(0, length - len(ellipsis))] + ellipsis


# --------------------------------------------------------------------------------------------
# Entry point


def normalize_event(
    raw: dict,
    *,
    project_id: int,
    received: datetime,
    event_id: str | None = None,
    client_ip: str | None = None,
    size: int = 0,
) -> NormalizedEvent:
    """Normalizes one event payload (already decoded from JSON).

    `event_id` is the id the payload was accepted under (the envelope header's), which wins over
    the payload's own. `client_ip` replaces `{{auto}}` in the user's and the request's address.
    Raises `ValueError` only when `raw` is not a JSON object.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"an event must be a JSON object, not {type(raw).__name__}")
    errors = _Errors()
    received = _as_utc(received)

    eid = _event_id(raw.get("event_id"), event_id, errors)
    timestamp = _timestamp(raw.get("timestamp", _MISSING), received, errors)
    level = _level(raw.get("level", _MISSING), errors)
    platform = _platform(raw.get("platform", _MISSING), errors)

    raw_tags = _raw_tags(raw.get("tags", _MISSING), errors)
    release = _release(raw.get("release", _MISSING), errors)
    dist = _dist(raw.get("dist", _MISSING), errors)
    env_value = raw.get("environment", _MISSING)
    if env_value is _MISSING or env_value is None:
        # Old SDKs sent the environment as a tag.
        env_value = next((v for k, v in raw_tags if k == "environment"), _MISSING)
    environment = _environment(env_value, errors)
    server_name = _string(raw, "server_name", errors)
    site = _string(raw, "site", errors)
    logger = _logger(raw.get("logger", _MISSING), errors)
    transaction = _string(raw, "transaction", errors, max_len=MAX_TRANSACTION)
    raw_culprit = _string(raw, "culprit", errors)

    message, _template = _message(raw, errors)
    exceptions = _exceptions(
        _first_present(raw, "exception", "sentry.interfaces.Exception"), errors
    )
    event_type = "error" if exceptions else "default"

    request = _request(_first_present(raw, "request", "sentry.interfaces.Http"), client_ip, errors)
    user = _user(
        _first_present(raw, "user", "sentry.interfaces.User"), platform, client_ip, errors
    )
    contexts = _contexts(raw.get("contexts", _MISSING), errors)
    extra = _mapping(raw, "extra", errors)
    sdk = _optional_mapping(raw, "sdk", errors)
    breadcrumbs = _breadcrumbs(
        _first_present(raw, "breadcrumbs", "sentry.interfaces.Breadcrumbs"), errors
    )
    modules = _modules(raw.get("modules", _MISSING), errors)
    debug_images = _debug_images(raw.get("debug_meta", _MISSING), errors)
    fingerprint = _fingerprint(raw.get("fingerprint", _MISSING), errors)

    title = compute_title(event_type, exceptions, message)
    culprit = truncatechars(
        raw_culprit or transaction or generate_culprit(exceptions, platform, request) or "",
        MAX_CULPRIT,
    )

    derived: list[tuple[str, str | None]] = [
        ("level", level),
        ("logger", logger),
        ("environment", environment),
        ("release", release),
        ("dist", dist),
        ("server_name", server_name),
        ("site", site),
        ("transaction", transaction),
        ("user", user_tag_value(user)),
        ("url", _request_url(request)),
    ]
    derived.extend(_mechanism_tags(exceptions))
    derived.extend(_context_tags(contexts))
    tags = _merge_tags(raw_tags, derived)

    return NormalizedEvent(
        event_id=eid,
        project_id=project_id,
        timestamp=timestamp,
        received=received,
        type=event_type,
        platform=platform,
        level=level,
        logger=logger or "",
        message=message,
        title=title,
        culprit=culprit,
        release=release,
        dist=dist,
        environment=environment,
        server_name=server_name,
        transaction=transaction,
        user=user,
        tags=tags,
        exceptions=exceptions,
        fingerprint=fingerprint,
        sdk=sdk,
        contexts=contexts,
        extra=extra,
        request=request,
        breadcrumbs=breadcrumbs,
        modules=modules,
        errors=errors.items,
        debug_images=debug_images,
        size=size,
    )


def _first_present(raw: dict, *keys: str) -> Any:
    """The value of the first key present (Sentry's legacy interface aliases)."""
    for key in keys:
        if key in raw and raw[key] is not None:
            return raw[key]
    return _MISSING


# --------------------------------------------------------------------------------------------
# Identity and time


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_event_id(value: Any) -> str | None:
    """32 lowercase hex characters from a UUID in any common spelling, or None."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if _HEX32_RE.match(text):
        return text
    try:
        return uuid.UUID(text).hex
    except ValueError:
        return None


def _event_id(payload_id: Any, header_id: str | None, errors: _Errors) -> str:
    chosen = None
    if header_id is not None:
        chosen = parse_event_id(header_id)
        if chosen is None:
            errors.invalid("event_id", header_id, reason="not a valid UUID")
    if payload_id is not None:
        parsed = parse_event_id(payload_id)
        if parsed is None:
            errors.invalid("event_id", payload_id, reason="not a valid UUID")
        elif chosen is None:
            chosen = parsed
    return chosen or uuid.uuid4().hex


def parse_timestamp(value: Any) -> datetime | None:
    """A UTC datetime from an RFC 3339 string or seconds since the epoch, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _from_epoch(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return _from_epoch(float(text))
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return _as_utc(parsed)


def _from_epoch(seconds: float) -> datetime | None:
    if not math.isfinite(seconds):
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _timestamp(value: Any, received: datetime, errors: _Errors) -> datetime:
    if value is _MISSING or value is None:
        return received
    parsed = parse_timestamp(value)
    if parsed is None:
        errors.invalid("timestamp", value, reason="expected an RFC 3339 datetime or a number")
        return received
    if parsed < received - MAX_SECS_IN_PAST:
        errors.add("past_timestamp", "timestamp", parsed.isoformat())
        return received
    if parsed > received + MAX_SECS_IN_FUTURE:
        errors.add("future_timestamp", "timestamp", parsed.isoformat())
        return received
    return parsed


# --------------------------------------------------------------------------------------------
# Scalars


def normalize_level(value: Any) -> str | None:
    """One of fatal, error, warning, info, debug for a level name, alias or number; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _NUMERIC_LEVELS.get(value)
    if isinstance(value, str):
        return _LEVEL_ALIASES.get(value.strip().lower())
    return None


def _level(value: Any, errors: _Errors) -> str:
    if value is _MISSING or value is None:
        return "error"
    level = normalize_level(value)
    if level is None:
        errors.invalid("level", value, reason="unknown level")
        return "error"
    return level


def _platform(value: Any, errors: _Errors) -> str:
    if value is _MISSING or value is None:
        return "other"
    if not isinstance(value, str):
        errors.invalid("platform", value, reason="expected a string")
        return "other"
    platform = value.strip().lower()
    return platform if platform in VALID_PLATFORMS else "other"


def _lenient_string(value: Any) -> str | None:
    """Strings as they are; numbers and booleans spelled out (Relay's lenient strings)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _string(
    raw: dict, key: str, errors: _Errors, *, max_len: int | None = None
) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.invalid(key, value, reason="expected a string")
        return None
    value = value.strip()
    if not value:
        return None
    if max_len is not None:
        value = truncatechars(value, max_len)
    return value


def _release(value: Any, errors: _Errors) -> str | None:
    if value is _MISSING or value is None:
        return None
    text = _lenient_string(value)
    if text is None:
        errors.invalid("release", value, reason="expected a string")
        return None
    stripped = text.strip()
    if not stripped:
        return None
    if (
        len(text) > MAX_RELEASE
        or any(c in _BAD_RELEASE_CHARS for c in text)
        or stripped in (".", "..")
        or stripped.lower() == "latest"
    ):
        errors.invalid("release", value, reason="not a valid release name")
        return None
    return text


def _dist(value: Any, errors: _Errors) -> str | None:
    if value is _MISSING or value is None:
        return None
    text = _lenient_string(value)
    if text is None:
        errors.invalid("dist", value, reason="expected a string")
        return None
    text = text.strip()
    if not text:
        return None
    if len(text) > MAX_DIST:
        errors.add("value_too_long", "dist", value)
        return None
    return text


def is_valid_environment(name: str) -> bool:
    return (
        0 < len(name) <= MAX_ENVIRONMENT
        and not any(c in _BAD_ENVIRONMENT_CHARS for c in name)
    )


def _environment(value: Any, errors: _Errors) -> str | None:
    if value is _MISSING or value is None:
        return None
    if not isinstance(value, str):
        errors.invalid("environment", value, reason="expected a string")
        return None
    name = value.strip()
    if not name:
        return None
    if not is_valid_environment(name):
        errors.invalid("environment", value, reason="not a valid environment name")
        return None
    return name


def _logger(value: Any, errors: _Errors) -> str | None:
    if value is _MISSING or value is None:
        return None
    if not isinstance(value, str):
        errors.invalid("logger", value, reason="expected a string")
        return None
    name = value.strip()
    if len(name) > MAX_LOGGER:
        # Keep the most specific end of a long dotted name, marking the cut with "*".
        name = "*" + name[-(MAX_LOGGER - 1):]
    return name or None


# --------------------------------------------------------------------------------------------
# Message


def format_params(template: str, params: Any) -> str | None:
    """`template % params` the way Python's logging does it, or None when that fails."""
    if params is None or params == [] or params == {}:
        return None
    try:
        if isinstance(params, list):
            return template % tuple(params)
        if isinstance(params, dict):
            return template % params
        return template % (params,)
    except (TypeError, ValueError, KeyError, IndexError, OverflowError):
        return None


def _message(raw: dict, errors: _Errors) -> tuple[str, str | None]:
    """The formatted message and its template (`logentry.message`), if any."""
    name = next(
        (k for k in ("logentry", "sentry.interfaces.Message", "message") if raw.get(k) is not None),
        None,
    )
    if name is None:
        return "", None
    value = raw[name]
    if isinstance(value, dict):
        template = _json_lenient(value.get("message"))
        formatted = _json_lenient(value.get("formatted"))
        params = value.get("params")
        if formatted is None and template is not None:
            formatted = format_params(template, params) if params is not None else None
            if formatted is None:
                formatted = template
        elif formatted is None and value:
            errors.invalid(name, value, reason="a log entry needs a message or formatted text")
    else:
        template = None
        formatted = _json_lenient(value) if not isinstance(value, list) else None
        if formatted is None:
            errors.invalid(name, value, reason="expected a string or a log entry")
    formatted = truncatechars((formatted or "").strip(), MAX_MESSAGE)
    return formatted, template


def _json_lenient(value: Any) -> str | None:
    """A string, or JSON for any other non-null value (Relay's JSON-lenient strings)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)


# --------------------------------------------------------------------------------------------
# Exceptions and stack traces


def _values(value: Any) -> list | None:
    """The items of an interface sent as `{"values": [...]}` or as a bare list."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if "values" not in value:
            return [value] if value else []  # a single item, as very old SDKs sent it
        values = value["values"]
        if values is None:
            return []
        if isinstance(values, list):
            return values
    return None


def _exceptions(value: Any, errors: _Errors) -> list[ExceptionValue]:
    if value is _MISSING:
        return []
    items = _values(value)
    if items is None:
        errors.invalid("exception", value, reason="expected a list of exceptions")
        return []
    result = []
    for index, item in enumerate(items):
        if item is None:
            continue
        path = f"exception.values.{index}"
        if not isinstance(item, dict):
            errors.invalid(path, item, reason="expected an object")
            continue
        exc = _exception(item, path, errors)
        if exc is not None:
            result.append(exc)
    return result


def _exception(item: dict, path: str, errors: _Errors) -> ExceptionValue | None:
    ty = item.get("type")
    if ty is not None and not isinstance(ty, str):
        errors.invalid(f"{path}.type", ty, reason="expected a string")
        ty = None
    value = _json_lenient(item.get("value"))
    module = item.get("module")
    if module is not None and not isinstance(module, str):
        errors.invalid(f"{path}.module", module, reason="expected a string")
        module = None
    mechanism = item.get("mechanism")
    if mechanism is not None and not isinstance(mechanism, dict):
        errors.invalid(f"{path}.mechanism", mechanism, reason="expected an object")
        mechanism = None
    frames = _stacktrace_frames(item.get("stacktrace"), f"{path}.stacktrace", errors)

    ty = (ty.strip() or None) if ty else None
    if ty is None and value:
        match = _TYPE_IN_VALUE_RE.fullmatch(value)
        if match:
            ty, value = match.group(1), match.group(2).strip()
    if not ty and not value and not frames:
        errors.invalid(path, item, reason="type or value required")
        return None
    return ExceptionValue(
        type=ty, value=value or None, module=module or None, mechanism=mechanism, frames=frames
    )


def _stacktrace_frames(value: Any, path: str, errors: _Errors) -> list[StackFrame]:
    if value is None:
        return []
    if not isinstance(value, dict):
        errors.invalid(path, value, reason="expected an object")
        return []
    frames = value.get("frames")
    if frames is None:
        return []
    if not isinstance(frames, list):
        errors.invalid(f"{path}.frames", frames, reason="expected a list")
        return []
    result = []
    for index, frame in enumerate(frames):
        if frame is None:
            continue
        if not isinstance(frame, dict):
            errors.invalid(f"{path}.frames.{index}", frame, reason="expected an object")
            continue
        result.append(_frame(frame, f"{path}.frames.{index}", errors))
    return result


def _debug_images(value: Any, errors: _Errors) -> list[DebugImage]:
    """`debug_meta.images`: the first MAX_DEBUG_IMAGES entries with a string `type`; other
    fields kept only when they are strings of at most MAX_DEBUG_FIELD characters."""
    if value is _MISSING or value is None:
        return []
    images = value.get("images") if isinstance(value, dict) else None
    if not isinstance(images, list):
        errors.invalid("debug_meta", value, reason="expected an object with a list of images")
        return []
    out = []
    for image in images[:MAX_DEBUG_IMAGES]:
        if not isinstance(image, dict) or not isinstance(image.get("type"), str):
            continue
        fields = {k: v for k in ("code_file", "debug_id")
                  if isinstance(v := image.get(k), str) and 0 < len(v) <= MAX_DEBUG_FIELD}
        out.append(DebugImage(type=image["type"][:MAX_DEBUG_FIELD], **fields))
    return out


def _frame(raw: dict, path: str, errors: _Errors) -> StackFrame:
    fields: dict[str, Any] = {}
    for key in ("function", "module", "filename", "abs_path", "context_line"):
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            if value:
                fields[key] = value
        else:
            errors.invalid(f"{path}.{key}", value, reason="expected a string")
    for key in ("lineno", "colno"):
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            fields[key] = value
        else:
            errors.invalid(f"{path}.{key}", value, reason="expected a non-negative integer")
    in_app = raw.get("in_app")
    if isinstance(in_app, bool):
        fields["in_app"] = in_app
    elif in_app is not None:
        errors.invalid(f"{path}.in_app", in_app, reason="expected a boolean")
    for key in ("pre_context", "post_context"):
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, list) and all(v is None or isinstance(v, str) for v in value):
            fields[key] = [v or "" for v in value]
        else:
            errors.invalid(f"{path}.{key}", value, reason="expected a list of strings")
    frame_vars = raw.get("vars")
    if isinstance(frame_vars, dict):
        fields["vars"] = frame_vars
    elif isinstance(frame_vars, list):
        fields["vars"] = {str(i): v for i, v in enumerate(frame_vars)}
    elif frame_vars is not None:
        errors.invalid(f"{path}.vars", frame_vars, reason="expected an object")

    if "filename" not in fields and "abs_path" in fields:
        abs_path = fields["abs_path"]
        url_path = _url_path(abs_path)
        fields["filename"] = url_path or abs_path
    return StackFrame(**fields)


def _url_path(value: str) -> str | None:
    match = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*(/[^?#]*)", value)
    return match.group(1) if match else None


def crash_frame(
    exceptions: list[ExceptionValue], *, with_function: bool = False
) -> StackFrame | None:
    """The frame an error happened in: the newest in-app frame of the last exception, else its
    newest frame. With `with_function`, frames without a usable function name are skipped.
    """
    if not exceptions:
        return None
    frames: Iterable[StackFrame] = exceptions[-1].frames
    if with_function:
        frames = [f for f in frames if f.function not in (None, "<redacted>", "<unknown>")]
    frames = list(frames)
    for frame in reversed(frames):
        if frame.in_app:
            return frame
    return frames[-1] if frames else None


def is_synthetic(exc: ExceptionValue) -> bool:
    """A synthetic exception's type is made up by the SDK (a signal name, ...)."""
    return bool(exc.mechanism and exc.mechanism.get("synthetic"))


# --------------------------------------------------------------------------------------------
# Title and culprit


def compute_title(event_type: str, exceptions: list[ExceptionValue], message: str) -> str:
    """The issue title Sentry shows for an event."""
    if event_type == "error" and exceptions:
        exc = exceptions[-1]
        if is_synthetic(exc):
            frame = crash_frame(exceptions, with_function=True)
            return (frame.function if frame else None) or "<unknown>"
        ty = exc.type or "Error"
        lines = (exc.value or "").splitlines()
        if not lines:
            return ty
        return f"{ty}: {truncatechars(lines[0], MAX_TITLE_VALUE)}"
    text = message.strip()
    if text:
        return truncatechars(text.splitlines()[0], MAX_TITLE_VALUE)
    return "<unlabeled event>"


def frame_culprit(frame: StackFrame, platform: str) -> str:
    """How Sentry names a frame in a culprit: `module in function`, `function(file)` in JS."""
    if platform in ("objc", "cocoa", "native"):
        return frame.function or "?"
    fileloc = frame.module or frame.filename
    if not fileloc:
        return ""
    if platform in ("javascript", "node"):
        return f"{frame.function or '?'}({fileloc})"
    return f"{fileloc} in {frame.function or '?'}"


def generate_culprit(
    exceptions: list[ExceptionValue], platform: str, request: dict[str, Any] | None = None
) -> str:
    """The culprit from the newest in-app frame of the last exception that has frames (or the
    newest frame when none is in-app), else the request's URL, else ""."""
    culprit = None
    with_frames = [e for e in exceptions if e.frames]
    if with_frames:
        default = None
        for frame in reversed(with_frames[-1].frames):
            if frame.in_app:
                culprit = frame_culprit(frame, platform)
                if culprit:
                    break
            elif default is None:
                default = frame_culprit(frame, platform)
        else:
            culprit = default
    if not culprit and request:
        url = request.get("url")
        if isinstance(url, str):
            culprit = url
    return culprit or ""


# --------------------------------------------------------------------------------------------
# User, request and the other interfaces


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _user(
    value: Any, platform: str, client_ip: str | None, errors: _Errors
) -> EventUser | None:
    if value is _MISSING:
        raw: dict = {}
    elif isinstance(value, dict):
        raw = value
    else:
        errors.invalid("user", value, reason="expected an object")
        raw = {}
    fields: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for key, item in raw.items():
        if key in _USER_FIELDS:
            if item is None:
                continue
            if key == "id":
                text = _lenient_string(item)
            else:
                text = item if isinstance(item, str) else None
            if text is None:
                errors.invalid(f"user.{key}", item, reason="expected a string")
            elif text.strip():
                fields[key] = text.strip()
        elif key == "data" and isinstance(item, dict):
            data.update(item)
        elif item is not None:
            data[key] = item

    ip = fields.get("ip_address")
    if ip == _AUTO_IP or (ip is None and platform in _INFER_IP_PLATFORMS):
        ip = client_ip
    if ip is not None and not _valid_ip(ip):
        if ip != client_ip:
            errors.invalid("user.ip_address", ip, reason="not an IP address")
        ip = None
    if ip is None:
        fields.pop("ip_address", None)
    else:
        fields["ip_address"] = ip

    if not fields and not data:
        return None
    return EventUser(**fields, data=data)


def user_tag_value(user: EventUser | None) -> str | None:
    """Sentry's `user` tag: the first of id, username, email, ip address."""
    if user is None:
        return None
    for prefix, value in (
        ("id", user.id),
        ("username", user.username),
        ("email", user.email),
        ("ip", user.ip_address),
    ):
        if value:
            return f"{prefix}:{value}"
    return None


def _request(value: Any, client_ip: str | None, errors: _Errors) -> dict[str, Any] | None:
    if value is _MISSING:
        return None
    if not isinstance(value, dict):
        errors.invalid("request", value, reason="expected an object")
        return None
    request = dict(value)
    env = request.get("env")
    if isinstance(env, dict) and env.get("REMOTE_ADDR") == _AUTO_IP:
        env = dict(env)
        if client_ip:
            env["REMOTE_ADDR"] = client_ip
        else:
            del env["REMOTE_ADDR"]
        request["env"] = env
    return request


def _request_url(request: dict[str, Any] | None) -> str | None:
    if not request:
        return None
    url = request.get("url")
    if not isinstance(url, str):
        return None
    return url.split("?", 1)[0].split("#", 1)[0] or None


def _contexts(value: Any, errors: _Errors) -> dict[str, Any]:
    if value is _MISSING or value is None:
        return {}
    if not isinstance(value, dict):
        errors.invalid("contexts", value, reason="expected an object")
        return {}
    contexts: dict[str, Any] = {}
    for key, context in value.items():
        if context is None:
            continue
        if not isinstance(context, dict):
            errors.invalid(f"contexts.{key}", context, reason="expected an object")
            continue
        contexts[key] = context if "type" in context else {**context, "type": key}
    return contexts


def _mapping(raw: dict, key: str, errors: _Errors) -> dict[str, Any]:
    return _optional_mapping(raw, key, errors) or {}


def _optional_mapping(raw: dict, key: str, errors: _Errors) -> dict[str, Any] | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        errors.invalid(key, value, reason="expected an object")
        return None
    return value


def _breadcrumbs(value: Any, errors: _Errors) -> list[dict[str, Any]]:
    if value is _MISSING:
        return []
    items = _values(value)
    if items is None:
        errors.invalid("breadcrumbs", value, reason="expected a list of breadcrumbs")
        return []
    crumbs = []
    for index, crumb in enumerate(items):
        if crumb is None:
            continue
        if isinstance(crumb, dict):
            crumbs.append(crumb)
        else:
            errors.invalid(f"breadcrumbs.values.{index}", crumb, reason="expected an object")
    return crumbs


def _modules(value: Any, errors: _Errors) -> dict[str, str]:
    if value is _MISSING or value is None:
        return {}
    if not isinstance(value, dict):
        errors.invalid("modules", value, reason="expected an object")
        return {}
    modules = {}
    for name, version in value.items():
        text = _lenient_string(version)
        if text is None:
            if version is not None:
                errors.invalid(f"modules.{name}", version, reason="expected a version string")
            continue
        modules[name] = text
    return modules


def _fingerprint(value: Any, errors: _Errors) -> list[str]:
    default = ["{{ default }}"]
    if value is _MISSING or value is None:
        return default
    if not isinstance(value, list):
        errors.invalid("fingerprint", value, reason="expected a list of strings")
        return default
    entries = []
    for item in value:
        text = _lenient_string(item)
        if text is None:
            errors.invalid("fingerprint", value, reason="expected a list of strings")
            return default
        entries.append(text)
    return entries or default


# --------------------------------------------------------------------------------------------
# Tags


def _raw_tags(value: Any, errors: _Errors) -> list[tuple[str, str]]:
    """The client's tags, as valid (key, value) pairs in the order given."""
    if value is _MISSING or value is None:
        return []
    if isinstance(value, dict):
        pairs: list[Any] = list(value.items())
    elif isinstance(value, list):
        pairs = value
    else:
        errors.invalid("tags", value, reason="expected an object or a list of pairs")
        return []
    tags = []
    for pair in pairs:
        if pair is None:
            continue
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            errors.invalid("tags", pair, reason="expected a [key, value] pair")
            continue
        key, tag_value = pair
        if tag_value is None:
            continue
        text = _lenient_string(tag_value)
        if not isinstance(key, str) or text is None:
            errors.invalid("tags", [key, tag_value], reason="expected string keys and values")
            continue
        key, text = key.strip(), text.strip()
        if len(key) > MAX_TAG_KEY or len(text) > MAX_TAG_VALUE:
            errors.add("value_too_long", f"tags.{truncatechars(key, 200)}", text)
            continue
        if not is_valid_tag_key(key) or not is_valid_tag_value(text):
            errors.invalid("tags", [key, text], reason="not a valid tag")
            continue
        tags.append((key, text))
    return tags


def is_valid_tag_key(key: str) -> bool:
    return 0 < len(key) <= MAX_TAG_KEY and _TAG_KEY_RE.match(key) is not None


def is_valid_tag_value(value: str) -> bool:
    return 0 < len(value) <= MAX_TAG_VALUE and "\n" not in value and "\r" not in value


def _mechanism_tags(exceptions: list[ExceptionValue]) -> list[tuple[str, str | None]]:
    """`mechanism` and `handled` from the first exception's mechanism, as Sentry tags them."""
    if not exceptions or not exceptions[0].mechanism:
        return []
    mechanism = exceptions[0].mechanism
    tags: list[tuple[str, str | None]] = []
    if isinstance(mechanism.get("type"), str):
        tags.append(("mechanism", mechanism["type"]))
    handled = mechanism.get("handled")
    if isinstance(handled, bool):
        tags.append(("handled", "yes" if handled else "no"))
    return tags


def _name_version(context: dict[str, Any]) -> tuple[str | None, str | None]:
    name = context.get("name")
    version = context.get("version")
    name = name if isinstance(name, str) and name else None
    version = version if isinstance(version, str) and version else None
    if name and version:
        return name, f"{name} {version}"
    return name, name


def _context_tags(contexts: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The tags Sentry derives from the os, runtime, browser and device contexts."""
    tags: list[tuple[str, str | None]] = []
    for key in ("os", "runtime", "browser"):
        context = contexts.get(key)
        if isinstance(context, dict):
            name, full = _name_version(context)
            tags.append((key, full))
            tags.append((f"{key}.name", name))
    device = contexts.get("device")
    if isinstance(device, dict):
        model, family = device.get("model"), device.get("family")
        tags.append(("device", model if isinstance(model, str) else None))
        tags.append(("device.family", family if isinstance(family, str) else None))
    return tags


def _merge_tags(
    raw_tags: list[tuple[str, str]], derived: list[tuple[str, str | None]]
) -> list[tuple[str, str]]:
    """Client tags (first value of a key wins, internal keys dropped) overridden by the derived
    ones, sorted by key."""
    merged: dict[str, str] = {}
    for key, value in raw_tags:
        if key not in _INTERNAL_TAGS and key not in merged:
            merged[key] = value
    for key, value in derived:
        if value is None:
            continue
        value = value.strip()
        if is_valid_tag_value(value):
            merged[key] = value
    return sorted(merged.items())
