"""Cron `check_in` items → `checkins_raw` rows, kept as received for the monitors model. Pure."""

from __future__ import annotations

from schemas.ingest import IngestItem
from services.ingest.outcomes import Category
from services.ingest.processed import Processed, json_object, number, text

COLUMNS = ("org_id", "project_id", "check_in_id", "monitor_slug", "status", "duration", "environment",
           "payload", "received")
STATUSES = {"in_progress", "ok", "error"}


def process_checkin_item(item: IngestItem) -> Processed:
    out = Processed()
    body = json_object(item.payload)
    if body is None:
        out.reject(item, Category.MONITOR, "invalid_json")
        return out
    check_in_id = text(body.get("check_in_id"), 64).replace("-", "").lower()
    slug = text(body.get("monitor_slug"), 50)
    status = body.get("status")
    if len(check_in_id) != 32 or not slug or status not in STATUSES:
        out.reject(item, Category.MONITOR, "invalid_checkin")
        return out
    out.rows.append((
        item.org_id, item.project_id, check_in_id, slug, status, number(body.get("duration")),
        text(body.get("environment"), 64) or "production", item.payload.decode("utf-8", "replace"),
        item.received,
    ))
    out.accept(item, Category.MONITOR)
    return out
