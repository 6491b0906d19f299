"""Cron `check_in` items → commands for the monitor they name, and raw rows. Pure.

The raw row keeps the item as received (`checkins_raw`); the `RecordCheckIn` command makes it
part of the monitor's model, decided by the monitor's agent. An SDK's `monitor_config` makes the
command create or update the monitor first (upsert), as the SDKs expect. SDKs send durations in
seconds; commands carry milliseconds.

The accepted outcome names the check-in message by a uuid derived from (check-in id, status), so
an SDK's retry of the same message counts once while a check-in's `in_progress` and its final
status count as the two items they are; a message with the nil id (no id given) is named by its
item instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from picket.schemas.ingest import IngestItem
from picket.schemas.rows import CheckInRawRow
from picket.schemas.monitors import NIL_CHECK_IN_ID, MonitorCommandMeta, RecordCheckIn
from picket.ingest.outcomes import Category
from picket.ingest.processed import Processed, item_key, json_object, number, text
from picket.monitors.schedule import ScheduleError, validate_config
from picket.tenancy.slugs import is_valid_slug

COLUMNS = CheckInRawRow._fields
STATUSES = {"in_progress", "ok", "error"}


@dataclass
class CheckInResult:
    processed: Processed
    command: RecordCheckIn | None = None


def process_checkin_item(item: IngestItem, origin: str) -> CheckInResult:
    out = Processed()
    body, problem = json_object(item.payload)
    if body is None:
        out.reject(item, Category.MONITOR, "invalid_json", detail=problem)
        return CheckInResult(out)
    check_in_id = text(body.get("check_in_id"), 64).replace("-", "").lower()
    slug = text(body.get("monitor_slug"), 50)
    status = body.get("status")
    if len(check_in_id) != 32 or not is_valid_slug(slug) or status not in STATUSES:
        out.reject(item, Category.MONITOR, "invalid_checkin",
                   detail="needs a 32-hex check_in_id, a valid monitor_slug and status in_progress|ok|error")
        return CheckInResult(out)
    config = None
    if isinstance(body.get("monitor_config"), dict):
        try:
            config = validate_config(body["monitor_config"])
        except ScheduleError as exc:
            out.reject(item, Category.MONITOR, "invalid_monitor_config", detail=str(exc))
            return CheckInResult(out)
    seconds = number(body.get("duration"))
    environment = text(body.get("environment"), 64) or "production"
    command = RecordCheckIn(
        meta=MonitorCommandMeta(command_id=f"checkin:{item_key(item, origin)}", at=item.received),
        org_id=item.org_id,
        slug=slug,
        check_in_id=check_in_id,
        environment=environment,
        status=None if status == "in_progress" else status,
        duration=int(seconds * 1000) if seconds is not None and 0 <= seconds < 2**31 / 1000 else None,
        project_id=item.project_id,
        upsert_config=config,
    )
    out.rows.append(CheckInRawRow(
        org_id=item.org_id, project_id=item.project_id, check_in_id=check_in_id, monitor_slug=slug, status=status,
        duration=seconds, environment=environment, payload=item.payload.decode("utf-8", "replace"),
        received=item.received,
    ))
    # Messages without an id (nil) are told apart by their item, not by (id, status).
    named = item_key(item, origin) if check_in_id == NIL_CHECK_IN_ID else check_in_id
    out.accept(item, Category.MONITOR, event_id=message_id(named, status))
    return CheckInResult(out, command)


_MESSAGE_IDS = uuid.UUID("6d0b1f5c-3f0e-4a43-9a4e-2c1b5e0f7a11")


def message_id(check_in_id: str, status: str) -> str:
    """The stable id of one check-in message: (check-in id, status) as a uuid, in hex."""
    return uuid.uuid5(_MESSAGE_IDS, f"{check_in_id}:{status}").hex
