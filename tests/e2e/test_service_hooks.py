"""Service hooks and Sentry app installations against a running Picket: the API (checked
against the reference contract), and the signed deliveries a receiver on loopback gets for an
event sent by the real `sentry-sdk`, an issue resolved, a release made and a check-in."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sentry_sdk

from tests.support.api import call
from tests.support.picket import PicketProcess


class Receiver:
    """An HTTP server on loopback keeping every request it gets (headers, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"

    def stop(self) -> None:
        self._server.shutdown()

    def wait_for(self, check, timeout: float = 60, count: int = 1) -> list[tuple[dict[str, str], dict]]:  # type: ignore[no-untyped-def]
        """The deliveries that pass `check`, once there are at least `count` of them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [(h, json.loads(b)) for h, b in list(self.requests) if check(h, json.loads(b))]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"{len(found)} of {count} such deliveries among {len(self.requests)}"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def hooked(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    p = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("hooks"), org="hooked",
                      env={"PICKET_HOOKS_ALLOW_PRIVATE": "1", "PICKET_HOOKS_RETRY_BASE": "0.05"}).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


HOOKS = "/api/0/projects/hooked/default/hooks/"


def _signed(headers: dict[str, str], body: bytes, secret: str, header: str) -> bool:
    return hmac.compare_digest(headers[header], hmac.new(secret.encode(), body, hashlib.sha256).hexdigest())


def test_hook_api_answers_as_the_reference_says(hooked: PicketProcess) -> None:
    with hooked.client() as client:
        made = call(client, "POST", HOOKS, json={"url": "https://example.com/h", "events": ["event.created"]})
        assert made.status_code == 201, made.text
        hook = made.json()
        assert hook["status"] == "active" and len(hook["secret"]) == 64 and hook["events"] == ["event.created"]
        assert hook["id"] in [h["id"] for h in call(client, "GET", HOOKS).json()]
        assert call(client, "GET", f"{HOOKS}{hook['id']}/").json() == hook
        changed = call(client, "PUT", f"{HOOKS}{hook['id']}/", json={"events": ["event.alert", "issue.created"]})
        assert changed.status_code == 200 and changed.json()["events"] == ["event.alert", "issue.created"]
        assert changed.json()["url"] == "https://example.com/h" and changed.json()["secret"] == hook["secret"]
        assert call(client, "DELETE", f"{HOOKS}{hook['id']}/").status_code == 204
        assert call(client, "GET", f"{HOOKS}{hook['id']}/").status_code == 404
        assert call(client, "DELETE", f"{HOOKS}{hook['id']}/").status_code == 404


@pytest.mark.parametrize("body", [
    {"url": "ftp://example.com/h", "events": ["event.created"]},
    {"url": "not a url", "events": ["event.created"]},
    {"url": "https://example.com/h", "events": ["event.exploded"]},
    {"url": "https://example.com/h", "events": []},
    {"url": "https://example.com/h"},
    {"events": ["event.created"]},
    {"url": "https://example.com/h", "events": "event.created"},
])
def test_bad_hooks_are_400_with_a_detail(hooked: PicketProcess, body: dict) -> None:
    with hooked.client() as client:
        answer = call(client, "POST", HOOKS, json=body)
    assert answer.status_code == 400 and answer.json()["detail"]


def test_a_project_has_at_most_ten_hooks(hooked: PicketProcess) -> None:
    with hooked.client() as client:
        call(client, "POST", "/api/0/teams/hooked/hooked/projects/", json={"name": "many", "slug": "many"})
        path = "/api/0/projects/hooked/many/hooks/"
        for n in range(10):
            assert call(client, "POST", path, json={"url": f"https://example.com/{n}", "events": ["event.created"]}
                        ).status_code == 201
        refused = call(client, "POST", path, json={"url": "https://example.com/11", "events": ["event.created"]})
        assert refused.status_code == 400 and "maximum" in refused.json()["detail"]
        assert len(call(client, "GET", path).json()) == 10


def test_signed_deliveries_of_events_issues_releases_and_check_ins(hooked: PicketProcess, receiver: Receiver) -> None:
    events = ["event.created", "event.alert", "issue.created", "issue.resolved", "release.created", "monitor.check_in"]
    with hooked.client() as client:
        hook = call(client, "POST", HOOKS, json={"url": receiver.url, "events": events}).json()
    time.sleep(6)  # the worker's directory of hooks is read every few seconds
    message = f"hooked {uuid.uuid4().hex[:8]}"
    sentry_sdk.init(dsn=hooked.dsn, default_integrations=False, auto_session_tracking=False)
    try:
        sentry_sdk.capture_message(message)
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()

    # event.created, and event.alert for the new issue: two deliveries, which may arrive apart
    created = receiver.wait_for(lambda h, b: "event" in b and b["event"].get("title") == message, count=2)
    kinds = {h["x-servicehook-guid"] for h, _ in created}
    assert kinds == {hook["id"]}
    for headers, body in created:
        raw = next(r for hh, r in receiver.requests if hh is headers)
        assert _signed(headers, raw, hook["secret"], "x-servicehook-signature")
        assert abs(int(headers["x-servicehook-timestamp"]) - time.time()) < 120
        assert body["project"]["slug"] == "default" and body["group"]["title"] == message
    time.sleep(1)  # nothing more comes: each once
    assert len(receiver.wait_for(lambda h, b: "event" in b and b["event"].get("title") == message)) == 2
    issue_made = receiver.wait_for(lambda h, b: b.get("action") == "issue.created"
                                   and b["data"].get("title") == message)
    group_id = issue_made[0][1]["data"]["group_id"]

    with hooked.client() as client:
        assert call(client, "PUT", f"/api/0/issues/{group_id}/", json={"status": "resolved"}).status_code == 200
        version = f"hooked-{uuid.uuid4().hex[:6]}"
        call(client, "POST", "/api/0/organizations/hooked/releases/", json={"version": version, "projects": ["default"]})
        call(client, "POST", "/api/0/organizations/hooked/monitors/", json={
            "project": "default", "name": "beat", "slug": "beat", "type": "cron_job",
            "config": {"schedule_type": "crontab", "schedule": "* * * * *"}})
        call(client, "POST", "/api/0/organization/hooked/monitors/beat/checkins/", json={"status": "ok"})
    receiver.wait_for(lambda h, b: b.get("action") == "issue.resolved" and b["data"].get("group_id") == group_id)
    receiver.wait_for(lambda h, b: b.get("action") == "release.created" and b["data"]["release"]["version"] == version)
    receiver.wait_for(lambda h, b: b.get("action") == "monitor.check_in")
    ids = [h["x-servicehook-guid"] for h, _ in receiver.requests]
    assert set(ids) == {hook["id"]}


def test_sentry_app_installations_external_issues_and_webhooks(hooked: PicketProcess, receiver: Receiver,
                                                               tmp_path: Path) -> None:
    with hooked.client() as client:
        made = call(client, "POST", "/api/0/sentry-apps/", json={
            "name": "Tracker", "organization": "hooked", "isInternal": True, "webhookUrl": receiver.url,
            "events": ["issue", "error"]})
        assert made.status_code == 201, made.text
        app = made.json()
        listed = call(client, "GET", "/api/0/organizations/hooked/sentry-app-installations/").json()
        mine = [x for x in listed if x["app"]["uuid"] == app["uuid"]]
        assert len(mine) == 1 and mine[0]["status"] == "installed" and mine[0]["organization"] == {"slug": "hooked"}
        installation = mine[0]["uuid"]
    time.sleep(6)
    message = f"app {uuid.uuid4().hex[:8]}"
    sentry_sdk.init(dsn=hooked.dsn, default_integrations=False, auto_session_tracking=False)
    try:
        sentry_sdk.capture_message(message)
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()
    errors = receiver.wait_for(lambda h, b: h.get("sentry-hook-resource") == "error"
                               and b["data"]["error"]["title"] == message)
    headers, body = errors[0]
    raw = next(r for hh, r in receiver.requests if hh is headers)
    assert _signed(headers, raw, app["clientSecret"], "sentry-hook-signature")
    assert body["action"] == "created" and body["installation"] == {"uuid": installation}
    issue = receiver.wait_for(lambda h, b: h.get("sentry-hook-resource") == "issue" and b["action"] == "created")
    group_id = int(issue[-1][1]["data"]["issue"]["id"])

    path = f"/api/0/sentry-app-installations/{installation}/external-issues/"
    with hooked.client() as client:
        linked = call(client, "POST", path, json={"issueId": group_id, "webUrl": "https://tracker.example/T-1",
                                                  "project": "TRK", "identifier": "T-1"})
        assert linked.status_code == 200, linked.text
        assert linked.json()["displayName"] == "TRK#T-1" and linked.json()["serviceType"] == app["slug"]
        detail = call(client, "GET", f"/api/0/issues/{group_id}/").json()
        assert detail["annotations"] == ['<a href="https://tracker.example/T-1">TRK#T-1</a>']
        assert [p["issue"]["url"] for p in detail["pluginIssues"]] == ["https://tracker.example/T-1"]
        assert call(client, "DELETE", f"{path}{linked.json()['id']}/").status_code == 204
        assert call(client, "GET", f"/api/0/issues/{group_id}/").json()["annotations"] == []
        assert call(client, "DELETE", f"{path}{linked.json()['id']}/").status_code == 404
        unknown = call(client, "POST", f"/api/0/sentry-app-installations/{uuid.uuid4()}/external-issues/",
                       json={"issueId": group_id, "webUrl": "https://t.example/1", "project": "P", "identifier": "1"})
        assert unknown.status_code == 404
        bad = call(client, "POST", path, json={"issueId": group_id, "webUrl": "javascript:alert(1)", "project": "P",
                                               "identifier": "2"})
        assert bad.status_code == 400
        missing_issue = call(client, "POST", path, json={"issueId": 1, "webUrl": "https://t.example/1",
                                                         "project": "P", "identifier": "3"})
        assert missing_issue.status_code == 404
