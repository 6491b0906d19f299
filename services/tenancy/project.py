"""project(event) -> rows of the `entities` table. Pure.

One row per record a event touches, carrying the aggregate version (the ReplacingMergeTree
version) and the event id it came from, so projecting an event twice leaves the same rows.
"""

from __future__ import annotations

from typing import Any

import msgspec

from picket.schemas import events as e
from picket.schemas.rows import EntityRow

_json = msgspec.json.Encoder()

ENTITY_COLUMNS = EntityRow._fields


def _row(event: Any, kind: str, record: Any, *, org_id: int, parent_id: int = 0,
         slug: str = "", deleted: bool = False, record_id: int | None = None) -> EntityRow:
    return EntityRow(
        kind=kind,
        org_id=org_id,
        id=record.id if record_id is None else record_id,
        parent_id=parent_id,
        slug=slug,
        version=event.meta.version,
        deleted=int(deleted),
        body=_json.encode(record).decode(),
        event_id=event.meta.event_id,
        updated_at=event.meta.timestamp,
    )


def project(event: Any) -> list[EntityRow]:
    match event:
        case e.OrganizationSlugClaimed() | e.OrganizationSlugReleased():
            return []  # the organization row itself carries its slug
        case e.UserCreated():
            return [_row(event, "user", event.user, org_id=0, slug=event.user.email.lower())]
        case e.TokenCreated():
            t = event.token
            return [_row(event, "token", t, org_id=0, parent_id=t.user_id, slug=t.token_hash)]
        case e.OrganizationCreated() | e.OrganizationUpdated():
            o = event.organization
            return [_row(event, "organization", o, org_id=o.id, slug=o.slug)]
        case e.TeamCreated() | e.TeamUpdated() | e.TeamDeletionScheduled():
            t = event.team
            deleted = isinstance(event, e.TeamDeletionScheduled)
            return [_row(event, "team", t, org_id=t.org_id, slug=t.slug, deleted=deleted)]
        case e.ProjectCreated() | e.ProjectUpdated() | e.ProjectDeletionScheduled():
            p = event.project
            deleted = isinstance(event, e.ProjectDeletionScheduled)
            return [_row(event, "project", p, org_id=p.org_id, slug=p.slug, deleted=deleted)]
        case e.KeyCreated() | e.KeyUpdated() | e.KeyDeleted():
            k = event.key
            return [
                _row(event, "key", k, org_id=k.org_id, parent_id=k.project_id, slug=k.public,
                     deleted=isinstance(event, e.KeyDeleted))
            ]
        case e.MemberAdded() | e.MemberUpdated() | e.MemberRemoved():
            m = event.member
            return [
                _row(event, "member", m, org_id=m.org_id, parent_id=m.user_id or 0,
                     slug=m.email.lower(), deleted=isinstance(event, e.MemberRemoved))
            ]
    raise TypeError(f"unknown event {type(event).__name__}")
