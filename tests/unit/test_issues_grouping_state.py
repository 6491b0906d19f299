"""The events consumer's view of a project's issues: which hash is which group, short numbers,
regressions, and the rows each event yields (picket.ingest.issues)."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
import pytest

from picket.schemas.ingest import NormalizedEvent
from picket.ingest.grouping import grouping_hash, metadata
from picket.ingest.issues import (
    EVENT_COLUMNS,
    GROUP_COLUMNS,
    HASH_COLUMNS,
    STATUS_COLUMNS,
    EventRows,
    GroupState,
    ProjectGroups,
    add_event,
    group_id_for,
)
from picket.ingest.normalize import normalize_event

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
PROJECT = 30


def _event(raw: dict, n: int = 1, **kw) -> NormalizedEvent:
    payload = msgspec.json.encode(raw)
    return normalize_event(raw, project_id=PROJECT, received=RECEIVED, event_id=f"{n:032x}", size=len(payload),
                           **kw)


def _error(type_: str = "ValueError", value: str = "bad input", n: int = 1, **extra) -> NormalizedEvent:
    return _event({
        "platform": "python",
        "timestamp": "2024-05-01T11:59:00Z",
        "level": "error",
        "logger": "app.views",
        "release": "web@1.2.3",
        "environment": "production",
        "exception": {"values": [{"type": type_, "value": value, "stacktrace": {"frames": [
            {"function": "save", "module": "app.views", "filename": "app/views.py", "lineno": 12, "in_app": True},
        ]}}]},
        **extra,
    }, n)


def _add(state: ProjectGroups, event: NormalizedEvent, out: EventRows, version: int = 1) -> int:
    return add_event(state, event, grouping_hash(event), metadata(event), version, out)


def _with(hash_: str, group: GroupState, next_number: int = 1) -> ProjectGroups:
    return ProjectGroups(PROJECT, next_number, by_hash={hash_: group.group_id}, groups={group.group_id: group})


def _named(columns: tuple[str, ...], row: tuple) -> dict[str, object]:
    return dict(zip(columns, row, strict=True))


# --- new issues ------------------------------------------------------------------------------


def test_the_first_event_of_a_hash_opens_a_new_unresolved_issue_numbered_one():
    state, out = ProjectGroups(PROJECT), EventRows()
    event = _error()
    hash_ = grouping_hash(event)

    group_id = add_event(state, event, hash_, metadata(event), 1714564800000, out)

    assert group_id == group_id_for(PROJECT, hash_)
    assert out.hashes == [(PROJECT, hash_, group_id)]
    [group] = [_named(GROUP_COLUMNS, r) for r in out.groups]
    assert group["project_id"] == PROJECT
    assert group["group_id"] == group_id
    assert group["short_number"] == 1
    assert group["hash"] == hash_
    assert group["type"] == "error"
    assert group["title"] == "ValueError: bad input"
    assert group["culprit"] == event.culprit
    assert group["level"] == "error"
    assert group["logger"] == "app.views"
    assert group["platform"] == "python"
    assert msgspec.json.decode(group["metadata"]) == metadata(event)
    assert group["first_seen"] == datetime(2024, 5, 1, 11, 59, tzinfo=timezone.utc)
    assert group["first_release"] == "web@1.2.3"
    [status] = [_named(STATUS_COLUMNS, r) for r in out.statuses]
    assert {k: status[k] for k in ("project_id", "group_id", "status", "substatus", "version", "merged_into")} == {
        "project_id": PROJECT, "group_id": group_id, "status": "unresolved", "substatus": "new",
        "version": 1714564800000, "merged_into": 0}
    assert len(out.events) == 1
    assert state.next_number == 2
    assert state.by_hash == {hash_: group_id}
    assert state.groups[group_id].status == "unresolved"
    [created] = out.domain
    assert (created.group_id, created.short_number, created.first_event_id) == (group_id, 1, event.event_id)


def test_another_hash_opens_issue_number_two():
    state, out = ProjectGroups(PROJECT), EventRows()
    first = _add(state, _error("ValueError", n=1), out)
    second = _add(state, _error("KeyError", n=2), out)

    assert first != second
    assert [_named(GROUP_COLUMNS, r)["short_number"] for r in out.groups] == [1, 2]
    assert [r[1] for r in out.statuses] == [first, second]
    assert state.next_number == 3


def test_numbering_continues_from_what_the_project_already_has():
    state, out = ProjectGroups(PROJECT, next_number=46), EventRows()
    _add(state, _error(), out)
    assert _named(GROUP_COLUMNS, out.groups[0])["short_number"] == 46
    assert state.next_number == 47


def test_the_same_hash_again_only_adds_an_event_row():
    state = ProjectGroups(PROJECT)
    first = _add(state, _error(n=1), EventRows())

    out = EventRows()
    again = _add(state, _error(n=2), out)

    assert again == first
    assert out.groups == [] and out.hashes == [] and out.statuses == []
    [row] = [_named(EVENT_COLUMNS, r) for r in out.events]
    assert row["group_id"] == first
    assert row["event_id"] == f"{2:032x}"
    assert state.next_number == 2


def test_a_release_less_default_event_has_an_empty_first_release_and_title_metadata():
    state, out = ProjectGroups(PROJECT), EventRows()
    event = _event({"message": "Disk almost full", "level": "warning"})
    _add(state, event, out)
    group = _named(GROUP_COLUMNS, out.groups[0])
    assert group["type"] == "default"
    assert group["title"] == "Disk almost full"
    assert group["first_release"] == ""
    assert msgspec.json.decode(group["metadata"]) == {"title": "Disk almost full"}


# --- stable group ids ------------------------------------------------------------------------


def test_group_ids_are_stable_per_project_and_hash():
    hash_ = "c4ca4238a0b923820dcc509a6f75849b"
    assert group_id_for(30, hash_) == group_id_for(30, hash_)
    assert group_id_for(31, hash_) != group_id_for(30, hash_)
    assert group_id_for(30, "c81e728d9d4c2f636f067f89cc14862c") != group_id_for(30, hash_)


@pytest.mark.parametrize("project_id", [1, 30, 2**40])
def test_group_ids_are_exact_in_javascript(project_id):
    ids = {group_id_for(project_id, f"{n:032x}") for n in range(500)}
    assert len(ids) == 500
    assert all(0 < i < 2**53 for i in ids)


def test_reprocessing_after_a_crash_assigns_the_same_group():
    # A consumer that lost its state sees the event again: same project, same hash, same group.
    event = _error()
    before = _add(ProjectGroups(PROJECT), event, EventRows())
    after = _add(ProjectGroups(PROJECT), event, EventRows())
    assert before == after


def test_the_same_error_in_another_project_is_another_group():
    event = _error()
    here = add_event(ProjectGroups(30), event, grouping_hash(event), metadata(event), 1, EventRows())
    there = add_event(ProjectGroups(31), event, grouping_hash(event), metadata(event), 1, EventRows())
    assert here != there


# --- regressions -----------------------------------------------------------------------------


def test_an_event_of_a_resolved_issue_reopens_it_as_a_regression():
    event = _error()
    hash_ = grouping_hash(event)
    group_id = group_id_for(PROJECT, hash_)
    state = _with(hash_, GroupState(group_id, "resolved", version=7), next_number=5)

    out = EventRows()
    assert add_event(state, event, hash_, metadata(event), 1714564900000, out) == group_id

    # The regression's row is versioned by when the event was received.
    assert [{k: v for k, v in _named(STATUS_COLUMNS, r).items() if k in ("group_id", "status", "substatus", "version")}
            for r in out.statuses] == [
        {"group_id": group_id, "status": "unresolved", "substatus": "regressed", "version": 1714564800000},
    ]
    assert [(a.type, a.group_id) for a in out.activity] == [("set_regression", group_id)]
    assert out.groups == [] and out.hashes == []
    assert len(out.events) == 1
    assert state.groups[group_id].status == "unresolved"
    assert state.next_number == 5


def test_a_regression_is_recorded_once_for_a_burst_of_events():
    event = _error()
    hash_ = grouping_hash(event)
    state = _with(hash_, GroupState(group_id_for(PROJECT, hash_), "resolved"))
    out = EventRows()
    for n in range(3):
        _add(state, _error(n=n + 1), out)
    assert [r[3] for r in out.statuses] == ["regressed"]
    assert len(out.events) == 3


def test_an_event_of_an_unresolved_issue_changes_no_status():
    event = _error()
    hash_ = grouping_hash(event)
    state = _with(hash_, GroupState(group_id_for(PROJECT, hash_), "unresolved"))
    out = EventRows()
    _add(state, event, out)
    assert out.statuses == []


# --- event rows ------------------------------------------------------------------------------


def test_an_event_row_carries_the_event_its_tags_and_its_body():
    event = _error(tags={"browser": "Firefox", "customer": "acme"},
                   user={"id": "42", "email": "jane@example.com"}, transaction="/checkout")
    state, out = ProjectGroups(PROJECT), EventRows()
    group_id = _add(state, event, out)

    row = _named(EVENT_COLUMNS, out.events[0])
    assert row["project_id"] == PROJECT
    assert row["event_id"] == event.event_id
    assert row["group_id"] == group_id
    assert row["timestamp"] == datetime(2024, 5, 1, 11, 59, tzinfo=timezone.utc)
    assert row["received"] == RECEIVED
    assert (row["type"], row["platform"], row["level"]) == ("error", "python", "error")
    assert row["title"] == "ValueError: bad input"
    assert row["message"] == ""
    assert row["culprit"] == event.culprit == "/checkout"
    assert row["release"] == "web@1.2.3"
    assert row["environment"] == "production"
    assert row["transaction"] == "/checkout"
    assert row["user_tag"] == "id:42"
    assert row["user_email"] == "jane@example.com"
    assert row["hash"] == grouping_hash(event)
    assert row["size"] == event.size > 0
    assert msgspec.json.decode(row["body"], type=NormalizedEvent) == event

    assert len(row["tags_key"]) == len(row["tags_value"]) == len(event.tags)
    tags = dict(zip(row["tags_key"], row["tags_value"]))
    assert tags["browser"] == "Firefox"
    assert tags["customer"] == "acme"
    assert tags["environment"] == "production"
    assert tags["release"] == "web@1.2.3"
    assert tags["level"] == "error"
    assert tags["user"] == "id:42"
    assert list(zip(row["tags_key"], row["tags_value"])) == [tuple(t) for t in event.tags]


def test_an_event_without_user_release_or_environment_has_empty_columns():
    event = _event({"message": "hello"})
    row = _named(EVENT_COLUMNS, _rows_of(event)[0])
    assert row["user_tag"] == ""
    assert row["user_email"] == ""
    assert row["release"] == ""
    assert row["environment"] == ""
    assert row["transaction"] == ""
    assert row["message"] == "hello"


def _rows_of(event: NormalizedEvent) -> list[tuple]:
    out = EventRows()
    _add(ProjectGroups(PROJECT), event, out)
    return out.events


@pytest.mark.parametrize("user,tag", [
    ({"id": "42", "email": "jane@example.com", "username": "jane", "ip_address": "10.0.0.1"}, "id:42"),
    ({"email": "jane@example.com"}, "email:jane@example.com"),
    ({"username": "jane"}, "username:jane"),
    ({"ip_address": "10.0.0.1"}, "ip:10.0.0.1"),
    ({"email": "jane@example.com", "ip_address": "10.0.0.1"}, "email:jane@example.com"),
    ({"username": "jane", "ip_address": "10.0.0.1"}, "username:jane"),
    ({"name": "Jane Doe"}, ""),
])
def test_the_user_tag_names_the_user_by_the_first_identifier_it_has(user, tag):
    row = _named(EVENT_COLUMNS, _rows_of(_event({"message": "m", "user": user}))[0])
    assert row["user_tag"] == tag


def test_the_user_tag_uses_the_client_address_when_the_sdk_asks_for_it():
    event = _event({"message": "m", "user": {"ip_address": "{{auto}}"}}, client_ip="203.0.113.9")
    assert _named(EVENT_COLUMNS, _rows_of(event)[0])["user_tag"] == "ip:203.0.113.9"


def test_the_stored_user_tag_names_the_user_as_the_events_user_tag_does():
    # The users of a project (user_tag) and an issue's `user` tag values must name one person
    # the same way; Sentry prefers the username over the email.
    event = _event({"message": "m", "user": {"username": "jane", "email": "jane@example.com"}})
    row = _named(EVENT_COLUMNS, _rows_of(event)[0])
    assert dict(event.tags)["user"] == "username:jane"
    assert row["user_tag"] == dict(event.tags)["user"]


def test_rows_have_the_columns_their_tables_declare():
    state, out = ProjectGroups(PROJECT), EventRows()
    _add(state, _error(), out)
    assert len(out.events[0]) == len(EVENT_COLUMNS)
    assert len(out.groups[0]) == len(GROUP_COLUMNS)
    assert len(out.statuses[0]) == len(STATUS_COLUMNS)
    assert len(out.hashes[0]) == len(HASH_COLUMNS)
