"""Archived event logs in ClickHouse (one table per context): append in batches, read one
aggregate back.

Rows are keyed by (aggregate, version); an event archived twice is the same row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from picket.store.client import Store

COLUMNS = ("aggregate", "version", "event_id", "type", "payload", "timestamp")


def event_row(event: Any, payload: bytes) -> tuple[Any, ...]:
    m = event.meta
    return (m.aggregate, m.version, m.event_id, type(event).__name__, payload.hex(), m.timestamp)


def append(store: Store, rows: Sequence[tuple[Any, ...]], table: str = "tenancy_events") -> None:
    store.insert(table, rows, COLUMNS)


def read_aggregate(store: Store, aggregate: str, table: str = "tenancy_events") -> list[bytes]:
    """The encoded events of one aggregate, oldest first, each version once."""
    if not table.replace("_", "").isalnum():
        raise ValueError(f"invalid table {table!r}")
    rows = store.query(
        f"SELECT any(payload) FROM {{db}}.{table} WHERE aggregate = {{a:String}}"
        " GROUP BY version ORDER BY version",
        {"a": aggregate},
    )
    return [bytes.fromhex(p) for (p,) in rows]
