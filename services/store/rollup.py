"""Hourly rollups of an exact store, sealed hour by hour.

A rollup holds, per *sealed* hour, the exact store's rows reduced and summed by the dimensions
aggregate queries group on. Queries read the rollup below the horizon (the hour after the newest
sealed one) and the exact rows above it (`picket.stats.outcome_source`,
`picket.store.session_rows`).

Sealing is a rewrite, never an increment: an hour is recomputed from the exact store (which holds
every row once) under a new version, and the seal row written after the rollup rows switches the
hour to that version. So sealing is idempotent, several sealers may run, and a crash mid-seal
leaves the previous version in place.

An hour is sealed once it ended more than GRACE ago. Rows that arrive later for it (a lagging
consumer, a client report about the past, the last update of a long session) are written first
and then mark the hour dirty, and the next pass reseals it. Versions and marks use ClickHouse's
clock, and a sealer reads its snapshot only after taking its version, so a mark made after a seal
that missed its rows always outranks that seal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from picket.store.client import Store

HOUR = timedelta(hours=1)
# How long after its end an hour is sealed: rows normally arrive within seconds.
GRACE = timedelta(minutes=5)
# Rows for an hour this long past its end may have missed its seal: mark it. Half the grace
# leaves room for clock skew between the writer and ClickHouse.
LATE = HOUR + GRACE / 2


@dataclass(frozen=True)
class Rollup:
    """One exact store and its hourly rollup."""

    name: str
    source: str  # the exact store's table
    time_column: str  # the source column whose hour a row belongs to
    columns: tuple[str, ...]  # the source columns writers give
    seals: str  # table of (hour, version)
    dirty: str  # table of (hour, marked)
    # INSERT … SELECT of the rollup rows of the hours {hours:Array(DateTime('UTC'))} at
    # {version:UInt64}; {lo:DateTime('UTC')} and {hi:…} bound them (first hour, end of the last),
    # for a source ordered or partitioned by time to read only that span
    build: str
    # other parameters `build` binds
    build_params: tuple[tuple[str, Any], ...] = ()
    # sealed up to the current hour (see `hours_to_seal`)
    live: bool = False


def hour_aligned(start: datetime, end: datetime, bucket_seconds: int) -> bool:
    """Whether buckets of `bucket_seconds` over [start, end) are made of whole hours, so that a
    query can take them from an hourly rollup."""
    return bucket_seconds % 3600 == 0 and start.timestamp() % 3600 == 0 and end.timestamp() % 3600 == 0


def floor_hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def late_hours(timestamps: Iterable[datetime], now: datetime) -> list[datetime]:
    """The hours of `timestamps` ended long enough before `now` that a seal may have missed them."""
    return sorted({floor_hour(_utc(ts)) for ts in timestamps if floor_hour(_utc(ts)) + LATE <= now})


def hours_to_seal(*, now: datetime, last_sealed: datetime | None, first_data: datetime | None,
                  dirty: Iterable[datetime], live: bool = False) -> list[datetime]:
    """The hours one sealing pass writes: every hour after the last sealed one (or from the first
    data) that ended more than GRACE before `now`, plus the dirty hours up to the new horizon.

    Sealing new hours in order keeps the sealed hours contiguous, so one horizon separates the
    rollup from the exact rows. A dirty hour beyond the horizon is still read from the exact
    rows, and is sealed in its turn.

    `live`: the rollup runs up to the current hour. Every pass rewrites each hour still open to
    new rows (up to the one GRACE past its end), so the rollup trails ingestion by one pass; an
    hour's last rewrite comes after rows for it count as late, so none slips between the two.
    """
    newest = floor_hour(now - HOUR - GRACE)
    end = floor_hour(now) if live else newest
    start = last_sealed + HOUR if last_sealed is not None else (
        floor_hour(first_data) if first_data is not None else None)
    hours: set[datetime] = set()
    if start is not None:
        at = start
        while at <= end:
            hours.add(at)
            at += HOUR
    if live and (start is not None):
        at = newest
        while at <= end:
            hours.add(at)
            at += HOUR
    limit = max(end, last_sealed) if last_sealed is not None else end
    hours.update(h for h in dirty if h <= limit)
    return sorted(hours)


def write(store: Store, rollup: Rollup, rows: Sequence[Sequence[Any]], now: datetime | None = None) -> None:
    """Insert rows (`rollup.columns`) into the exact store, then mark the hours they may be late for.

    The order matters: a mark made before its rows are stored could be consumed by a seal that
    does not see them yet.
    """
    if not rows:
        return
    store.insert(rollup.source, rows, rollup.columns)
    at = rollup.columns.index(rollup.time_column)
    mark_dirty(store, rollup, late_hours((row[at] for row in rows), now or datetime.now(timezone.utc)))


def mark_dirty(store: Store, rollup: Rollup, hours: Sequence[datetime]) -> None:
    """Have the next sealing pass recount `hours` (marked on ClickHouse's clock, after the rows
    that changed them are stored)."""
    if hours:
        store.command(
            f"INSERT INTO {{db}}.{rollup.dirty} (hour, marked)"
            " SELECT hour, toUnixTimestamp64Nano(now64(9)) FROM"
            " (SELECT arrayJoin({hours:Array(DateTime('UTC'))}) AS hour)",
            {"hours": [_utc(h).replace(tzinfo=None) for h in hours]},
        )


def seal(store: Store, rollup: Rollup) -> list[datetime]:
    """One sealing pass: roll up the hours due (see `hours_to_seal`) under a fresh version.
    Returns the hours sealed."""
    version, now, seals, last_sealed = store.query(f"""
        SELECT toUnixTimestamp64Nano(now64(9)), now(),
               (SELECT count() FROM {{db}}.{rollup.seals}), (SELECT max(hour) FROM {{db}}.{rollup.seals})""")[0]
    first_data = None
    if not seals:  # where the first pass starts (a scan of the time column: only until then)
        rows, oldest = store.query(f"SELECT count(), toDateTime(min({rollup.time_column}))"
                                   f" FROM {{db}}.{rollup.source}")[0]
        first_data = _utc(oldest) if rows else None
    dirty = store.query(f"""
        SELECT d.hour
        FROM (SELECT hour, max(marked) AS marked FROM {{db}}.{rollup.dirty} GROUP BY hour) AS d
        LEFT JOIN (SELECT hour, max(version) AS version FROM {{db}}.{rollup.seals} GROUP BY hour) AS s
            ON d.hour = s.hour
        WHERE d.marked > s.version""")
    hours = hours_to_seal(
        now=_utc(now),
        last_sealed=_utc(last_sealed) if seals else None,
        first_data=first_data,
        dirty=[_utc(r[0]) for r in dirty],
        live=rollup.live,
    )
    if hours:
        naive = [h.replace(tzinfo=None) for h in hours]
        store.command(rollup.build, {**dict(rollup.build_params), "version": int(version), "hours": naive,
                                     "lo": naive[0], "hi": naive[-1] + HOUR})
        store.insert(rollup.seals, [(h, int(version)) for h in naive], ("hour", "version"))
    return hours


def horizon(store: Store, rollup: Rollup) -> datetime:
    """The first hour not sealed (UTC). Only ever grows, so a value read a moment ago is a safe
    bound still: the hours below it stay sealed."""
    return _utc(store.query(f"SELECT max(hour) + INTERVAL 1 HOUR FROM {{db}}.{rollup.seals}")[0][0])


def horizon_sql(rollup: Rollup) -> str:
    """A scalar subquery: the first hour not sealed (the epoch's second hour when none is)."""
    return f"(SELECT max(hour) + INTERVAL 1 HOUR FROM {{db}}.{rollup.seals})"


def current_versions_sql(rollup: Rollup) -> str:
    """A subquery of (hour, version) of the current rollup of each hour in [start, end)."""
    return (f"SELECT hour, max(version) FROM {{db}}.{rollup.seals}"
            " WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')} GROUP BY hour")
