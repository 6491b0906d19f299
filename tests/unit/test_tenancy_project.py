"""Scenarios for `project`: events of the tenancy context become rows of the `entities` table.

Each row carries the version of the aggregate and the id of the event it came from, so the
ReplacingMergeTree keeps the newest and a replayed event rewrites an identical row.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from picket.schemas import events as e
from picket.schemas.entities import Member, Organization, Project, ProjectKey, Team, Token, User
from picket.tenancy.project import ENTITY_COLUMNS, EntityRow, project

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)

ORG = Organization(id=1, slug="acme", name="Acme", date_created=T0)
TEAM = Team(id=20, org_id=1, slug="backend", name="Backend", date_created=T0)
PROJECT = Project(id=30, org_id=1, slug="web", name="Web", date_created=T0, team_ids=[20])
KEY = ProjectKey(id=40, org_id=1, project_id=30, label="Default", public="pub40", secret="sec40",
                 date_created=T0)
MEMBER = Member(id=10, org_id=1, email="Owner@Acme.test", role="owner", date_created=T0, user_id=100)
USER = User(id=100, email="Owner@Acme.test", name="Owner", date_joined=T0)
TOKEN = Token(id=5, user_id=100, token_hash="abc123", scopes=["org:read"], date_created=T0)


def meta(version: int) -> e.EventMeta:
    return e.EventMeta(event_id=f"cmd-{version}:0", aggregate="org:1", version=version,
                       timestamp=T0, command_id=f"cmd-{version}")


# (event type, payload, kind, id, org_id, parent_id, slug, deleted)
RECORD_EVENTS = [
    (e.UserCreated, {"user": USER}, "user", 100, 0, 0, "owner@acme.test", 0),
    (e.TokenCreated, {"token": TOKEN}, "token", 5, 0, 100, "abc123", 0),
    (e.OrganizationCreated, {"organization": ORG}, "organization", 1, 1, 0, "acme", 0),
    (e.OrganizationUpdated, {"organization": ORG}, "organization", 1, 1, 0, "acme", 0),
    (e.TeamCreated, {"team": TEAM}, "team", 20, 1, 0, "backend", 0),
    (e.TeamUpdated, {"team": TEAM}, "team", 20, 1, 0, "backend", 0),
    (e.TeamDeletionScheduled, {"team": TEAM}, "team", 20, 1, 0, "backend", 1),
    (e.ProjectCreated, {"project": PROJECT}, "project", 30, 1, 0, "web", 0),
    (e.ProjectUpdated, {"project": PROJECT}, "project", 30, 1, 0, "web", 0),
    (e.ProjectDeletionScheduled, {"project": PROJECT}, "project", 30, 1, 0, "web", 1),
    (e.KeyCreated, {"key": KEY}, "key", 40, 1, 30, "pub40", 0),
    (e.KeyUpdated, {"key": KEY}, "key", 40, 1, 30, "pub40", 0),
    (e.KeyDeleted, {"key": KEY}, "key", 40, 1, 30, "pub40", 1),
    (e.MemberAdded, {"member": MEMBER}, "member", 10, 1, 100, "owner@acme.test", 0),
    (e.MemberUpdated, {"member": MEMBER}, "member", 10, 1, 100, "owner@acme.test", 0),
    (e.MemberRemoved, {"member": MEMBER}, "member", 10, 1, 100, "owner@acme.test", 1),
]
SLUG_EVENTS = [e.OrganizationSlugClaimed, e.OrganizationSlugReleased]


def test_every_event_type_is_covered_here():
    covered = {row[0] for row in RECORD_EVENTS} | set(SLUG_EVENTS)
    assert covered == set(e.TenancyEvent.__args__)


@pytest.mark.parametrize(
    ("event_type", "payload", "kind", "record_id", "org_id", "parent_id", "slug", "deleted"),
    RECORD_EVENTS,
    ids=[row[0].__name__ for row in RECORD_EVENTS],
)
def test_an_event_projects_to_one_row_with_its_version_and_id(
    event_type, payload, kind, record_id, org_id, parent_id, slug, deleted
):
    event = event_type(meta=meta(7), **payload)

    (row,) = project(event)

    assert isinstance(row, EntityRow)
    assert row._fields == ENTITY_COLUMNS
    assert row.version == 7
    assert row.event_id == "cmd-7:0"
    assert row.updated_at == T0
    assert (row.kind, row.id, row.org_id, row.parent_id, row.slug) == (
        kind, record_id, org_id, parent_id, slug,
    )
    assert row.deleted == deleted
    # The body is the whole record, as JSON.
    (record,) = payload.values()
    body = json.loads(row.body)
    assert body["id"] == record.id
    assert set(body) >= {"id"}


@pytest.mark.parametrize("event_type", SLUG_EVENTS, ids=lambda t: t.__name__)
def test_slug_claims_project_to_no_row(event_type):
    """The organization row carries its slug; the slug directory has no rows of its own."""
    assert project(event_type(meta=meta(3), slug="acme", org_id=1)) == []


@pytest.mark.parametrize(
    "event_type", [row[0] for row in RECORD_EVENTS if row[7]], ids=lambda t: t.__name__,
)
def test_deletion_events_mark_the_row_deleted(event_type):
    payload = next(row[1] for row in RECORD_EVENTS if row[0] is event_type)
    (row,) = project(event_type(meta=meta(9), **payload))
    assert row.deleted == 1


@pytest.mark.parametrize(
    ("event_type", "payload"), [row[:2] for row in RECORD_EVENTS],
    ids=[row[0].__name__ for row in RECORD_EVENTS],
)
def test_projecting_the_same_event_twice_gives_equal_rows(event_type, payload):
    event = event_type(meta=meta(4), **payload)
    assert project(event) == project(event)


def test_a_later_version_of_a_record_gives_a_row_with_the_later_version():
    renamed = Team(id=20, org_id=1, slug="platform", name="Platform", date_created=T0)
    (first,) = project(e.TeamCreated(meta=meta(2), team=TEAM))
    (second,) = project(e.TeamUpdated(meta=meta(5), team=renamed))
    assert (first.kind, first.org_id, first.id) == (second.kind, second.org_id, second.id)
    assert second.version > first.version
    assert second.slug == "platform"
    assert json.loads(second.body)["name"] == "Platform"
