"""JSON from outside (request bodies, envelope and item headers, legacy store events), checked
before msgspec decodes it.

msgspec takes any JSON, but fails on hostile JSON in ways a handler does not expect: nesting
about 1,000 deep raises `RecursionError` and invalid UTF-8 `UnicodeDecodeError`, neither a
`msgspec.DecodeError`, so they surfaced as 500s. Here both are found first, the nesting by a
scan that never recurses, and answered as `JsonInputError` (a `ValueError` whose `detail` fits a
400). Integers of any size decode as Python ints: bounding them is the schema's job
(`msgspec.Meta(ge=…, le=…)` on Struct fields), or the caller's when it decodes to `Any`.

Pure functions; nothing here does I/O.
"""

from __future__ import annotations

import re
from itertools import accumulate, count
from operator import sub
from typing import Any

import msgspec

# serde_json's limit, so Picket reads every event Relay reads; REST bodies use a lower one.
MAX_DEPTH = 128

# A JSON string, or an unterminated one running to the end: one match per opening quote, so the
# scan is linear whatever the input (a pattern requiring the closing quote would be retried from
# every later quote of an unterminated string).
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# Openers become 2, closers 0: after i brackets the running sum is 2 * openers, so the depth
# there is sum - i.
_AS_STEPS = bytes.maketrans(b"[]{}", b"\x02\x00\x02\x00")


class JsonInputError(ValueError):
    """The input is not JSON Picket accepts; `detail` says why ("not valid UTF-8 (byte 7)"),
    for the caller to prefix with what the input was."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in `data` (0 for a scalar), brackets inside
    strings not counted. Linear in `len(data)`, without recursion; meant for JSON, it gives some
    number for anything else."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(0, max(map(sub, accumulate(brackets.translate(_AS_STEPS)), count(1))))


def check(data: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Raise `JsonInputError` when `data` is not UTF-8 or nests deeper than `max_depth`."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"not valid UTF-8 (byte {exc.start})") from None
    if nesting_depth(data) > max_depth:
        raise JsonInputError(f"nested more than {max_depth} levels deep")


def decode(data: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """`data` decoded as JSON after `check`; `JsonInputError` for anything that is not JSON."""
    check(data, max_depth)
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise JsonInputError(f"not JSON ({exc})") from None
