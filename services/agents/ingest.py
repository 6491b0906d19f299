"""Consumers of the ingest topics (but events and check-ins: `events.py`, `monitors.py`) and of
`outcomes`. Each turns one message into rows and outcomes with its pure function; the rest of
its pipeline (`picket.runtime.steps`) does the rest (isolation, guarded writes, outcomes, dead
letters).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from picket.schemas import topics as t
from picket.schemas.ingest import IngestItem
from picket.runtime.consumer import BatchConsumer
from picket.runtime.steps import Output, Process, Table
from picket.bus.topics import origin
from picket.agents.wiring import Wiring
from picket.ingest import attachments, feedback, outcome_rows, sessions, transactions
from picket.ingest.processed import Processed
from picket.store.rollups import write_outcomes, write_sessions

# Outcomes are counted in stats, which no one reads by the millisecond: written once a second
# at most, in fewer and larger parts.
OUTCOMES_LINGER_SECONDS = 1.0
# Items become queryable within a second (lag p99 at half load): a quarter of it spent
# gathering larger batches halves the inserts (each a ClickHouse part) at moderate rates.
ITEMS_LINGER_SECONDS = 0.25
OUTCOMES_MAX_BATCH = 10_000

SESSIONS = Table("sessions", tuple(sessions.COLUMNS), write_sessions)
FEEDBACK = Table("feedback", feedback.COLUMNS)
ATTACHMENTS = Table("attachments", attachments.COLUMNS)
TRANSACTIONS = Table("transactions", transactions.COLUMNS)
OUTCOMES_RAW = Table("outcomes_raw", tuple(outcome_rows.COLUMNS), write_outcomes)

# Every ingest topic carries IngestItem values, with one codec.
decode_item = t.INGEST_EVENTS.decode


def item_process(table: Table, process: Callable[[IngestItem, str], Processed]) -> Process:
    """One ingest message → its rows in `table` and outcomes."""

    async def run(msg: Any) -> Output:
        done = process(decode_item(msg.value), origin(msg))
        out = Output(outcomes=done.outcomes, refused=done.refused)
        return out.add_rows(table, done.rows)

    return run


async def outcome_process(msg: Any) -> Output:
    """One outcome message → its `outcomes_raw` row."""
    return Output().add_rows(OUTCOMES_RAW, [outcome_rows.outcome_row(t.OUTCOMES.decode(msg.value), origin(msg))])


def ingest_consumers(w: Wiring) -> list[BatchConsumer]:
    """Every ingest consumer but those of events and check-ins, and the outcomes consumer."""

    def consumer(topic: t.Topic, table: Table, process: Callable[[IngestItem, str], Processed]) -> BatchConsumer:
        name = f"{topic.name}-consumer"
        return w.consumer(name, topic, topic.name, w.items(name, topic, item_process(table, process)),
                          linger=ITEMS_LINGER_SECONDS)

    return [
        consumer(t.INGEST_SESSIONS, SESSIONS, sessions.process_session_item),
        consumer(t.INGEST_FEEDBACK, FEEDBACK, lambda i, _: feedback.process_feedback_item(i)),
        consumer(t.INGEST_ATTACHMENTS, ATTACHMENTS, attachments.process_attachment_item),
        consumer(t.INGEST_TRANSACTIONS, TRANSACTIONS, transactions.process_transaction_item),
        w.consumer("outcomes-consumer", t.OUTCOMES, "outcomes",
                   w.items("outcomes-consumer", t.OUTCOMES, outcome_process, outcomes=False),
                   linger=OUTCOMES_LINGER_SECONDS, max_batch=OUTCOMES_MAX_BATCH),
    ]
