"""The real sentry-sdk against a running Picket: events become issues, and every other item
type (sessions, check-ins, feedback, client reports) is stored with its outcome.

Reads go through the REST API while Picket runs; rows the API does not serve yet (sessions,
check-ins, outcomes) are checked in ClickHouse after a clean stop (chdb is one process at a time).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope, Item, PayloadRef

from tests.support.api import call
from tests.support.picket import PicketProcess
from tests.support.waiting import eventually


def _raise(kind: type[Exception], message: str) -> None:
    raise kind(message)


def _boom(message: str) -> None:
    try:
        _raise(ValueError, message)
    except ValueError:
        sentry_sdk.capture_exception()


def _other() -> None:
    try:
        _raise(KeyError, "missing")
    except KeyError:
        sentry_sdk.capture_exception()


@pytest.fixture(scope="module")
def ingest(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    p = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("ingest"), org="ingest").start()
    yield p
    p.stop()


@pytest.fixture(autouse=True)
def _sdk_closed_afterwards() -> Iterator[None]:
    """Each test inits the global SDK client; close it so no other test inherits it."""
    yield
    sentry_sdk.get_client().close()
    sentry_sdk.init()


def _init(dsn: str, **options: Any) -> None:
    sentry_sdk.init(dsn=dsn, release="shop@1.0.0", environment="ci", default_integrations=False,
                    auto_session_tracking=False, **options)


def _issues(p: PicketProcess) -> list[dict[str, Any]]:
    with p.client() as http:
        return call(http, "GET", "/api/0/projects/ingest/default/issues/", params={"query": ""}).json()


def test_sdk_errors_become_issues_with_gzip_and_brotli(ingest: PicketProcess) -> None:
    _init(ingest.dsn, _experiments={"transport_compression_algo": "gzip"})
    _boom("first")
    _boom("second, other value")
    sentry_sdk.flush()
    _init(ingest.dsn, _experiments={"transport_compression_algo": "br"})
    _other()
    message_id = sentry_sdk.capture_message("hello from ci")
    sentry_sdk.flush()

    issues = eventually(lambda: _issues(ingest), lambda v: sum(int(i["count"]) for i in v) >= 4)
    by_title = {i["title"]: i for i in issues}
    assert by_title["ValueError: first"]["count"] == "2", "the same exception twice is one issue seen twice"
    assert any(t.startswith("KeyError") for t in by_title), "a different exception is a second issue"
    assert "hello from ci" in by_title
    assert len(issues) == 3

    with ingest.client() as http:
        issue = by_title["ValueError: first"]
        assert issue["shortId"].startswith("DEFAULT-")
        found = call(http, "GET", f"/api/0/organizations/ingest/shortids/{issue['shortId']}/").json()
        assert found["groupId"] == issue["id"]
        detail = call(http, "GET", f"/api/0/issues/{issue['id']}/").json()
        assert detail["count"] == "2" and detail["project"]["slug"] == "default"
        assert {"key": "environment", "name": "environment"}.items() <= detail["tags"][0].items() or detail["tags"]
        looked_up = call(http, "GET", f"/api/0/organizations/ingest/eventids/{message_id}/").json()
        assert looked_up["eventId"] == message_id and looked_up["projectSlug"] == "default"
        event = call(http, "GET", f"/api/0/projects/ingest/default/events/{message_id}/").json()
        assert event["message"] == "hello from ci" and ("environment", "ci") in {(t["key"], t["value"]) for t in event["tags"]}
        events = call(http, "GET", "/api/0/projects/ingest/default/events/").json()
        assert message_id in {e["eventID"] for e in events}


def _envelope_bytes(dsn: str, event_id: str) -> bytes:
    env = Envelope(headers={"event_id": event_id, "dsn": dsn, "sent_at": "2026-01-01T00:00:00Z"})
    env.add_item(Item(payload=PayloadRef(json={"event_id": event_id, "message": "replayed", "level": "warning",
                                                "platform": "python"}), type="event"))
    return env.serialize()


def _project_id(dsn: str) -> str:
    return dsn.rsplit("/", 1)[1]


def test_replaying_an_envelope_changes_no_count(ingest: PicketProcess) -> None:
    event_id = uuid.uuid4().hex
    body = _envelope_bytes(ingest.dsn, event_id)
    url = f"{ingest.url}/api/{_project_id(ingest.dsn)}/envelope/"
    for _ in range(3):
        response = httpx.post(url, content=body, headers={"Content-Type": "application/x-sentry-envelope"})
        assert response.status_code == 200 and response.json() == {"id": event_id}
    issues = eventually(lambda: _issues(ingest), lambda v: any(i["title"] == "replayed" for i in v))
    time.sleep(1.0)  # give any duplicate a chance to be (wrongly) counted
    replayed = [i for i in _issues(ingest) if i["title"] == "replayed"]
    assert [i["count"] for i in replayed] == ["1"]
    assert issues


@pytest.mark.parametrize(
    "headers,body,status",
    [
        ({}, b"not an envelope", 400),
        ({}, b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event","length":50}\n{}', 400),
        ({"Content-Encoding": "gzip"}, b"definitely not gzip", 400),
        ({"Content-Encoding": "gzip"}, gzip.compress(b"{}\n" + b'{"type":"event"}\n' + b"x" * 100)[:-10], 400),
        ({"Content-Encoding": "zstd-unknown"}, b"{}", 400),
        ({"Content-Encoding": "gzip"}, gzip.compress(b"{}\n" + b"\n" * (300 * 1024 * 1024)), 413),
    ],
    ids=["garbage", "truncated", "not-gzip", "truncated-gzip", "unknown-encoding", "gzip-bomb"],
)
def test_bad_envelopes_get_4xx_with_detail(ingest: PicketProcess, headers: dict[str, str], body: bytes,
                                           status: int) -> None:
    url = f"{ingest.url}/api/{_project_id(ingest.dsn)}/envelope/?sentry_key={ingest.dsn.split('//')[1].split('@')[0]}"
    response = httpx.post(url, content=body, headers=headers, timeout=60)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_bad_or_missing_dsn_keys_are_refused(ingest: PicketProcess) -> None:
    body = _envelope_bytes(ingest.dsn, uuid.uuid4().hex).replace(ingest.dsn.encode(), b"")
    url = f"{ingest.url}/api/{_project_id(ingest.dsn)}/envelope/"
    assert httpx.post(url, content=body).status_code == 401
    assert httpx.post(url + "?sentry_key=" + "0" * 32, content=body).status_code == 401
    wrong_project = f"{ingest.url}/api/1/envelope/?sentry_key={ingest.dsn.split('//')[1].split('@')[0]}"
    assert httpx.post(wrong_project, content=body).status_code == 403


def test_sentry_cli_send_event(ingest: PicketProcess) -> None:
    cli = Path(sys.executable).with_name("sentry-cli")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(ingest.data_dir), "SENTRY_DSN": ingest.dsn,
           "SENTRY_LOG_LEVEL": "warn"}
    out = subprocess.run([str(cli), "send-event", "-m", "sent by sentry-cli"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    eventually(lambda: _issues(ingest), lambda v: any(i["title"] == "sent by sentry-cli" for i in v))


def test_sessions_checkins_feedback_and_client_reports_are_stored_with_outcomes(ingest: PicketProcess) -> None:
    from sentry_sdk.crons import capture_checkin, monitor

    dropped: list[str] = []

    def before_send(event: dict[str, Any], hint: Any) -> dict[str, Any] | None:
        # The SDK also passes check-ins through before_send: drop only the marked message.
        if event.get("message") == "this one is dropped by before_send":
            dropped.append(event["event_id"])
            return None
        return event

    _init(ingest.dsn, before_send=before_send, send_client_reports=True)
    scope = sentry_sdk.get_isolation_scope()
    scope.start_session()
    scope.end_session()
    check_in = capture_checkin(monitor_slug="nightly", status="ok", duration=1.5,
                               monitor_config={"schedule": {"type": "crontab", "value": "0 * * * *"}})

    @monitor(monitor_slug="decorated")
    def job() -> None:
        pass

    job()
    feedback_id = uuid.uuid4().hex
    env = Envelope(headers={"event_id": feedback_id})
    env.add_item(Item(type="feedback", payload=PayloadRef(json={
        "event_id": feedback_id, "timestamp": time.time(), "platform": "python",
        "contexts": {"feedback": {"message": "It broke!", "contact_email": "jane@example.com", "name": "Jane"}},
    })))
    sentry_sdk.get_client().transport.capture_envelope(env)
    sentry_sdk.capture_message("this one is dropped by before_send")
    _other()
    sentry_sdk.flush()
    assert dropped, "before_send ran"

    with ingest.client() as http:
        feedback = eventually(
            lambda: call(http, "GET", "/api/0/projects/ingest/default/user-feedback/").json(),
            lambda v: any(f["id"] == feedback_id for f in v),
        )
    assert next(f for f in feedback if f["id"] == feedback_id)["comments"] == "It broke!"

    # Every consumer has processed what was accepted (the lazy writers too), before the clean stop.
    ingest.wait_drained(groups=("ingest-monitors-raw", "outcomes", "ingest-sessions"))
    ingest.stop()
    try:
        from picket.store.client import Store

        store = Store(f"chdb:///{ingest.data_dir / 'clickhouse'}", "picket")
        try:
            assert store.query("SELECT count() FROM {db}.sessions FINAL")[0][0] >= 1
            slugs = {r[0] for r in store.query("SELECT monitor_slug FROM {db}.checkins_raw FINAL")}
            assert {"nightly", "decorated"} <= slugs
            assert store.query("SELECT count() FROM {db}.checkins_raw FINAL WHERE check_in_id = {c:String}",
                               {"c": check_in.replace("-", "")})[0][0] == 1
            outcomes = dict(store.query(
                "SELECT (outcome, category), sum(quantity) FROM {db}.outcomes_raw FINAL GROUP BY outcome, category"))
            assert outcomes.get((0, 5), 0) >= 1, "an accepted session outcome"
            assert outcomes.get((0, 10), 0) >= 3, "accepted check-in outcomes"
            assert outcomes.get((0, 14), 0) >= 1, "an accepted feedback outcome"
            assert outcomes.get((5, 1), 0) >= 1, "the client report's discarded error"
            assert outcomes.get((0, 1), 0) >= 1, "accepted errors"
        finally:
            store.close()
    finally:
        ingest.start()
