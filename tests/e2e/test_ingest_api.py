"""Ingestion endpoints beyond the SDK's happy path: rate limits, CORS, the legacy store
endpoint, user feedback over the REST API, users seen, issue search and pagination."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.waiting import eventually
from tests.support.api import call
from tests.support.picket import PicketProcess

ORG = "feeds"


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("feeds"), org=ORG,
                         env={"PICKET_FEEDBACK_EDIT_WINDOW": "1"}).start()
    yield proc
    proc.stop()


def _key(p: PicketProcess) -> str:
    return p.dsn.split("//")[1].split("@")[0]


def _project_id(p: PicketProcess) -> str:
    return p.dsn.rsplit("/", 1)[1]


def _store(p: PicketProcess, event: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(
        f"{p.url}/api/{_project_id(p)}/store/",
        json=event,
        headers={"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={_key(p)}, sentry_client=test/1.0", **headers},
    )


def _issues(p: PicketProcess, **params: str) -> list[dict[str, Any]]:
    with p.client() as http:
        return call(http, "GET", f"/api/0/projects/{ORG}/default/issues/", params=params).json()


def test_store_endpoint_accepts_a_json_event(p: PicketProcess) -> None:
    event_id = uuid.uuid4().hex
    response = _store(p, {"event_id": event_id, "message": "stored the old way", "level": "info",
                          "user": {"email": "ann@example.com"}})
    assert response.status_code == 200 and response.json() == {"id": event_id}
    eventually(lambda: _issues(p), lambda v: any(i["title"] == "stored the old way" for i in v))


def test_cors_preflight_and_headers_for_browser_sdks(p: PicketProcess) -> None:
    url = f"{p.url}/api/{_project_id(p)}/envelope/"
    pre = httpx.options(url, headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "x-sentry-auth" in pre.headers["access-control-allow-headers"].lower()
    posted = _store(p, {"message": "from a browser"}, Origin="https://shop.example")
    assert posted.headers["access-control-allow-origin"] == "*"


def test_users_seen_in_events_with_query_prefixes(p: PicketProcess) -> None:
    _store(p, {"message": "user one", "user": {"email": "bob@example.com"}})
    _store(p, {"message": "user two", "user": {"id": "42", "username": "carol"}})
    with p.client() as http:
        users = eventually(
            lambda: call(http, "GET", f"/api/0/projects/{ORG}/default/users/").json(),
            lambda v: {"email:bob@example.com", "id:42"} <= {u["id"] for u in v},
        )
        assert next(u for u in users if u["id"] == "email:bob@example.com")["email"] == "bob@example.com"
        only = call(http, "GET", f"/api/0/projects/{ORG}/default/users/", params={"query": "email:bob"}).json()
        assert [u["id"] for u in only] == ["email:bob@example.com"]
        assert http.get(f"/api/0/projects/{ORG}/default/users/", params={"query": "nonsense"}).status_code == 400


def test_user_feedback_by_token_and_by_dsn_and_409_after_the_edit_window(p: PicketProcess) -> None:
    event_id = uuid.uuid4().hex
    body = {"event_id": event_id, "name": "Jane", "email": "jane@example.com", "comments": "It broke!"}
    with p.client() as http:
        created = call(http, "POST", f"/api/0/projects/{ORG}/default/user-feedback/", json=body)
        assert created.status_code == 200 and created.json()["eventID"] == event_id
        listed = eventually(
            lambda: call(http, "GET", f"/api/0/projects/{ORG}/default/user-feedback/").json(),
            lambda v: any(f["eventID"] == event_id for f in v),
        )
        assert next(f for f in listed if f["eventID"] == event_id)["comments"] == "It broke!"
        time.sleep(1.5)  # the edit window of this Picket is one second
        late = http.post(f"/api/0/projects/{ORG}/default/user-feedback/", json={**body, "comments": "again"})
        assert late.status_code == 409 and late.json()["detail"]
        bad = http.post(f"/api/0/projects/{ORG}/default/user-feedback/", json={**body, "event_id": "nope"})
        assert bad.status_code == 400
    other = uuid.uuid4().hex
    assert _store(p, {"event_id": other, "message": "feedback arrived about me"}).status_code == 200
    by_dsn = httpx.post(f"{p.url}/api/0/projects/{ORG}/default/user-feedback/",
                        json={**body, "event_id": other}, headers={"Authorization": f"DSN {p.dsn}"})
    assert by_dsn.status_code == 200, by_dsn.text
    wrong = httpx.post(f"{p.url}/api/0/projects/{ORG}/default/user-feedback/",
                       json={**body, "event_id": other}, headers={"Authorization": "DSN http://0000@x/1"})
    assert wrong.status_code == 401
    with p.client() as http:  # the feedback shows its event's issue, and the event its feedback
        listed = eventually(lambda: call(http, "GET", f"/api/0/projects/{ORG}/default/user-feedback/").json(),
                            lambda v: any(f["eventID"] == other and f["issue"] for f in v))
        about = next(f for f in listed if f["eventID"] == other)
        assert about["issue"]["title"] == "feedback arrived about me"
        assert next(f for f in listed if f["eventID"] == event_id)["issue"] is None, "no such event stored"
        detail = call(http, "GET", f"/api/0/projects/{ORG}/default/events/{other}/").json()
        assert (detail["userReport"]["eventID"], detail["userReport"]["comments"]) == (other, "It broke!")


def test_issue_search_default_unresolved_and_cursor(p: PicketProcess) -> None:
    # Words, not numbers: message grouping folds numbers, so "issue 1" and "issue 2" are one issue.
    for word in ("alpha", "beta", "gamma"):
        assert _store(p, {"message": f"paged issue {word}"}).status_code == 200
    eventually(lambda: _issues(p, query=""), lambda v: sum(i["title"].startswith("paged issue") for i in v) == 3)
    assert {i["status"] for i in _issues(p)} == {"unresolved"}, "the default query is is:unresolved"
    assert _issues(p, query="is:resolved") == []
    found = _issues(p, query="paged issue beta")
    assert [i["title"] for i in found] == ["paged issue beta"]
    with p.client() as http:
        first = call(http, "GET", f"/api/0/projects/{ORG}/default/issues/", params={"query": "paged", "per_page": "2"})
        assert len(first.json()) == 2 and 'rel="next"; results="true"' in first.headers["link"]
        second = call(http, "GET", f"/api/0/projects/{ORG}/default/issues/",
                      params={"query": "paged", "per_page": "2", "cursor": "2:1:0"})
        assert len(second.json()) == 1
        assert {i["id"] for i in first.json()}.isdisjoint({i["id"] for i in second.json()})
        week = call(http, "GET", f"/api/0/projects/{ORG}/default/issues/", params={"statsPeriod": "14d", "query": ""})
        assert len(week.json()) >= 3
        assert http.get(f"/api/0/projects/{ORG}/default/issues/", params={"statsPeriod": "bogus"}).status_code == 400
        full = call(http, "GET", f"/api/0/projects/{ORG}/default/events/", params={"full": "true"}).json()
        assert full and "entries" in full[0]


def test_an_issues_events_oldest_latest_and_hashes(p: PicketProcess) -> None:
    """Three events of one issue (message grouping folds the numbers): listed newest first in
    pages, the oldest and the latest with their neighbours inside the issue, and the issue's
    one hash with its latest event; all in the reference's shapes."""
    for n in (1, 2, 3):
        assert _store(p, {"message": f"order {n} failed to ship", "level": "error" if n < 3 else "warning",
                          "environment": "prod" if n != 2 else "staging",
                          "timestamp": time.time() - 60 + n}).status_code == 200  # a second apart
    issue = eventually(lambda: _issues(p, query="failed to ship"), lambda v: v and v[0]["count"] == "3")[0]
    in_staging = _issues(p, query="failed to ship", environment="staging")
    assert [(i["id"], i["count"]) for i in in_staging] == [(issue["id"], "1")], "counted in that environment"
    assert _issues(p, query="failed to ship", environment="nowhere") == []
    base = f"/api/0/issues/{issue['id']}"
    with p.client() as http:
        listed = call(http, "GET", f"{base}/events/").json()
        assert [e["message"] for e in listed] == [f"order {n} failed to ship" for n in (3, 2, 1)]
        assert {e["groupID"] for e in listed} == {issue["id"]}
        paged = call(http, "GET", f"{base}/events/", params={"per_page": "2"})
        assert len(paged.json()) == 2 and 'rel="next"; results="true"' in paged.headers["link"]
        filtered = call(http, "GET", f"{base}/events/", params={"query": "level:error", "environment": "prod"}).json()
        assert [e["message"] for e in filtered] == ["order 1 failed to ship"]
        assert len(call(http, "GET", f"{base}/events/", params={"statsPeriod": "1h"}).json()) == 3
        assert call(http, "GET", f"{base}/events/", params={"start": "2020-01-01T00:00:00",
                                                             "end": "2020-01-02T00:00:00"}).json() == []
        assert http.get(f"{base}/events/", params={"query": "(" * 500 + "a:b" + ")" * 500}).status_code == 400
        oldest = call(http, "GET", f"{base}/events/oldest/").json()
        latest = call(http, "GET", f"{base}/events/latest/").json()
        assert (oldest["eventID"], latest["eventID"]) == (listed[-1]["eventID"], listed[0]["eventID"])
        assert (oldest["previousEventID"], oldest["nextEventID"]) == (None, listed[1]["eventID"])
        assert (latest["previousEventID"], latest["nextEventID"]) == (listed[1]["eventID"], None)
        hashes = call(http, "GET", f"{base}/hashes/").json()
        assert len(hashes) == 1 and hashes[0]["latestEvent"]["eventID"] == latest["eventID"]
        assert http.get("/api/0/issues/999999999/events/latest/").status_code == 404
        assert http.get(f"{base}/events/", params={"query": "(level:error"}).status_code == 400


def test_tag_values_of_an_issue_and_of_a_project(p: PicketProcess) -> None:
    for flavour in ("mint", "mint", "lemon"):
        assert _store(p, {"message": "ice cream melted", "tags": {"flavour": flavour}}).status_code == 200
    assert _store(p, {"message": "another issue", "tags": {"flavour": "vanilla"}}).status_code == 200
    issue = eventually(lambda: _issues(p, query="ice cream melted"), lambda v: v and v[0]["count"] == "3")[0]
    eventually(lambda: _issues(p, query="another issue"), lambda v: len(v) == 1)
    with p.client() as http:
        details = call(http, "GET", f"/api/0/issues/{issue['id']}/tags/flavour/").json()
        assert (details["key"], details["totalValues"], details["uniqueValues"]) == ("flavour", 3, 2)
        assert [(v["value"], v["count"]) for v in details["topValues"]] == [("mint", 2), ("lemon", 1)]
        values = call(http, "GET", f"/api/0/issues/{issue['id']}/tags/flavour/values/", params={"sort": "-count"})
        assert [(v["key"], v["value"], v["count"]) for v in values.json()] == [("flavour", "mint", 2),
                                                                            ("flavour", "lemon", 1)]
        project = call(http, "GET", f"/api/0/projects/{ORG}/default/tags/flavour/values/").json()
        assert sorted(v["name"] for v in project) == ["lemon", "mint", "vanilla"]
        searched = call(http, "GET", f"/api/0/projects/{ORG}/default/tags/flavour/values/", params={"query": "AN"})
        assert [v["name"] for v in searched.json()] == ["vanilla"]
        assert http.get(f"/api/0/issues/{issue['id']}/tags/nope/").status_code == 404
        assert http.get(f"/api/0/projects/{ORG}/default/tags/nope/values/").status_code == 404
        assert http.get(f"/api/0/issues/{issue['id']}/tags/flavour/values/", params={"sort": "x"}).status_code == 400


def test_what_a_project_received_shows_in_its_detail_and_lists(p: PicketProcess) -> None:
    from sentry_sdk.envelope import Envelope, Item, PayloadRef

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    assert _store(p, {"message": "seen on the moon", "environment": "moon", "platform": "javascript"}).status_code == 200
    env = Envelope(headers={})
    env.add_item(Item(type="session", payload=PayloadRef(json={
        "sid": uuid.uuid4().hex, "status": "exited", "started": now, "timestamp": now, "attrs": {"release": "r@1"}})))
    env.add_item(Item(type="transaction", payload=PayloadRef(json={
        "event_id": uuid.uuid4().hex, "type": "transaction", "transaction": "/checkout", "start_timestamp": time.time() - 1,
        "timestamp": time.time(), "contexts": {"trace": {"trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16]}}})))
    url = f"{p.url}/api/{_project_id(p)}/envelope/?sentry_key={_key(p)}"
    assert httpx.post(url, content=env.serialize()).status_code == 200
    with p.client() as http:
        feedback = {"event_id": uuid.uuid4().hex, "name": "Ann", "email": "ann@x.io", "comments": "Where am I?"}
        assert call(http, "POST", f"/api/0/projects/{ORG}/default/user-feedback/", json=feedback).status_code == 200
        created = call(http, "POST", f"/api/0/organizations/{ORG}/monitors/", json={
            "project": "default", "name": "activity", "slug": "activity", "type": "cron_job",
            "config": {"schedule_type": "interval", "schedule": [1, "day"]}})
        assert created.status_code == 201, created.text
        detail = eventually(
            lambda: call(http, "GET", f"/api/0/projects/{ORG}/default/").json(),
            lambda d: d["hasSessions"] and d["firstTransactionEvent"] and d["hasMonitors"])
        assert detail["firstEvent"] is not None and "javascript" in detail["platforms"]
        summary = eventually(
            lambda: next(x for x in call(http, "GET", f"/api/0/organizations/{ORG}/projects/").json()
                         if x["slug"] == "default"),
            lambda x: "moon" in x["environments"] and x["hasUserReports"])
        assert summary["firstEvent"] == detail["firstEvent"]
        everywhere = call(http, "GET", "/api/0/projects/").json()
        assert next(x for x in everywhere if x["slug"] == "default")["firstEvent"] == detail["firstEvent"]
        in_org = call(http, "GET", f"/api/0/organizations/{ORG}/").json()["projects"]
        assert next(x for x in in_org if x["slug"] == "default")["firstEvent"] == detail["firstEvent"]
        # The flag stays once set, as Sentry's: a project whose monitor is gone had monitors.
        assert call(http, "DELETE", f"/api/0/organizations/{ORG}/monitors/activity/").status_code == 202
        assert call(http, "GET", f"/api/0/projects/{ORG}/default/").json()["hasMonitors"] is True


def test_key_rate_limit_gives_429_with_sentry_headers(p: PicketProcess) -> None:
    with p.client() as http:
        key = call(http, "POST", f"/api/0/projects/{ORG}/default/keys/", json={"name": "limited"}).json()
        call(http, "PUT", f"/api/0/projects/{ORG}/default/keys/{key['id']}/",
             json={"rateLimit": {"window": 3600, "count": 2}})
    # The gateway caches keys for a few seconds; wait until it sees the limit.
    url = f"{p.url}/api/{key['projectId']}/store/?sentry_key={key['public']}"
    statuses: list[int] = []
    deadline = time.monotonic() + 30
    while 429 not in statuses and time.monotonic() < deadline:
        statuses.append(httpx.post(url, json={"message": "limited"}).status_code)
        time.sleep(0.2)
    limited = httpx.post(url, json={"message": "limited"})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.headers["x-sentry-rate-limits"].split(":")[1] == "error;transaction;security"
    assert limited.json()["detail"]
