"""The periodic task that seals the hourly rollups (`picket.store.rollup`).

Every worker runs one: passes are idempotent rewrites, so concurrent sealers only repeat work.
A failed pass (ClickHouse unreachable) is logged and retried at the next period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from picket.store.client import Store
from picket.store.rollup import seal
from picket.store.rollups import ALL

log = logging.getLogger(__name__)


class Sealer:
    def __init__(self, store: Store, period: float) -> None:
        self._store = store
        self._period = period
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="rollup-sealer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            for rollup in ALL:
                try:
                    hours = await asyncio.to_thread(seal, self._store, rollup)
                    if hours:
                        log.info("sealed %d %s hours (%s .. %s)", len(hours), rollup.name, hours[0], hours[-1])
                except Exception:
                    log.warning("sealing the %s rollup failed; retrying next period", rollup.name, exc_info=True)
            await asyncio.sleep(self._period)
