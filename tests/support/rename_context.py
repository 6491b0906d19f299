"""A command of a toy context for tests of the deciding machinery: rename aggregate `key` to
`name` (the test's own context says what renaming decides)."""

from __future__ import annotations

import msgspec


class Meta(msgspec.Struct):
    command_id: str
    reply_to: str | None = None


class Rename(msgspec.Struct):
    meta: Meta
    key: str
    name: str
