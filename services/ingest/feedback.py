"""User feedback → `feedback` rows. Pure.

Two item types say the same thing: the legacy `user_report` ({event_id, name, email, comments})
and `feedback` (an event whose `contexts.feedback` has message, contact_email, name and
associated_event_id). A feedback is keyed by its own id, so a replay stores it once.
"""

from __future__ import annotations

from typing import Any

from picket.schemas.ingest import IngestItem
from picket.schemas.rows import FeedbackRow
from picket.ingest.outcomes import Category
from picket.ingest.processed import Processed, as_datetime, json_object, text

COLUMNS = FeedbackRow._fields


def _hex_id(value: Any) -> str:
    s = text(value, 64).replace("-", "").lower()
    return s if len(s) == 32 and all(c in "0123456789abcdef" for c in s) else ""


def process_feedback_item(item: IngestItem) -> Processed:
    out = Processed()
    body, problem = json_object(item.payload)
    if body is None:
        out.reject(item, Category.USER_REPORT_V2, "invalid_json", detail=problem)
        return out
    if item.item_type == "user_report":
        event_id = _hex_id(body.get("event_id"))
        feedback_id = event_id
        name, email, comments = text(body.get("name"), 128), text(body.get("email"), 75), text(body.get("comments"), 4096)
        created = item.received
    else:
        contexts = body.get("contexts") if isinstance(body.get("contexts"), dict) else {}
        fb = contexts.get("feedback") if isinstance(contexts.get("feedback"), dict) else {}
        feedback_id = _hex_id(body.get("event_id")) or _hex_id(item.event_id)
        event_id = _hex_id(fb.get("associated_event_id"))
        name, email = text(fb.get("name"), 128), text(fb.get("contact_email"), 75)
        comments = text(fb.get("message"), 4096)
        created = as_datetime(body.get("timestamp"), item.received)
    if not feedback_id or not comments:
        out.reject(item, Category.USER_REPORT_V2, "invalid_feedback", detail="needs an id and comments")
        return out
    out.rows.append(FeedbackRow(org_id=item.org_id, project_id=item.project_id, feedback_id=feedback_id,
                                event_id=event_id, name=name, email=email, comments=comments, date_created=created))
    out.accept(item, Category.USER_REPORT_V2, event_id=feedback_id)
    return out
