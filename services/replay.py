"""`picket replay`: rebuild projections from their event logs, beside a running instance or not.

    picket replay PROJECTION [PROJECTION ...] [--data-dir D]
    picket replay --all [--data-dir D]

A projection is named by its context (`tenancy`, `monitors`, `releases`, `artifacts`,
`integrations`); how a replay goes is `picket.store.replay`'s. The store is the instance's (as
for `picket admin`): `CLICKHOUSE_URL`, or the store server of a running `picket run` on embedded
chdb, else the engine itself. Pending migrations are applied first: a new version's tables take
its shape before they are filled. A progress bar with rate and time left goes to the standard
error; a line per projection, with what it projected and skipped, to the standard output.
Exit code 1 when no store answers or an event was skipped, 2 for an unknown name.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from tqdm import tqdm

from picket.application.aggregates import Context
from picket.config import Settings
from picket.store.client import Store
from picket.store.migrate import migrate
from picket.stack import open_store
from picket.store.replay import Progress, ReplayReport, replay
from picket.worker import CONTEXTS


def contexts() -> dict[str, Context]:
    """The projections by name: the worker's contexts."""
    return {ctx.name: ctx for ctx in CONTEXTS}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("projections", nargs="*", metavar="PROJECTION",
                        help=f"a context's projection: {', '.join(contexts())}")
    parser.add_argument("--all", action="store_true", help="every projection, one after the other")
    parser.add_argument("--data-dir", default=None)


def chosen(names: Sequence[str], every: bool, known: dict[str, Context]) -> list[Context] | str:
    """The contexts to replay, in the order given; or why the choice cannot be taken."""
    if every == bool(names):
        return "name projections to replay, or --all"
    if every:
        return list(known.values())
    unknown = [n for n in names if n not in known]
    if unknown:
        return f"unknown projection {', '.join(unknown)} (known: {', '.join(known)})"
    return [known[n] for n in dict.fromkeys(names)]


class Bar(Progress):
    """A tqdm bar a step: events read, rate, time left."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._bar: tqdm | None = None

    def phase(self, name: str, total: int) -> None:
        self.close()
        self._bar = tqdm(total=total, desc=f"{self._name}: {name}", unit="ev", file=sys.stderr,
                         dynamic_ncols=True, mininterval=0.5)

    def advance(self, events: int) -> None:
        if self._bar is not None:
            self._bar.update(events)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def summary(report: ReplayReport, seconds: float) -> str:
    line = (f"{report.context}: {report.projected} events projected into {', '.join(report.tables)}"
            f" ({report.catch_ups} catch-up passes, {seconds:.1f} s)")
    if report.skipped:
        line += f"; {report.skipped} skipped, e.g. {report.reasons[0]}"
    return line


def main(settings: Settings, args: argparse.Namespace) -> int:
    picked = chosen(args.projections, args.all, contexts())
    if isinstance(picked, str):
        print(f"picket replay: {picked}", file=sys.stderr)
        return 2
    store: Store | None = open_store(settings)
    if store is None:
        print("picket replay: no store answers (see CLICKHOUSE_URL, --data-dir)", file=sys.stderr)
        return 1
    skipped = 0
    try:
        migrate(store)
        for ctx in picked:
            bar = Bar(ctx.name)
            started = time.monotonic()
            try:
                report = replay(store, ctx, bar)
            finally:
                bar.close()
            skipped += report.skipped
            print(summary(report, time.monotonic() - started), flush=True)
    finally:
        store.close()
    return 1 if skipped else 0
