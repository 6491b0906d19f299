"""Events and issues routes (services/gateway/routes/events.py) on a fake runtime."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from picket.schemas.ingest import NormalizedEvent
from picket.ingest.grouping import short_id
from picket.store import issues_read
from picket.store.issues_read import Group, StoredEvent
from tests.support.fake_runtime import NOW
from tests.support.gateway_world import World, detail

EVENTS = "/api/0/projects/acme/api/events/"
ISSUES = "/api/0/projects/acme/api/issues/"
EVENT_ID = "a" * 32


def event(world: World, event_id: str = EVENT_ID, title: str = "ValueError: bad") -> NormalizedEvent:
    return NormalizedEvent(event_id=event_id, project_id=world.project.id, timestamp=NOW, received=NOW,
                           type="error", platform="python", level="error", title=title, message="bad")


def group(world: World, group_id: int = 77, number: int = 3, status: str = "unresolved") -> Group:
    return Group(id=group_id, project_id=world.project.id, short_number=number, type="error",
                 title="ValueError: bad", culprit="app in main", level="error", logger="", platform="python",
                 metadata={}, first_release="", status=status, substatus="", count=4, user_count=1,
                 first_seen=NOW - timedelta(hours=2), last_seen=NOW)


def test_list_project_events(world: World) -> None:
    world.rt.answer(issues_read.events, [StoredEvent(event(world), 77), StoredEvent(event(world, "b" * 32), 78)])
    response = world.get(EVENTS)
    assert response.status_code == 200
    assert [(e["eventID"], e["groupID"]) for e in response.json()] == [(EVENT_ID, "77"), ("b" * 32, "78")]
    assert "entries" not in response.json()[0]
    [(args, kwargs)] = world.rt.reads_of(issues_read.events)
    assert (args, kwargs) == (([world.project.id],), {"group_id": None, "limit": 101, "offset": 0, "condition": None})


def test_list_project_events_reads_a_page_and_its_filters(world: World) -> None:
    world.rt.answer(issues_read.events, [StoredEvent(event(world), 77)] * 3)
    response = world.get(EVENTS, params={"per_page": "2", "cursor": "0:3:0", "query": "level:error",
                                         "environment": "prod"})
    assert len(response.json()) == 2 and 'rel="next"; results="true"' in response.headers["link"]
    [(_, kwargs)] = world.rt.reads_of(issues_read.events)
    assert (kwargs["limit"], kwargs["offset"]) == (3, 6)
    condition = kwargs["condition"]
    assert "environment IN" in condition.sql and "level = " in condition.sql
    assert "prod" in str(condition.params.values()) and "error" in condition.params.values()
    refused = world.get(EVENTS, params={"query": "count():>1"})
    assert (refused.status_code, detail(refused)) == (400, "An event list takes no conditions on functions.")
    refused = world.get(EVENTS, params={"query": "level:error OR"})
    assert (refused.status_code, detail(refused)) == (400, "Condition is missing on the right side of 'OR' operator")


def test_list_project_events_in_full(world: World) -> None:
    world.rt.answer(issues_read.events, [StoredEvent(event(world), 77)])
    response = world.get(EVENTS, params={"full": "true"})
    assert "entries" in response.json()[0]


def test_list_project_events_statuses(world: World) -> None:
    assert world.http.get(EVENTS).status_code == 401
    assert world.get("/api/0/projects/acme/nope/events/").status_code == 404
    assert world.get("/api/0/projects/nope/api/events/").status_code == 404
    assert world.get(EVENTS, token=world.viewer_token).status_code == 403
    assert world.get(EVENTS, token=world.stranger_token).status_code == 403
    assert world.rt.reads_of(issues_read.events) == []


def test_get_project_event_with_its_neighbours(world: World) -> None:
    world.rt.answer(issues_read.events, [StoredEvent(event(world), 77)])
    world.rt.answer(issues_read.neighbours, ("0" * 32, None))
    world.rt.answer(issues_read.feedback, [issues_read.Feedback("f1", EVENT_ID, "Ann", "a@b.c", "It broke.", NOW, 77)])
    response = world.get(f"{EVENTS}AAAAAAAA-AAAA-AAAA-AAAA-AAAAAAAAAAAA/")
    assert response.status_code == 200
    body = response.json()
    assert (body["eventID"], body["groupID"], body["previousEventID"], body["nextEventID"]) == (
        EVENT_ID, "77", "0" * 32, None)
    assert (body["userReport"]["id"], body["userReport"]["comments"]) == ("f1", "It broke.")
    assert world.rt.reads_of(issues_read.feedback) == [((world.project.id, EVENT_ID), {})]
    [(args, kwargs)] = world.rt.reads_of(issues_read.events)
    assert kwargs == {"event_id": EVENT_ID, "limit": 1}


def test_an_event_that_is_not_there_is_404(world: World) -> None:
    world.rt.answer(issues_read.events, [])
    assert world.get(f"{EVENTS}{EVENT_ID}/").status_code == 404
    response = world.get(f"{EVENTS}not-an-id/")
    assert (response.status_code, detail(response)) == (404, "The requested resource does not exist")
    assert len(world.rt.reads_of(issues_read.events)) == 1  # the malformed id is not looked up


def test_list_project_issues_defaults_to_unresolved(world: World) -> None:
    hour = int(datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0).timestamp())
    world.rt.answer(issues_read.groups, [replace(group(world), hourly={hour: 2, hour - 3600: 1})])
    response = world.get(ISSUES)
    assert response.status_code == 200
    [issue] = response.json()
    assert (issue["id"], issue["shortId"], issue["count"]) == ("77", short_id("api", 3), "4")
    assert issue["permalink"] == "http://picket.test/organizations/acme/issues/77/"
    assert issue["stats"]["24h"][-2:] == [[hour - 3600, 1], [hour, 2]]
    [(args, kwargs)] = world.rt.reads_of(issues_read.groups)
    assert args == ([world.project.id],)
    # The store reads a page and one more row (which says whether a next page exists), and the
    # 24 hourly buckets of the stats with the counters.
    series_from = kwargs.pop("series_from")
    assert kwargs == {"statuses": ["unresolved"], "since": None, "text": None, "environments": None,
                      "limit": 101, "offset": 0}
    assert int(series_from.timestamp()) == hour - 23 * 3600
    assert world.rt.reads_of(issues_read.hourly_counts) == []


def test_a_period_shorter_than_the_stats_reads_them_apart(world: World) -> None:
    hour = int(datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0).timestamp())
    world.rt.answer(issues_read.groups, [group(world)])
    world.rt.answer(issues_read.hourly_counts, {77: {hour: 5}})
    [issue] = world.get(ISSUES, params={"statsPeriod": "1h"}).json()
    assert issue["stats"]["24h"][-1] == [hour, 5]
    assert world.rt.reads_of(issues_read.groups)[0][1]["series_from"] is None
    assert len(world.rt.reads_of(issues_read.hourly_counts)) == 1


def test_list_project_issues_pages_in_the_store(world: World) -> None:
    world.rt.answer(issues_read.groups, [group(world, 77), group(world, 78)])
    response = world.get(ISSUES, params={"per_page": "1", "cursor": "1:2:0"})
    assert [i["id"] for i in response.json()] == ["77"]
    assert 'rel="next"; results="true"' in response.headers["link"]
    [(_, kwargs)] = world.rt.reads_of(issues_read.groups)
    assert (kwargs["limit"], kwargs["offset"]) == (2, 2)


def test_list_project_issues_search(world: World) -> None:
    world.rt.answer(issues_read.groups, [])
    response = world.get(ISSUES, params={"query": "is:archived is:resolved  TypeError", "statsPeriod": "24h"})
    assert (response.status_code, response.json()) == (200, [])
    [(_, kwargs)] = world.rt.reads_of(issues_read.groups)
    assert kwargs["statuses"] == ["ignored", "resolved"] and kwargs["text"] == "TypeError"
    assert kwargs["since"] is not None
    world.get(ISSUES, params={"query": 'is:[resolved, archived] "connection reset"', "environment": ["prod", "qa"]})
    assert world.rt.reads_of(issues_read.groups)[-1][1]["statuses"] == ["resolved", "ignored"]
    assert world.rt.reads_of(issues_read.groups)[-1][1]["environments"] == ["prod", "qa"]
    assert world.rt.reads_of(issues_read.groups)[-1][1]["text"] == "connection reset"
    assert world.rt.reads_of(issues_read.hourly_counts) == []  # nothing to count on an empty page


def test_list_project_issues_by_short_id(world: World) -> None:
    world.rt.answer(issues_read.groups, [group(world)])
    world.rt.answer(issues_read.hourly_counts, {})
    response = world.get(ISSUES, params={"query": short_id("api", 3), "shortIdLookup": "1"})
    assert [i["id"] for i in response.json()] == ["77"]
    assert world.rt.reads_of(issues_read.groups)[0][1].keys() == {"short_number", "series_from"}
    assert world.rt.reads_of(issues_read.groups)[0][1]["short_number"] == 3


def test_a_short_id_of_another_project_finds_nothing(world: World) -> None:
    response = world.get(ISSUES, params={"query": short_id("web", 3), "shortIdLookup": "1"})
    assert (response.status_code, response.json()) == (200, [])
    assert world.rt.reads_of(issues_read.groups) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query": "is:sleeping"}, "Invalid search: unknown status 'sleeping'."),
        ({"query": "release:1.0"}, "Invalid search: 'release' is not supported."),
        ({"query": "!is:resolved"}, "Invalid search: '!is' is not supported."),
        ({"query": "has:assignee"}, "Invalid search: 'has:assignee' is not supported."),
        ({"query": "is:resolved OR is:ignored"}, "Invalid search: OR is not supported in issue search."),
        ({"query": "(is:resolved"}, "Parse error at '' (column 13). This is commonly caused by unmatched "
                                    "parentheses. Enclose any text in double quotes."),
        ({"statsPeriod": "forever"}, "Invalid statsPeriod."),
        ({"per_page": "1000"}, "Invalid per_page: must be between 1 and 100"),
    ],
)
def test_list_project_issues_refuses_invalid_queries(world: World, params: dict[str, str], message: str) -> None:
    world.rt.answer(issues_read.groups, [])
    response = world.get(ISSUES, params=params)
    assert (response.status_code, detail(response)) == (400, message)


def issue_reads(world: World) -> None:
    world.rt.answer(issues_read.group_project, using=lambda gid: world.project.id if gid == 77 else None)
    world.rt.answer(issues_read.groups, [group(world)])
    world.rt.answer(issues_read.hourly_counts, {77: {}})
    world.rt.answer(issues_read.group_tags, [{"key": "level", "name": "Level", "totalValues": 4}])


def test_get_issue(world: World) -> None:
    issue_reads(world)
    response = world.get("/api/0/issues/77/")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["project"]["slug"], body["tags"][0]["key"]) == ("77", "api", "level")
    assert "30d" in body["stats"]
    assert world.rt.reads_of(issues_read.groups)[0][1] == {"group_ids": [77]}


def test_an_unknown_issue_is_404(world: World) -> None:
    issue_reads(world)
    for raw in ("78", "x", "99999999999999999999"):
        response = world.get(f"/api/0/issues/{raw}/")
        assert (response.status_code, detail(response)) == (404, "The requested resource does not exist"), raw


def test_an_issue_whose_group_is_gone_is_404(world: World) -> None:
    issue_reads(world)
    world.rt.answer(issues_read.groups, [])
    assert world.get("/api/0/issues/77/").status_code == 404


def test_get_issue_asks_for_a_token_before_anything_else(world: World) -> None:
    response = world.http.get("/api/0/issues/77/")
    assert response.status_code == 401
    assert world.rt.reads == []  # nothing about the issue was looked up


def test_an_issue_of_another_organization_is_403(world: World) -> None:
    issue_reads(world)
    assert world.get("/api/0/issues/77/", token=world.stranger_token).status_code == 403
    assert world.get("/api/0/issues/77/", token=world.viewer_token).status_code == 403


def test_lookup_event_id(world: World) -> None:
    world.rt.answer(issues_read.events, [StoredEvent(event(world), 77)])
    response = world.get(f"/api/0/organizations/acme/eventids/{EVENT_ID}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["organizationSlug"], body["projectSlug"], body["groupId"], body["eventId"]) == (
        "acme", "api", "77", EVENT_ID)
    assert body["event"]["eventID"] == EVENT_ID
    [(args, kwargs)] = world.rt.reads_of(issues_read.events)
    assert (args, kwargs) == (([world.project.id],), {"event_id": EVENT_ID, "limit": 1})


def test_lookup_event_id_not_found(world: World) -> None:
    world.rt.answer(issues_read.events, [])
    assert world.get(f"/api/0/organizations/acme/eventids/{EVENT_ID}/").status_code == 404
    assert world.get("/api/0/organizations/acme/eventids/zz/").status_code == 404
    assert world.get(f"/api/0/organizations/nope/eventids/{EVENT_ID}/").status_code == 404
    assert world.get(f"/api/0/organizations/acme/eventids/{EVENT_ID}/", token=world.viewer_token).status_code == 403


def test_lookup_short_id(world: World) -> None:
    world.rt.answer(issues_read.groups, [group(world)])
    response = world.get(f"/api/0/organizations/acme/shortids/{short_id('api', 3).lower()}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["projectSlug"], body["shortId"], body["groupId"]) == ("api", short_id("api", 3), "77")
    assert "stats" not in body["group"]


@pytest.mark.parametrize("value", ["nodash", short_id("web", 3)])
def test_lookup_short_id_not_found(world: World, value: str) -> None:
    response = world.get(f"/api/0/organizations/acme/shortids/{value}/")
    assert response.status_code == 404


def test_lookup_short_id_of_no_issue_is_404(world: World) -> None:
    world.rt.answer(issues_read.groups, [])
    assert world.get(f"/api/0/organizations/acme/shortids/{short_id('api', 9)}/").status_code == 404


@pytest.mark.parametrize("path", ["events/", "events/latest/", "events/oldest/", "hashes/"])
def test_an_issues_events_and_hashes_answer_401_404_403_as_the_issue_does(world: World, path: str) -> None:
    issue_reads(world)
    world.rt.answer(issues_read.events, [StoredEvent(event(world), 77)])
    world.rt.answer(issues_read.neighbours, (None, None))
    world.rt.answer(issues_read.feedback, [])
    world.rt.answer(issues_read.hashes, [("a" * 32, StoredEvent(event(world), 77))])
    assert world.http.get(f"/api/0/issues/77/{path}").status_code == 401
    assert world.get(f"/api/0/issues/78/{path}").status_code == 404
    assert world.get(f"/api/0/issues/77/{path}", token=world.stranger_token).status_code == 403
    assert world.get(f"/api/0/issues/77/{path}").status_code == 200


def test_the_latest_and_oldest_event_are_read_inside_the_issue(world: World) -> None:
    issue_reads(world)
    world.rt.answer(issues_read.events, [StoredEvent(event(world), 77)])
    world.rt.answer(issues_read.neighbours, ("0" * 32, None))
    world.rt.answer(issues_read.feedback, [])
    latest = world.get("/api/0/issues/77/events/latest/").json()
    assert (latest["eventID"], latest["previousEventID"], latest["nextEventID"]) == (EVENT_ID, "0" * 32, None)
    world.get("/api/0/issues/77/events/oldest/")
    reads = world.rt.reads_of(issues_read.events)
    assert [kw["oldest_first"] for _, kw in reads] == [False, True]
    assert all(kw["group_id"] == 77 and kw["limit"] == 1 for _, kw in reads)
    assert world.rt.reads_of(issues_read.neighbours)[0][0][2] == 77, "neighbours within the issue"
    world.rt.answer(issues_read.events, [])
    assert world.get("/api/0/issues/77/events/latest/").status_code == 404


def test_hashes_with_their_latest_event(world: World) -> None:
    issue_reads(world)
    world.rt.answer(issues_read.hashes, [("a" * 32, StoredEvent(event(world), 77)), ("b" * 32, None)])
    body = world.get("/api/0/issues/77/hashes/").json()
    assert [(h["id"], h["latestEvent"] and h["latestEvent"]["eventID"]) for h in body] == [
        ("a" * 32, EVENT_ID), ("b" * 32, None)]


def test_tag_endpoints_answer_404_for_a_tag_without_values_and_400_for_an_unknown_sort(world: World) -> None:
    issue_reads(world)
    world.rt.answer(issues_read.tag_totals, (0, 0))
    world.rt.answer(issues_read.tag_values, [])
    assert world.get("/api/0/issues/77/tags/nope/").status_code == 404
    assert world.get("/api/0/issues/77/tags/nope/values/").status_code == 404
    assert world.get("/api/0/projects/acme/api/tags/nope/values/").status_code == 404
    assert world.get(f"/api/0/projects/acme/api/tags/{'k' * 201}/values/").status_code == 404
    refused = world.get("/api/0/issues/77/tags/browser/values/", params={"sort": "name"})
    assert (refused.status_code, detail(refused)) == (400, "Invalid sort: use one of -last_seen, -first_seen, -count.")
    assert world.http.get("/api/0/projects/acme/api/tags/browser/values/").status_code == 401
    assert world.get("/api/0/projects/acme/api/tags/browser/values/", token=world.stranger_token).status_code == 403


def test_project_tag_values_search_and_environment_reach_the_read(world: World) -> None:
    seen = datetime(2026, 12, 5, 8, 0, tzinfo=timezone.utc)
    world.rt.answer(issues_read.tag_values, [issues_read.TagValue("Chrome", 4, seen, seen)])
    body = world.get("/api/0/projects/acme/api/tags/browser/values/",
                     params={"query": "chr", "environment": "prod"}).json()
    assert body == [{"key": "browser", "name": "Chrome", "value": "Chrome", "count": 4,
                     "firstSeen": "2026-12-05T08:00:00.000Z", "lastSeen": "2026-12-05T08:00:00.000Z"}]
    [(args, kwargs)] = world.rt.reads_of(issues_read.tag_values)
    assert args[1] == "browser" and (kwargs["contains"], kwargs["environments"], kwargs["order"]) == (
        "chr", ["prod"], "-last_seen")
