"""Gateway side of the command/reply path: send a command, wait for its verdict.

Each gateway instance has an id; commands carry it as `reply_to`, and verdicts come back on the
replies topic keyed by it. The waiter reads the replies topic from its end (no consumer group),
so it sees only verdicts on commands sent after it started, and resolves the matching future.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec
from aiokafka import TopicPartition

from picket.schemas.replies import Reply
from picket.schemas.topics import COMMAND_REPLIES
from picket.bus.connection import KafkaConnection
from picket.bus.kafka import consumer

log = logging.getLogger(__name__)
_decode = COMMAND_REPLIES.decode


class ReplyWaiter:
    def __init__(self, kafka: KafkaConnection, topic: str, partitions: int, instance_id: str) -> None:
        self._consumer = consumer(kafka, group_id=None, fetch_max_wait_ms=20)
        self._topic = topic
        self._partitions = partitions
        self.instance_id = instance_id
        self._key = instance_id.encode()
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.assign([TopicPartition(self._topic, p) for p in range(self._partitions)])
        await self._consumer.seek_to_end()
        # Resolve the end offsets now, so no reply produced after start() is skipped.
        for tp in self._consumer.assignment():
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run(), name="reply-waiter")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
        for fut in self._pending.values():
            if not fut.done():
                fut.cancel()

    def expect(self, command_id: str) -> asyncio.Future[Reply]:
        """Register interest in a verdict; call before sending the command."""
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = fut
        return fut

    def forget(self, command_id: str) -> None:
        self._pending.pop(command_id, None)

    async def _run(self) -> None:
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=200)
            except asyncio.CancelledError:
                raise
            except Exception:  # broker hiccup: keep listening, callers time out meanwhile
                log.exception("reading replies failed")
                await asyncio.sleep(0.5)
                continue
            for messages in batches.values():
                for msg in messages:
                    if msg.key != self._key:
                        continue
                    try:
                        reply = _decode(msg.value)
                    except msgspec.DecodeError:
                        log.error("undecodable reply at offset %s", msg.offset)
                        continue
                    fut = self._pending.pop(reply.command_id, None)
                    if fut is not None and not fut.done():
                        fut.set_result(reply)
