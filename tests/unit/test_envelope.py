"""Envelope ingestion: request decompression (bounded), envelope parsing, size limits, /store/ bodies."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import os
import time
import tracemalloc
import zlib
from datetime import datetime, timezone

import brotli
import msgspec
import pytest
import sentry_sdk
from sentry_sdk.attachments import Attachment
from sentry_sdk.envelope import Envelope as SdkEnvelope
from sentry_sdk.envelope import Item as SdkItem
from sentry_sdk.envelope import PayloadRef
from sentry_sdk.session import Session
from sentry_sdk.transport import Transport

from picket.ingest.envelope import (
    Envelope,
    EnvelopeError,
    Item,
    PayloadTooLarge,
    STEP,
    Decoder,
    decompress,
    enforce_item_limits,
    normalize_event_id,
    oversized_items,
    parse_envelope,
    store_payload_to_envelope,
)
from picket.ingest.limits import DEFAULT_LIMITS, KIB, MIB, Limits

DSN = "https://0123456789abcdef0123456789abcdef@o1.ingest.example.com/42"
EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"
BINARY = b"first line\nsecond line\r\n\x00\x01\xfe\xff\n\n{\"type\":\"event\"}\nend"


# --------------------------------------------------------------------------------------------
# Helpers


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def gzip_bytes(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def sdk_envelopes(action) -> list[bytes]:
    """Envelopes, serialized, that a real sentry-sdk client sends while `action` runs."""
    sent: list[bytes] = []

    class RecordingTransport(Transport):
        def capture_envelope(self, envelope):
            sent.append(envelope.serialize())

        def flush(self, timeout, callback=None):
            pass

        def kill(self):
            pass

    client = sentry_sdk.Client(
        dsn=DSN,
        transport=RecordingTransport,
        default_integrations=False,
        auto_enabling_integrations=False,
        release="backend@1.2.3",
        traces_sample_rate=1.0,
    )
    try:
        with sentry_sdk.isolation_scope() as scope:
            scope.set_client(client)
            # A trace of its own: the scopes forked here carry the trace (and its frozen
            # sampling context) of whatever client ran earlier in this process.
            scope.set_new_propagation_context()
            sentry_sdk.get_current_scope().set_new_propagation_context()
            action()
        client.flush()
    finally:
        client.close()
    return sent


def measure_peak(fn):
    """(exception raised by fn, peak bytes allocated while it ran, seconds it took)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the caller asserts on the exception
        raised = exc
    else:
        raised = None
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return raised, peak, elapsed


# --------------------------------------------------------------------------------------------
# Decompression


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        (None, lambda d: d),
        ("", lambda d: d),
        ("identity", lambda d: d),
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("GZip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as the HTTP spec means it
        ("deflate", raw_deflate),  # raw deflate, as some browsers and SDKs send it
        ("br", brotli.compress),
        (" br ", brotli.compress),
    ],
    ids=["none", "empty", "identity", "gzip", "x-gzip", "gzip-mixed-case", "deflate-zlib",
         "deflate-raw", "br", "br-padded"],
)
def test_each_content_encoding_round_trips(encoding, encode):
    data = BINARY * 500
    assert decompress(encode(data), encoding, limit=len(data)) == data


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", raw_deflate),
     ("br", lambda d: brotli.compress(d, quality=5))],
    ids=["gzip", "deflate-zlib", "deflate-raw", "br"],
)
def test_large_bodies_decoded_in_many_steps_round_trip(encoding, encode):
    data = os.urandom(3 * MIB) + bytes(range(256)) * 40_000  # incompressible, then highly compressible
    assert decompress(encode(data), encoding, limit=len(data)) == data


def test_stacked_encodings_are_undone_right_to_left():
    data = BINARY * 100
    body = brotli.compress(gzip.compress(data))  # gzip applied first, then br
    assert decompress(body, "gzip, br", limit=MIB) == data


def test_concatenated_gzip_members_are_all_decoded():
    body = gzip.compress(b"first member|") + gzip.compress(b"second member")
    assert decompress(body, "gzip", limit=MIB) == b"first member|second member"


def test_empty_identity_body_is_empty():
    assert decompress(b"", None, limit=0) == b""


def test_output_exactly_at_the_limit_is_accepted_and_one_byte_more_is_refused():
    data = b"x" * 1000
    for encoding, encode in [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress),
                             (None, lambda d: d)]:
        assert decompress(encode(data), encoding, limit=1000) == data
        with pytest.raises(PayloadTooLarge):
            decompress(encode(data), encoding, limit=999)


def test_a_gzip_bomb_is_refused_quickly_without_inflating_it():
    bomb = gzip_bytes(bytes(50 * MIB))
    assert len(bomb) < 64 * KIB  # deflate tops out near 1:1000
    limit = 1 * MIB
    raised, peak, elapsed = measure_peak(lambda: decompress(bomb, "gzip", limit))
    assert isinstance(raised, PayloadTooLarge)
    assert "exceeds the limit" in raised.detail
    assert peak < 4 * limit
    assert elapsed < 1.0


def test_a_1kib_nested_gzip_bomb_of_50mib_is_refused_with_bounded_memory():
    bomb = gzip_bytes(gzip_bytes(bytes(50 * MIB)))
    assert len(bomb) < KIB
    limit = 1 * MIB
    raised, peak, elapsed = measure_peak(lambda: decompress(bomb, "gzip, gzip", limit))
    assert isinstance(raised, PayloadTooLarge)
    assert peak < 4 * limit
    assert elapsed < 1.0


def test_a_sub_kib_brotli_bomb_of_50mib_is_refused_with_bounded_memory():
    bomb = brotli.compress(bytes(50 * MIB), quality=5)
    assert len(bomb) < KIB
    limit = 1 * MIB
    raised, peak, elapsed = measure_peak(lambda: decompress(bomb, "br", limit))
    assert isinstance(raised, PayloadTooLarge)
    assert peak < 4 * limit
    assert elapsed < 1.0


@pytest.mark.parametrize("encode", [zlib.compress, raw_deflate], ids=["zlib", "raw"])
def test_a_deflate_bomb_is_refused_with_bounded_memory(encode):
    bomb = encode(bytes(50 * MIB))
    limit = 1 * MIB
    raised, peak, _ = measure_peak(lambda: decompress(bomb, "deflate", limit))
    assert isinstance(raised, PayloadTooLarge)
    assert peak < 4 * limit


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", raw_deflate), ("br", brotli.compress)],
    ids=["gzip", "deflate-zlib", "deflate-raw", "br"],
)
def test_a_truncated_body_is_an_envelope_error(encoding, encode):
    body = encode(bytes(range(256)) * 200)
    with pytest.raises(EnvelopeError) as caught:
        decompress(body[: len(body) // 2], encoding, limit=MIB)
    assert not isinstance(caught.value, PayloadTooLarge)
    assert "truncated" in caught.value.detail or "corrupt" in caught.value.detail


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_a_body_that_is_not_in_the_labelled_encoding_is_an_envelope_error(encoding):
    body = b'{"event_id":"' + EVENT_ID.encode() + b'"}\n{"type":"event"}\n{}\n'
    with pytest.raises(EnvelopeError) as caught:
        decompress(body, encoding, limit=MIB)
    assert not isinstance(caught.value, PayloadTooLarge)
    assert caught.value.detail


def test_a_corrupted_gzip_checksum_is_an_envelope_error():
    body = bytearray(gzip.compress(b"payload" * 100))
    body[-6] ^= 0xFF  # inside the CRC32 trailer
    with pytest.raises(EnvelopeError, match="corrupt gzip"):
        decompress(bytes(body), "gzip", limit=MIB)


def test_trailing_garbage_after_a_gzip_member_is_an_envelope_error():
    with pytest.raises(EnvelopeError):
        decompress(gzip.compress(b"payload") + b"garbage!", "gzip", limit=MIB)


@pytest.mark.parametrize("encoding", ["zstd", "compress", "gzip, lz4", "bogus"])
def test_an_unknown_encoding_is_an_envelope_error(encoding):
    with pytest.raises(EnvelopeError, match="unsupported content encoding"):
        decompress(b"whatever", encoding, limit=MIB)


def test_an_identity_body_over_the_limit_is_too_large():
    with pytest.raises(PayloadTooLarge):
        decompress(b"x" * 11, None, limit=10)


def test_payload_too_large_is_an_envelope_error_and_a_value_error():
    error = PayloadTooLarge("too big")
    assert isinstance(error, EnvelopeError) and isinstance(error, ValueError)
    assert error.detail == "too big"


# --------------------------------------------------------------------------------------------
# Envelopes sent by the real sentry-sdk


def test_an_sdk_error_event_with_a_binary_attachment_parses():
    def action():
        scope = sentry_sdk.get_current_scope()
        scope.add_attachment(bytes=BINARY, filename="dump.bin", content_type="application/octet-stream")
        try:
            1 / 0
        except ZeroDivisionError:
            sentry_sdk.capture_exception()

    (raw,) = sdk_envelopes(action)
    envelope = parse_envelope(raw)

    assert [item.type for item in envelope.items] == ["event", "attachment"]
    event = envelope.items[0].json()
    assert envelope.event_id == event["event_id"]
    assert event["exception"]["values"][0]["type"] == "ZeroDivisionError"
    attachment = envelope.items[1]
    assert attachment.payload == BINARY
    assert attachment.filename == "dump.bin"
    assert attachment.content_type == "application/octet-stream"
    # The SDK adds a trace header only when its scopes hold a sampling context (what earlier
    # clients in this process left there decides); when it does, it is read as sent.
    if "trace" in envelope.headers:
        assert len(envelope.headers["trace"]["public_key"]) == 32
    assert oversized_items(envelope) == []


def test_sdk_message_transaction_and_check_in_envelopes_parse():
    from sentry_sdk.crons import capture_checkin

    def action():
        sentry_sdk.capture_message("hello from the sdk")
        with sentry_sdk.start_transaction(name="GET /things", op="http.server"):
            with sentry_sdk.start_span(op="db", name="SELECT 1"):
                pass
        capture_checkin(monitor_slug="nightly-job", status="ok", duration=1.5)

    raws = sdk_envelopes(action)
    envelopes = [parse_envelope(raw) for raw in raws]
    by_type = {env.items[0].type: env for env in envelopes}
    assert set(by_type) == {"event", "transaction", "check_in"}
    assert by_type["event"].items[0].json()["message"] == "hello from the sdk"
    transaction = by_type["transaction"].items[0].json()
    assert transaction["transaction"] == "GET /things"
    assert transaction["spans"][0]["op"] == "db"
    assert by_type["check_in"].items[0].json()["monitor_slug"] == "nightly-job"
    for env in envelopes:
        assert len(env.event_id) == 32
        assert env.sent_at


def test_sdk_built_session_client_report_and_attachment_envelope_parses():
    started = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    sdk = SdkEnvelope(headers={"event_id": EVENT_ID, "dsn": DSN, "sdk": {"name": "sentry.python", "version": "2"},
                               "sent_at": "2024-05-01T12:00:01Z"})
    sdk.add_session(Session(release="backend@1.2.3", environment="prod", started=started, timestamp=started))
    sdk.add_sessions({"aggregates": [{"started": "2024-05-01T12:00:00Z", "exited": 3}],
                      "attrs": {"release": "backend@1.2.3"}})
    sdk.add_item(SdkItem(payload=PayloadRef(json={
        "timestamp": "2024-05-01T12:00:01Z",
        "discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 2}],
    }), type="client_report"))
    sdk.add_item(Attachment(bytes=b"", filename="empty.txt").to_envelope_item())
    sdk.add_item(Attachment(bytes=BINARY, filename="data.bin").to_envelope_item())

    envelope = parse_envelope(sdk.serialize())

    assert envelope.event_id == EVENT_ID
    assert envelope.dsn == DSN
    assert envelope.sdk == {"name": "sentry.python", "version": "2"}
    assert envelope.sent_at == "2024-05-01T12:00:01Z"
    assert [item.type for item in envelope.items] == ["session", "sessions", "client_report", "attachment",
                                                      "attachment"]
    assert envelope.items[0].json()["attrs"]["release"] == "backend@1.2.3"
    assert envelope.items[2].json()["discarded_events"][0]["quantity"] == 2
    assert envelope.items[3].payload == b""
    assert envelope.items[4].payload == BINARY
    assert envelope.items[4].headers["length"] == len(BINARY)


def test_a_reserialized_envelope_parses_back_identically():
    sdk = SdkEnvelope(headers={"event_id": EVENT_ID})
    sdk.add_event({"event_id": EVENT_ID, "message": "x"})
    sdk.add_item(Attachment(bytes=BINARY, filename="a.bin").to_envelope_item())
    envelope = parse_envelope(sdk.serialize())
    again = parse_envelope(envelope.serialize())
    assert again == envelope


# --------------------------------------------------------------------------------------------
# Hand-written envelopes: the framing rules


@pytest.mark.parametrize("trailing", [b"", b"\n", b"\n\n"], ids=["no-newline", "newline", "two-newlines"])
def test_items_without_length_run_to_the_next_newline(trailing):
    body = (b'{"event_id":"' + EVENT_ID.encode() + b'"}\n'
            b'{"type":"event"}\n{"message":"a"}\n'
            b'{"type":"session"}\n{"sid":"s"}' + trailing)
    envelope = parse_envelope(body)
    assert [(i.type, i.payload) for i in envelope.items] == [
        ("event", b'{"message":"a"}'),
        ("session", b'{"sid":"s"}'),
    ]


@pytest.mark.parametrize("trailing", [b"", b"\n"], ids=["no-newline", "newline"])
def test_items_with_length_take_exactly_that_many_bytes(trailing):
    body = (b"{}\n"
            + b'{"type":"attachment","length":%d,"filename":"b.bin"}\n' % len(BINARY) + BINARY + b"\n"
            + b'{"type":"event","length":2}\n{}' + trailing)
    envelope = parse_envelope(body)
    assert [(i.type, i.payload) for i in envelope.items] == [("attachment", BINARY), ("event", b"{}")]


def test_items_with_and_without_length_mix():
    body = (b'{}\n{"type":"event"}\n{"a":1}\n'
            b'{"type":"attachment","length":3}\n\n\n\n\n'
            b'{"type":"check_in"}\n{"status":"ok"}\n')
    envelope = parse_envelope(body)
    assert [(i.type, i.payload) for i in envelope.items] == [
        ("event", b'{"a":1}'),
        ("attachment", b"\n\n\n"),
        ("check_in", b'{"status":"ok"}'),
    ]


def test_empty_payloads_with_length_zero_in_the_middle_and_at_the_end():
    body = (b'{}\n{"type":"attachment","length":0}\n\n'
            b'{"type":"event","length":2}\n{}\n'
            b'{"type":"attachment","length":0}')
    envelope = parse_envelope(body)
    assert [(i.type, i.payload) for i in envelope.items] == [
        ("attachment", b""), ("event", b"{}"), ("attachment", b""),
    ]


def test_an_empty_payload_without_length_is_an_empty_line():
    body = b'{}\n{"type":"client_report"}\n\n{"type":"event"}\n{}\n'
    envelope = parse_envelope(body)
    assert [(i.type, i.payload) for i in envelope.items] == [("client_report", b""), ("event", b"{}")]


def test_a_header_only_item_at_the_end_has_an_empty_payload():
    envelope = parse_envelope(b'{}\n{"type":"event"}')
    assert [(i.type, i.payload) for i in envelope.items] == [("event", b"")]


@pytest.mark.parametrize("body", [b"{}", b"{}\n", b'{"dsn":"x"}\n\n'])
def test_an_envelope_may_have_no_items(body):
    assert parse_envelope(body).items == []


def test_blank_lines_between_items_are_skipped():
    body = b'{}\n{"type":"event","length":2}\n{}\n\n\n{"type":"event","length":2}\n{}\n'
    assert [i.payload for i in parse_envelope(body).items] == [b"{}", b"{}"]


def test_unknown_item_types_and_extra_headers_are_kept():
    body = b'{"custom":true}\n{"type":"future_thing","length":3,"x":[1]}\nabc\n'
    envelope = parse_envelope(body)
    assert envelope.headers == {"custom": True}
    assert envelope.items == [Item({"type": "future_thing", "length": 3, "x": [1]}, b"abc")]


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        (EVENT_ID, EVENT_ID),
        (EVENT_ID.upper(), EVENT_ID),
        ("9ec79c33-ec99-42ab-8353-589fcb2e04dc", EVENT_ID),
        ("9EC79C33-EC99-42AB-8353-589FCB2E04DC", EVENT_ID),
    ],
)
def test_the_envelope_event_id_is_normalized_to_32_lowercase_hex(raw, normalized):
    envelope = parse_envelope(json.dumps({"event_id": raw}).encode() + b"\n")
    assert envelope.event_id == normalized


def test_a_null_event_id_is_treated_as_absent():
    assert parse_envelope(b'{"event_id":null}\n').event_id is None


@pytest.mark.parametrize(
    "bad", ["", "xyz", EVENT_ID[:-1], EVENT_ID + "0", "9ec79c33ec99-42ab-8353-589fcb2e04dc-", "g" * 32, 12, ["a"]]
)
def test_an_invalid_event_id_is_an_envelope_error(bad):
    with pytest.raises(EnvelopeError, match="event_id"):
        parse_envelope(json.dumps({"event_id": bad}).encode() + b"\n")
    with pytest.raises(EnvelopeError):
        normalize_event_id(bad)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "missing envelope header"),
        (b"\n", "missing envelope header"),
        (b"not json\n", "invalid envelope header"),
        (b'{"event_id": \n', "invalid envelope header"),
        (b"[1,2]\n", "expected a JSON object"),
        (b'{}\n{"type":"event"\n{}\n', "invalid header of item 0"),
        (b'{}\n"event"\n{}\n', "invalid header of item 0"),
        (b'{}\n{"length":2}\n{}\n', "has no 'type'"),
        (b'{}\n{"type":""}\n{}\n', "has no 'type'"),
        (b'{}\n{"type":7}\n{}\n', "has no 'type'"),
        (b'{}\n{"type":"event","length":-1}\n{}\n', "invalid length"),
        (b'{}\n{"type":"event","length":"2"}\n{}\n', "invalid length"),
        (b'{}\n{"type":"event","length":2.0}\n{}\n', "invalid length"),
        (b'{}\n{"type":"event","length":true}\n{}\n', "invalid length"),
        (b'{}\n{"type":"event","length":50}\n{}\n', "truncated"),
        (b'{}\n{"type":"event","length":1}', "truncated"),
        (b'{}\n{"type":"event","length":1}\n{}\n', "missing newline"),
    ],
    ids=["empty", "blank", "header-not-json", "header-cut", "header-array", "item-header-not-json",
         "item-header-string", "missing-type", "empty-type", "numeric-type", "negative-length",
         "string-length", "float-length", "bool-length", "length-past-end", "length-past-eof",
         "no-newline-after-payload"],
)
def test_malformed_envelopes_are_envelope_errors_with_a_detail(body, fragment):
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(body)
    assert not isinstance(caught.value, PayloadTooLarge)
    assert fragment in caught.value.detail


def test_the_truncation_detail_names_the_item():
    body = b'{}\n{"type":"event","length":2}\n{}\n{"type":"attachment","length":100}\nshort\n'
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(body)
    assert "item 1 (attachment)" in caught.value.detail
    assert "length 100" in caught.value.detail


# --------------------------------------------------------------------------------------------
# Size limits


def test_relay_default_limits():
    assert DEFAULT_LIMITS.max_event_size == 1 * MIB
    assert DEFAULT_LIMITS.max_envelope_size == 200 * MIB
    assert DEFAULT_LIMITS.max_attachment_size == 200 * MIB
    assert DEFAULT_LIMITS.max_attachments_size == 200 * MIB
    assert DEFAULT_LIMITS.max_check_in_size == 100 * KIB
    assert DEFAULT_LIMITS.max_session_count == 100
    assert DEFAULT_LIMITS.max_api_payload_size == 20 * MIB
    assert DEFAULT_LIMITS.max_api_file_upload_size == 40 * MIB
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_LIMITS.max_event_size = 1  # type: ignore[misc]


def test_an_envelope_over_max_envelope_size_is_too_large():
    limits = dataclasses.replace(DEFAULT_LIMITS, max_envelope_size=100)
    body = b'{}\n{"type":"attachment","length":90}\n' + b"x" * 90 + b"\n"
    with pytest.raises(PayloadTooLarge, match="max_envelope_size"):
        parse_envelope(body, limits)
    assert len(parse_envelope(body, DEFAULT_LIMITS).items) == 1


def test_an_envelope_exactly_at_max_envelope_size_is_accepted():
    body = b'{}\n{"type":"attachment","length":3}\nabc\n'
    limits = dataclasses.replace(DEFAULT_LIMITS, max_envelope_size=len(body))
    assert parse_envelope(body, limits).items[0].payload == b"abc"


def _envelope(*items: tuple[str, bytes] | tuple[str, bytes, dict]) -> Envelope:
    parsed = []
    for entry in items:
        item_type, payload, *extra = entry
        parsed.append(Item({"type": item_type, "length": len(payload), **(extra[0] if extra else {})}, payload))
    return Envelope({}, parsed)


def test_oversized_items_reports_an_event_over_max_event_size():
    big_event = b'{"message":"' + b"x" * MIB + b'"}'
    envelope = parse_envelope(_envelope(("event", big_event), ("attachment", b"ok")).serialize())
    assert [(item.type, reason) for item, reason in oversized_items(envelope)] == [("event", "max_event_size")]
    with pytest.raises(PayloadTooLarge, match="max_event_size"):
        enforce_item_limits(envelope)


def test_transactions_and_feedback_share_the_event_limit_and_slot():
    limits = Limits(max_event_size=10)
    envelope = _envelope(("transaction", b"x" * 11), ("feedback", b"x" * 10), ("event", b"{}"))
    assert [(i.type, r) for i, r in oversized_items(envelope, limits)] == [
        ("transaction", "max_event_size"),
        ("event", "max_one_per_envelope"),
    ]


def test_attachments_are_limited_one_by_one_in_total_and_in_number():
    limits = Limits(max_attachment_size=10, max_attachments_size=14, max_attachment_count=3)
    envelope = _envelope(("attachment", b"a" * 11), ("attachment", b"b" * 5), ("attachment", b"c" * 10),
                         ("attachment", b"d" * 5), ("attachment", b"e"), ("attachment", b"f"))
    report = [(item.payload[:1], reason) for item, reason in oversized_items(envelope, limits)]
    assert report == [(b"a", "max_attachment_size"), (b"c", "max_attachments_size"),
                      (b"f", "max_attachment_count")]


def test_more_sessions_than_max_session_count_are_reported():
    envelope = _envelope(*[("session", b'{"sid":"%d"}' % n) for n in range(101)])
    report = oversized_items(envelope)
    assert len(report) == 1
    assert report[0][1] == "max_session_count"
    assert report[0][0] is envelope.items[100]


def test_a_check_in_over_max_check_in_size_is_reported():
    envelope = _envelope(("check_in", b"x" * (100 * KIB + 1)))
    assert [reason for _, reason in oversized_items(envelope)] == ["max_check_in_size"]


def test_container_items_are_checked_per_entry_on_average():
    limits = Limits(max_log_size=10, max_container_size=1000)
    fine = ("log", b"x" * 50, {"item_count": 5, "content_type": "application/vnd.sentry.items.log+json"})
    too_big = ("log", b"x" * 60, {"item_count": 5, "content_type": "application/vnd.sentry.items.log+json"})
    assert oversized_items(_envelope(fine), limits) == []
    assert [r for _, r in oversized_items(_envelope(too_big), limits)] == ["max_log_size"]


def test_unknown_item_types_are_never_reported():
    envelope = _envelope(("something_new", b"x" * (300 * MIB // 100)))
    assert oversized_items(envelope, Limits(max_event_size=1)) == []
    enforce_item_limits(envelope)


# --------------------------------------------------------------------------------------------
# Legacy /store/ bodies


def test_a_plain_json_store_body_becomes_an_event_envelope():
    body = json.dumps({"event_id": EVENT_ID.upper(), "message": "legacy", "level": "error"}).encode()
    envelope = store_payload_to_envelope(body)
    assert envelope.event_id == EVENT_ID
    (item,) = envelope.items
    assert item.type == "event"
    assert item.payload == body
    assert item.headers["length"] == len(body)
    assert item.json()["message"] == "legacy"


def test_a_transaction_store_body_becomes_a_transaction_item():
    body = json.dumps({"type": "transaction", "transaction": "/x", "spans": []}).encode()
    envelope = store_payload_to_envelope(body)
    assert envelope.items[0].type == "transaction"
    assert envelope.event_id is None


def test_a_base64_zlib_store_body_from_old_sdks_is_decoded():
    event = {"event_id": EVENT_ID, "message": "raven-era", "extra": {"blob": "y" * 2000}}
    body = base64.b64encode(zlib.compress(json.dumps(event).encode()))
    envelope = store_payload_to_envelope(body)
    assert envelope.event_id == EVENT_ID
    assert envelope.items[0].json() == event


@pytest.mark.parametrize("encode", [raw_deflate, gzip.compress, lambda d: d], ids=["raw-deflate", "gzip", "plain"])
def test_other_base64_store_body_variants_are_decoded(encode):
    event = {"message": "variant"}
    body = base64.b64encode(encode(json.dumps(event).encode()))
    body = body.rstrip(b"=") + b"\n"  # missing padding and a trailing newline are tolerated
    assert store_payload_to_envelope(body).items[0].json() == event


def test_whitespace_around_a_json_store_body_is_ignored():
    envelope = store_payload_to_envelope(b'\n  {"message":"m"}  \r\n')
    assert envelope.items[0].payload == b'{"message":"m"}'


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty store payload"),
        (b"   ", "empty store payload"),
        (b"!!not base64!!", "expected a JSON object"),
        (base64.b64encode(b"\x00\x01garbage that is not compressed"), "deflate"),
        (b'{"message": ', "not JSON"),
        (b'{"event_id":"nope"}', "event_id"),
    ],
)
def test_bad_store_bodies_are_envelope_errors(body, fragment):
    with pytest.raises(EnvelopeError) as caught:
        store_payload_to_envelope(body)
    assert not isinstance(caught.value, PayloadTooLarge)
    assert fragment in caught.value.detail


@pytest.mark.parametrize("body", [b"[1, 2]", base64.b64encode(b"[1, 2]"), b'"a string"'])
def test_a_store_body_that_is_not_a_json_object_is_rejected(body):
    with pytest.raises(EnvelopeError, match="JSON object"):
        store_payload_to_envelope(body)


def test_a_store_event_over_max_event_size_is_too_large():
    body = json.dumps({"message": "x" * 200}).encode()
    with pytest.raises(PayloadTooLarge):
        store_payload_to_envelope(body, Limits(max_event_size=100))
    compressed = base64.b64encode(zlib.compress(body))
    with pytest.raises(PayloadTooLarge):
        store_payload_to_envelope(compressed, Limits(max_event_size=100))


# --------------------------------------------------------------------------------------------
# Hostile input: invalid UTF-8 and deep nesting are EnvelopeErrors, never other exceptions


DEEP = b"[" * 5000 + b"]" * 5000


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"dsn":"\xff"}\n{"type":"event"}\n{}\n', "invalid envelope header: not valid UTF-8"),
        (b'{"\xc3\x28":1}\n', "invalid envelope header: not valid UTF-8"),
        (b'{}\n{"type":"event","x":"\xed\xa0\x80"}\n{}\n', "invalid header of item 0: not valid UTF-8"),
        (b'{"sdk":' + DEEP + b"}\n", "invalid envelope header: nested more than"),
        (b"{}\n" + b'{"type":"event","x":' + DEEP + b"}\n{}\n", "invalid header of item 0: nested more than"),
        (b'{"a":' + b'{"a":' * 200 + b"1" + b"}" * 200 + b"}\n", "nested more than 128"),
    ],
    ids=["header-utf8", "header-key-utf8", "item-header-surrogate", "header-deep", "item-header-deep",
         "header-200-objects"],
)
def test_invalid_utf8_or_deep_nesting_in_headers_is_an_envelope_error(body, fragment):
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(body)
    assert not isinstance(caught.value, PayloadTooLarge)
    assert fragment in caught.value.detail


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, [1, {"x": 2**70}]])
def test_an_item_header_integer_msgpack_cannot_carry_is_an_envelope_error(value):
    header = json.dumps({"type": "event", "foo": value}).encode()
    with pytest.raises(EnvelopeError, match="invalid header of item 0: an integer outside the 64-bit range"):
        parse_envelope(b"{}\n" + header + b"\n{}\n")


def test_item_header_integers_at_the_64_bit_edges_parse_and_encode():
    envelope = parse_envelope(b'{}\n{"type":"event","a":18446744073709551615,"b":-9223372036854775808}\n{}\n')
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(envelope.items[0].headers)) == envelope.items[0].headers


def test_headers_nested_up_to_the_limit_parse():
    header = b'{"a":' * 127 + b"1" + b"}" * 127  # 127 objects inside the header object: depth 128
    assert parse_envelope(header + b"\n").headers["a"]["a"]["a"]


def test_brackets_and_invalid_looking_escapes_inside_strings_are_not_nesting():
    header = json.dumps({"dsn": DSN, "note": "[[[[{{{{" * 1000, "q": '\\"[['}).encode()
    assert parse_envelope(header + b"\n").dsn == DSN


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"message":"\xff\xfe"}', "invalid store payload: not valid UTF-8"),
        (b'{"extra":' + DEEP + b"}", "invalid store payload: nested more than"),
        (base64.b64encode(zlib.compress(b'{"extra":' + DEEP + b"}")), "nested more than"),
        (base64.b64encode(zlib.compress(b'{"message":"\x80"}')), "not valid UTF-8"),
    ],
    ids=["utf8", "deep", "base64-deep", "base64-utf8"],
)
def test_invalid_utf8_or_deep_nesting_in_a_store_body_is_an_envelope_error(body, fragment):
    with pytest.raises(EnvelopeError) as caught:
        store_payload_to_envelope(body)
    assert fragment in caught.value.detail


def test_an_item_payload_that_nests_too_deep_is_an_envelope_error_when_read_as_json():
    envelope = parse_envelope(b'{}\n{"type":"event"}\n' + DEEP + b"\n")
    with pytest.raises(EnvelopeError, match="nested more than"):
        envelope.items[0].json()


# --------------------------------------------------------------------------------------------
# Streaming decompression: fed in pieces, taken in steps, bounded at every stage


def _stream(decoder: Decoder, body: bytes, piece: int, step: int) -> tuple[bytes, int]:
    """(decoded body, the largest piece `take` gave) feeding `body` in pieces of `piece` bytes."""
    out, largest = [], 0
    for start in range(0, len(body), piece):
        decoder.feed(body[start : start + piece])
        while chunk := decoder.take(step):
            out.append(chunk)
            largest = max(largest, len(chunk))
    while chunk := decoder.take(step):
        out.append(chunk)
        largest = max(largest, len(chunk))
    decoder.close()
    return b"".join(out), largest


def _stream_head(decoder: Decoder, head: bytes, step: int) -> bytes:
    """What `decoder` gives while `head` is fed to it one byte at a time."""
    out = []
    for i in range(len(head)):
        decoder.feed(head[i : i + 1])
        while chunk := decoder.take(step):
            out.append(chunk)
    return b"".join(out)


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", raw_deflate), ("br", brotli.compress),
     ("gzip, br", lambda d: brotli.compress(gzip.compress(d))), ("deflate, gzip", lambda d: gzip.compress(zlib.compress(d)))],
    ids=["gzip", "deflate-zlib", "deflate-raw", "br", "gzip-then-br", "deflate-then-gzip"],
)
@pytest.mark.parametrize("piece", [1, 7, 4096, 10**9], ids=["1B", "7B", "4KiB", "whole"])
def test_a_body_fed_in_any_pieces_decodes_in_steps_of_at_most_the_asked_size(encoding, encode, piece):
    data = os.urandom(64 * KIB) + BINARY * 3000
    body = encode(data)
    decoder = Decoder(encoding, limit=len(data))
    head = b""
    if piece == 1:  # byte by byte is slow: the first 3000 bytes so, then the rest in one piece
        head, body = _stream_head(decoder, body[:3000], step=1000), body[3000:]
        piece = len(body)
    decoded, largest = _stream(decoder, body, piece, step=1000)
    assert head + decoded == data
    # brotli's decoder hands out up to twice the step, or its 32 KiB buffer, whichever is larger
    assert largest <= (32 * KIB if encoding.split(", ")[0] == "br" else 1000)


def test_concatenated_gzip_members_and_padding_across_pieces_decode():
    body = gzip.compress(b"one|") + gzip.compress(b"two") + b"\x00" * 10
    for piece in (1, 3, 11, len(body)):
        assert _stream(Decoder("gzip", limit=MIB), body, piece, step=2)[0] == b"one|two"


def test_data_after_gzip_padding_is_an_envelope_error():
    with pytest.raises(EnvelopeError, match="corrupt gzip"):
        _stream(Decoder("gzip", limit=MIB), gzip.compress(b"one") + b"\x00\x00" + gzip.compress(b"two"), 3, 100)


@pytest.mark.parametrize(
    ("encoding", "bomb"),
    [("gzip", lambda: gzip_bytes(bytes(200 * MIB))), ("deflate", lambda: zlib.compress(bytes(200 * MIB), 9)),
     ("br", lambda: brotli.compress(bytes(200 * MIB), quality=5)),
     ("gzip, gzip", lambda: gzip_bytes(gzip_bytes(bytes(200 * MIB)))),
     ("br, gzip", lambda: gzip_bytes(brotli.compress(bytes(200 * MIB), quality=5)))],
    ids=["gzip", "deflate", "br", "nested-gzip", "br-inside-gzip"],
)
def test_a_bomb_streamed_in_pieces_stops_at_the_limit_and_holds_only_a_step(encoding, bomb):
    body = bomb()
    limit = 8 * MIB
    decoder = Decoder(encoding, limit=limit)

    def run() -> None:
        for start in range(0, len(body), 16 * KIB):
            decoder.feed(body[start : start + 16 * KIB])
            while decoder.take(64 * KIB):  # a caller that keeps nothing
                pass

    raised, peak, elapsed = measure_peak(run)
    assert isinstance(raised, PayloadTooLarge), raised
    assert decoder.size <= limit + 1  # the output did not pass the limit, and no stage did (memory, time)
    assert peak < 2 * MIB  # a few steps of output and input, not the limit
    assert elapsed < 2.0


def test_the_decoded_size_is_counted_and_one_byte_more_than_the_limit_is_refused():
    data = b"x" * 1000
    for encoding, encode in [("gzip", gzip.compress), ("br", brotli.compress), (None, lambda d: d)]:
        decoder = Decoder(encoding, limit=999)
        decoder.feed(encode(data))
        with pytest.raises(PayloadTooLarge):
            while decoder.take(100):
                pass


def test_identity_pieces_are_handed_back_as_fed():
    decoder = Decoder(None, limit=10)
    decoder.feed(b"abc")
    decoder.feed(b"defg")
    assert (decoder.take(1), decoder.take(1), decoder.take(1)) == (b"abc", b"defg", b"")
    decoder.close()
    assert decoder.identity and decoder.size == 7


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_a_stream_that_stops_short_is_truncated_at_close(encoding):
    encode = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[encoding]
    body = encode(os.urandom(5000))
    decoder = Decoder(encoding, limit=MIB)
    decoder.feed(body[:-20])
    while decoder.take(1000):
        pass
    with pytest.raises(EnvelopeError, match="truncated"):
        decoder.close()


@pytest.mark.parametrize("encoding", ["deflate", "gzip"])
def test_input_that_decodes_to_nothing_fed_a_byte_at_a_time_costs_linear_time(encoding):
    head = zlib.compress(b"")[:2] if encoding == "deflate" else gzip.compress(b"")[:10]
    body = head + b"\x00\x00\x00\xff\xff" * 40_000  # 200 KB of empty stored blocks
    decoder = Decoder(encoding, limit=MIB)
    started = time.perf_counter()
    for i in range(len(body)):
        decoder.feed(body[i : i + 1])
        assert decoder.take(STEP) == b""
    assert time.perf_counter() - started < 5
