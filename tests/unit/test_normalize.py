"""Normalization of event payloads, checked on what the real Python SDK sends and on crafted
payloads for Sentry's (Relay's) rules: ids, timestamps, levels, messages, exceptions, the title,
the culprit, users, tags, and malformed fields that become `errors` instead of failures.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import msgspec
import pytest
import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.transport import Transport

from picket.schemas.ingest import NormalizedEvent
from picket.ingest.normalize import normalize_event

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
RELEASE = "shop@1.4.2"
ENVIRONMENT = "staging"
SERVER = "web-1"


# --------------------------------------------------------------------------------------------
# Real SDK payloads


class _Collect(Transport):
    """Keeps the envelopes the SDK would send."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)


class SdkEvents:
    def __init__(self, transport: _Collect):
        self.transport = transport

    def take(self) -> list[tuple[dict, str | None]]:
        """(payload as sent on the wire, envelope event id) of each event captured so far."""
        sentry_sdk.flush()
        events = []
        for envelope in self.transport.envelopes:
            for item in envelope.items:
                if item.type == "event":
                    payload = json.loads(item.payload.get_bytes())
                    events.append((payload, envelope.headers.get("event_id")))
        self.transport.envelopes.clear()
        return events

    def one(self, capture: Callable[[], object]) -> tuple[dict, str | None]:
        with sentry_sdk.isolation_scope():
            capture()
        (event,) = self.take()
        return event


@pytest.fixture
def sdk() -> Iterator[SdkEvents]:
    transport = _Collect()
    sentry_sdk.init(
        dsn="https://0123456789abcdef0123456789abcdef@picket.test/1",
        transport=transport,
        release=RELEASE,
        environment=ENVIRONMENT,
        server_name=SERVER,
        send_default_pii=True,
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[LoggingIntegration(level=None, event_level=logging.ERROR)],
    )
    try:
        yield SdkEvents(transport)
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


def _raise_value_error(message: str) -> None:
    raise ValueError(message)


def _capture_value_error(message: str = "boom") -> None:
    try:
        _raise_value_error(message)
    except ValueError as exc:
        sentry_sdk.capture_exception(exc)


def _normalize(raw: dict, **kwargs) -> NormalizedEvent:
    kwargs.setdefault("project_id", 7)
    kwargs.setdefault("received", RECEIVED)
    return normalize_event(raw, **kwargs)


def test_sdk_exception_is_normalized_as_sentry_shows_it(sdk):
    raw, header_id = sdk.one(_capture_value_error)
    received = datetime.now(timezone.utc)
    event = normalize_event(raw, project_id=7, received=received, event_id=header_id, size=1234)

    assert event.errors == []
    assert event.event_id == header_id == raw["event_id"]
    assert event.project_id == 7 and event.size == 1234
    assert event.type == "error"
    assert event.level == "error"
    assert event.platform == "python"
    assert event.title == "ValueError: boom"
    assert event.culprit == f"{__name__} in _raise_value_error"
    assert event.message == ""
    assert (event.release, event.environment, event.server_name) == (RELEASE, ENVIRONMENT, SERVER)
    assert event.timestamp.tzinfo is not None and event.timestamp.utcoffset() == timedelta(0)
    assert received - timedelta(minutes=1) < event.timestamp <= received
    assert event.fingerprint == ["{{ default }}"]
    assert event.sdk is not None and event.sdk["name"] == "sentry.python"

    (exc,) = event.exceptions
    assert (exc.type, exc.value) == ("ValueError", "boom")
    assert exc.mechanism == {"type": "generic", "handled": True}
    # Oldest frame first, the frame that raised last, as in Sentry's payload.
    assert [f.function for f in exc.frames] == [
        "_capture_value_error",
        "_raise_value_error",
    ]
    raising = exc.frames[-1]
    assert raising.in_app is True
    assert raising.module == __name__
    assert raising.filename.endswith("test_normalize.py")
    assert isinstance(raising.lineno, int)
    assert raising.context_line.strip() == "raise ValueError(message)"

    tags = dict(event.tags)
    assert tags["level"] == "error"
    assert tags["environment"] == ENVIRONMENT
    assert tags["release"] == RELEASE
    assert tags["server_name"] == SERVER
    assert tags["handled"] == "yes"
    assert tags["mechanism"] == "generic"
    assert event.tags == sorted(event.tags)


def test_sdk_message_event_is_a_default_event(sdk):
    raw, header_id = sdk.one(lambda: sentry_sdk.capture_message("hello %s"))
    event = _normalize(raw, event_id=header_id, received=datetime.now(timezone.utc))

    assert event.errors == []
    assert event.type == "default"
    assert event.level == "info"
    assert event.message == "hello %s"
    assert event.title == "hello %s"
    assert event.culprit == ""
    assert event.exceptions == []
    assert ("level", "info") in event.tags
    assert ("environment", ENVIRONMENT) in event.tags


def test_sdk_chained_exception_is_titled_by_the_last_one(sdk):
    def capture():
        try:
            try:
                _raise_value_error("inner")
            except ValueError as exc:
                raise KeyError("outer") from exc
        except KeyError as exc:
            sentry_sdk.capture_exception(exc)

    raw, _ = sdk.one(capture)
    event = _normalize(raw, received=datetime.now(timezone.utc))

    assert [e.type for e in event.exceptions] == ["ValueError", "KeyError"]
    assert event.title == "KeyError: 'outer'"
    # The culprit comes from the last exception's newest in-app frame.
    assert event.culprit == f"{__name__} in capture"


def test_sdk_user_scope_and_tags(sdk):
    def capture():
        sentry_sdk.set_user({"id": 42, "email": "ann@example.com", "ip_address": "{{auto}}",
                             "plan": "pro"})
        sentry_sdk.set_tag("feature", "checkout")
        sentry_sdk.set_tag("attempt", 3)
        sentry_sdk.capture_message("payment declined", level="warning")

    raw, _ = sdk.one(capture)
    event = _normalize(raw, received=datetime.now(timezone.utc), client_ip="203.0.113.9")

    assert event.errors == []
    assert event.level == "warning"
    assert event.user is not None
    assert event.user.id == "42"
    assert event.user.email == "ann@example.com"
    assert event.user.ip_address == "203.0.113.9"
    assert event.user.data == {"plan": "pro"}
    tags = dict(event.tags)
    assert tags["user"] == "id:42"
    assert tags["feature"] == "checkout"
    assert tags["attempt"] == "3"
    assert tags["level"] == "warning"


def test_sdk_logging_event_keeps_the_logger_and_formatted_message(sdk):
    def capture():
        logging.getLogger("shop.payments").error("charge %s failed for %s", 42, "ann")

    raw, _ = sdk.one(capture)
    assert raw["logentry"]["message"] == "charge %s failed for %s"
    event = _normalize(raw, received=datetime.now(timezone.utc))

    assert event.errors == []
    assert event.type == "default"
    assert event.logger == "shop.payments"
    assert event.message == "charge 42 failed for ann"
    assert event.title == "charge 42 failed for ann"
    assert ("logger", "shop.payments") in event.tags


def test_normalized_event_survives_msgpack(sdk):
    raw, header_id = sdk.one(_capture_value_error)
    event = _normalize(raw, event_id=header_id, received=datetime.now(timezone.utc))
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(event), type=NormalizedEvent)
    assert decoded == event


# --------------------------------------------------------------------------------------------
# Event id


def test_event_id_with_dashes_and_capitals_is_normalized():
    value = "AF363CAF-ED22-4AD8-8C47-7D8B804DB79C"
    event = _normalize({"event_id": value})
    assert event.event_id == "af363cafed224ad88c477d8b804db79c"
    assert event.errors == []


def test_missing_event_id_is_generated():
    event = _normalize({})
    assert re.fullmatch(r"[0-9a-f]{32}", event.event_id)
    assert event.errors == []


def test_invalid_event_id_is_replaced_and_reported():
    event = _normalize({"event_id": "not-an-id"})
    assert re.fullmatch(r"[0-9a-f]{32}", event.event_id)
    assert event.errors == [
        {"type": "invalid_data", "name": "event_id", "value": "not-an-id",
         "reason": "not a valid UUID"}
    ]


def test_event_id_of_the_envelope_wins():
    header = uuid.uuid4().hex
    event = _normalize({"event_id": uuid.uuid4().hex}, event_id=header)
    assert event.event_id == header
    assert _normalize({}, event_id=str(uuid.UUID(header))).event_id == header


def test_non_string_event_id_is_reported():
    event = _normalize({"event_id": 12345})
    assert len(event.event_id) == 32
    assert [e["name"] for e in event.errors] == ["event_id"]


# --------------------------------------------------------------------------------------------
# Timestamps


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T11:59:00Z", datetime(2024, 5, 1, 11, 59, tzinfo=timezone.utc)),
        ("2024-05-01T13:59:00+02:00", datetime(2024, 5, 1, 11, 59, tzinfo=timezone.utc)),
        ("2024-05-01T11:59:00", datetime(2024, 5, 1, 11, 59, tzinfo=timezone.utc)),
        ("2024-05-01T11:59:00.250000Z",
         datetime(2024, 5, 1, 11, 59, 0, 250000, tzinfo=timezone.utc)),
        (RECEIVED.timestamp() - 60.5, RECEIVED - timedelta(seconds=60.5)),
        (int(RECEIVED.timestamp()) - 3600, RECEIVED - timedelta(hours=1)),
    ],
)
def test_timestamp_forms(value, expected):
    event = _normalize({"timestamp": value})
    assert event.timestamp == expected
    assert event.timestamp.utcoffset() == timedelta(0)
    assert event.errors == []


def test_missing_timestamp_is_the_time_received():
    assert _normalize({}).timestamp == RECEIVED


def test_timestamp_more_than_30_days_old_is_clamped():
    old = RECEIVED - timedelta(days=31)
    event = _normalize({"timestamp": old.isoformat()})
    assert event.timestamp == RECEIVED
    assert [(e["type"], e["name"]) for e in event.errors] == [("past_timestamp", "timestamp")]


def test_timestamp_29_days_old_is_kept():
    recent = RECEIVED - timedelta(days=29)
    event = _normalize({"timestamp": recent.timestamp()})
    assert event.timestamp == recent
    assert event.errors == []


def test_timestamp_in_the_future_is_clamped():
    ahead = RECEIVED + timedelta(minutes=5)
    event = _normalize({"timestamp": ahead.timestamp()})
    assert event.timestamp == RECEIVED
    assert [(e["type"], e["name"]) for e in event.errors] == [("future_timestamp", "timestamp")]


def test_small_clock_drift_into_the_future_is_tolerated():
    ahead = RECEIVED + timedelta(seconds=30)
    assert _normalize({"timestamp": ahead.isoformat()}).timestamp == ahead


@pytest.mark.parametrize("value", ["yesterday", "", True, {"at": 1}, float("nan")])
def test_invalid_timestamp_is_the_time_received(value):
    event = _normalize({"timestamp": value})
    assert event.timestamp == RECEIVED
    assert [(e["type"], e["name"]) for e in event.errors] == [("invalid_data", "timestamp")]


def test_naive_received_time_is_taken_as_utc():
    event = normalize_event({}, project_id=1, received=datetime(2024, 5, 1, 12, 0))
    assert event.received == RECEIVED
    assert event.timestamp == RECEIVED


# --------------------------------------------------------------------------------------------
# Level and platform


@pytest.mark.parametrize(
    ("value", "level"),
    [
        ("warn", "warning"),
        ("warning", "warning"),
        ("critical", "fatal"),
        ("fatal", "fatal"),
        ("log", "info"),
        ("info", "info"),
        ("debug", "debug"),
        ("error", "error"),
        ("WARNING", "warning"),
        (30, "warning"),
        (50, "fatal"),
    ],
)
def test_level_aliases(value, level):
    event = _normalize({"level": value})
    assert event.level == level
    assert ("level", level) in event.tags
    assert event.errors == []


def test_level_defaults_to_error():
    assert _normalize({}).level == "error"


@pytest.mark.parametrize("value", ["verbose", 35, [], True])
def test_unknown_level_is_error_and_reported(value):
    event = _normalize({"level": value})
    assert event.level == "error"
    assert [(e["type"], e["name"]) for e in event.errors] == [("invalid_data", "level")]


@pytest.mark.parametrize(
    ("value", "platform"),
    [("python", "python"), ("javascript", "javascript"), ("cobol", "other"), (None, "other")],
)
def test_platform(value, platform):
    assert _normalize({"platform": value}).platform == platform


# --------------------------------------------------------------------------------------------
# Message and title


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"message": "plain text"}, "plain text"),
        ({"message": {"formatted": "from formatted"}}, "from formatted"),
        ({"message": {"message": "hello %s", "params": ["world"]}}, "hello world"),
        ({"logentry": {"message": "hello %s", "params": ["world"]}}, "hello world"),
        ({"logentry": {"message": "%(n)d items", "params": {"n": 3}}}, "3 items"),
        ({"logentry": {"message": "hello %s %s", "params": ["one"]}}, "hello %s %s"),
        ({"logentry": {"message": "100% sure"}}, "100% sure"),
        ({"logentry": {"message": "tmpl %s", "formatted": "tmpl x", "params": ["x"]}}, "tmpl x"),
        ({"logentry": {"formatted": "from logentry"}, "message": "ignored"}, "from logentry"),
        ({"sentry.interfaces.Message": {"message": "legacy"}}, "legacy"),
    ],
)
def test_message_forms(raw, message):
    event = _normalize(raw)
    assert event.message == message
    assert event.title == message
    assert event.type == "default"
    assert event.errors == []


def test_title_is_the_first_line_of_the_message_shortened_to_100():
    event = _normalize({"message": "x" * 150 + "\nsecond line"})
    assert event.message.startswith("x" * 150)
    assert event.title == "x" * 97 + "..."


def test_event_without_message_or_exception_is_unlabeled():
    event = _normalize({})
    assert event.title == "<unlabeled event>"
    assert event.type == "default"
    assert event.culprit == ""


def test_error_title_uses_the_first_line_of_the_value():
    exc = {"type": "DatabaseError", "value": "line one\nline two"}
    event = _normalize({"exception": {"values": [exc]}})
    assert event.title == "DatabaseError: line one"


def test_error_title_without_value_is_the_type():
    event = _normalize({"exception": [{"type": "KeyboardInterrupt"}]})
    assert event.type == "error"
    assert event.title == "KeyboardInterrupt"


def test_type_is_read_from_the_value_when_missing():
    event = _normalize({"exception": {"values": [{"value": "ValueError: bad input"}]}})
    (exc,) = event.exceptions
    assert (exc.type, exc.value) == ("ValueError", "bad input")
    assert event.title == "ValueError: bad input"


def test_exception_without_type_is_titled_error():
    event = _normalize({"exception": {"values": [{"value": "something broke"}]}})
    assert event.title == "Error: something broke"


def test_synthetic_exception_is_titled_by_its_function():
    raw = {
        "platform": "native",
        "exception": {"values": [{
            "type": "SIGSEGV",
            "value": "Segfault",
            "mechanism": {"type": "signalhandler", "synthetic": True},
            "stacktrace": {"frames": [{"function": "main"}, {"function": "crash_here"}]},
        }]},
    }
    assert _normalize(raw).title == "crash_here"


@pytest.mark.parametrize("value", [{"values": None}, {"values": []}, {}, []])
def test_empty_exception_interface(value):
    event = _normalize({"exception": value, "message": "m"})
    assert (event.type, event.exceptions, event.errors) == ("default", [], [])


def test_single_exception_object_of_old_sdks():
    event = _normalize({"exception": {"type": "IOError", "value": "disk full"}})
    assert event.title == "IOError: disk full"


def test_exception_without_type_value_or_frames_is_dropped():
    event = _normalize({"exception": {"values": [{"mechanism": {"type": "generic"}}]}})
    assert event.exceptions == []
    assert event.type == "default"
    assert [(e["type"], e["name"]) for e in event.errors] == [
        ("invalid_data", "exception.values.0")
    ]


# --------------------------------------------------------------------------------------------
# Culprit


def _frames_event(frames: list[dict], **extra) -> dict:
    exc = {"type": "E", "value": "v", "stacktrace": {"frames": frames}}
    return {"exception": {"values": [exc]}, **extra}


FRAMES = [
    {"module": "app.main", "function": "run", "filename": "app/main.py", "in_app": True},
    {"module": "app.views", "function": "checkout", "filename": "app/views.py", "in_app": True},
    {"module": "requests.api", "function": "get", "filename": "requests/api.py", "in_app": False},
]


def test_culprit_is_the_newest_in_app_frame():
    assert _normalize(_frames_event(FRAMES, platform="python")).culprit == "app.views in checkout"


def test_culprit_falls_back_to_the_newest_frame():
    frames = [dict(f, in_app=False) for f in FRAMES]
    assert _normalize(_frames_event(frames)).culprit == "requests.api in get"


def test_culprit_uses_the_filename_without_a_module():
    frames = [{"filename": "app/views.py", "function": "checkout", "in_app": True}]
    assert _normalize(_frames_event(frames)).culprit == "app/views.py in checkout"


def test_javascript_culprit():
    frames = [{"filename": "app.js", "function": "onClick", "in_app": True}]
    assert _normalize(_frames_event(frames, platform="javascript")).culprit == "onClick(app.js)"


def test_transaction_is_the_culprit():
    event = _normalize(_frames_event(FRAMES, transaction="/api/checkout"))
    assert event.culprit == "/api/checkout"
    assert ("transaction", "/api/checkout") in event.tags


def test_culprit_falls_back_to_the_request_url():
    event = _normalize({"message": "m", "request": {"url": "https://shop.test/cart?id=1"}})
    assert event.culprit == "https://shop.test/cart?id=1"
    assert ("url", "https://shop.test/cart") in event.tags


def test_filename_is_taken_from_abs_path():
    frames = [{"abs_path": "https://shop.test/static/app.js?v=2", "function": "f", "in_app": True}]
    (frame,) = _normalize(_frames_event(frames)).exceptions[0].frames
    assert frame.filename == "/static/app.js"


# --------------------------------------------------------------------------------------------
# Tags


def test_tags_from_a_dict():
    event = _normalize(
        {"tags": {"browser": "Firefox", "retries": 2, "beta": True}, "level": "info"}
    )
    assert event.tags == [
        ("beta", "True"), ("browser", "Firefox"), ("level", "info"), ("retries", "2")
    ]
    assert event.errors == []


def test_tags_from_a_list_of_pairs():
    event = _normalize({"tags": [["zone", "eu-1"], ["app", "shop"], ["zone", "us-2"]]})
    assert event.tags == [("app", "shop"), ("level", "error"), ("zone", "eu-1")]


def test_invalid_tags_are_dropped_and_reported():
    event = _normalize({
        "tags": [
            ["ok", "yes"],
            ["k" * 201, "v"],
            ["long", "v" * 201],
            ["bad key", "v"],
            ["multi", "line\nvalue"],
            ["not", "a", "pair"],
            "loose",
            [3, "numeric key"],
            ["none", None],
        ]
    })
    assert event.tags == [("level", "error"), ("ok", "yes")]
    assert len(event.errors) == 7
    assert {e["type"] for e in event.errors} == {"invalid_data", "value_too_long"}


def test_tag_of_exactly_200_characters_is_kept():
    event = _normalize({"tags": {"k" * 200: "v" * 200}})
    assert ("k" * 200, "v" * 200) in event.tags


def test_derived_tags_override_the_clients():
    event = _normalize({
        "level": "warning",
        "release": "shop@2",
        "dist": "17",
        "environment": "production",
        "server_name": "web-3",
        "logger": "shop.cart",
        "transaction": "/cart",
        "user": {"email": "ann@example.com"},
        "tags": {"level": "fatal", "release": "bogus", "user": "x", "custom": "kept"},
    })
    assert event.tags == [
        ("custom", "kept"),
        ("dist", "17"),
        ("environment", "production"),
        ("level", "warning"),
        ("logger", "shop.cart"),
        ("release", "shop@2"),
        ("server_name", "web-3"),
        ("transaction", "/cart"),
        ("user", "email:ann@example.com"),
    ]


def test_environment_tag_becomes_the_environment():
    event = _normalize({"tags": {"environment": "qa"}})
    assert event.environment == "qa"
    assert ("environment", "qa") in event.tags


def test_context_tags():
    event = _normalize({
        "contexts": {
            "os": {"name": "Linux", "version": "6.1"},
            "runtime": {"name": "CPython", "version": "3.11.7"},
            "browser": {"name": "Chrome"},
            "trace": {"trace_id": "a" * 32},
        }
    })
    tags = dict(event.tags)
    assert tags["os"] == "Linux 6.1" and tags["os.name"] == "Linux"
    assert tags["runtime"] == "CPython 3.11.7" and tags["runtime.name"] == "CPython"
    assert tags["browser"] == "Chrome" and tags["browser.name"] == "Chrome"
    assert event.contexts["os"]["type"] == "os"


@pytest.mark.parametrize(
    ("user", "tag"),
    [
        ({"id": 7, "username": "ann", "email": "a@x.io", "ip_address": "10.0.0.1"}, "id:7"),
        ({"username": "ann", "email": "a@x.io"}, "username:ann"),
        ({"email": "a@x.io", "ip_address": "10.0.0.1"}, "email:a@x.io"),
        ({"ip_address": "10.0.0.1"}, "ip:10.0.0.1"),
    ],
)
def test_user_tag(user, tag):
    assert ("user", tag) in _normalize({"user": user}).tags


# --------------------------------------------------------------------------------------------
# Release, environment and the other attributes


@pytest.mark.parametrize("name", ["prod/eu", "line\nbreak", "e" * 65])
def test_invalid_environment_is_dropped_and_reported(name):
    event = _normalize({"environment": name})
    assert event.environment is None
    assert not any(k == "environment" for k, _ in event.tags)
    assert [(e["type"], e["name"]) for e in event.errors] == [("invalid_data", "environment")]


def test_environment_of_64_characters_is_kept():
    assert _normalize({"environment": "e" * 64}).environment == "e" * 64


@pytest.mark.parametrize("release", ["latest", "a/b", "..", "r" * 201, "tab\there"])
def test_invalid_release_is_dropped_and_reported(release):
    event = _normalize({"release": release})
    assert event.release is None
    assert [e["name"] for e in event.errors] == ["release"]


def test_numeric_release_and_dist_are_strings():
    event = _normalize({"release": 12, "dist": 3})
    assert (event.release, event.dist) == ("12", "3")


def test_long_logger_keeps_its_end():
    name = "shop." + "a" * 80 + ".payments"
    logger = _normalize({"logger": name}).logger
    assert len(logger) == 64
    assert logger.startswith("*") and logger.endswith(".payments")


def test_user_fields():
    event = _normalize(
        {"user": {"id": "u1", "username": "ann", "name": "Ann", "ip_address": "{{auto}}",
                  "geo": {"country_code": "DE"}, "data": {"plan": "pro"}}},
        client_ip="2001:db8::1",
    )
    user = event.user
    assert (user.id, user.username, user.name) == ("u1", "ann", "Ann")
    assert user.ip_address == "2001:db8::1"
    assert user.data == {"geo": {"country_code": "DE"}, "plan": "pro"}


def test_auto_ip_without_a_client_ip_is_dropped():
    event = _normalize({"user": {"id": "u1", "ip_address": "{{auto}}"}})
    assert event.user.ip_address is None
    assert event.errors == []


def test_javascript_user_address_is_inferred():
    event = _normalize({"platform": "javascript"}, client_ip="198.51.100.4")
    assert event.user is not None and event.user.ip_address == "198.51.100.4"
    assert _normalize({"platform": "python"}, client_ip="198.51.100.4").user is None


def test_request_remote_addr_auto():
    event = _normalize({"request": {"url": "https://x.test/", "env": {"REMOTE_ADDR": "{{auto}}"}}},
                       client_ip="192.0.2.1")
    assert event.request["env"] == {"REMOTE_ADDR": "192.0.2.1"}


def test_interfaces_are_kept():
    raw = {
        "breadcrumbs": {"values": [{"category": "http", "message": "GET /"}, "junk"]},
        "modules": {"django": "5.0", "six": 1},
        "extra": {"order": 12},
        "sdk": {"name": "sentry.javascript.browser", "version": "8.0.0"},
        "request": {"url": "https://shop.test/", "method": "GET"},
        "dist": "  build-7  ",
        "server_name": "web-9",
    }
    event = _normalize(raw)
    assert event.breadcrumbs == [{"category": "http", "message": "GET /"}]
    assert event.modules == {"django": "5.0", "six": "1"}
    assert event.extra == {"order": 12}
    assert event.sdk == {"name": "sentry.javascript.browser", "version": "8.0.0"}
    assert event.request == {"url": "https://shop.test/", "method": "GET"}
    assert event.dist == "build-7"
    assert event.server_name == "web-9"
    assert [e["name"] for e in event.errors] == ["breadcrumbs.values.1"]
    assert _normalize({"breadcrumbs": [{"message": "a"}]}).breadcrumbs == [{"message": "a"}]


@pytest.mark.parametrize(
    ("value", "fingerprint"),
    [
        (None, ["{{ default }}"]),
        ([], ["{{ default }}"]),
        (["{{ default }}", "checkout"], ["{{ default }}", "checkout"]),
        (["code", 500, True], ["code", "500", "True"]),
    ],
)
def test_fingerprint(value, fingerprint):
    raw = {} if value is None else {"fingerprint": value}
    event = _normalize(raw)
    assert event.fingerprint == fingerprint
    assert event.errors == []


@pytest.mark.parametrize("value", ["single", [{"a": 1}], [None]])
def test_invalid_fingerprint_falls_back_to_the_default(value):
    event = _normalize({"fingerprint": value})
    assert event.fingerprint == ["{{ default }}"]
    assert [e["name"] for e in event.errors] == ["fingerprint"]


# --------------------------------------------------------------------------------------------
# Malformed payloads


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("message", ["not", "a", "message"]),
        ("logentry", {"params": [1]}),
        ("exception", "boom"),
        ("exception", {"values": ["not an exception"]}),
        ("exception", {"values": [{"type": "E", "stacktrace": "frames"}]}),
        ("exception", {"values": [{"type": "E", "stacktrace": {"frames": {"0": {}}}}]}),
        ("exception", {"values": [{"type": 5, "value": "v"}]}),
        ("exception", {"values": [{"type": "E", "mechanism": "generic"}]}),
        ("exception", {"values": [{"type": "E", "stacktrace": {"frames": [{"lineno": "ten"}]}}]}),
        ("exception", {"values": [{"type": "E", "stacktrace": {"frames": [{"in_app": "yes"}]}}]}),
        ("exception", {"values": [{"type": "E", "stacktrace": {"frames": [{"function": 1}]}}]}),
        ("exception", {"values": [{"type": "E", "stacktrace": {"frames": [7]}}]}),
        ("user", "ann"),
        ("user", {"email": ["a@x.io"]}),
        ("user", {"ip_address": "not-an-ip"}),
        ("tags", "a=b"),
        ("contexts", []),
        ("contexts", {"os": "Linux"}),
        ("extra", [1, 2]),
        ("sdk", "python"),
        ("request", "GET /"),
        ("breadcrumbs", "many"),
        ("modules", ["django"]),
        ("environment", 3),
        ("release", {"v": 1}),
        ("dist", []),
        ("server_name", 42),
        ("logger", {}),
        ("transaction", ["/"]),
        ("platform", 3),
    ],
)
def test_malformed_fields_become_errors(field, value):
    event = _normalize({field: value, "message": "still stored"} if field not in (
        "message", "logentry") else {field: value})
    assert event.errors, f"no error for {field}={value!r}"
    assert all(e["name"].split(".")[0] in (field, "exception") for e in event.errors)
    assert all(e["type"] == "invalid_data" for e in event.errors)


def test_a_payload_of_wrong_types_still_normalizes():
    raw = {key: [object.__name__] for key in (
        "event_id", "timestamp", "level", "platform", "logger", "transaction", "server_name",
        "release", "dist", "environment", "message", "exception", "user", "request", "contexts",
        "tags", "extra", "sdk", "breadcrumbs", "modules", "fingerprint",
    )}
    event = _normalize(raw)
    assert event.type == "default"
    assert event.level == "error"
    assert event.title == "<unlabeled event>"
    assert len(event.errors) >= 18
    msgspec.msgpack.encode(event)


@pytest.mark.parametrize("raw", [None, [], "event", 3, b"{}"])
def test_non_object_payload_raises(raw):
    with pytest.raises(ValueError):
        normalize_event(raw, project_id=1, received=RECEIVED)
