"""Connection to ClickHouse through clickhouse-connect: a server or embedded chdb.

`CLICKHOUSE_URL=http://host:8123` selects a server; `chdb:///<dir>` the embedded engine (one
process per data directory; the worker of `picket run` serves it to the gateway over the HTTP
interface, `http_interface.py`). clickhouse-connect's async client does not support chdb, so the
sync client is used from a worker thread (chdb releases the GIL while it runs a query).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import clickhouse_connect
import msgspec
from clickhouse_connect.driver.client import Client


_JSON = msgspec.json.Encoder()


class Store:
    """A ClickHouse client bound to one database, safe to share between threads and tasks."""

    def __init__(self, url: str, database: str = "picket") -> None:
        if not database.replace("_", "").isalnum():
            raise ValueError(f"invalid database name {database!r}")
        self.url = url
        self.database = database
        self._client = _connect(url)
        self._lock = threading.Lock() if url.startswith("chdb") else None
        # (table, columns) -> their type names: given with each insert, which otherwise first
        # asks the store to DESCRIBE the table (a query per insert). Tables change only when
        # migrations run, before anything inserts.
        self._types: dict[tuple[str, tuple[str, ...]], list[str] | None] = {}

    def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self._lock is None:
            return fn(*args, **kwargs)
        with self._lock:
            return fn(*args, **kwargs)

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        return self._run(self._client.command, sql.replace("{db}", self.database), parameters)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        result = self._run(
            self._client.query, sql.replace("{db}", self.database), parameters=parameters
        )
        return result.result_rows

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        if rows:
            self._run(
                self._client.insert, f"{self.database}.{table}", list(rows),
                column_names=list(columns), column_type_names=self._column_types(table, columns),
            )

    def insert_text(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        """`insert`, as one SQL statement with the rows after it as JSON arrays: what the store
        server of an embedded engine (`http_interface`), which refuses binary inserts, takes too.
        Values as msgspec encodes them (times in RFC 3339, parsed back at full precision)."""
        if not rows:
            return
        if not all(c.replace("_", "").isalnum() for c in (table, *columns)):
            raise ValueError(f"invalid table or column names {table!r} {columns!r}")
        head = (f"INSERT INTO {self.database}.{table} ({', '.join(columns)})"
                " SETTINGS date_time_input_format = 'best_effort' FORMAT JSONCompactEachRow\n")
        body = b"\n".join(_JSON.encode(list(row)) for row in rows).decode()
        self._run(self._client.command, head + body)  # no `{db}` substitution: it would reach the data

    def _column_types(self, table: str, columns: Sequence[str]) -> list[str] | None:
        """The declared types of `columns`, read once per table and column list; None when one
        is missing (the insert then fails with the client's own error)."""
        key = (table, tuple(columns))
        if key not in self._types:
            declared = dict(self.query(
                "SELECT name, type FROM system.columns WHERE database = {d:String} AND table = {t:String}",
                {"d": self.database, "t": table}))
            types = [declared.get(column) for column in columns]
            self._types[key] = None if None in types else types  # type: ignore[assignment]
        return self._types[key]

    async def aquery(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple]:
        return await asyncio.to_thread(self.query, sql, parameters)

    def close(self) -> None:
        self._client.close()


def _connect(url: str) -> Client:
    if url.startswith("chdb:"):
        return clickhouse_connect.get_client(dsn=url)
    # No session: a ClickHouse session takes one query at a time, and the Store is shared by the
    # gateway's concurrent requests (each query stands alone; none relies on session state).
    return clickhouse_connect.get_client(dsn=url, connect_timeout=5, send_receive_timeout=30,
                                         autogenerate_session_id=False)
