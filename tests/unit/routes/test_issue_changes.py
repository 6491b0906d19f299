"""The issue workflow's routes (services/gateway/routes/issue_changes.py) on a fake runtime: what
each request asks of the issues context, and what it refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from picket.schemas.issues import Assignee, DeleteIssues, MergeIssues, StatusDetails, UpdateIssues
from picket.schemas.releases import Release
from picket.store import issues_read, releases_read
from picket.store.issues_read import Group
from tests.support.contract import validate_response
from tests.support.fake_runtime import NOW
from tests.support.gateway_world import World, detail

ISSUES = "/api/0/projects/acme/api/issues/"
ISSUE = "/api/0/issues/77/"


def _group(world: World, group_id: int, days_old: int = 1, status: str = "unresolved") -> Group:
    return Group(id=group_id, project_id=world.project.id, short_number=group_id, type="error", title="ValueError: bad",
                 culprit="app in main", level="error", logger="", platform="python", metadata={"title": "bad"},
                 first_release="",
                 status=status, substatus="", count=4, user_count=1, first_seen=NOW - timedelta(days=days_old),
                 last_seen=NOW)


@pytest.fixture
def issues(world: World) -> World:
    """Issues 77 (unresolved), 78 (unresolved, older), 79 (resolved) in the project."""
    stored = [_group(world, 77), _group(world, 78, days_old=5), _group(world, 79, status="resolved")]

    def groups(projects, group_ids=None, statuses=None, **_):  # type: ignore[no-untyped-def]
        return [g for g in stored if (group_ids is None or g.id in group_ids)
                and (statuses is None or g.status in statuses)]

    world.rt.answer(issues_read.groups, using=groups)
    world.rt.answer(issues_read.group_project, using=lambda gid: world.project.id if gid in (77, 78, 79) else None)
    world.rt.answer(issues_read.hourly_counts, {})
    world.rt.answer(issues_read.group_tags, [])
    return world


def _sent(world: World) -> object:
    [command] = world.rt.bus.commands
    return command


def test_sentry_cli_resolve_by_ids(issues: World) -> None:
    response = issues.put(f"{ISSUES}?id=77&id=78", {"status": "resolved", "snoozeDuration": None})
    assert response.status_code == 200
    validate_response("PUT", "/api/0/projects/{organization_slug}/{project_slug}/issues/", 200, response.json())
    command = _sent(issues)
    assert isinstance(command, UpdateIssues)
    assert (command.project_id, command.group_ids, command.status) == (issues.project.id, (77, 78), "resolved")
    assert command.meta.actor_user_id == issues.owner.id
    assert response.json()["status"] == "resolved"
    assert response.json()["statusDetails"]["actor"]["email"] == "owner@acme.test"


def test_sentry_cli_resolve_all_takes_the_unresolved_issues(issues: World) -> None:
    assert issues.put(ISSUES, {"status": "resolvedInNextRelease"}).status_code == 200
    command = _sent(issues)
    assert command.group_ids == (77, 78)
    assert command.status == "resolved" and command.status_details.in_next_release is True


def test_sentry_cli_mute_by_status_is_ignore(issues: World) -> None:
    response = issues.put(f"{ISSUES}?status=resolved", {"status": "muted"})
    assert response.status_code == 200
    command = _sent(issues)
    assert (command.group_ids, command.status) == ((79,), "ignored")
    assert response.json()["substatus"] == "archived_forever"


def test_a_bulk_change_that_matches_nothing_is_204(issues: World) -> None:
    assert issues.put(f"{ISSUES}?id=5", {"status": "resolved"}).status_code == 204
    assert issues.rt.bus.commands == []


def test_ignore_with_conditions(issues: World) -> None:
    body = {"status": "ignored", "statusDetails": {"ignoreCount": 10, "ignoreWindow": 60, "ignoreDuration": 30}}
    assert issues.put(f"{ISSUES}?id=77", body).status_code == 200
    details = _sent(issues).status_details
    assert (details.ignore_count, details.ignore_window, details.ignore_duration) == (10, 60, 30)


@pytest.mark.parametrize("body, message", [
    ({"status": "fixed"}, "Invalid status: 'fixed'"),
    ({"status": "ignored", "statusDetails": {"ignoreCount": -1}}, "Invalid statusDetails"),
    ({"status": "ignored", "statusDetails": {"ignoreCount": 2**70}}, "Invalid statusDetails"),
    ({"status": "ignored", "statusDetails": {"snoozeForever": True}}, "Invalid statusDetails"),
    ({"status": "ignored", "statusDetails": {"ignoreWindow": 10081}}, "Invalid ignoreWindow"),
    ({"status": "ignored", "ignoreDuration": 10**9}, "Invalid ignoreDuration"),
    ({"status": "resolved", "statusDetails": {"inCommit": {"commit": 5}}}, "Invalid statusDetails"),
    ({"assignedTo": "nobody@example.com"}, "Unknown actor"),
    ({"assignedTo": "team:424242"}, "Unknown team"),
    ({"merge": 1}, "Merging needs two or more issues."),
    ({"isPublic": "yes"}, "Invalid request body"),
])
def test_bad_changes_are_400_and_send_nothing(issues: World, body: dict, message: str) -> None:
    response = issues.put(f"{ISSUES}?id=77", body)
    assert response.status_code == 400
    assert detail(response).startswith(message), detail(response)
    assert issues.rt.bus.commands == []


def test_bad_ids_and_statuses_are_400(issues: World) -> None:
    assert issues.put(f"{ISSUES}?id=abc", {"status": "resolved"}).status_code == 400
    assert issues.put(f"{ISSUES}?status=fixed", {"status": "resolved"}).status_code == 400
    assert issues.put(f"{ISSUES}?query=is:nothing", {"status": "resolved"}).status_code == 400


def test_assign_to_a_member_by_email_a_user_id_or_a_team(issues: World) -> None:
    for value, expected in (("owner@acme.test", Assignee(type="user", id=issues.owner.id)),
                            (f"user:{issues.owner.id}", Assignee(type="user", id=issues.owner.id)),
                            (str(issues.owner.id), Assignee(type="user", id=issues.owner.id)),
                            (f"team:{issues.team.id}", Assignee(type="team", id=issues.team.id)),
                            ("", None), (None, None)):
        issues.rt.bus.sent.clear()
        response = issues.put(f"{ISSUES}?id=77", {"assignedTo": value})
        assert response.status_code == 200, value
        command = _sent(issues)
        assert command.assign and command.assignee == expected
        rendered = response.json()["assignedTo"]
        assert rendered is None if expected is None else rendered["type"] == expected.type


def test_merge_answers_the_parent_and_its_children(issues: World) -> None:
    response = issues.put(f"{ISSUES}?id=77&id=78", {"merge": 1})
    assert response.status_code == 200
    assert isinstance(_sent(issues), MergeIssues)
    validate_response("PUT", "/api/0/projects/{organization_slug}/{project_slug}/issues/", 200, response.json())
    assert response.json()["merge"] == {"parent": "78", "children": ["77"]}  # 78 is the older


def test_bulk_delete_by_ids(issues: World) -> None:
    assert issues.delete(f"{ISSUES}?id=77&id=79").status_code == 204
    command = _sent(issues)
    assert isinstance(command, DeleteIssues) and command.group_ids == (77, 79)


def test_update_one_issue_answers_the_issue(issues: World) -> None:
    response = issues.put(ISSUE, {"status": "ignored", "isBookmarked": True, "hasSeen": True, "isPublic": True})
    assert response.status_code == 200
    validate_response("PUT", "/api/0/issues/{issue_id}/", 200, response.json())
    command = _sent(issues)
    assert command.group_ids == (77,) and command.status == "ignored"
    assert (command.is_bookmarked, command.has_seen, command.is_public) == (True, True, True)
    assert command.share_id and len(command.share_id) == 32
    assert issues.put(ISSUE, {"merge": 1}).status_code == 400


def test_resolve_in_the_latest_release_names_it(issues: World) -> None:
    issues.rt.answer(issues_read.latest_releases, {77: "web@3"})
    assert issues.put(ISSUE, {"status": "resolved", "statusDetails": {"inRelease": "latest"}}).status_code == 200
    command = _sent(issues)
    assert command.status_details == StatusDetails(in_release="web@3")
    assert command.current_releases == {77: "web@3"}


def test_next_release_is_counted_from_the_projects_latest_release(issues: World) -> None:
    """The project's most recent release is current, not the release the issue was last seen in
    (that one is used only while the project has no release)."""
    issues.rt.answer(issues_read.latest_releases, {77: "web@3"})
    issues.rt.answer(releases_read.latest_releases, {
        int(issues.project.id): Release(id=1, org_id=1, version="web@5", date_created=NOW, project_ids=()),
    })
    response = issues.put(ISSUE, {"status": "resolvedInNextRelease"})
    assert response.status_code == 200
    command = _sent(issues)
    assert command.status_details.in_next_release and command.current_releases == {77: "web@5"}


def test_delete_one_issue_is_202(issues: World) -> None:
    assert issues.delete(ISSUE).status_code == 202
    assert isinstance(_sent(issues), DeleteIssues)


def test_statuses_of_the_issue_endpoints(issues: World) -> None:
    assert issues.http.put(ISSUE, json={"status": "resolved"}).status_code == 401
    assert issues.put("/api/0/issues/5/", {"status": "resolved"}).status_code == 404
    assert issues.put(ISSUE, {"status": "resolved"}, token=issues.viewer_token).status_code == 403
    assert issues.put(ISSUE, {"status": "resolved"}, token=issues.stranger_token).status_code == 403
    assert issues.put("/api/0/projects/acme/nope/issues/?id=77", {"status": "resolved"}).status_code == 404
    assert issues.delete(f"{ISSUES}?id=77", token=issues.viewer_token).status_code == 403
    assert issues.rt.bus.commands == []


def test_a_rejected_or_lost_change_is_not_a_success(issues: World) -> None:
    issues.rt.bus.reject_next("invalid", "The change could not be applied.")
    response = issues.put(ISSUE, {"status": "resolved"})
    assert (response.status_code, detail(response)) == (400, "The change could not be applied.")
