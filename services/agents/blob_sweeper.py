"""The periodic task that removes the chunks of deleted artifacts from the blob store.

A deleted release file or debug file leaves its chunks in `blob_gc`; a pass removes those no
record holds any more (`blob_refs`), once the deletion is older than the grace period: a record
made meanwhile from the same bytes (an upload of the same file under another name) is projected
by then and keeps them. Every worker runs one: passes are idempotent, so concurrent sweepers
only repeat work. A failed pass is logged and retried at the next period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta, timezone

from picket.blobs.store import BlobStore
from picket.store.client import Store

log = logging.getLogger(__name__)

BATCH = 1000


def sweep(store: Store, blobs: BlobStore, grace: float, now: datetime | None = None) -> list[str]:
    """One pass: the chunks removed."""
    before = (now or datetime.now(timezone.utc)) - timedelta(seconds=grace)
    rows = store.query(
        "SELECT sha1 FROM {db}.blob_gc FINAL WHERE at <= {t:DateTime64(3, 'UTC')}"
        " AND sha1 NOT IN (SELECT sha1 FROM {db}.blob_refs FINAL WHERE deleted = 0) LIMIT {n:UInt32}",
        {"t": before, "n": BATCH})
    gone = [sha1 for (sha1,) in rows]
    for sha1 in gone:
        blobs.delete(sha1)
    if gone:
        store.command("DELETE FROM {db}.blob_gc WHERE sha1 IN {s:Array(String)} AND at <= {t:DateTime64(3, 'UTC')}",
                      {"s": gone, "t": before})
    # chunks a record holds again need no sweeping
    store.command("DELETE FROM {db}.blob_gc WHERE at <= {t:DateTime64(3, 'UTC')}"
                  " AND sha1 IN (SELECT sha1 FROM {db}.blob_refs FINAL WHERE deleted = 0)", {"t": before})
    return gone


class BlobSweeper:
    def __init__(self, store: Store, blobs: BlobStore, period: float, grace: float) -> None:
        self._store = store
        self._blobs = blobs
        self._period = period
        self._grace = grace
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="blob-sweeper")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                gone = await asyncio.to_thread(sweep, self._store, self._blobs, self._grace)
                if gone:
                    log.info("removed %d chunks of deleted artifacts", len(gone))
            except Exception:
                log.warning("sweeping deleted artifacts' chunks failed; retrying next period", exc_info=True)
            await asyncio.sleep(self._period)
