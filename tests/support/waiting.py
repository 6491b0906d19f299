"""Waiting for what a running Picket does asynchronously (ingestion, projections, the clock)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def eventually(fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 30.0,
               interval: float = 0.3) -> Any:
    """`fetch()` again until `ok` holds for its value, which is returned; AssertionError with the
    last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not ok(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s; last value: {value!r}")
        time.sleep(interval)
        value = fetch()
    return value
