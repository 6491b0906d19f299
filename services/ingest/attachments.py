"""Event attachments → `attachments` rows (bytes kept in ClickHouse, compressed). Pure."""

from __future__ import annotations

from picket.schemas.ingest import IngestItem
from picket.ingest.outcomes import Category
from picket.ingest.processed import Processed, item_key, text

COLUMNS = ("project_id", "event_id", "attachment_id", "name", "content_type", "attachment_type", "size",
           "data", "received")


def process_attachment_item(item: IngestItem, origin: str) -> Processed:
    out = Processed()
    size = len(item.payload)
    out.rows.append((
        item.project_id, item.event_id or "", item_key(item, origin), text(item.headers.get("filename"), 256) or "attachment",
        text(item.headers.get("content_type"), 128) or "application/octet-stream",
        text(item.headers.get("attachment_type"), 64) or "event.attachment", size,
        item.payload, item.received,
    ))
    out.accept(item, Category.ATTACHMENT, quantity=size)
    return out
