"""The worker's counters on `/metrics` (the address `picket run` prints) move by exactly what was
sent: rows written per table once they are queryable, messages per consumer, dead letters for a
bad item. The benchmark reads them instead of polling the API."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sentry_sdk.envelope import Envelope, Item, PayloadRef

from tests.support.picket import PicketProcess

ORG = "counted"


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("metrics"), org=ORG).start()
    yield proc
    proc.stop()


def _samples(p: PicketProcess) -> dict[str, float]:
    """Every sample of the exposition, by name and labels as written."""
    answer = httpx.get(p.metrics_url, timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+) (\S+)$", answer.text, re.MULTILINE)}


def _send(p: PicketProcess, item_type: str, payload: dict | bytes) -> None:
    project_id = p.dsn.rsplit("/", 1)[1]
    key = p.dsn.split("//")[1].split("@")[0]
    env = Envelope(headers={})
    ref = PayloadRef(bytes=payload) if isinstance(payload, bytes) else PayloadRef(json=payload)
    env.add_item(Item(type=item_type, payload=ref))
    assert httpx.post(f"{p.url}/api/{project_id}/envelope/?sentry_key={key}", content=env.serialize()).status_code == 200


def test_counters_move_by_exactly_what_was_sent(p: PicketProcess) -> None:
    rows = 'picket_store_rows_written_total{table="%s"}'
    p.wait_drained(groups=("outcomes",), timeout=60)  # whatever starting up wrote is counted
    before = _samples(p)
    for n in range(12):
        _send(p, "feedback", {"event_id": uuid.uuid4().hex,
                             "contexts": {"feedback": {"message": f"counted {n}", "contact_email": "a@b.c"}}})
    for _ in range(5):
        _send(p, "check_in", {"check_in_id": uuid.uuid4().hex, "monitor_slug": "counted-job", "status": "ok",
                              "monitor_config": {"schedule": {"type": "interval", "value": 1, "unit": "day"}}})
    _send(p, "check_in", b'{"monitor_slug": "counted-job", "status":')  # cut short: a dead letter
    p.wait_drained(groups=("ingest-feedback-events", "monitors-decider", "monitors-projector",
                           "ingest-monitors-raw", "outcomes"), timeout=60)
    after = _samples(p)

    def moved(sample: str) -> float:
        return after.get(sample, 0.0) - before.get(sample, 0.0)

    assert moved(rows % "feedback") == 12
    assert moved(rows % "monitor_checkins") == 5
    assert moved(rows % "checkins_raw") == 5
    assert moved('picket_consumer_messages_total{consumer="monitors-decider"}') == 6
    assert moved('picket_dead_letters_total{consumer="monitors-decider"}') == 1
    assert moved('picket_consumer_messages_total{consumer="ingest-feedback-events-consumer"}') == 12
    assert moved('picket_dead_letters_total{consumer="ingest-feedback-events-consumer"}') == 0

    # Timed: every counted batch once (fetch to commit), every insert of the 12 feedback rows
    # (in as many batches as the consumer made of them: at least one, at most 12).
    feedback = "ingest-feedback-events-consumer"
    batches = moved('picket_consumer_batch_size_count{consumer="%s"}' % feedback)
    assert batches >= 1
    assert moved('picket_consumer_batch_duration_seconds_count{consumer="%s"}' % feedback) == batches
    assert moved('picket_consumer_batch_duration_seconds_sum{consumer="%s"}' % feedback) > 0
    inserts = moved('picket_store_insert_duration_seconds_count{table="feedback"}')
    assert 1 <= inserts <= 12
    assert moved('picket_store_insert_duration_seconds_sum{table="feedback"}') > 0
