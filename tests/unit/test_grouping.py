"""Grouping of normalized events (Sentry's default strategy and custom fingerprints), issue
short ids and issue metadata. Errors and messages come from the real Python SDK.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import msgspec
import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from picket.schemas.ingest import NormalizedEvent
from picket.ingest.grouping import (
    default_grouping_components,
    grouping_components,
    grouping_hash,
    has_custom_fingerprint,
    metadata,
    normalize_message_for_grouping,
    parse_short_id,
    short_id,
)
from picket.ingest.normalize import normalize_event

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


class _Collect(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)


class SdkEvents:
    def __init__(self, transport: _Collect):
        self.transport = transport

    def capture(self, capture: Callable[[], object]) -> list[dict]:
        """The payloads (as sent on the wire) of the events `capture` produces."""
        with sentry_sdk.isolation_scope():
            capture()
        sentry_sdk.flush()
        payloads = [
            json.loads(item.payload.get_bytes())
            for envelope in self.transport.envelopes
            for item in envelope.items
            if item.type == "event"
        ]
        self.transport.envelopes.clear()
        return payloads

    def events(self, capture: Callable[[], object]) -> list[NormalizedEvent]:
        return [_normalize(raw) for raw in self.capture(capture)]


@pytest.fixture
def sdk() -> Iterator[SdkEvents]:
    transport = _Collect()
    sentry_sdk.init(
        dsn="https://0123456789abcdef0123456789abcdef@picket.test/1",
        transport=transport,
        release="shop@1.0.0",
        default_integrations=False,
        auto_enabling_integrations=False,
    )
    try:
        yield SdkEvents(transport)
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


def _normalize(raw: dict) -> NormalizedEvent:
    return normalize_event(raw, project_id=1, received=datetime.now(timezone.utc))


def _fail(kind: type[Exception], message: str) -> None:
    raise kind(message)


def _capture_each(kind: type[Exception], messages: list[str]) -> Callable[[], None]:
    """Raises and captures `kind` once per message, from one and the same line of code."""

    def capture():
        for message in messages:
            try:
                _fail(kind, message)
            except kind as exc:
                sentry_sdk.capture_exception(exc)

    return capture


def _hashes(events: list[NormalizedEvent]) -> set[str]:
    return {grouping_hash(e) for e in events}


# --------------------------------------------------------------------------------------------
# Errors


def test_same_error_from_the_same_code_groups_together(sdk):
    events = sdk.events(_capture_each(ValueError, ["order 17 is gone", "bad input: 'x'", "boom"]))
    assert len(events) == 3
    assert len({e.title for e in events}) == 3
    assert len(_hashes(events)) == 1
    assert re.fullmatch(r"[0-9a-f]{32}", grouping_hash(events[0]))


def test_line_numbers_do_not_matter(sdk):
    (raw,) = sdk.capture(_capture_each(ValueError, ["boom"]))
    moved = copy.deepcopy(raw)
    for exc in moved["exception"]["values"]:
        for frame in exc["stacktrace"]["frames"]:
            frame["lineno"] += 40
            frame["pre_context"] = ["# a comment added above"]
    assert grouping_hash(_normalize(moved)) == grouping_hash(_normalize(raw))


def test_different_exception_types_group_apart(sdk):
    (value_error,) = sdk.events(_capture_each(ValueError, ["boom"]))
    (type_error,) = sdk.events(_capture_each(TypeError, ["boom"]))
    assert grouping_hash(value_error) != grouping_hash(type_error)


def test_different_code_groups_apart(sdk):
    def elsewhere():
        try:
            int("not a number")
        except ValueError as exc:
            sentry_sdk.capture_exception(exc)

    (here,) = sdk.events(_capture_each(ValueError, ["boom"]))
    (there,) = sdk.events(elsewhere)
    assert grouping_hash(here) != grouping_hash(there)


def test_default_components_of_a_python_error(sdk):
    (event,) = sdk.events(_capture_each(ValueError, ["boom"]))
    assert default_grouping_components(event) == [
        "exception",
        "type=ValueError",
        f"frame:module={__name__}|function=capture|context-line=_fail(kind, message)",
        f"frame:module={__name__}|function=_fail|context-line=raise kind(message)",
    ]


def _error(frames: list[dict], ty: str = "OSError", value: str = "v", **extra) -> dict:
    return {
        "platform": "python",
        "exception": {"values": [{"type": ty, "value": value, "stacktrace": {"frames": frames}}]},
        **extra,
    }


APP = {"module": "shop.cart", "function": "add", "filename": "shop/cart.py", "in_app": True,
       "lineno": 10}
LIB = {"module": "requests.api", "function": "get", "filename": "requests/api.py",
       "in_app": False, "lineno": 99}


def test_only_in_app_frames_count_when_there_are_some():
    base = grouping_hash(_normalize(_error([APP])))
    assert grouping_hash(_normalize(_error([APP, LIB]))) == base
    assert grouping_hash(_normalize(_error([dict(LIB, function="post"), APP]))) == base


def test_all_frames_count_without_in_app_ones():
    one = _normalize(_error([LIB]))
    other = _normalize(_error([dict(LIB, function="post")]))
    assert grouping_hash(one) != grouping_hash(other)


def test_module_wins_over_the_file_and_the_file_is_reduced_to_its_name():
    with_module = _normalize(_error([dict(APP, filename="/srv/a/shop/cart.py")]))
    elsewhere = _normalize(_error([dict(APP, filename="/opt/b/shop/cart.py")]))
    assert grouping_hash(with_module) == grouping_hash(elsewhere)
    no_module = [{"filename": "/srv/a/Cart.py", "function": "add", "in_app": True}]
    moved = [{"filename": "C:\\b\\cart.py", "function": "add", "in_app": True}]
    assert grouping_hash(_normalize(_error(no_module))) == grouping_hash(_normalize(_error(moved)))


def test_recursion_counts_once():
    assert grouping_hash(_normalize(_error([APP, APP, APP]))) == grouping_hash(
        _normalize(_error([APP]))
    )


def test_error_without_frames_groups_by_type_and_value_without_variable_parts():
    def event(value):
        return _normalize({"exception": {"values": [{"type": "ConnectionError", "value": value}]}})

    one = event("connect to 10.0.0.1:5432 failed after 3 tries "
                "(id 4f1c2b9e-7a5d-4e0b-9c8e-1f2a3b4c5d6e)")
    two = event("connect to 10.0.0.7:5432 failed after 12 tries "
                "(id 0b8d2c6e-1a2b-4c3d-8e9f-a0b1c2d3e4f5)")
    other = event("authentication failed for user ann")
    assert grouping_hash(one) == grouping_hash(two)
    assert grouping_hash(one) != grouping_hash(other)
    assert default_grouping_components(one) == [
        "exception",
        "type=ConnectionError",
        "value=connect to <ip>:<int> failed after <int> tries (id <uuid>)",
    ]


def test_every_exception_of_a_chain_counts(sdk):
    def chained(outer: type[Exception]):
        def capture():
            try:
                try:
                    _fail(ValueError, "inner")
                except ValueError as exc:
                    raise outer("outer") from exc
            except outer as exc:
                sentry_sdk.capture_exception(exc)

        return capture

    (key_error,) = sdk.events(chained(KeyError))
    (runtime_error,) = sdk.events(chained(RuntimeError))
    assert grouping_hash(key_error) != grouping_hash(runtime_error)
    assert default_grouping_components(key_error).count("exception") == 2


# --------------------------------------------------------------------------------------------
# Messages


def test_same_message_groups_together(sdk):
    events = sdk.events(lambda: [sentry_sdk.capture_message("hello %s") for _ in range(2)])
    assert len(events) == 2
    assert len(_hashes(events)) == 1
    assert default_grouping_components(events[0]) == ["message=hello %s"]


def test_different_messages_group_apart(sdk):
    (hello,) = sdk.events(lambda: sentry_sdk.capture_message("hello %s"))
    (bye,) = sdk.events(lambda: sentry_sdk.capture_message("goodbye"))
    assert grouping_hash(hello) != grouping_hash(bye)


def test_messages_differing_in_numbers_and_ids_group_together(sdk):
    events = sdk.events(lambda: [
        sentry_sdk.capture_message("request 0xdeadbeef took 35 ms for ann@example.com"),
        sentry_sdk.capture_message("request 0x1f took 1200 ms for bob@example.org"),
    ])
    assert len(_hashes(events)) == 1
    assert default_grouping_components(events[0]) == [
        "message=request <hex> took <int> ms for <email>"
    ]


def test_message_grouping_ignores_lines_after_the_second():
    assert normalize_message_for_grouping("first\n\nsecond\nthird") == "first\nsecond..."
    assert normalize_message_for_grouping("at 2024-05-01T12:00:00Z: 1.5 GB") == (
        "at <date>: <float> GB"
    )


def test_message_template_is_used_when_the_event_has_one():
    class WithTemplate(NormalizedEvent, kw_only=True, frozen=True):
        message_template: str | None = None

    def event(formatted):
        return WithTemplate(event_id="0" * 32, project_id=1, timestamp=RECEIVED, received=RECEIVED,
                            type="default", platform="python", level="error", message=formatted,
                            message_template="charge failed for %s")

    ann, bob = event("charge failed for ann"), event("charge failed for bob")
    assert grouping_hash(ann) == grouping_hash(bob)


def test_event_without_anything_to_group_by():
    event = _normalize({})
    assert default_grouping_components(event) == ["fallback=<no data>"]
    assert grouping_hash(event) == grouping_hash(_normalize({"level": "info"}))


# --------------------------------------------------------------------------------------------
# Fingerprints


def _with_fingerprint(fingerprint: list[str], kind: type[Exception] = ValueError,
                      message: str = "boom") -> Callable[[], None]:
    def capture():
        with sentry_sdk.new_scope() as scope:
            scope.fingerprint = fingerprint
            try:
                _fail(kind, message)
            except kind as exc:
                sentry_sdk.capture_exception(exc)

    return capture


def test_default_fingerprint_variable_is_the_default_grouping(sdk):
    (plain,) = sdk.events(_capture_each(ValueError, ["boom"]))
    (explicit,) = sdk.events(_with_fingerprint(["{{ default }}"]))
    assert explicit.fingerprint == ["{{ default }}"]
    assert grouping_hash(explicit) == grouping_hash(plain)


@pytest.mark.parametrize(
    ("fingerprint", "custom"),
    [(None, False), (["{{ default }}"], False), (["{{default}}"], False),
     (["{{ default }}", "x"], True), (["a"], True)],
)
def test_has_custom_fingerprint(fingerprint, custom):
    raw = {"message": "m"} if fingerprint is None else {"message": "m", "fingerprint": fingerprint}
    assert has_custom_fingerprint(_normalize(raw)) is custom


def test_extending_the_default_fingerprint_splits_the_group(sdk):
    (plain,) = sdk.events(_capture_each(ValueError, ["boom"]))
    (extended,) = sdk.events(_with_fingerprint(["{{ default }}", "x"]))
    (extended_again,) = sdk.events(_with_fingerprint(["{{default}}", "x"], message="other"))
    assert extended.fingerprint == ["{{ default }}", "x"]
    assert grouping_hash(extended) != grouping_hash(plain)
    assert grouping_hash(extended) == grouping_hash(extended_again)
    assert grouping_components(extended) == default_grouping_components(plain) + ["fingerprint=x"]


def test_a_fixed_fingerprint_groups_everything_together(sdk):
    events = sdk.events(_with_fingerprint(["a"], ValueError, "boom"))
    events += sdk.events(_with_fingerprint(["a"], KeyError, "other"))
    assert len(events) == 2
    assert len(_hashes(events)) == 1
    assert grouping_hash(events[0]) != grouping_hash(sdk.events(_with_fingerprint(["b"]))[0])


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("{{ type }}", "KeyError"),
        ("{{ error.type }}", "KeyError"),
        ("{{ value }}", "'k'"),
        ("{{ transaction }}", "/checkout"),
        ("{{ level }}", "warning"),
        ("{{ logger }}", "<no-logger>"),
        ("{{ message }}", "<no-message>"),
        ("{{ function }}", "checkout"),
        ("{{ module }}", "shop.views"),
        ("{{ tags.region }}", "eu"),
        ("{{ tags.missing }}", "<no-value-for-tag-missing>"),
        ("{{ unknown }}", "{{ unknown }}"),
        ("literal", "literal"),
    ],
)
def test_fingerprint_variables(variable, expected):
    raw = _error(
        [dict(APP, module="shop.views", function="checkout")],
        ty="KeyError",
        value="'k'",
        level="warning",
        transaction="/checkout",
        tags={"region": "eu"},
        fingerprint=[variable],
    )
    assert grouping_components(_normalize(raw)) == [f"fingerprint={expected}"]


def test_fingerprint_variable_groups_by_its_value():
    def event(ty, transaction):
        return _normalize(_error([APP], ty=ty, transaction=transaction,
                                 fingerprint=["{{ transaction }}"]))

    assert grouping_hash(event("KeyError", "/a")) == grouping_hash(event("OSError", "/a"))
    assert grouping_hash(event("KeyError", "/a")) != grouping_hash(event("KeyError", "/b"))


# --------------------------------------------------------------------------------------------
# Short ids


@pytest.mark.parametrize(
    ("number", "encoded"),
    [
        (1, "1"),
        (9, "9"),
        (10, "A"),
        (31, "Z"),
        (32, "10"),
        (35, "13"),
        (36, "14"),
        (46, "1E"),
        (1296, "18G"),
        (1024, "100"),
    ],
)
def test_short_id_numbers_are_crockford_base32(number, encoded):
    assert short_id("backend", number) == f"BACKEND-{encoded}"
    assert parse_short_id(f"BACKEND-{encoded}") == ("backend", number)


@pytest.mark.parametrize("slug", ["web", "my-web-app", "a-1-b", "x"])
@pytest.mark.parametrize("number", [1, 35, 36, 46, 1296, 987654321])
def test_short_id_round_trips(slug, number):
    assert parse_short_id(short_id(slug, number)) == (slug, number)


def test_short_id_parsing_is_case_insensitive_and_reads_lookalikes():
    assert parse_short_id("my-web-app-1e") == ("my-web-app", 46)
    assert parse_short_id("WEB-1O") == ("web", 32)
    assert parse_short_id("WEB-iL") == ("web", 33)


@pytest.mark.parametrize("value", ["WEB", "WEB-", "-12", "WEB-1U", "WEB-1 2", "", None, 42])
def test_invalid_short_ids(value):
    assert parse_short_id(value) is None


def test_short_id_needs_a_non_negative_number():
    assert short_id("web", 0) == "WEB-0"
    with pytest.raises(ValueError):
        short_id("web", -1)


# --------------------------------------------------------------------------------------------
# Metadata


def test_error_metadata(sdk):
    (event,) = sdk.events(_capture_each(ValueError, ["order 17\nis gone"]))
    meta = metadata(event)
    assert meta["type"] == "ValueError"
    assert meta["value"] == "order 17\nis gone"
    assert meta["function"] == "_fail"
    assert meta["filename"].endswith("test_grouping.py")
    assert meta["display_title_with_tree_label"] is False
    assert meta["in_app_frame_mix"] == "in-app-only"
    assert event.title == "ValueError: order 17"
    msgspec.json.encode(meta)


def test_error_metadata_of_mixed_frames():
    meta = metadata(_normalize(_error([APP, LIB])))
    assert meta["in_app_frame_mix"] == "mixed"
    assert (meta["function"], meta["filename"]) == ("add", "shop/cart.py")


def test_error_metadata_without_frames():
    meta = metadata(_normalize({"exception": [{"type": "Timeout"}]}))
    assert meta == {"type": "Timeout", "value": "", "display_title_with_tree_label": False}


def test_synthetic_error_metadata_has_no_type():
    raw = _error([{"function": "crash", "in_app": True}], ty="SIGABRT", value="Abort")
    raw["exception"]["values"][0]["mechanism"] = {"type": "signalhandler", "synthetic": True}
    meta = metadata(_normalize(raw))
    assert "type" not in meta
    assert meta["function"] == "crash"


def test_default_event_metadata(sdk):
    (event,) = sdk.events(lambda: sentry_sdk.capture_message("hello %s"))
    assert metadata(event) == {"title": "hello %s"}
    assert metadata(_normalize({})) == {"title": "<unlabeled event>"}
