"""Consumers that turn what happens into webhook deliveries: one per public domain topic
(issues, monitors, releases), each in the group `hooks-fanout`, and the part of the events
consumer that tells of stored events (`event_triggers`). A trigger becomes one `Delivery` per
hook or installation that wants it (`picket.integrations.triggers`), published on
`hook-deliveries`, keyed by target, once the trigger's message is processed: a replay makes the
same deliveries (same ids), which the deliverer does not send twice.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import msgspec

from picket.agents.wiring import Wiring
from picket.integrations.directory import Directory
from picket.integrations.triggers import Trigger, app_action, deliveries, hook_name
from picket.runtime.consumer import BatchConsumer
from picket.runtime.steps import Output
from picket.schemas import topics as t
from picket.schemas.ingest import NormalizedEvent

GROUP = "hooks-fanout"
TOPICS = (t.ISSUES_EVENTS, t.MONITORS_EVENTS, t.RELEASES_EVENTS)


def _places(topic: t.Topic, event: dict[str, Any], directory: Directory) -> list[tuple[int, int]]:
    """(organization id, project id) where a public domain event happened."""
    meta = event.get("meta") or {}
    if topic is t.ISSUES_EVENTS:
        project = directory.project(int(meta.get("project_id", 0)))
        return [(project["org_id"], int(project["id"]))] if project else []
    if topic is t.MONITORS_EVENTS:
        _, org, slug = (str(meta.get("aggregate", "")).split(":", 2) + ["", ""])[:3]
        project_id = directory.monitor_project(int(org), slug) if org.isdigit() else None
        return [(int(org), project_id)] if project_id is not None else []
    release = event.get("release") or {}
    return [(int(release.get("org_id", 0)), int(p)) for p in release.get("project_ids", ())]


def domain_triggers(topic: t.Topic, event: dict[str, Any], directory: Directory) -> list[Trigger]:
    name = hook_name(event)
    if name is None:
        return []
    resource, action = app_action(name)
    out = []
    for org_id, project_id in _places(topic, event, directory):
        issue = {"id": str(event.get("group_id", "")), "status": event.get("status"), "title": event.get("title")}
        out.append(Trigger(id=f"{event.get('meta', {}).get('event_id')}:{project_id}", org_id=org_id,
                           project_id=project_id, name=name, hook_body={"action": name, "data": event},
                           resource=resource, action=action, app_data={"issue": issue} if resource else {}))
    return out


def event_triggers(event: NormalizedEvent, org_id: int, group_id: int, alert: bool, public_url: str) -> list[Trigger]:
    """`event.created` (and `event.alert` when the event made a new issue or brought one back)."""
    group = {"id": str(group_id), "title": event.title, "culprit": event.culprit, "level": event.level,
             "url": f"{public_url}/issues/{group_id}/"}
    body = {"id": event.event_id, "eventID": event.event_id, "title": event.title, "message": event.message,
            "platform": event.platform, "level": event.level, "culprit": event.culprit,
            "datetime": event.timestamp.isoformat(), "release": event.release, "environment": event.environment,
            "tags": [list(tag) for tag in event.tags], "issue_id": str(group_id),
            "url": f"{public_url}/issues/{group_id}/events/{event.event_id}/"}
    created = Trigger(id=f"event:{event.event_id}", org_id=org_id, project_id=event.project_id, name="event.created",
                      hook_body={"group": group, "event": body}, resource="error", action="created",
                      app_data={"error": body})
    if not alert:
        return [created]
    return [created, Trigger(id=f"alert:{event.event_id}", org_id=org_id, project_id=event.project_id,
                             name="event.alert", hook_body={"group": group, "event": body})]


def to_deliveries(triggers: list[Trigger], directory: Directory, topics: Any) -> list[Any]:
    """The records of the triggers' deliveries."""
    now = datetime.now(timezone.utc)
    out = []
    for trigger in triggers:
        targets = directory.targets(trigger.org_id, trigger.project_id)
        project = directory.project(trigger.project_id)
        if not targets or project is None:
            continue
        shown = {k: v for k, v in project.items() if k != "org_id"}
        out += [topics.record(t.HOOK_DELIVERIES, d) for d in deliveries(trigger, targets, shown, now)]
    return out


class Fanout:
    def __init__(self, topic: t.Topic, directory: Directory, topics: Any) -> None:
        self._topic = topic
        self._directory = directory
        self._topics = topics

    def _records(self, raw: bytes) -> list[Any]:
        event = msgspec.to_builtins(self._topic.decode(raw))
        return to_deliveries(domain_triggers(self._topic, event, self._directory), self._directory, self._topics)

    async def process(self, msg: Any) -> Output:
        return Output(records=await asyncio.to_thread(self._records, msg.value))


def fanout_consumers(w: Wiring, directory: Directory) -> list[BatchConsumer]:
    out = []
    for topic in TOPICS:
        name = f"hooks-fanout-{topic.name}"
        fanout = Fanout(topic, directory, w.topics)
        out.append(w.consumer(name, topic, GROUP, w.items(name, topic, fanout.process, outcomes=False)))
    return out
