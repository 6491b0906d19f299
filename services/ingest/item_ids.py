"""The id of every accepted envelope item: what deduplicates it downstream, never Kafka's offsets.

Offsets are not identities: a broker or topic reset starts them again at 0, and new data would
look like old. So the gateway names each item it accepts, and every row and outcome made from
the item is keyed by that name (attachments, session aggregates, outcomes that are not about
one event) or by the item's own identity (event id, check-in id and status, session id and seq).

- An envelope with an `event_id`: each item's id is derived from the project, the event id, the
  item's index and type and the SHA-1 of its payload. An SDK that sends the same envelope again
  (a retry after a lost answer) sends the same items, which get the same ids and count once;
  another envelope about the same event (a later attachment) gets other ids.
- Otherwise, an envelope whose header says when it was sent (`sent_at`, to the millisecond or
  finer, as the JavaScript and mobile SDKs send it, set once when the envelope is made) is named
  the same way by that instant: a session aggregate the SDK sends again after a lost answer
  counts once. Two envelopes from different processes with the same payload sent in the same
  millisecond would count once too, which is why a coarser `sent_at` does not name anything.
- Otherwise the id is random: every envelope is new. A retry after a 503 cannot count twice
  either, since a 503 means nothing of the envelope was written (the gateway writes an
  envelope in one Kafka transaction), except for an envelope of one item that counts once by
  its own identity anyway (`names_itself`), which needs no transaction. Only a retry after a
  2xx that never reached the SDK counts twice (the Python SDK does not resend envelopes).
Ids are 32 lowercase hex digits. Pure.
"""

from __future__ import annotations

import hashlib
import re
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


# An RFC 3339 instant with at least milliseconds: fine enough to tell two sends apart.
_FINE_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3,9}(Z|[+-]\d\d:?\d\d)?", re.ASCII)


def item_ids(project_id: int, event_id: str | None, items: Sequence[Item],
             sent_at: str | None = None) -> list[str]:
    """One id per item, in order (see the module docstring)."""
    if event_id is not None:
        name = event_id
    elif sent_at is not None and _FINE_INSTANT.fullmatch(sent_at):
        name = f"sent_at:{sent_at}"
    else:
        return [uuid.uuid4().hex for _ in items]
    return [
        uuid.uuid5(_NAMESPACE, f"{project_id}:{name}:{index}:{item.type}:"
                               f"{hashlib.sha1(item.payload).hexdigest()}").hex
        for index, item in enumerate(items)
    ]
