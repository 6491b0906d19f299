"""stats_v2 over outcomes written by the real ingestion path: exact numbers, and 400s for the
combinations Sentry refuses."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sentry_sdk.envelope import Envelope, Item, PayloadRef

from tests.support.api import call
from tests.support.picket import PicketProcess

ORG = "usage"


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("usage"), org=ORG).start()
    yield proc
    proc.stop()


def _stats(p: PicketProcess, **params: str | list[str]) -> httpx.Response:
    with p.client() as http:
        return http.get(f"/api/0/organizations/{ORG}/stats_v2/", params=params)


def test_accepted_and_client_discarded_errors_are_counted_once(p: PicketProcess) -> None:
    project_id = p.dsn.rsplit("/", 1)[1]
    key = p.dsn.split("//")[1].split("@")[0]
    url = f"{p.url}/api/{project_id}/envelope/?sentry_key={key}"
    ids = [uuid.uuid4().hex for _ in range(3)]
    for event_id in [*ids, ids[0]]:  # the first one twice: still one accepted error
        env = Envelope(headers={"event_id": event_id})
        env.add_item(Item(type="event", payload=PayloadRef(json={"event_id": event_id, "message": "usage"})))
        assert httpx.post(url, content=env.serialize()).status_code == 200
    report = Envelope(headers={})
    report.add_item(Item(type="client_report", payload=PayloadRef(json={
        "timestamp": time.time(),
        "discarded_events": [{"reason": "before_send", "category": "error", "quantity": 2}],
    })))
    assert httpx.post(url, content=report.serialize()).status_code == 200

    params = {"field": "sum(quantity)", "groupBy": ["outcome", "category"], "statsPeriod": "1d", "interval": "1h"}
    deadline = time.monotonic() + 30
    while True:
        body = _stats(p, **params).json()
        totals = {(g["by"]["outcome"], g["by"]["category"]): g["totals"]["sum(quantity)"] for g in body["groups"]}
        if totals.get(("accepted", "error")) == 3 and totals.get(("client_discard", "error")) == 2:
            break
        assert time.monotonic() < deadline, f"stats never reached the expected numbers: {totals}"
        time.sleep(0.5)
    # As Sentry: the range is widened to whole intervals, so a day not on the hour spans 25.
    assert len(body["intervals"]) in (24, 25)
    accepted = next(g for g in body["groups"] if g["by"] == {"outcome": "accepted", "category": "error"})
    assert sum(accepted["series"]["sum(quantity)"]) == 3
    assert len(accepted["series"]["sum(quantity)"]) == len(body["intervals"])
    with p.client() as http:
        validated = call(http, "GET", f"/api/0/organizations/{ORG}/stats_v2/", params=params)
    assert validated.status_code == 200


@pytest.mark.parametrize("params", [
    {"field": "sum(quantity)", "category": ["attachment", "error"], "statsPeriod": "1d", "interval": "1h"},
    {"field": "sum(quantity)", "category": "error", "statsPeriod": "1d", "interval": "7m"},
    {"field": "count()", "category": "error", "statsPeriod": "1d"},
    {"field": "sum(quantity)", "category": "error", "start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    {"category": "error", "statsPeriod": "1d"},
], ids=["attachment-mixed", "interval-7m", "unknown-field", "end-before-start", "no-field"])
def test_invalid_combinations_are_400_with_detail(p: PicketProcess, params: dict[str, str]) -> None:
    response = _stats(p, **params)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


def _session(sid: str, did: str, seq: int, status: str, init: bool, duration: float | None = None) -> dict:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    body = {"sid": sid, "did": did, "seq": seq, "init": init, "started": now, "timestamp": now,
            "status": status, "errors": 0, "attrs": {"release": "shop@2.0", "environment": "prod"}}
    if duration is not None:
        body["duration"] = duration
    return body


def test_sessions_count_each_session_once_with_its_final_status(p: PicketProcess) -> None:
    project_id = p.dsn.rsplit("/", 1)[1]
    key = p.dsn.split("//")[1].split("@")[0]
    url = f"{p.url}/api/{project_id}/envelope/?sentry_key={key}"
    healthy, crashed = uuid.uuid4().hex, uuid.uuid4().hex
    updates = [
        _session(healthy, "ann", 0, "ok", True),
        _session(healthy, "ann", 1, "exited", False, duration=12.0),
        _session(crashed, "bob", 0, "ok", True),
        _session(crashed, "bob", 1, "crashed", False),
    ]
    for update in [*updates, updates[-1]]:  # the last update twice: still one session
        env = Envelope(headers={})
        env.add_item(Item(type="session", payload=PayloadRef(json=update)))
        assert httpx.post(url, content=env.serialize()).status_code == 200

    params = {"field": ["sum(session)", "count_unique(user)", "crash_free_rate(session)"],
              "statsPeriod": "1d", "interval": "1h", "query": 'release:"shop@2.0"'}
    deadline = time.monotonic() + 30
    while True:
        with p.client() as http:
            body = call(http, "GET", f"/api/0/organizations/{ORG}/sessions/", params=params).json()
        totals = body["groups"][0]["totals"] if body["groups"] else {}
        if totals.get("sum(session)") == 2:
            break
        assert time.monotonic() < deadline, f"sessions never arrived: {body}"
        time.sleep(0.5)
    assert totals == {"sum(session)": 2, "count_unique(user)": 2, "crash_free_rate(session)": 0.5}
    by_status = _sessions(p, field="sum(session)", groupBy="session.status", statsPeriod="1d", interval="1h")
    counts = {g["by"]["session.status"]: g["totals"]["sum(session)"] for g in by_status.json()["groups"]}
    assert counts["healthy"] == 1 and counts["crashed"] == 1
    refused = _sessions(p, field="crash_free_rate(session)", groupBy="session.status", statsPeriod="1d")
    assert refused.status_code == 400 and refused.json()["detail"]


def test_session_aggregates_sent_again_count_once_when_the_envelope_says_when_it_was_sent(p: PicketProcess) -> None:
    """An SDK resending an envelope whose answer it never got (same `sent_at`, same bytes) counts
    once; the same counts sent at another instant are another report and count again."""
    project_id = p.dsn.rsplit("/", 1)[1]
    key = p.dsn.split("//")[1].split("@")[0]
    url = f"{p.url}/api/{project_id}/envelope/?sentry_key={key}"
    minute = time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime())
    body = {"attrs": {"release": "agg@1.0", "environment": "prod"},
            "aggregates": [{"started": minute, "exited": 3, "crashed": 1}]}

    def send(sent_at: str) -> None:
        env = Envelope(headers={"sent_at": sent_at})
        env.add_item(Item(type="sessions", payload=PayloadRef(json=body)))
        assert httpx.post(url, content=env.serialize()).status_code == 200

    first, other = f"{minute[:-1]}.123Z", f"{minute[:-1]}.456Z"
    for sent_at in (first, first, other):  # the first report resent once, then a second report
        send(sent_at)
    params = {"field": "sum(session)", "statsPeriod": "1d", "interval": "1h", "query": 'release:"agg@1.0"'}
    deadline = time.monotonic() + 30
    while True:
        groups = _sessions(p, **params).json()["groups"]
        if groups and groups[0]["totals"]["sum(session)"] >= 8:
            break
        assert time.monotonic() < deadline, f"the aggregates never arrived: {groups}"
        time.sleep(0.5)
    time.sleep(1.5)  # the resent copy, had it been stored, is projected by now (linger 0.25 s)
    assert _sessions(p, **params).json()["groups"][0]["totals"] == {"sum(session)": 8}


def _sessions(p: PicketProcess, **params: str) -> httpx.Response:
    with p.client() as http:
        return http.get(f"/api/0/organizations/{ORG}/sessions/", params=params)


def test_legacy_stats_series_for_organization_team_and_project(p: PicketProcess) -> None:
    """Received errors (accepted + filtered + rate limited) per hour, zero-filled, for the
    organization and the project; the team endpoint counts its projects' stored events."""
    deadline = time.monotonic() + 30
    with p.client() as http:
        while True:
            org = call(http, "GET", f"/api/0/organizations/{ORG}/stats/", params={"stat": "received"}).json()
            if sum(count for _, count in org) >= 3:
                break
            assert time.monotonic() < deadline, org
            time.sleep(0.5)
        assert len(org) == 24 and all(isinstance(ts, int) for ts, _ in org)
        project = call(http, "GET", f"/api/0/projects/{ORG}/default/stats/", params={"stat": "received"}).json()
        assert sum(c for _, c in project) == sum(c for _, c in org)
        team = call(http, "GET", f"/api/0/teams/{ORG}/{ORG}/stats/").json()
        assert sum(c for _, c in team) >= 3
        bad = http.get(f"/api/0/projects/{ORG}/default/stats/", params={"resolution": "7m"})
        assert bad.status_code == 400 and bad.json()["detail"]
