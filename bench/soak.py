"""Soak: `picket run` under a steady load for minutes, its memory sampled all along.

Run: `python -m bench.soak [--minutes 10] [--rate 1000] [--kind checkin-envelope]`.

It starts `picket run` on a fresh data directory (embedded Apache Kafka), then sends one kind of
item paced at `--rate` per second (by default about half of what the machine processes at max
load) for `--minutes`, one minute at a time. After each minute it prints the items accepted,
the rows the worker has written for them (its `/metrics`), and the whole stack's RSS (the
process and its children, sampled every 0.25 s): now, and the peak. At the end it waits for
every accepted item to be written, and gives two verdicts: the peak ≤ 1 GiB, and flat memory
(the last minute's RSS no more than 64 MiB above the second minute's, once caches are warm).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import procs
from bench.counters import TABLES, RowCounter
from bench.ingest import KIND_NAMES
from bench.load import LoadRunner, Workload
from bench.probes import Api, prepare

PEAK_LIMIT = 1024**3
FLAT_LIMIT = 64 * 1024**2


def flat(rss_by_minute: Sequence[int]) -> bool | None:
    """Whether memory stayed flat: the last minute's RSS ≤ the second's + 64 MiB (None: too short)."""
    if len(rss_by_minute) < 3:
        return None
    return rss_by_minute[-1] - rss_by_minute[1] <= FLAT_LIMIT


async def soak(minutes: int, rate: float, kind: str) -> int:
    work = Path(tempfile.mkdtemp(prefix="picket-soak-"))
    runner = LoadRunner(1)
    runner.start()
    picket = procs.start_picket(work / "picket", procs.free_port(), None, "", work / "picket.log")
    api = Api(picket.url, picket.token)
    try:
        fx = await prepare(api, picket.org, picket.dsn, 40)
        wl = Workload(kind, api.host, api.port, org=fx.org, token=picket.token, project_id=fx.project_id,
                      key=fx.key, monitors=fx.monitors, probe_project_id=fx.probe_project_id,
                      probe_key=fx.probe_key, probe_monitors=fx.probe_monitors, tag=secrets.token_hex(4))
        counter = RowCounter(picket.metrics, TABLES[kind])
        before = await counter.value()
        accepted, rss = 0, []
        print(f"picket run ready in {picket.ready_s:.1f} s; {KIND_NAMES[kind]} paced at {rate:,.0f}/s "
              f"for {minutes} min", flush=True)
        print(f"{'minute':>6} {'accepted':>10} {'written':>10} {'errors':>7} {'RSS MiB':>8} {'peak MiB':>9}")
        for minute in range(1, minutes + 1):
            result = await runner.run(wl, duration=60.0, concurrency=64, rate=rate)
            accepted += len(result.accepted)
            rss.append(picket.sampler.last)
            written = await counter.value() - before
            print(f"{minute:>6} {accepted:>10,} {written:>10,.0f} {sum(result.statuses.values()):>7} "
                  f"{rss[-1] / 2**20:>8,.0f} {picket.sampler.peak / 2**20:>9,.0f}", flush=True)
        reached = await counter.wait_for(before + accepted, timeout=120)
        peak = picket.sampler.peak
        steady = flat(rss)
        print(f"every accepted item written: {'yes' if reached is not None else 'NO (after 120 s)'}")
        print(f"peak RSS ≤ 1 GiB: {peak / 2**30:.2f} GiB → {'met' if peak <= PEAK_LIMIT else 'MISSED'}")
        print("flat RSS (last minute ≤ second minute + 64 MiB): "
              + ("n/a (fewer than 3 minutes)" if steady is None else
                 f"{(rss[-1] - rss[1]) / 2**20:+,.0f} MiB → {'met' if steady else 'MISSED'}"), flush=True)
        return 0 if reached is not None else 1
    finally:
        api.close()
        picket.sampler.stop()
        procs.stop(picket.proc)
        runner.close()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=int, default=10)
    ap.add_argument("--rate", type=float, default=1000.0, help="items per second")
    ap.add_argument("--kind", default="checkin-envelope", choices=sorted(TABLES))
    a = ap.parse_args(argv)
    started = time.monotonic()
    code = asyncio.run(soak(a.minutes, a.rate, a.kind))
    print(f"(soak took {time.monotonic() - started:.0f} s)", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
