"""Sentry envelopes: request-body decompression, parsing, size checks, legacy `/store/` bodies.

Pure code over in-memory bytes; nothing here does I/O (the gateway feeds `Decoder` the body as it
arrives).

The envelope format (what SDKs POST to `/api/<project_id>/envelope/`)::

    {"event_id":"...","dsn":"...","sent_at":"..."}\\n      <- envelope header: one JSON object
    {"type":"attachment","length":10}\\n                   <- item header: JSON object with "type"
    0123456789\\n                                          <- exactly `length` bytes, then "\\n" or EOF
    {"type":"session"}\\n                                  <- no "length": the payload runs to the
    {"started":"..."}                                     <- next "\\n" or to the end of the body

Errors are `EnvelopeError` (answer HTTP 400 with `.detail`) and its subclass
`PayloadTooLarge` (answer HTTP 413).

Size policy: `decompress` and `parse_envelope` raise `PayloadTooLarge` only for the request as a
whole (decompressed body over the limit, envelope over `max_envelope_size`). Per-item limits
(event, attachment, session, check-in, ... sizes and counts) are reported by `oversized_items`,
so a caller may drop just those items with a "too large" outcome; Relay itself rejects the whole
envelope with 413 when any item breaks a limit, which `enforce_item_limits` reproduces.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgspec

from picket import json_input
from picket.ingest.limits import DEFAULT_LIMITS, Limits

try:  # brotli is optional at import time; without it "br" is an unsupported encoding.
    import brotli as _brotli
except ImportError:  # pragma: no cover - exercised only where brotli is absent
    _brotli = None


class EnvelopeError(ValueError):
    """The request body is not a valid envelope / store payload (HTTP 400)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class PayloadTooLarge(EnvelopeError):
    """The request body (decompressed) or the envelope exceeds a size limit (HTTP 413)."""


# --------------------------------------------------------------------------------------------
# Content-Encoding

STEP = 256 * 1024  # decoded bytes a stage hands out per call (brotli may give about twice that)
_INPUT_CHUNK = 64 * 1024  # compressed bytes given to a decompressor per call
_REPLAY_LIMIT = 64 * 1024  # deflate input kept to retry as raw when its zlib header was a fluke


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo the request's `Content-Encoding` and return at most `limit` bytes: `Decoder` over a
    body that is already in memory.

    Raises `EnvelopeError` for an unknown encoding or corrupt/truncated data, and
    `PayloadTooLarge` when the decoded body would exceed `limit`.
    """
    decoder = Decoder(content_encoding, limit)
    decoder.feed(bytes(body) if not isinstance(body, bytes) else body)
    parts = []
    while piece := decoder.take(STEP):
        parts.append(piece)
    decoder.close()
    return parts[0] if len(parts) == 1 else b"".join(parts)


class Decoder:
    """Undoes a `Content-Encoding` while the body arrives.

    Supports identity, gzip (also `x-gzip`, concatenated members, trailing NUL padding), deflate
    (zlib-wrapped or raw, auto-detected) and br, and lists such as "gzip, br" (undone right to
    left, each stage feeding the next). `feed` the body's bytes as they come and `take` decoded
    bytes (b"" once nothing more comes out of what was fed); after the last `feed` and a `take`
    that gave b"", `close` checks that the data was complete.

    Memory stays bounded whatever the ratio: a stage inflates only when asked, at most what was
    asked at a time (brotli: up to twice that, or its 32 KiB buffer), and no stage (the output
    included) may go past `limit`
    bytes: a decompression bomb is refused after inflating little more than `limit` bytes, and a
    caller that takes in small steps holds little more than what it keeps. Identity bodies are
    handed back as fed, in the caller's pieces.

    Raises `EnvelopeError` for an unknown encoding (at construction) or corrupt/truncated data,
    and `PayloadTooLarge` when a stage would exceed `limit`.
    """

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self.limit = limit
        self.size = 0  # decoded bytes handed out
        self.identity = True
        self._stages: list[_Stage] = []
        for coding in reversed(_parse_content_encoding(content_encoding)):
            self.identity = False
            if coding == "br":
                self._stages.append(_Brotli(limit))
            else:
                self._stages.append(_Zlib(coding, limit))
        self._pending: deque[bytes] = deque()  # identity: fed, not yet taken

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if self._stages:
            self._stages[0].feed(data)
        else:
            self._pending.append(data)

    def take(self, max_bytes: int = STEP) -> bytes:
        """Up to `max_bytes` decoded bytes (an identity piece as it was fed), or b"" when the
        input fed so far gave everything it had."""
        if self._stages:
            out = self._pull(len(self._stages) - 1, max(1, max_bytes))
        else:
            out = self._pending.popleft() if self._pending else b""
        self.size += len(out)
        if self.size > self.limit:
            raise _too_large(self.limit)
        return out

    def _pull(self, index: int, max_bytes: int) -> bytes:
        stage = self._stages[index]
        while True:
            out = stage.take(max_bytes)
            if out or index == 0:
                return out
            more = self._pull(index - 1, STEP)
            if not more:
                return b""
            stage.feed(more)

    def close(self) -> None:
        """The body ended: `EnvelopeError` if any stage's data stopped short."""
        for stage in self._stages:
            stage.close()


def _parse_content_encoding(value: str | None) -> list[str]:
    if value is None:
        return []
    codings = [part.strip().lower() for part in value.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    for coding in codings:
        if coding not in ("gzip", "x-gzip", "deflate", "br"):
            raise EnvelopeError(f"unsupported content encoding: {coding!r}")
        if coding == "br" and _brotli is None:
            raise EnvelopeError("unsupported content encoding: 'br' (brotli is not installed)")
    return codings


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"decompressed request body exceeds the limit of {limit} bytes")


class _Stage:
    """One decompressor: compressed input in, at most `max_bytes` per `take` out."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._out = 0
        self._input: deque[bytes] = deque()

    def feed(self, data: bytes) -> None:
        for start in range(0, len(data), _INPUT_CHUNK):
            self._input.append(data[start : start + _INPUT_CHUNK] if len(data) > _INPUT_CHUNK else data)

    def _count(self, out: bytes) -> bytes:
        self._out += len(out)
        if self._out > self._limit:
            raise _too_large(self._limit)
        return out

    def _cap(self, max_bytes: int) -> int:
        """Ask for no more than one byte past the limit: enough to tell that it was passed."""
        return max(1, min(max_bytes, self._limit - self._out + 1))

    def take(self, max_bytes: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _Zlib(_Stage):
    """gzip (members one after another, NUL padding after the last) or deflate (zlib-wrapped, or
    raw as some clients send it: told apart by the zlib header; data after the stream ignored)."""

    def __init__(self, coding: str, limit: int) -> None:
        super().__init__(limit)
        self._gzip = coding != "deflate"
        self._name = "gzip" if self._gzip else "deflate"
        self._inflater: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if self._gzip else None
        self._padding = False  # gzip: NULs seen after a member
        self._replay: list[bytes] | None = None  # deflate read as zlib: input so far, for a retry
        self._replayed = 0  # bytes in _replay
        self._held = False  # the last call filled its cap: output may be waiting without input

    def take(self, max_bytes: int) -> bytes:
        if self._inflater is None and not self._choose_deflate_kind():
            return b""
        while self._input or self._held:
            chunk = self._input.popleft() if self._input else b""
            if self._inflater.eof:
                if not self._gzip or not chunk:
                    continue
                if not chunk.strip(b"\x00"):
                    self._padding = True
                    continue
                if self._padding:
                    raise EnvelopeError("corrupt gzip data: data after the padding")
                self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # the next member
            if self._replay is not None:
                self._replay.append(chunk)
                self._replayed += len(chunk)
            cap = self._cap(max_bytes)
            try:
                out = self._inflater.decompress(chunk, cap)
            except zlib.error as exc:
                if self._retry_as_raw_deflate():
                    continue
                raise EnvelopeError(f"corrupt {self._name} data: {exc}") from None
            # Stopped by the cap, zlib may hold decoded bytes even with all input consumed.
            self._held = len(out) == cap and not self._inflater.eof
            rest = self._inflater.unconsumed_tail or self._inflater.unused_data
            if rest:
                if self._replay is not None:
                    self._replay[-1] = chunk[: len(chunk) - len(rest)]
                    self._replayed -= len(rest)
                self._input.appendleft(rest)
            if out:
                self._replay = None  # output was handed out: too late to read it another way
                return self._count(out)
            if self._replay is not None and self._replayed > _REPLAY_LIMIT:
                self._replay = None
        return b""

    def _choose_deflate_kind(self) -> bool:
        """Pick zlib-wrapped or raw deflate from the first two bytes; False until they came."""
        head = b""
        for chunk in self._input:
            head += chunk[: 2 - len(head)]
            if len(head) == 2:
                break
        if len(head) < 2:
            return False
        if _looks_like_zlib(head):
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
            self._replay = []
        else:
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        return True

    def _retry_as_raw_deflate(self) -> bool:
        """A zlib header can be a raw stream's first bytes: read it again as raw deflate, if
        nothing was handed out yet."""
        if self._replay is None:
            return False
        self._input.extendleft(reversed(self._replay))
        self._replay = None
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        return True

    def close(self) -> None:
        if self._inflater is None or not self._inflater.eof:
            raise EnvelopeError(f"truncated {self._name} data")


def _looks_like_zlib(data: bytes) -> bool:
    """RFC 1950 header: CM=8 (deflate), CINFO<=7, and the 16-bit header is a multiple of 31."""
    if len(data) < 2:
        return False
    cmf, flg = data[0], data[1]
    return (cmf & 0x0F) == 8 and (cmf >> 4) <= 7 and ((cmf << 8) | flg) % 31 == 0


class _Brotli(_Stage):
    """brotli, whose decoder takes input only once it handed out what it has decoded."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self._decoder = _brotli.Decompressor()

    def take(self, max_bytes: int) -> bytes:
        try:
            while True:
                if not self._decoder.can_accept_more_data():
                    out = self._decoder.process(b"", output_buffer_limit=self._cap(max_bytes))
                elif self._input:
                    out = self._decoder.process(self._input.popleft(), output_buffer_limit=self._cap(max_bytes))
                elif self._decoder.is_finished():
                    return b""
                else:  # output may still be held back after the last input
                    out = self._decoder.process(b"", output_buffer_limit=self._cap(max_bytes))
                    if not out:
                        return b""
                if out:
                    return self._count(out)
        except _brotli.error as exc:
            raise EnvelopeError(f"corrupt br data: {exc}") from None

    def close(self) -> None:
        if not self._decoder.is_finished():
            raise EnvelopeError("truncated br data")


# --------------------------------------------------------------------------------------------
# Envelope model


@dataclass(slots=True)
class Item:
    """One envelope item: its header object (always has a string "type") and raw payload."""

    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        return self.headers["type"]

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content_type")

    @property
    def filename(self) -> str | None:
        return self.headers.get("filename")

    @property
    def attachment_type(self) -> str | None:
        return self.headers.get("attachment_type")

    def json(self) -> Any:
        """The payload decoded as JSON; raises `EnvelopeError` if it is not valid JSON (or not
        UTF-8, or nested too deep)."""
        try:
            return json_input.decode(self.payload)
        except json_input.JsonInputError as exc:
            raise EnvelopeError(f"invalid JSON payload in {self.type} item: {exc.detail}") from None


@dataclass(slots=True)
class Envelope:
    """Envelope header (event_id normalized to 32 lowercase hex when present) and items."""

    headers: dict[str, Any] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)

    @property
    def event_id(self) -> str | None:
        return self.headers.get("event_id")

    @property
    def dsn(self) -> str | None:
        dsn = self.headers.get("dsn")
        return dsn if isinstance(dsn, str) else None

    @property
    def sdk(self) -> dict[str, Any] | None:
        sdk = self.headers.get("sdk")
        return sdk if isinstance(sdk, dict) else None

    @property
    def sent_at(self) -> str | None:
        sent_at = self.headers.get("sent_at")
        return sent_at if isinstance(sent_at, str) else None

    def items_of(self, item_type: str) -> list[Item]:
        return [item for item in self.items if item.type == item_type]

    def serialize(self) -> bytes:
        """Wire form, every item with an explicit `length`; `parse_envelope` reads it back."""
        parts = [msgspec.json.encode(self.headers), b"\n"]
        for item in self.items:
            parts += [msgspec.json.encode({**item.headers, "length": len(item.payload)}), b"\n"]
            parts += [item.payload, b"\n"]
        return b"".join(parts)


_EVENT_ID = re.compile(r"[0-9a-fA-F]{32}")
_EVENT_ID_DASHED = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def normalize_event_id(value: Any) -> str:
    """32 hex digits, or a dashed UUID, as 32 lowercase hex; else `EnvelopeError`."""
    if isinstance(value, str):
        if _EVENT_ID.fullmatch(value):
            return value.lower()
        if _EVENT_ID_DASHED.fullmatch(value):
            return value.replace("-", "").lower()
    raise EnvelopeError(f"invalid event_id {value!r}: expected 32 hexadecimal digits")


# --------------------------------------------------------------------------------------------
# Parsing


def parse_header(line: bytes, what: str = "envelope header") -> dict[str, Any]:
    """One header line (or any JSON body) as a JSON object; `EnvelopeError` when it is not one,
    is not UTF-8 or nests deeper than `json_input.MAX_DEPTH`."""
    try:
        value = json_input.decode(line)
    except json_input.JsonInputError as exc:
        raise EnvelopeError(f"invalid {what}: {exc.detail}") from None
    if not isinstance(value, dict):
        raise EnvelopeError(f"invalid {what}: expected a JSON object")
    return value


def _integers_fit_64_bits(value: Any) -> bool:
    """Whether every integer in `value` is one msgpack can carry (-2^63 .. 2^64-1)."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, int) and not -(2**63) <= current < 2**64:
            return False
        if isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return True


def parse_envelope_header(first_line: bytes) -> dict[str, Any]:
    """An envelope's first line as its header (`event_id` normalized); `EnvelopeError` if it is
    blank or not a header."""
    if not first_line.strip():
        raise EnvelopeError("missing envelope header")
    headers = parse_header(first_line, "envelope header")
    if headers.get("event_id") is not None:
        headers["event_id"] = normalize_event_id(headers["event_id"])
    return headers


def parse_envelope(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Envelope:
    """Parse a decompressed envelope body.

    Guarantees: the envelope header is a JSON object whose `event_id`, if present and not null,
    is normalized to 32 lowercase hex; every item has a string `type` and its exact payload
    (`length` bytes when given, else the bytes up to the next newline or the end). Blank lines
    between items and a trailing newline are tolerated.

    Raises `PayloadTooLarge` when `data` exceeds `limits.max_envelope_size`, and
    `EnvelopeError` for a malformed header, an item without `type`, an invalid `length`,
    a `length` running past the end ("truncated ..."), or a payload not followed by a newline.
    Per-item limits are not enforced here: see `oversized_items`.
    """
    size = len(data)
    if size > limits.max_envelope_size:
        raise PayloadTooLarge(f"envelope is {size} bytes, over max_envelope_size ({limits.max_envelope_size})")
    end = data.find(b"\n")
    if end < 0:
        end = size
    headers = parse_envelope_header(data[:end])

    items: list[Item] = []
    pos = end + 1
    while pos < size:
        end = data.find(b"\n", pos)
        if end < 0:
            end = size
        line = data[pos:end]
        if not line.strip():  # blank line between items, or trailing newline(s)
            pos = end + 1
            continue
        index = len(items)
        item_headers = parse_header(line, f"header of item {index}")
        if not _integers_fit_64_bits(item_headers):  # item headers travel on in msgpack
            raise EnvelopeError(f"invalid header of item {index}: an integer outside the 64-bit range")
        item_type = item_headers.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise EnvelopeError(f"header of item {index} has no 'type'")
        start = min(end + 1, size)
        length = item_headers.get("length")
        if length is None:
            stop = data.find(b"\n", start)
            if stop < 0:
                stop = size
            payload = data[start:stop]
        else:
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                raise EnvelopeError(f"item {index} ({item_type}) has an invalid length {length!r}")
            stop = start + length
            if stop > size:
                raise EnvelopeError(
                    f"truncated envelope: item {index} ({item_type}) declares length {length} "
                    f"but only {size - start} bytes follow its header"
                )
            payload = data[start:stop]
            if stop < size and data[stop] != 0x0A:
                raise EnvelopeError(f"missing newline after the payload of item {index} ({item_type})")
        items.append(Item(item_headers, payload))
        pos = stop + 1
    return Envelope(headers, items)


# --------------------------------------------------------------------------------------------
# Per-item size limits


@dataclass(frozen=True, slots=True)
class _Rule:
    item_size: str  # Limits field bounding one item (for containers: one entry on average)
    total_count: str | None  # Limits field bounding the number of items, None for "one"
    total_size: str  # Limits field bounding the sum of the items' sizes


_RULES: dict[str, _Rule] = {
    "event": _Rule("max_event_size", None, "max_event_size"),
    "attachment": _Rule("max_attachment_size", "max_attachment_count", "max_attachments_size"),
    "replay_recording": _Rule("max_replay_compressed_size", None, "max_replay_compressed_size"),
    "replay_video": _Rule("max_replay_compressed_size", None, "max_replay_compressed_size"),
    "session": _Rule("max_sessions_size", "max_session_count", "max_sessions_size"),
    "client_report": _Rule("max_client_reports_size", "max_client_reports_count", "max_client_reports_size"),
    "profile": _Rule("max_profile_size", None, "max_profile_size"),
    "check_in": _Rule("max_check_in_size", None, "max_check_in_size"),
    "statsd": _Rule("max_statsd_size", None, "max_statsd_size"),
    "metric_buckets": _Rule("max_metric_buckets_size", None, "max_metric_buckets_size"),
    "log": _Rule("max_log_size", None, "max_container_size"),
    "trace_metric": _Rule("max_trace_metric_size", None, "max_container_size"),
    "span": _Rule("max_span_size", None, "max_container_size"),
    "span_standalone": _Rule("max_span_size", "max_standalone_span_count", "max_container_size"),
}

_GROUP_OF_TYPE: dict[str, str] = {
    **dict.fromkeys(
        ["event", "transaction", "security", "raw_security", "replay_event", "feedback", "form_data"], "event"
    ),
    **dict.fromkeys(["attachment", "unreal_report", "user_report"], "attachment"),
    **dict.fromkeys(["session", "sessions"], "session"),
    **dict.fromkeys(["profile", "profile_chunk"], "profile"),
    **{t: t for t in ("replay_recording", "replay_video", "client_report", "check_in", "statsd")},
    **{t: t for t in ("metric_buckets", "log", "trace_metric", "span")},
}

ONE_PER_ENVELOPE = "max_one_per_envelope"


def _is_container(item: Item) -> bool:
    content_type = item.content_type
    return "item_count" in item.headers or (
        isinstance(content_type, str) and content_type.startswith("application/vnd.sentry.items.")
    )


def _entry_size(item: Item) -> int:
    """Size compared with the per-item limit: for containers, the average entry size."""
    if not _is_container(item):
        return len(item.payload)
    count = item.headers.get("item_count")
    count = count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1
    return len(item.payload) // count


def oversized_items(envelope: Envelope, limits: Limits = DEFAULT_LIMITS) -> list[tuple[Item, str]]:
    """Items breaking Relay's per-item limits, each with the name of the limit it breaks.

    Items are grouped as Relay groups them (e.g. event/transaction/feedback share
    `max_event_size` and one slot per envelope; attachments share a count and a total size;
    session items count against `max_session_count`). In envelope order, an item is reported
    when it is larger than its group's item limit ("max_event_size", "max_attachment_size",
    "max_check_in_size", ...), when its group already holds the allowed number of items
    ("max_session_count", "max_attachment_count", or "max_one_per_envelope"), or when it would
    push the group's total over its total limit ("max_attachments_size", ...). Reported items
    do not count towards the group's totals, so dropping exactly them leaves a conforming
    envelope. Unknown item types are never reported.
    """
    used_count: dict[str, int] = {}
    used_size: dict[str, int] = {}
    offenders: list[tuple[Item, str]] = []
    for item in envelope.items:
        group = _GROUP_OF_TYPE.get(item.type)
        if group is None:
            continue
        if group == "span" and not _is_container(item):
            group = "span_standalone"
        rule = _RULES[group]
        size = len(item.payload)
        max_count = 1 if rule.total_count is None else getattr(limits, rule.total_count)
        if _entry_size(item) > getattr(limits, rule.item_size):
            offenders.append((item, rule.item_size))
        elif used_count.get(group, 0) >= max_count:
            offenders.append((item, rule.total_count or ONE_PER_ENVELOPE))
        elif used_size.get(group, 0) + size > getattr(limits, rule.total_size):
            offenders.append((item, rule.total_size))
        else:
            used_count[group] = used_count.get(group, 0) + 1
            used_size[group] = used_size.get(group, 0) + size
    return offenders


def enforce_item_limits(envelope: Envelope, limits: Limits = DEFAULT_LIMITS) -> None:
    """Relay's behaviour: raise `PayloadTooLarge` if any item breaks a per-item limit."""
    offenders = oversized_items(envelope, limits)
    if offenders:
        item, reason = offenders[0]
        raise PayloadTooLarge(f"{item.type} item ({len(item.payload)} bytes) exceeds {reason}")


# --------------------------------------------------------------------------------------------
# Legacy /store/ bodies


def store_payload_to_envelope(body: bytes, limits: Limits = DEFAULT_LIMITS) -> Envelope:
    """Wrap a legacy `/store/` body (one JSON event) as an envelope with a single item.

    The body is a JSON object, or (very old SDKs) base64 of zlib/deflate/gzip-compressed JSON.
    The item is `transaction` when the event's "type" is "transaction", else `event`; its payload
    is the JSON text as sent. The envelope header carries the event's `event_id`, normalized,
    when present.

    Raises `EnvelopeError` for an empty body, bad base64/compression, non-JSON, a non-object or
    an invalid event_id; `PayloadTooLarge` when the JSON exceeds `limits.max_event_size`.
    """
    text = body.strip()
    if not text:
        raise EnvelopeError("empty store payload")
    if text[:1] == b"{":
        payload = text
    else:
        payload = _decode_legacy_store_body(text, limits.max_event_size)
    event = json_object(payload, limits.max_event_size, "max_event_size", sized="event", what="store payload")
    item_type = "transaction" if event.get("type") == "transaction" else "event"
    headers: dict[str, Any] = {}
    if event.get("event_id") is not None:
        headers["event_id"] = normalize_event_id(event["event_id"])
    return Envelope(headers, [Item({"type": item_type, "length": len(payload)}, payload)])


def json_object(payload: bytes, limit: int, limit_name: str, *, sized: str, what: str) -> dict[str, Any]:
    """`payload` as a JSON object: `PayloadTooLarge` over `limit` (named `limit_name`; "<sized>
    is N bytes"), `EnvelopeError` ("invalid <what>: ...") when it is not JSON or not an object."""
    if len(payload) > limit:
        raise PayloadTooLarge(f"{sized} is {len(payload)} bytes, over {limit_name} ({limit})")
    return parse_header(payload, what)


def _decode_legacy_store_body(text: bytes, limit: int) -> bytes:
    compact = b"".join(text.split())
    compact += b"=" * (-len(compact) % 4)
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError(
            "invalid store payload: expected a JSON object (or base64 of compressed JSON)"
        ) from None
    if raw.lstrip()[:1] in (b"{", b"["):
        return raw.strip()
    encoding = "gzip" if raw[:2] == b"\x1f\x8b" else "deflate"
    return decompress(raw, encoding, limit).strip()
