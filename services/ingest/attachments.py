"""Event attachments → `attachments` rows (bytes kept in ClickHouse, compressed). Pure."""

from __future__ import annotations

from picket.schemas.ingest import IngestItem
from picket.schemas.rows import AttachmentRow
from picket.ingest.outcomes import Category
from picket.ingest.processed import Processed, item_key, text

COLUMNS = AttachmentRow._fields


def process_attachment_item(item: IngestItem, origin: str) -> Processed:
    out = Processed()
    size = len(item.payload)
    out.rows.append(AttachmentRow(
        project_id=item.project_id, event_id=item.event_id or "", attachment_id=item_key(item, origin),
        name=text(item.headers.get("filename"), 256) or "attachment",
        content_type=text(item.headers.get("content_type"), 128) or "application/octet-stream",
        attachment_type=text(item.headers.get("attachment_type"), 64) or "event.attachment", size=size,
        data=item.payload, received=item.received,
    ))
    out.accept(item, Category.ATTACHMENT, quantity=size)
    return out
