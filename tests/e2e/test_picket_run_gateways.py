"""`picket run --gateways 2`: two gateway processes serve one port (SO_REUSEPORT). Each has its
own transactional producers (its own gateway id), so envelopes through both are all written and
counted once; when one gateway dies, the other takes every new connection until the supervisor
has started it again."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sentry_sdk.envelope import Envelope, Item, PayloadRef

from tests.support.picket import PicketProcess

ORG = "two-gateways"


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("gateways"), org=ORG,
                         args=("--gateways", "2")).start()
    yield proc
    proc.stop()


def _feedback_rows(p: PicketProcess) -> float:
    text = httpx.get(p.metrics_url, timeout=10).text
    found = re.search(r'^picket_store_rows_written_total\{table="feedback"\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _send(p: PicketProcess, count: int) -> None:
    """`count` envelopes of two items each (written in one transaction), each on a new connection."""
    project_id = p.dsn.rsplit("/", 1)[1]
    key = p.dsn.split("//")[1].split("@")[0]
    for n in range(count):
        env = Envelope(headers={})
        env.add_item(Item(type="feedback", payload=PayloadRef(json={
            "event_id": uuid.uuid4().hex, "contexts": {"feedback": {"message": f"via a gateway {n}"}}})))
        env.add_item(Item(type="client_report", payload=PayloadRef(json={"timestamp": time.time(),
                                                                          "discarded_events": []})))
        answer = httpx.post(f"{p.url}/api/{project_id}/envelope/?sentry_key={key}", content=env.serialize())
        assert answer.status_code == 200, answer.text


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_two_gateways_share_the_port_and_write_everything_once(p: PicketProcess) -> None:
    first, second = p.child_pid("gateway"), p.child_pid("gateway-2")
    assert first != second and _alive(first) and _alive(second)
    assert "Gateways:     2 processes" in p.log_tail(40)
    before = _feedback_rows(p)
    _send(p, 60)
    p.wait_drained(groups=("ingest-feedback-events",), timeout=60)
    assert _feedback_rows(p) - before == 60


@pytest.mark.parametrize("name", ["gateway", "gateway-2"])
def test_when_one_gateway_dies_the_other_serves_the_port(p: PicketProcess, name: str) -> None:
    """Killing each in turn shows that both listen on the port."""
    before = _feedback_rows(p)
    os.kill(p.child_pid(name), signal.SIGKILL)
    time.sleep(0.2)
    _send(p, 20)  # new connections go to the live gateway (or the restarted one)
    p.wait_drained(groups=("ingest-feedback-events",), timeout=60)
    assert _feedback_rows(p) - before == 20
    deadline = time.monotonic() + 60
    while not _alive(p.child_pid(name)):  # the supervisor starts it again
        assert time.monotonic() < deadline, f"{name} was not restarted"
        time.sleep(0.2)
