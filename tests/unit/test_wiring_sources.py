"""How the worker's consumers read, from the registry: the monitors decider reads its commands
and `ingest-monitors` together, in one group, starting on `ingest-monitors` where the check-in
forwarder's group left off; topics that cannot be co-partitioned are refused at wiring."""

from __future__ import annotations

import asyncio

import pytest

from picket.agents.wiring import Wiring
from picket.bus.connection import KafkaConnection
from picket.bus.offsets import TakeOver
from picket.runtime.source import KafkaSource
from picket.schemas import topics as t
from tests.support.fake_runtime import settings


def wiring() -> Wiring:
    return Wiring(settings(), KafkaConnection("localhost:1"), None, None, None)  # type: ignore[arg-type]


def test_the_monitors_decider_takes_over_ingest_monitors_from_the_forwarders_group() -> None:
    async def sources() -> list[KafkaSource]:  # a Kafka consumer is made on an event loop
        w = wiring()
        return [w.source([t.MONITORS_COMMANDS, t.INGEST_MONITORS], "monitors-decider"),
                w.source(t.INGEST_MONITORS, "ingest-monitors-raw"), w.source(t.MONITORS_COMMANDS, "monitors-decider")]

    decider, raw, commands_only = asyncio.run(sources())
    app_id = wiring().topics.app_id
    assert decider._topics == ["t-monitors-commands", "t-ingest-monitors"]
    assert decider._group == f"{app_id}-monitors-decider"
    assert decider._takes_over == (TakeOver("t-ingest-monitors", 4, f"{app_id}-ingest-monitors"),)
    assert raw._takes_over == () and commands_only._takes_over == ()


def test_topics_that_cannot_be_read_together_are_refused_at_wiring() -> None:
    with pytest.raises(ValueError):
        wiring().source([t.MONITORS_COMMANDS, t.MONITORS_CLOCK_TICK], "monitors-decider")  # no such group there
    with pytest.raises(ValueError):
        wiring().source([t.MONITORS_COMMANDS, t.OUTCOMES], "outcomes")


def test_check_in_items_are_keyed_by_their_monitor_whatever_else_the_payload_holds() -> None:
    from datetime import datetime, timezone

    from picket.schemas.ingest import IngestItem

    def key(payload: bytes) -> bytes | None:
        return t.INGEST_MONITORS.key_for(IngestItem(item_type="check_in", project_id=7, org_id=3, key_id=1,
                                                    received=datetime.now(timezone.utc), payload=payload))

    assert key(b'{"check_in_id": "x", "monitor_slug": "nightly", "status": "ok"}') == b"monitor:3:nightly"
    for hostile in (b"", b"\xff\xfe", b"[]", b'{"monitor_slug": 5}', b'{"monitor_slug": "a"' ,
                    b'{"monitor_slug": "a", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
                    b'{"monitor_slug": "a", "n": 1' + b"0" * 5000 + b"}"):
        assert key(hostile) in (b"7", b"monitor:3:a"), hostile[:40]
    assert key(b'{"monitor_slug": "a", "n": 1' + b"0" * 5000 + b"}") == b"monitor:3:a", "big numbers are skipped"
