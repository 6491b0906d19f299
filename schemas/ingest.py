"""Messages of the ingestion topics and the normalized event record.

Where Sentry has the same stream (`ingest-events`, `ingest-monitors`, `ingest-feedback-events`,
`outcomes`, ...) the topic keeps its name. Values are msgpack-encoded Structs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class IngestItem(msgspec.Struct, kw_only=True, frozen=True):
    """One envelope item accepted by the gateway, as published to its ingest topic.

    `payload` is the item's raw bytes (JSON for events, sessions, check-ins, feedback).
    The key of the Kafka message is the project id, so one consumer owns a project's items.
    `item_id` names the item (32 hex digits, `services/ingest/item_ids.py`): rows and outcomes
    made from it are keyed by it, never by Kafka coordinates.
    """

    item_type: str
    project_id: int
    org_id: int
    key_id: int
    received: datetime
    event_id: str | None = None
    payload: bytes = b""
    headers: dict[str, Any] = {}
    remote_addr: str | None = None
    sdk: str | None = None
    item_id: str = ""


class Outcome(msgspec.Struct, kw_only=True, frozen=True):
    """What happened to a quantity of one data category (Sentry's `outcomes` topic shape).

    `id` is stable for the same item processed again (a replay, a retry of the same envelope),
    so the outcome counts once; outcomes about one event count once per event id anyway."""

    timestamp: datetime
    org_id: int
    project_id: int
    key_id: int | None
    outcome: int  # 0 accepted, 1 filtered, 2 rate_limited, 3 invalid, 4 abuse, 5 client_discard
    reason: str | None
    category: int  # Sentry's DataCategory numbers: 1 error, 2 transaction, 4 attachment, ...
    quantity: int
    event_id: str | None = None
    id: str | None = None


class StackFrame(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    function: str | None = None
    module: str | None = None
    filename: str | None = None
    abs_path: str | None = None
    lineno: int | None = None
    colno: int | None = None
    in_app: bool | None = None
    context_line: str | None = None
    pre_context: list[str] = []
    post_context: list[str] = []
    vars: dict[str, Any] = {}
    data: dict[str, Any] = {}  # what processing says of the frame (`sourcemap`, `resolved_with`)


class ExceptionValue(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    type: str | None = None
    value: str | None = None
    module: str | None = None
    mechanism: dict[str, Any] | None = None
    frames: list[StackFrame] = []
    raw_frames: list[StackFrame] = []  # the frames as sent, when processing changed them (source maps)


class DebugImage(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """An entry of the event's `debug_meta.images`: for JavaScript, `sourcemap` images name the
    debug id of each minified file (`code_file`) the stack may point at."""

    type: str
    code_file: str | None = None
    debug_id: str | None = None


class EventUser(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    id: str | None = None
    email: str | None = None
    username: str | None = None
    ip_address: str | None = None
    name: str | None = None
    data: dict[str, Any] = {}


class NormalizedEvent(msgspec.Struct, kw_only=True, frozen=True):
    """An error or default event after normalization, ready to group and store."""

    event_id: str  # 32 lowercase hex characters
    project_id: int
    timestamp: datetime  # when it happened (UTC), clamped as Sentry does
    received: datetime  # when Picket accepted it (UTC)
    type: str  # "error" when it has an exception, else "default" (transactions are not events here)
    platform: str  # "other" when absent or unknown
    level: str  # fatal, error, warning, info, debug (default "error")
    logger: str = ""
    message: str = ""  # the formatted log message, if any
    title: str = ""  # "<Type>: <value>" for errors, else the message, else "<unlabeled event>"
    culprit: str = ""  # transaction or the top in-app frame's "module in function"
    release: str | None = None
    dist: str | None = None
    environment: str | None = None
    server_name: str | None = None
    transaction: str | None = None
    user: EventUser | None = None
    tags: list[tuple[str, str]] = []  # includes level, environment, release, ... as Sentry does
    exceptions: list[ExceptionValue] = []
    fingerprint: list[str] = msgspec.field(default_factory=lambda: ["{{ default }}"])
    sdk: dict[str, Any] | None = None
    contexts: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    request: dict[str, Any] | None = None
    breadcrumbs: list[dict[str, Any]] = []
    modules: dict[str, str] = {}
    errors: list[dict[str, Any]] = []  # normalization problems, as Sentry reports them
    debug_images: list[DebugImage] = []
    size: int = 0  # bytes of the raw payload
