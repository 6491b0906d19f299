"""Encoders and decoders for the tenancy topics, made once (msgspec decoders are reusable)."""

from __future__ import annotations

import msgspec

from picket.schemas.commands import TenancyCommand
from picket.schemas.events import TenancyEvent
from picket.schemas.replies import Reply

encode = msgspec.msgpack.Encoder().encode
decode_command = msgspec.msgpack.Decoder(TenancyCommand).decode
decode_event = msgspec.msgpack.Decoder(TenancyEvent).decode
decode_reply = msgspec.msgpack.Decoder(Reply).decode
