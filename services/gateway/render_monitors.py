"""Render monitors and check-ins in Sentry's JSON shapes. Pure."""

from __future__ import annotations

from typing import Any

from picket.schemas.monitors import CheckIn, Monitor
from picket.gateway.render import iso
from picket.monitors.schedule import to_api


def monitor(mon: Monitor, project: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(mon.id),
        "name": mon.name,
        "slug": mon.slug,
        "status": mon.status,
        "type": mon.type,
        "config": to_api(mon.config),
        "dateCreated": iso(mon.date_created),
        "project": project,
        # Sentry answers a list of environments (the reference schema shows a single object).
        "environments": [
            {
                "name": env.name,
                "status": env.status,
                "dateCreated": iso(env.date_created),
                "lastCheckIn": iso(env.last_checkin),
                "nextCheckIn": iso(env.next_checkin),
                "nextCheckInLatest": iso(env.next_checkin_latest),
            }
            for env in sorted(mon.environments.values(), key=lambda e: e.name)
        ],
    }


def check_in(c: CheckIn) -> dict[str, Any]:
    return {
        "id": c.id,
        "environment": c.environment,
        "status": c.status,
        "duration": c.duration,
        "dateCreated": iso(c.date_created),
        "dateUpdated": iso(c.date_updated),
        "attachmentId": None,
        "expectedTime": iso(c.expected_time),
        "monitorConfig": to_api(c.monitor_config) if c.monitor_config else None,
    }
