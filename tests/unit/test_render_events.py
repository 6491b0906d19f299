"""Events, issues and feedback rendered in Sentry's JSON shapes, checked against the response
schemas of the endpoints that answer them (tests/support/contract.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from picket.schemas.entities import Organization, Project
from picket.schemas.ingest import NormalizedEvent
from picket.gateway import render_events
from picket.gateway.render_events import (
    event_detail,
    event_summary,
    feedback_item,
    hourly_series,
    IssuePage,
    issue,
    issue_detail,
    release_ref,
    since,
)
from picket.gateway.render_issue_state import People
from picket.gateway.render_releases import issue_release
from picket.schemas.releases import Author, Commit, Deploy, Release
from picket.store.releases_read import Seen
from picket.schemas.entities import Team, User
from picket.store.issues_read import Activity, ReleaseSeen
from picket.ingest.grouping import metadata
from picket.ingest.normalize import normalize_event
from picket.store.issues_read import Feedback, Group
from tests.support.contract import validate_response

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
NOW = datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=timezone.utc)
HOUR = int(datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc).timestamp())
PUBLIC_URL = "http://picket.test:8000"

ORG = Organization(id=1, slug="acme", name="Acme", date_created=T0)
WEB = Project(id=30, org_id=1, slug="web", name="Web", date_created=T0, platform="python")

EVENTS_PATH = "/api/0/projects/acme/web/events/"
ISSUES_PATH = "/api/0/projects/acme/web/issues/"
ISSUE_PATH = "/api/0/issues/123/"
FEEDBACK_PATH = "/api/0/projects/acme/web/user-feedback/"
SDK = {"name": "sentry.python", "version": "2.1.0"}


def _event(raw: dict, n: int = 1) -> NormalizedEvent:
    return normalize_event(raw, project_id=30, received=T0, event_id=f"{n:032x}", size=321)


def _detail_path(event: NormalizedEvent) -> str:
    return f"{EVENTS_PATH}{event.event_id}/"


MESSAGE = _event({
    "message": "Disk almost full",
    "level": "warning",
    "platform": "python",
    "timestamp": "2024-05-01T11:59:00.250Z",
    "sdk": SDK,
    "user": {"id": "42", "email": "jane@example.com", "username": "jane"},
    "tags": {"customer": "acme"},
}, 1)

ERROR = _event({
    "platform": "python",
    "timestamp": "2024-05-01T11:58:00Z",
    "release": "web@1.2.3",
    "environment": "production",
    "sdk": SDK,
    "exception": {"values": [{
        "type": "ValueError",
        "value": "bad input",
        "module": "builtins",
        "mechanism": {"type": "generic", "handled": False},
        "stacktrace": {"frames": [
            {"function": "run", "module": "framework.core", "filename": "framework/core.py", "lineno": 88,
             "in_app": False},
            {"function": "save", "module": "app.views", "filename": "app/views.py", "abs_path": "/srv/app/views.py",
             "lineno": 12, "colno": 4, "in_app": True, "context_line": "    raise ValueError('bad input')",
             "pre_context": ["def save(form):", "    if not form.ok:"], "post_context": [""],
             "vars": {"form": "<Form>"}},
        ]},
    }]},
}, 2)


def _group(event: NormalizedEvent, *, status: str = "unresolved", substatus: str = "new",
           short_number: int = 46, logger: str = "", **state) -> Group:
    return Group(
        id=123, project_id=30, short_number=short_number, type=event.type, title=event.title,
        culprit=event.culprit, level=event.level, logger=logger, platform=event.platform,
        metadata=metadata(event), first_release=event.release or "", status=status, substatus=substatus,
        count=17, user_count=3, first_seen=datetime(2024, 4, 30, 8, 0, tzinfo=timezone.utc),
        last_seen=datetime(2024, 5, 1, 11, 59, 0, 250000, tzinfo=timezone.utc), **state,
    )


# --- event lists -----------------------------------------------------------------------------


def test_project_events_list_answers_the_reference_shape():
    body = [event_summary(MESSAGE, 123), event_summary(ERROR, 124)]
    validate_response("GET", EVENTS_PATH, 200, body)


def test_an_event_summary_names_the_event_its_issue_and_its_user():
    summary = event_summary(MESSAGE, 123)
    assert summary["id"] == summary["eventID"] == f"{1:032x}"
    assert summary["groupID"] == "123"
    assert summary["title"] == "Disk almost full"
    assert summary["message"] == "Disk almost full"
    assert summary["platform"] == "python"
    assert summary["event.type"] == "default"
    assert summary["dateCreated"] == "2024-05-01T11:59:00.250Z"
    assert summary["user"] == {"id": "42", "email": "jane@example.com", "username": "jane", "ip_address": None,
                               "name": None, "data": None}
    assert {"key": "customer", "value": "acme"} in summary["tags"]
    assert {"key": "level", "value": "warning"} in summary["tags"]
    assert summary["tags"] == [{"key": k, "value": v} for k, v in MESSAGE.tags]


def test_an_anonymous_event_has_a_null_user():
    summary = event_summary(_event({"message": "hi"}), 1)
    assert summary["user"] is None
    validate_response("GET", EVENTS_PATH, 200, [summary])


def test_a_user_without_an_id_is_rendered_with_an_empty_id():
    summary = event_summary(_event({"message": "hi", "user": {"email": "x@example.com", "segment": "pro"}}), 1)
    assert summary["user"]["id"] == ""
    assert summary["user"]["data"] == {"segment": "pro"}
    validate_response("GET", EVENTS_PATH, 200, [summary])


# --- event details ---------------------------------------------------------------------------


def test_a_message_event_detail_answers_the_reference_shape():
    body = event_detail(MESSAGE, 123, previous=f"{0:032x}", next_=f"{9:032x}")
    validate_response("GET", _detail_path(MESSAGE), 200, body)

    assert body["previousEventID"] == f"{0:032x}"
    assert body["nextEventID"] == f"{9:032x}"
    assert body["type"] == "default"
    assert body["size"] == 321
    assert body["dateReceived"] == "2024-05-01T12:00:00.000Z"
    assert body["metadata"] == {"title": "Disk almost full"}
    assert body["entries"] == [{"type": "message", "data": {"formatted": "Disk almost full"}}]
    assert body["sdk"] == {"name": "sentry.python", "version": "2.1.0"}
    assert body["fingerprints"] == ["{{ default }}"]
    assert body["errors"] == []
    assert body["userReport"] is None


def test_an_event_detail_carries_its_release_as_the_projects_events_know_it():
    seen = ReleaseSeen("web@1.2.3", datetime(2024, 4, 30, tzinfo=timezone.utc), NOW, 4)
    body = event_detail(ERROR, 123, release=release_ref(seen, WEB))
    validate_response("GET", _detail_path(ERROR), 200, body)
    release = body["release"]
    assert (release["version"], release["newGroups"], release["firstEvent"]) == (
        "web@1.2.3", 4, "2024-04-30T00:00:00.000Z")
    assert [p["slug"] for p in release["projects"]] == [WEB.slug]


def test_the_first_and_last_events_have_no_neighbours():
    body = event_detail(MESSAGE, 123)
    assert body["previousEventID"] is None and body["nextEventID"] is None


def test_an_event_detail_carries_normalization_errors_as_sentry_does():
    event = _event({"message": "m", "sdk": SDK, "level": "loud"})
    body = event_detail(event, 1)
    assert body["errors"], "an invalid level is reported"
    assert all(set(e) == {"type", "message", "data"} for e in body["errors"])
    validate_response("GET", _detail_path(event), 200, body)


def test_an_error_event_detail_renders_its_exception_and_stack():
    body = event_detail(ERROR, 124)

    assert body["type"] == "error"
    assert body["metadata"] == {"type": "ValueError", "value": "bad input"}
    [exception] = [e for e in body["entries"] if e["type"] == "exception"]
    assert exception["data"]["hasSystemFrames"] is True
    [value] = exception["data"]["values"]
    assert (value["type"], value["value"], value["module"]) == ("ValueError", "bad input", "builtins")
    assert value["mechanism"] == {"type": "generic", "handled": False}
    system, app = value["stacktrace"]["frames"]
    assert system["inApp"] is False and system["context"] == [] and system["vars"] is None
    assert app["function"] == "save"
    assert app["filename"] == "app/views.py"
    assert app["absPath"] == "/srv/app/views.py"
    assert (app["lineNo"], app["colNo"], app["inApp"]) == (12, 4, True)
    assert app["context"] == [[10, "def save(form):"], [11, "    if not form.ok:"],
                              [12, "    raise ValueError('bad input')"], [13, ""]]
    assert app["vars"] == {"form": "<Form>"}


def test_an_error_event_detail_answers_the_reference_shape():
    validate_response("GET", _detail_path(ERROR), 200, event_detail(ERROR, 124))


def test_an_event_sent_without_sdk_information_answers_the_reference_shape():
    event = _event({"message": "from curl"})
    body = event_detail(event, 1)
    validate_response("GET", _detail_path(event), 200, body)


def test_an_event_with_breadcrumbs_answers_the_reference_shape():
    event = _event({"message": "after clicks", "sdk": SDK, "breadcrumbs": {"values": [
        {"timestamp": "2024-05-01T11:58:59Z", "type": "default", "category": "ui.click", "level": "info",
         "message": "button#save", "data": {}},
    ]}})
    body = event_detail(event, 1)
    [crumbs] = [e for e in body["entries"] if e["type"] == "breadcrumbs"]
    assert crumbs["data"]["values"][0]["category"] == "ui.click"
    validate_response("GET", _detail_path(event), 200, body)


def test_an_event_with_a_request_answers_the_reference_shape():
    event = _event({"message": "bad request", "sdk": SDK, "request": {
        "url": "https://shop.example.com/checkout?step=2", "method": "POST",
        "headers": {"User-Agent": "Firefox"}, "query_string": "step=2",
    }})
    body = event_detail(event, 1)
    [request] = [e for e in body["entries"] if e["type"] == "request"]
    assert request["data"]["url"] == "https://shop.example.com/checkout?step=2"
    validate_response("GET", _detail_path(event), 200, body)


# --- issues ----------------------------------------------------------------------------------


@pytest.mark.parametrize("event", [MESSAGE, ERROR], ids=["default", "error"])
def test_project_issues_list_answers_the_reference_shape(event):
    body = [issue(_group(event), WEB, ORG, PUBLIC_URL, {HOUR: 4}, NOW)]
    validate_response("GET", ISSUES_PATH, 200, body)


@pytest.mark.parametrize("status", ["resolved", "unresolved", "ignored"])
def test_issues_in_every_status_answer_the_reference_shape(status):
    body = [issue(_group(ERROR, status=status, substatus=""), WEB, ORG, PUBLIC_URL, None, NOW)]
    validate_response("GET", ISSUES_PATH, 200, body)


def test_an_issue_shows_its_short_id_counts_and_link():
    rendered = issue(_group(ERROR, logger="app.views"), WEB, ORG, PUBLIC_URL, {HOUR: 4, HOUR - 3600: 2}, NOW)

    assert rendered["id"] == "123"
    assert rendered["shortId"] == "WEB-1E"
    assert rendered["permalink"] == "http://picket.test:8000/organizations/acme/issues/123/"
    assert rendered["title"] == "ValueError: bad input"
    assert rendered["count"] == "17"
    assert rendered["userCount"] == 3
    assert rendered["status"] == "unresolved"
    assert rendered["substatus"] == "new"
    assert rendered["logger"] == "app.views"
    assert rendered["project"] == {"id": "30", "name": "Web", "slug": "web"}
    assert rendered["firstSeen"] == "2024-04-30T08:00:00.000Z"
    assert rendered["lastSeen"] == "2024-05-01T11:59:00.250Z"
    assert rendered["metadata"]["type"] == "ValueError"
    series = rendered["stats"]["24h"]
    assert len(series) == 24
    assert series[-1] == [HOUR, 4]
    assert series[-2] == [HOUR - 3600, 2]
    assert sum(c for _, c in series) == 6


def test_an_issue_without_logger_or_substatus_renders_them_as_null():
    rendered = issue(_group(MESSAGE, substatus=""), WEB, ORG, PUBLIC_URL, None, NOW)
    assert rendered["logger"] is None
    assert rendered["substatus"] is None
    assert all(c == 0 for _, c in rendered["stats"]["24h"])


def test_issue_details_answer_the_reference_shape():
    tags = [{"key": "level", "name": "level", "totalValues": 17, "uniqueValues": 1,
             "topValues": [{"key": "level", "name": "error", "value": "error", "count": 17}]}]
    body = issue_detail(_group(ERROR), WEB, ORG, PUBLIC_URL, IssuePage({HOUR: 4}, tags, 2), NOW)
    validate_response("GET", ISSUE_PATH, 200, body)

    assert body["tags"] == tags
    assert body["userReportCount"] == 2
    assert body["activity"] == [{"id": "0", "type": "first_seen", "data": {},
                                 "dateCreated": "2024-04-30T08:00:00.000Z", "user": None}]
    assert body["shortId"] == "WEB-1E"


def test_issue_details_have_thirty_daily_buckets_ending_today():
    day = 86400
    today = HOUR - HOUR % day
    counts = {HOUR: 4, HOUR - 3600: 1, today - day + 5 * 3600: 7, today - 10 * day: 2, today - 40 * day: 99}
    body = issue_detail(_group(ERROR), WEB, ORG, PUBLIC_URL, IssuePage(counts, [], 0), NOW)

    daily = body["stats"]["30d"]
    assert len(daily) == 30
    assert all(t % day == 0 for t, _ in daily)
    assert [t for t, _ in daily] == list(range(today - 29 * day, today + 1, day))
    by_day = dict((t, c) for t, c in daily)
    assert by_day[today] == 5
    assert by_day[today - day] == 7
    assert by_day[today - 10 * day] == 2
    assert sum(by_day.values()) == 14  # the count 40 days ago is outside the period
    assert body["stats"]["24h"] == hourly_series(counts, NOW)


# --- feedback --------------------------------------------------------------------------------


def test_user_feedback_list_answers_the_reference_shape():
    created = datetime(2024, 5, 1, 11, 0, 0, 5000, tzinfo=timezone.utc)
    body = [
        feedback_item(Feedback("f" * 32, "a" * 32, "Jane", "jane@example.com", "It broke.", created, 7)),
        feedback_item(Feedback("e" * 32, "", "", "", "Love it", created, None)),
    ]
    validate_response("GET", FEEDBACK_PATH, 200, body)

    about, general = body
    assert about == {
        "id": "f" * 32, "eventID": "a" * 32, "event": {"eventID": "a" * 32, "id": "a" * 32},
        "name": "Jane", "email": "jane@example.com", "comments": "It broke.",
        "dateCreated": "2024-05-01T11:00:00.005Z", "issue": None, "user": None,
    }
    assert general["event"] == {"eventID": "", "id": None}


# --- time series and periods -----------------------------------------------------------------


def test_the_hourly_series_has_24_zero_filled_buckets_ending_at_the_current_hour():
    series = hourly_series({}, NOW)
    assert len(series) == 24
    assert series[-1] == [HOUR, 0]
    assert series[0] == [HOUR - 23 * 3600, 0]
    assert [t for t, _ in series] == list(range(HOUR - 23 * 3600, HOUR + 1, 3600))
    assert all(c == 0 for _, c in series)


def test_the_hourly_series_places_counts_in_their_hour_and_ignores_others():
    counts = {HOUR: 3, HOUR - 5 * 3600: 8, HOUR - 24 * 3600: 50, HOUR + 3600: 60, HOUR - 1800: 70}
    series = dict((t, c) for t, c in hourly_series(counts, NOW))
    assert series[HOUR] == 3
    assert series[HOUR - 5 * 3600] == 8
    assert sum(series.values()) == 11


def test_the_hourly_series_at_the_top_of_the_hour_ends_with_that_hour():
    series = hourly_series({}, datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc))
    assert series[-1][0] == HOUR


def test_the_hourly_series_defaults_to_now():
    before = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    series = render_events.hourly_series({})
    after = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    assert len(series) == 24
    assert series[-1][0] in {int(before.timestamp()), int(after.timestamp())}


def test_the_hourly_series_can_span_other_lengths():
    assert len(hourly_series({}, NOW, hours=24 * 30)) == 720


@pytest.mark.parametrize("period,expected", [
    ("24h", timedelta(hours=24)),
    ("14d", timedelta(days=14)),
    ("2w", timedelta(days=14)),
    ("30m", timedelta(minutes=30)),
    ("90s", timedelta(seconds=90)),
    ("1d", timedelta(days=1)),
])
def test_a_stats_period_is_a_duration(period, expected):
    assert since(period) == expected


@pytest.mark.parametrize("period", ["bogus", "", "h", "24", "24H", "-1h", "1.5h", "24hh", " 24h", "1y"])
def test_a_malformed_stats_period_is_none(period):
    assert since(period) is None


@pytest.mark.parametrize("period", ["²h", "99999999999d"], ids=["superscript-digit", "beyond-timedelta"])
def test_a_stats_period_from_a_query_string_never_raises(period):
    # `statsPeriod` is user input: a value that is not a representable duration is malformed.
    assert since(period) is None


# --- the issue workflow's state --------------------------------------------------------------

JANE = User(id=7, email="jane@example.com", name="Jane", date_joined=NOW)
BACKEND = Team(id=9, org_id=1, slug="backend", name="Backend", date_created=NOW)


def test_a_resolved_issue_shows_its_release_and_who_resolved_it():
    group = _group(ERROR, status="resolved", substatus="",
                   status_details={"in_next_release": True, "actor_user_id": 7, "current_release": "web@1"})
    rendered = issue(group, WEB, ORG, PUBLIC_URL, None, NOW, people=People(users={7: JANE}))
    assert rendered["status"] == "resolved"
    assert rendered["statusDetails"] == {
        "inNextRelease": True, "actor": {"id": "7", "name": "Jane", "username": "jane@example.com",
                                         "email": "jane@example.com"}}


def test_an_ignored_issue_shows_its_conditions():
    group = _group(ERROR, status="ignored", substatus="archived_until_condition_met",
                   status_details={"ignore_count": 100, "ignore_window": 60, "ignore_until": "2024-05-02T00:00:00Z"})
    details = issue(group, WEB, ORG, PUBLIC_URL, None, NOW)["statusDetails"]
    assert details == {"ignoreCount": 100, "ignoreWindow": 60, "ignoreUntil": "2024-05-02T00:00:00Z",
                       "ignoreUserCount": None, "ignoreUserWindow": None}


def test_an_issue_shows_its_assignee_share_id_and_the_viewers_flags():
    people = People(users={7: JANE}, teams={9: BACKEND})
    by_user = issue(_group(ERROR, assignee="user:7", share_id="abc"), WEB, ORG, PUBLIC_URL, None, NOW,
                    {"is_bookmarked": True, "has_seen": True}, people)
    assert by_user["assignedTo"] == {"type": "user", "id": "7", "name": "Jane", "email": "jane@example.com"}
    assert (by_user["isPublic"], by_user["shareId"]) == (True, "abc")
    assert (by_user["isBookmarked"], by_user["hasSeen"], by_user["isSubscribed"]) == (True, True, False)
    by_team = issue(_group(ERROR, assignee="team:9"), WEB, ORG, PUBLIC_URL, None, NOW, None, people)
    assert by_team["assignedTo"] == {"type": "team", "id": "9", "name": "backend"}
    assert (by_team["isPublic"], by_team["shareId"], by_team["isBookmarked"]) == (False, None, False)


def test_issue_details_show_activity_seen_by_participants_and_releases():
    at = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
    page = IssuePage({}, [], 0, people=People(users={7: JANE}),
                     activity=[Activity("c:0", "assigned", 7, {"assignee": "7", "assigneeType": "user"}, at)],
                     seen_by=[(7, at)], participants=[7], last_release="web@2")
    # the first release is in the releases projection (with a commit, a deploy, an author), the
    # last is known from events only
    first = Release(id=5, org_id=ORG.id, version=ERROR.release, date_created=at, project_ids=(WEB.id,),
                    commit_count=1, last_commit=Commit(id="a" * 40, repository="acme/web"),
                    authors=(Author(name="Jane", email="jane@example.com"),), deploy_count=1,
                    last_deploy=Deploy(id=77, environment="prod", date_finished=at))
    seen = Seen(first_event=at, last_event=at + timedelta(hours=1), new_groups=2)
    page.releases[ERROR.release] = issue_release(ERROR.release, first, WEB, seen, at)
    page.releases["web@2"] = issue_release("web@2", None, WEB, Seen(), at)
    body = issue_detail(_group(ERROR), WEB, ORG, PUBLIC_URL, page, NOW)
    validate_response("GET", ISSUE_PATH, 200, body)
    assert body["activity"][0] == {"id": "c:0", "type": "assigned", "dateCreated": "2024-05-01T09:00:00.000Z",
                                   "data": {"assignee": "7", "assigneeType": "user", "assigneeEmail": "jane@example.com"},
                                   "user": {"id": "7", "name": "Jane", "username": "jane@example.com",
                                            "email": "jane@example.com"}}
    assert body["activity"][-1]["type"] == "first_seen"
    assert [u["id"] for u in body["seenBy"]] == ["7"] and body["seenBy"][0]["lastSeen"] == "2024-05-01T09:00:00.000Z"
    assert [u["id"] for u in body["participants"]] == ["7"]
    assert body["firstRelease"]["version"] == ERROR.release
    assert (body["firstRelease"]["lastCommit"], body["firstRelease"]["lastDeploy"]) == ("a" * 40, "77")
    assert body["firstRelease"]["authors"] == ["jane@example.com"]
    assert (body["firstRelease"]["newGroups"], body["firstRelease"]["lastEvent"]) == (2, "2024-05-01T10:00:00.000Z")
    assert body["firstRelease"]["projects"] == [{"name": WEB.name, "slug": WEB.slug}]
    last = body["lastRelease"]
    assert (last["version"], last["shortVersion"], last["commitCount"], last["lastCommit"]) == ("web@2", "2", 0, None)
    assert last["firstEvent"] == last["dateCreated"] == "2024-05-01T09:00:00.000Z"
    # an issue whose events name no release has neither
    bare = issue_detail(_group(ERROR), WEB, ORG, PUBLIC_URL, IssuePage({}, [], 0), NOW)
    assert (bare["firstRelease"], bare["lastRelease"]) == (None, None)
