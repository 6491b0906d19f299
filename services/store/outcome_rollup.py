"""Writing outcomes and sealing their hourly rollup.

`outcomes_raw` is the exact, deduplicated store; `outcomes_hourly` holds, per *sealed* hour, its
rows summed by (org, project, key, category, outcome, reason). Aggregate queries read the rollup
below the horizon (the hour after the newest sealed one) and `outcomes_recent` above it
(`services.stats.outcome_source`).

Sealing is a rewrite, never an increment: an hour is recomputed from `outcomes_raw FINAL` (which
counts a retried outcome once, in the hour it was first seen) under a new version, and the
`outcome_seals` row written after the rollup rows switches the hour to that version. So sealing is
idempotent, several sealers may run, and a crash mid-seal leaves the previous version in place.

An hour is sealed once it ended more than `GRACE` ago. Rows that arrive later for it (a lagging
consumer, a client report about the past) are inserted first and then mark the hour dirty, and the
next pass reseals it. Versions and marks use ClickHouse's clock, and a sealer reads its snapshot
only after taking its version, so a mark made after a seal missed its rows always outranks it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from services.ingest.outcome_rows import COLUMNS
from services.store.client import Store

HOUR = timedelta(hours=1)
# How long after its end an hour is sealed: rows normally arrive within seconds.
GRACE = timedelta(minutes=5)
# Rows for an hour this long past its end may have missed its seal: mark it. Half the grace
# leaves room for clock skew between the writer and ClickHouse.
LATE = HOUR + GRACE / 2
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def floor_hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def late_hours(timestamps: Iterable[datetime], now: datetime) -> list[datetime]:
    """The hours of `timestamps` ended long enough before `now` that a seal may have missed them."""
    return sorted({floor_hour(_utc(ts)) for ts in timestamps if floor_hour(_utc(ts)) + LATE <= now})


def hours_to_seal(*, now: datetime, last_sealed: datetime | None, first_data: datetime | None,
                  dirty: Iterable[datetime]) -> list[datetime]:
    """The hours one sealing pass writes: every hour after the last sealed one (or from the first
    data) that ended more than GRACE before `now`, plus the dirty hours up to the new horizon.

    Sealing new hours in order keeps the sealed hours contiguous, so one horizon separates the
    rollup from the recent rows. A dirty hour beyond the horizon is still read from the recent
    rows, and is sealed in its turn.
    """
    newest = floor_hour(now - HOUR - GRACE)
    start = last_sealed + HOUR if last_sealed is not None else (
        floor_hour(first_data) if first_data is not None else None)
    hours: set[datetime] = set()
    if start is not None:
        at = start
        while at <= newest:
            hours.add(at)
            at += HOUR
    limit = max(newest, last_sealed) if last_sealed is not None else newest
    hours.update(h for h in dirty if h <= limit)
    return sorted(hours)


def write_outcomes(store: Store, rows: Sequence[Sequence[Any]], now: datetime | None = None) -> None:
    """Insert outcome rows (`outcome_rows.COLUMNS`), then mark the hours they may be late for.

    The order matters: a mark made before its rows are stored could be consumed by a seal that
    does not see them yet.
    """
    if not rows:
        return
    store.insert("outcomes_raw", rows, COLUMNS)
    at = COLUMNS.index("timestamp")
    late = late_hours((row[at] for row in rows), now or datetime.now(timezone.utc))
    if late:
        store.command(
            "INSERT INTO {db}.outcome_dirty_hours (hour, marked)"
            " SELECT hour, toUnixTimestamp64Nano(now64(9)) FROM"
            " (SELECT arrayJoin({hours:Array(DateTime('UTC'))}) AS hour)",
            {"hours": [h.replace(tzinfo=None) for h in late]},
        )


_STATE = """
SELECT
    toUnixTimestamp64Nano(now64(9)) AS version,
    now() AS now,
    (SELECT count() FROM {db}.outcome_seals) AS seals,
    (SELECT max(hour) FROM {db}.outcome_seals) AS last_sealed,
    (SELECT count() FROM {db}.outcomes_raw) AS raw_rows,
    (SELECT min(timestamp) FROM {db}.outcomes_raw) AS first_data
"""

_DIRTY = """
SELECT d.hour
FROM (SELECT hour, max(marked) AS marked FROM {db}.outcome_dirty_hours GROUP BY hour) AS d
LEFT JOIN (SELECT hour, max(version) AS version FROM {db}.outcome_seals GROUP BY hour) AS s
    ON d.hour = s.hour
WHERE d.marked > s.version
"""

_ROLLUP = """
INSERT INTO {db}.outcomes_hourly
    (org_id, hour, project_id, key_id, category, outcome, reason, quantity, times_seen, version)
SELECT org_id, toStartOfHour(timestamp) AS hour, project_id, key_id, category, outcome, reason,
       sum(quantity), count(), {version:UInt64}
FROM {db}.outcomes_raw FINAL
WHERE hour IN {hours:Array(DateTime('UTC'))}
GROUP BY org_id, hour, project_id, key_id, category, outcome, reason
"""


def seal(store: Store) -> list[datetime]:
    """One sealing pass: roll up the hours due (see `hours_to_seal`) under a fresh version.
    Returns the hours sealed."""
    version, now, seals, last_sealed, raw_rows, first_data = store.query(_STATE)[0]
    dirty = [_utc(r[0]) for r in store.query(_DIRTY)]
    hours = hours_to_seal(
        now=_utc(now),
        last_sealed=_utc(last_sealed) if seals else None,
        first_data=_utc(first_data) if raw_rows else None,
        dirty=dirty,
    )
    if hours:
        naive = [h.replace(tzinfo=None) for h in hours]
        store.command(_ROLLUP, {"version": int(version), "hours": naive})
        store.insert("outcome_seals", [(h, int(version)) for h in naive], ("hour", "version"))
    return hours
