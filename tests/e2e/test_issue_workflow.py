"""The issue workflow through a real `picket run`: the real `sentry-cli` resolves, mutes and
unresolves issues the real `sentry-sdk` made; the API assigns, bookmarks, shares, merges and
deletes them; ignores end as events come; every answer is checked against the reference schema
(`call`), and each change is on the public `issues-events` topic."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from aiokafka import AIOKafkaConsumer, TopicPartition

from picket.schemas import topics as t
from tests.e2e.test_sentry_cli import _sentry_cli
from tests.support.api import call
from tests.support.picket import PicketProcess
from tests.support.waiting import eventually

ORG = "triage"
ISSUES = f"/api/0/projects/{ORG}/default/issues/"


def _raise(p: PicketProcess, kind: type[Exception], message: str, release: str = "app@1") -> None:
    sentry_sdk.init(dsn=p.dsn, default_integrations=False, release=release)
    try:
        try:
            raise kind(message)
        except kind:
            sentry_sdk.capture_exception()
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("triage"), org=ORG).start()
    yield proc
    proc.stop()


def _issues(p: PicketProcess, query: str = "") -> list[dict[str, Any]]:
    with p.client() as http:
        return call(http, "GET", ISSUES, params={"query": query}).json()


def _issue(p: PicketProcess, issue_id: str) -> dict[str, Any]:
    with p.client() as http:
        return call(http, "GET", f"/api/0/issues/{issue_id}/").json()


def _new_issue(p: PicketProcess, kind: type[Exception], message: str) -> dict[str, Any]:
    """Send one exception; the issue it opens."""
    before = {i["id"] for i in _issues(p)}
    _raise(p, kind, message)
    fresh = eventually(lambda: [i for i in _issues(p) if i["id"] not in before], lambda found: len(found) == 1)
    return fresh[0]


def _cli(p: PicketProcess, *args: str) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(p.data_dir), "SENTRY_URL": p.url,
           "SENTRY_AUTH_TOKEN": p.token, "SENTRY_DISABLE_UPDATE_CHECK": "1"}
    out = subprocess.run([_sentry_cli(), "issues", *args, "--org", ORG, "--project", "default"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"sentry-cli issues {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"


def test_sentry_cli_resolves_mutes_and_unresolves(p: PicketProcess) -> None:
    first = _new_issue(p, KeyError, "cart")
    second = _new_issue(p, ValueError, "price")

    _cli(p, "resolve", "-i", first["id"])
    resolved = _issue(p, first["id"])
    assert resolved["status"] == "resolved"
    assert resolved["statusDetails"]["actor"]["id"]
    assert resolved["activity"][0]["type"] == "set_resolved"
    assert {i["id"] for i in _issues(p, "is:unresolved")} >= {second["id"]}
    assert first["id"] not in {i["id"] for i in _issues(p, "is:unresolved")}

    _cli(p, "mute", "-i", second["id"])
    assert _issue(p, second["id"])["status"] == "ignored"
    assert [i["id"] for i in _issues(p, "is:ignored")] == [second["id"]]

    _cli(p, "unresolve", "-i", first["id"])
    assert _issue(p, first["id"])["status"] == "unresolved"

    _cli(p, "resolve", "--all")  # PUT without a query string: every unresolved issue
    assert _issues(p, "is:unresolved") == []
    assert _issue(p, first["id"])["status"] == "resolved"
    assert _issue(p, second["id"])["status"] == "ignored"  # not unresolved: left alone

    _cli(p, "unresolve", "-s", "muted")
    assert _issue(p, second["id"])["status"] == "unresolved"


def test_a_new_event_regresses_a_resolved_issue_but_not_one_resolved_in_the_next_release(p: PicketProcess) -> None:
    issue = _new_issue(p, TypeError, "regress")
    with p.client() as http:
        call(http, "PUT", f"/api/0/issues/{issue['id']}/", json={"status": "resolvedInNextRelease"})
    assert _issue(p, issue["id"])["statusDetails"]["inNextRelease"] is True
    _raise(p, TypeError, "regress", release="app@1")  # the release it was resolved in: no regression
    eventually(lambda: _issue(p, issue["id"]), lambda found: found["count"] == "2")
    assert _issue(p, issue["id"])["status"] == "resolved"
    _raise(p, TypeError, "regress", release="app@2")  # the next release: it is back
    regressed = eventually(lambda: _issue(p, issue["id"]), lambda found: found["status"] == "unresolved")
    assert regressed["substatus"] == "regressed"
    assert regressed["activity"][0]["type"] == "set_regression"
    assert regressed["activity"][0]["data"] == {"version": "app@2"}


def test_an_ignore_until_a_count_ends_when_the_count_is_reached(p: PicketProcess) -> None:
    issue = _new_issue(p, LookupError, "snooze")
    with p.client() as http:
        answer = call(http, "PUT", f"/api/0/issues/{issue['id']}/",
                      json={"status": "ignored", "statusDetails": {"ignoreCount": 2}}).json()
    assert (answer["status"], answer["statusDetails"]["ignoreCount"]) == ("ignored", 2)
    _raise(p, LookupError, "snooze")
    eventually(lambda: _issue(p, issue["id"]), lambda found: found["count"] == "2")
    assert _issue(p, issue["id"])["status"] == "ignored"
    _raise(p, LookupError, "snooze")
    back = eventually(lambda: _issue(p, issue["id"]), lambda found: found["status"] == "unresolved")
    assert back["substatus"] == "escalating"


def test_assign_bookmark_see_and_share(p: PicketProcess) -> None:
    issue = _new_issue(p, IndexError, "assign")
    with p.client() as http:
        me = call(http, "GET", f"/api/0/organizations/{ORG}/users/").json()[0]
        answer = call(http, "PUT", f"/api/0/issues/{issue['id']}/", json={
            "assignedTo": me["email"], "isBookmarked": True, "hasSeen": True, "isSubscribed": True,
            "isPublic": True}).json()
    assert answer["assignedTo"]["type"] == "user" and answer["assignedTo"]["email"] == me["email"]
    assert (answer["isBookmarked"], answer["hasSeen"], answer["isSubscribed"], answer["isPublic"]) == (True,) * 4
    assert answer["shareId"]
    assert [u["email"] for u in answer["seenBy"]] == [me["email"]]
    assert [u["email"] for u in answer["participants"]] == [me["email"]]
    assert {a["type"] for a in answer["activity"]} >= {"assigned", "set_public"}
    listed = next(i for i in _issues(p) if i["id"] == issue["id"])
    assert listed["assignedTo"]["email"] == me["email"] and listed["isBookmarked"] is True
    with p.client() as http:
        call(http, "PUT", f"/api/0/issues/{issue['id']}/", json={"assignedTo": "", "isPublic": False})
        refused = call(http, "PUT", f"/api/0/issues/{issue['id']}/", json={"assignedTo": "ghost@nowhere.test"})
    assert refused.status_code == 400
    after = _issue(p, issue["id"])
    assert (after["assignedTo"], after["isPublic"], after["shareId"]) == (None, False, None)


def test_merge_moves_events_and_hashes_into_the_oldest(p: PicketProcess) -> None:
    older = _new_issue(p, ArithmeticError, "merge a")
    newer = _new_issue(p, ZeroDivisionError, "merge b")
    with p.client() as http:
        answer = call(http, "PUT", ISSUES, params=[("id", older["id"]), ("id", newer["id"])], json={"merge": 1})
        assert answer.json()["merge"] == {"parent": older["id"], "children": [newer["id"]]}
        parent = eventually(lambda: _issue(p, older["id"]), lambda found: found["count"] == "2")
        assert parent["activity"][0]["type"] == "merge"
        hashes = call(http, "GET", f"/api/0/issues/{older['id']}/hashes/").json()
        assert len(hashes) == 2
        events = call(http, "GET", f"/api/0/issues/{older['id']}/events/").json()
        assert len(events) == 2 and {e["groupID"] for e in events} == {older["id"]}
    assert _issue(p, newer["id"])["id"] == older["id"]  # the merged issue stands for its parent
    assert newer["id"] not in {i["id"] for i in _issues(p, "")}
    _raise(p, ZeroDivisionError, "merge b")  # the child's hash now belongs to the parent
    eventually(lambda: _issue(p, older["id"]), lambda found: found["count"] == "3")


def test_delete_removes_the_issue_and_its_events_and_a_new_event_opens_another(p: PicketProcess) -> None:
    issue = _new_issue(p, FloatingPointError, "delete me")
    with p.client() as http:
        assert call(http, "DELETE", f"/api/0/issues/{issue['id']}/").status_code == 202
        assert call(http, "GET", f"/api/0/issues/{issue['id']}/").status_code == 404
        events = call(http, "GET", f"/api/0/projects/{ORG}/default/events/", params={"query": "delete me"}).json()
        assert events == []
    again = _new_issue(p, FloatingPointError, "delete me")
    assert again["id"] != issue["id"] and again["count"] == "1"
    with p.client() as http:
        assert call(http, "DELETE", ISSUES, params={"id": again["id"]}).status_code == 204
    assert again["id"] not in {i["id"] for i in _issues(p, "")}


async def _issue_events(p: PicketProcess) -> list[dict[str, Any]]:
    topic = t.ISSUES_EVENTS.full_name(p.prefix)
    consumer = AIOKafkaConsumer(bootstrap_servers=p.bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, n) for n in range(t.ISSUES_EVENTS.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[dict[str, Any]] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                out += [json.loads(m.value) for m in messages]
        return out
    finally:
        await consumer.stop()


def test_subscribers_see_every_kind_of_change(p: PicketProcess) -> None:
    """Runs after the tests above, which made every kind of change."""
    kinds = {e["type"] for e in asyncio.run(_issue_events(p))}
    assert kinds >= {"issue_created", "issue_status_changed", "issue_regressed", "issue_assigned",
                     "issue_user_flags", "issue_shared", "issue_merged", "issue_deleted"}
