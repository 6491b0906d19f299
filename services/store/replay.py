"""Rebuilding a context's projection from its archived event log, beside a running instance.

Every event the projector accepted is archived in the context's log table (`picket.store.event_log`)
and every projection row is a pure function of one event (`Context.project`), so the tables can
be made again from the log, e.g. after a new version changed what a projection holds. A replay:

1. makes an empty shadow `<table>__replay` of each replayed table, with the table's structure as
   the migrations left it (a new version's shape);
2. projects every archived event into the shadows, in pages, in the order the events were made;
3. catches up: the live projector keeps writing to the old tables meanwhile, so the events
   archived since the previous pass began (less `MARGIN`, for inserts in flight) are projected
   again, until a pass is short;
4. exchanges each shadow with its table (`EXCHANGE TABLES`, atomic per table): reads and the live
   projector use the rebuilt tables from then on;
5. projects once more what was archived since the last pass began, into the rebuilt tables: what
   the projector wrote to the old ones between that pass and the exchange;
6. drops the old tables (by then named `<table>__replay`).

Rows are keyed and versioned (ReplacingMergeTree), so projecting an event twice changes nothing and
the passes may overlap. A replay interrupted anywhere is finished by starting it again: a leftover
shadow is dropped and rebuilt. One replay of a context at a time.

An event that can no longer be decoded or projected, or whose rows the tables refuse (the live
projector would have dead-lettered it), is skipped and counted, the reason kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from picket.store.client import Store
from picket.store.guards import TableGuards

log = logging.getLogger(__name__)

SHADOW = "__replay"
PAGE = 5_000
# Inserts in flight when a pass begins may carry an archive time a little before it.
MARGIN = timedelta(seconds=60)
MAX_CATCH_UPS = 5
SHORT_PASS = 1_000  # a catch-up pass with fewer events than this is the last before the exchange
MAX_REASONS = 20

# The replay's steps, as `Progress.phase` names them.
PREPARE, COPY, CATCH_UP, EXCHANGE, FINISH = "prepare", "copy", "catch up", "exchange", "finish"


class Projected(Protocol):
    """What a replay needs of a context (`picket.application.aggregates.Context` is one)."""

    name: str
    event_log_table: str

    @property
    def replayed_tables(self) -> dict[str, tuple[str, ...]]: ...

    def decode_event(self, raw: bytes) -> Any: ...

    def project(self, event: Any) -> dict[str, list[tuple[Any, ...]]]: ...


class Progress:
    """What a replay tells as it goes; the default tells nothing."""

    def phase(self, name: str, total: int) -> None:
        """A step begins, with the events it will read (0 when it reads none)."""

    def advance(self, events: int) -> None:
        """`events` more were read in the current step."""


@dataclass
class ReplayReport:
    context: str
    tables: tuple[str, ...]
    projected: int = 0  # events read and projected (an event read in two passes counts twice)
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)  # the first few skips, why
    catch_ups: int = 0


def shadow(table: str) -> str:
    return f"{table}{SHADOW}"


def project_events(ctx: Projected, tables: dict[str, tuple[str, ...]], guards: TableGuards,
                   target: Callable[[str], str], payloads: Sequence[bytes]) -> tuple[dict[str, list[tuple[Any, ...]]], list[str]]:
    """The rows of `payloads` (encoded events) for `tables`, checked against the columns of the
    tables `target` names; and why each event left out was left out. Rows of tables not replayed
    are dropped."""
    out: dict[str, list[tuple[Any, ...]]] = {name: [] for name in tables}
    skipped = []
    for payload in payloads:
        try:
            rows = ctx.project(ctx.decode_event(payload))
            kept = {name: list(rows.get(name, ())) for name in tables}
            for name, table_rows in kept.items():
                guard = guards.guard(target(name), tables[name])
                for row in table_rows:
                    problem = guard.problem(row)
                    if problem:
                        raise ValueError(problem)
        except Exception as exc:  # as the live projector would dead-letter it: the others go on
            skipped.append(f"{type(exc).__name__}: {exc}")
            continue
        for name, table_rows in kept.items():
            out[name].extend(table_rows)
    return out, skipped


class Replay:
    """The replay of one context's projection on `store` (see the module's docstring)."""

    def __init__(self, store: Store, ctx: Projected, progress: Progress | None = None,
                 page: int = PAGE, margin: timedelta = MARGIN) -> None:
        self._store = store
        self._ctx = ctx
        self._tables = ctx.replayed_tables
        self._progress = progress or Progress()
        self._page = page
        self._margin = margin
        self._log = ctx.event_log_table
        for name in (self._log, *self._tables):
            if not name.replace("_", "").isalnum():
                raise ValueError(f"invalid table {name!r}")

    def run(self) -> ReplayReport:
        report = ReplayReport(self._ctx.name, tuple(self._tables))
        self._progress.phase(PREPARE, 0)
        self._prepare()
        guards = TableGuards.load(self._store)

        began = self._now()
        self._pass(COPY, None, shadow, guards, report)
        while report.catch_ups < MAX_CATCH_UPS:
            since, began = began - self._margin, self._now()
            report.catch_ups += 1
            if self._pass(CATCH_UP, since, shadow, guards, report) < SHORT_PASS:
                break

        self._progress.phase(EXCHANGE, 0)
        for table in self._tables:
            self._store.command(f"EXCHANGE TABLES {{db}}.{table} AND {{db}}.{shadow(table)}")
        self._pass(FINISH, began - self._margin, lambda table: table, guards, report)
        for table in self._tables:
            self._store.command(f"DROP TABLE IF EXISTS {{db}}.{shadow(table)}")
        return report

    def _prepare(self) -> None:
        """Empty shadows of the tables, made anew (a leftover of an interrupted replay is
        dropped: it may be missing anything)."""
        for table in self._tables:
            self._store.command(f"DROP TABLE IF EXISTS {{db}}.{shadow(table)}")
            self._store.command(f"CREATE TABLE {{db}}.{shadow(table)} AS {{db}}.{table}")

    def _now(self) -> datetime:
        return self._store.query("SELECT now64(3, 'UTC')")[0][0]

    def _pass(self, phase: str, since: datetime | None, target: Callable[[str], str], guards: TableGuards,
              report: ReplayReport) -> int:
        """Project the events archived since `since` (all when None) into the tables `target`
        names; returns how many were read."""
        self._progress.phase(phase, self._count(since))
        read = 0
        for payloads in self._pages(since):
            rows, skipped = project_events(self._ctx, self._tables, guards, target, payloads)
            for table, table_rows in rows.items():
                self._store.insert_text(target(table), table_rows, self._tables[table])
            for reason in skipped:
                log.warning("replay of %s skips an event: %s", self._ctx.name, reason)
            report.skipped += len(skipped)
            report.reasons.extend(skipped[:MAX_REASONS - len(report.reasons)])
            report.projected += len(payloads) - len(skipped)
            read += len(payloads)
            self._progress.advance(len(payloads))
        return read

    def _where(self, since: datetime | None) -> tuple[str, dict[str, Any]]:
        if since is None:
            return "1", {}
        return "archived >= {since:DateTime64(3, 'UTC')}", {"since": since}

    def _count(self, since: datetime | None) -> int:
        where, params = self._where(since)
        return int(self._store.query(f"SELECT count() FROM {{db}}.{self._log} FINAL WHERE {where}", params)[0][0])

    def _pages(self, since: datetime | None) -> Iterator[list[bytes]]:
        """The encoded events, a page at a time, oldest first (by the time they were made, then
        aggregate and version: each aggregate's events in order, and the order the projector
        met them in across aggregates, as near as the log tells)."""
        where, params = self._where(since)
        after: tuple[Any, ...] | None = None
        while True:
            keyset = "" if after is None else (
                " AND (timestamp, aggregate, version) > ({t:DateTime64(3, 'UTC')}, {a:String}, {v:UInt64})")
            rows = self._store.query(
                f"SELECT timestamp, aggregate, version, payload FROM {{db}}.{self._log} FINAL"
                f" WHERE {where}{keyset} ORDER BY timestamp, aggregate, version LIMIT {int(self._page)}",
                {**params, **({} if after is None else {"t": after[0], "a": after[1], "v": after[2]})})
            if not rows:
                return
            yield [bytes.fromhex(payload) for *_, payload in rows]
            if len(rows) < self._page:
                return
            after = rows[-1][:3]


def replay(store: Store, ctx: Projected, progress: Progress | None = None) -> ReplayReport:
    """Rebuild `ctx`'s projection on `store` from its event log (see the module's docstring)."""
    return Replay(store, ctx, progress).run()
