"""`picket status` beside a running Picket: after a few events and a check-in cut short,
`python -m picket.cli status` names the worker (alive, with its memory), the `ingest-events`
consumer group with its lag, `error_events` with the rows written and the dead letter; the
gateway's answers carry `X-Request-Id`, and the processes' log lines are JSON. Once Picket
stopped, status exits 1 saying nothing runs."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from sentry_sdk.envelope import Envelope, Item, PayloadRef

from tests.support.picket import REPO, PicketProcess

ORG = "statused"
EVENTS = 3


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("status"), org=ORG).start()
    try:
        yield proc
    finally:
        proc.stop()


def _status(p: PicketProcess) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PICKET_TOPIC_PREFIX": p.prefix, "PICKET_LOG_LEVEL": "WARNING"}
    env.pop("CLICKHOUSE_URL", None)
    if p.bootstrap:
        env["KAFKA_BOOTSTRAP"] = p.bootstrap
    else:  # the embedded broker: found through the data directory
        env.pop("KAFKA_BOOTSTRAP", None)
    return subprocess.run([sys.executable, "-m", "picket.cli", "status", "--data-dir", str(p.data_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def _rows(output: str, first: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines() if line.split()[:1] == [first]]


def test_status_names_the_worker_the_ingest_group_with_its_lag_and_the_rows_of_error_events(p: PicketProcess) -> None:
    project_id = p.dsn.rsplit("/", 1)[1]
    key = p.dsn.split("//")[1].split("@")[0]
    for n in range(EVENTS):
        answer = httpx.post(f"{p.url}/api/{project_id}/store/?sentry_key={key}",
                            json={"message": f"status probe {n}", "level": "error"},
                            headers={"X-Request-Id": f"status-probe-{n}"})
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Request-Id"] == f"status-probe-{n}"  # the fast path answers it too
    cut_short = Envelope(headers={})
    cut_short.add_item(Item(type="check_in", payload=PayloadRef(bytes=b'{"monitor_slug": "job", "status":')))
    answer = httpx.post(f"{p.url}/api/{project_id}/envelope/?sentry_key={key}", content=cut_short.serialize())
    assert answer.status_code == 200 and len(answer.headers["X-Request-Id"]) == 16  # one made for it
    p.wait_drained(groups=("ingest-events", "monitors-decider", "outcomes"), timeout=90)

    done = _status(p)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout

    [worker] = _rows(out, "worker")
    assert worker[2] == "yes" and worker[4] in ("MiB", "GiB"), out  # name, pid, alive, rss (value, unit), up
    assert _rows(out, "gateway")[0][2] == "yes", out
    assert _rows(out, "supervisor")[0][2] == "yes", out

    group = f"{p.prefix}picket-ingest-events"
    [ingest] = [row for row in _rows(out, group) if row[1] == f"{p.prefix}ingest-events"]
    assert ingest[-1] == "0", out  # drained: no lag
    assert int(ingest[2]) == 4  # partitions

    [events] = _rows(out, "error_events")
    assert int(events[1]) >= EVENTS, out
    [letters] = _rows(out, f"{p.prefix}ingest-dlq")
    assert int(letters[1]) >= 1, out  # the monitors decider's (the raw check-ins' writer may add its own)
    assert f"dead letters on {p.prefix}ingest-dlq" in out and "Monitors clock: last tick" in out


def test_log_lines_of_the_processes_are_json(p: PicketProcess) -> None:
    """Off a terminal, whatever the processes log is one JSON object a line, the HTTP server's
    own warnings (a request that is not HTTP) included."""
    with socket.create_connection(("127.0.0.1", p.port), timeout=10) as raw:
        raw.sendall(b"\x16\x03\x01 not http\r\n\r\n")
        raw.recv(1024)  # uvicorn answers 400 and logs a warning
    deadline = time.monotonic() + 10
    while '"logger": "uvicorn.error"' not in p.log_tail(2000) and time.monotonic() < deadline:
        time.sleep(0.1)
    logged = [line for line in p.log_tail(2000).splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in logged]
    for record in records:
        assert {"ts", "level", "logger", "msg", "process", "pid"} <= record.keys()
    assert any(r["logger"] == "uvicorn.error" and r["msg"] == "Invalid HTTP request received." and
               r["process"] == "gateway" for r in records), logged[-5:]
    assert not re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (WARNING|ERROR) ", p.log_tail(2000), re.MULTILINE)
    assert not re.search(r"^(WARNING|ERROR):  ", p.log_tail(2000), re.MULTILINE), "no line in uvicorn's format"


def test_status_once_stopped_exits_1(p: PicketProcess) -> None:
    p.stop()
    done = _status(p)
    assert done.returncode == 1 and "nothing is running on" in done.stderr, done.stdout + done.stderr
