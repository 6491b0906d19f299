"""Processed items read from the worker's counters (`/metrics`), not from the API.

Listing items through the API to see them arrive costs the measured worker a ClickHouse query per
list; reading how many rows its projectors inserted costs it a few microseconds. A row counted
there has been inserted, so it is queryable. Used at max load, where the lag is not a target and
the visibility polling would take the most CPU from the system under load.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request

# The table whose rows count the items of each kind (one row per accepted item).
TABLES = {"checkin-rest": "monitor_checkins", "checkin-envelope": "monitor_checkins",
          "checkin-cron": "monitor_checkins", "event": "error_events", "feedback": "feedback"}


def rows_written(text: str, table: str) -> float:
    """`picket_store_rows_written_total` of `table` in a Prometheus text exposition (0 if absent)."""
    found = re.search(r'^picket_store_rows_written_total\{table="' + re.escape(table) + r'"\} (\S+)$', text,
                      re.MULTILINE)
    return float(found.group(1)) if found else 0.0


class RowCounter:
    """The rows the worker at `url` has written to `table`."""

    def __init__(self, url: str, table: str) -> None:
        self._url = url
        self._table = table

    def _read(self) -> float:
        with urllib.request.urlopen(self._url, timeout=5) as answer:
            return rows_written(answer.read().decode(), self._table)

    async def value(self) -> float:
        return await asyncio.to_thread(self._read)

    async def wait_for(self, target: float, timeout: float, interval: float = 0.05) -> float | None:
        """The wall-clock time at which the count first reached `target` (to `interval`), or
        None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sent = time.time()
            if await self.value() >= target:
                return (sent + time.time()) / 2
            await asyncio.sleep(interval)
        return None
