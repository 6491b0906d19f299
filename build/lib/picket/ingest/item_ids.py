"""The id of every accepted envelope item: what deduplicates it downstream, never Kafka's offsets.

Offsets are not identities: a broker or topic reset starts them again at 0, and new data would
look like old. So the gateway names each item it accepts, and every row and outcome made from
the item is keyed by that name (attachments, session aggregates, outcomes that are not about
one event) or by the item's own identity (event id, check-in id and status, session id and seq).

- An envelope with an `event_id`: each item's id is derived from the project, the event id, the
  item's index and type and the SHA-1 of its payload. An SDK that sends the same envelope again
  (a retry after a lost answer) sends the same items, which get the same ids and count once;
  another envelope about the same event (a later attachment) gets other ids.
- Otherwise the id is random: every envelope is new. A retry after a 503 cannot count twice
  either, since a 503 means nothing of the envelope was written (the gateway writes an
  envelope in one Kafka transaction), except for an envelope of one item that counts once by
  its own identity anyway (`names_itself`), which needs no transaction.
Ids are 32 lowercase hex digits. Pure.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

from picket.ingest.envelope import Item

_NAMESPACE = uuid.UUID("5b0f1f8e-9c59-4f2c-8f8e-6a7e0f3b2d11")


# Items whose rows and outcomes are keyed by what they are, not by their item id: check-ins by
# check-in id and status, session updates by session id and seq, feedback by its id; events,
# security reports and transactions by their event id.
_SELF_NAMED = frozenset({"check_in", "session", "feedback", "user_report"})
_NAMED_BY_EVENT_ID = frozenset({"event", "security", "transaction"})


def names_itself(item_type: str, event_id: str | None) -> bool:
    """Whether an item counts once however often it is stored, by its own identity."""
    return item_type in _SELF_NAMED or (item_type in _NAMED_BY_EVENT_ID and event_id is not None)


def item_ids(project_id: int, event_id: str | None, items: Sequence[Item]) -> list[str]:
    """One id per item, in order (see the module docstring)."""
    if event_id is None:
        return [uuid.uuid4().hex for _ in items]
    return [
        uuid.uuid5(_NAMESPACE, f"{project_id}:{event_id}:{index}:{item.type}:"
                               f"{hashlib.sha1(item.payload).hexdigest()}").hex
        for index, item in enumerate(items)
    ]
