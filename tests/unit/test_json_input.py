"""JSON from outside: nesting measured without recursion, invalid UTF-8 and deep nesting refused as
`JsonInputError` (a ValueError), in time linear in the input."""

from __future__ import annotations

import json
import time

import msgspec
import pytest

from picket.json_input import JsonInputError, check, decode, nesting_depth


@pytest.mark.parametrize(
    ("data", "depth"),
    [
        (b"1", 0),
        (b'"[[[["', 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["]", "\\"]]", [[]]]', 3),
        (b'{"a": "\\\\"}', 1),  # an escaped backslash ends the string at the next quote
        (b"[" * 10_000 + b"]" * 10_000, 10_000),
        (b"]]]][", 0),  # not JSON: some number, never an exception
        (b'["unterminated [[[[', 1),
    ],
)
def test_nesting_depth_counts_arrays_and_objects_outside_strings(data, depth):
    assert nesting_depth(data) == depth


def test_nesting_depth_agrees_with_a_recursive_count_on_real_json():
    def depth(value) -> int:  # type: ignore[no-untyped-def]
        if isinstance(value, dict):
            return 1 + max(map(depth, value.values()), default=0)
        if isinstance(value, list):
            return 1 + max(map(depth, value), default=0)
        return 0

    value = {"a": [{"b": "]]}}", "c": [[1, [2, {"d": '\\"[{'}]]]}], "e": {"f": []}}
    assert nesting_depth(json.dumps(value).encode()) == depth(value) == 7


@pytest.mark.parametrize(
    "data",
    [b"[" * 600_000 + b"]" * 600_000, b"[]" * 600_000, b'"' + b'\\"' * 500_000, b'"\\""' * 300_000,
     b'"a' * 500_000],
    ids=["deep", "wide", "one-unterminated-string", "many-strings", "many-unterminated"],
)
def test_nesting_depth_is_linear_on_a_megabyte_of_hostile_input(data):
    started = time.perf_counter()
    nesting_depth(data)
    assert time.perf_counter() - started < 0.5


def test_check_refuses_invalid_utf8_with_its_position():
    with pytest.raises(JsonInputError, match=r"not valid UTF-8 \(byte 8\)"):
        check(b'{"a": "x\xff"}')
    assert isinstance(JsonInputError("x"), ValueError)


def test_check_refuses_nesting_past_the_limit_and_takes_it_at_the_limit():
    check(b"[" * 64 + b"]" * 64, max_depth=64)
    with pytest.raises(JsonInputError, match="nested more than 64 levels deep"):
        check(b"[" * 65 + b"]" * 65, max_depth=64)


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_decode_refuses_what_msgspec_would_raise_recursion_error_on(depth):
    data = b"[" * depth + b"]" * depth
    with pytest.raises(RecursionError):
        msgspec.json.decode(data)  # why the check exists
    with pytest.raises(JsonInputError, match="nested more than"):
        decode(data)


def test_decode_gives_json_and_reports_malformed_json():
    assert decode(b'{"n": 18446744073709551616}') == {"n": 2**64}  # bounding ints is the schema's job
    with pytest.raises(JsonInputError, match="not JSON"):
        decode(b'{"a": ')
