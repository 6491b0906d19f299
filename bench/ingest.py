"""Ingestion benchmark: Picket's gateway and pipeline against the bare stack, one table.

Run: `python -m bench.ingest [--duration S] [--concurrency C] [--quick] [--bootstrap HOST:PORT]
[--load-procs N] [--kinds K,...] [--drain S]`.

What it does, in one run:
1. Bare stack (on a broker of its own: Apache Kafka, the broker `picket run` embeds, or
   `--bootstrap`): `bench.bare serve` answers `POST /noop` at once and `POST /produce` after
   producing the body with `acks=all`. The load generator's ceiling is its rate on `/noop`;
   the bare gateway's is its rate on `/produce` with check-in envelopes, on asyncio's loop and
   on uvloop (the ceiling: Picket's processes run on uvloop). Then `bench.bare consume`
   drains what was produced into chdb (`getmany` batches, Picket's `Store`): the bare
   consumer's rows/s. Ratios compare Picket with the uvloop and consumer figures.
2. `picket run` on a fresh data directory (embedded broker unless `--bootstrap`): the time
   from exec to credentials printed and `/_health/` answering; summed RSS of the process and
   its children (gateway, worker, broker) sampled every 0.25 s until it stops.
3. For each kind (REST check-ins with the token, then envelopes of check-ins, check-ins through
   the HTTP endpoint cron jobs call with curl, small error events, feedback): max load, a
   closed loop at C in-flight requests for S seconds; then half load, paced at half of
   min(accepted/s, processed/s) at max load. Latency is measured at the load generator from
   send (paced: from when the request fell due) to answer.

Max load is counted, not sampled: the bench reads the worker's counter of rows written to the
kind's table (`bench/counters.py`; check-ins: `monitor_checkins`, one row per check-in) before
the load and then every 50 ms until it has grown by the items accepted. Processed/s is those items
over the time from the start of the load until then; the drain (for check-ins, the burst target)
is the time from the end of the load until then. Nothing polls the API meanwhile.

Half load is sampled, for the queryable lag: ten times a second the load generator sends a
probe instead of a bulk item, to a probe project that lands on the bulk project's ingest
partition (check-ins: to one of four probe monitors, one per partition of `ingest-monitors`),
stamped with a unique id; its accept time is when its 2xx answer arrived. Ten times a second the
bench lists the probe project's events / feedback / probe monitors' check-ins through the API
(the probe project holds only probes, so the lists stay small) and notes when each id first
shows up (the midpoint of that list request): lag = first seen − accepted, resolution about
0.1 s. Those lists are a load of their own on the worker (one ClickHouse query each). After the
load, probes sent last (the tail) mark the drain: processed/s is the items accepted in the phase
over the time from its start until the tail was visible (check-ins are keyed by monitor, and the
probe monitors cover every partition, so the tail comes after every bulk check-in on its
partition). When the tail is not visible within the drain wait, processed/s is a lower bound
(marked ≥): the items accepted before the last visible probe over the time until it was visible.
REST check-ins are answered once decided, with ids the server makes: their probes are known by
the id in their answer.

Each row notes the CPU (in cores) that Picket's gateway and worker processes, the broker and the
load generator used while it ran: on a small machine they compete for the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bench import procs
from bench.counters import TABLES, RowCounter
from bench.load import CHECK_IN_KINDS, Connection, LoadRunner, Result, Workload
from bench.probes import Api, Fixture, Visibility, prepare
from bench.report import Report, Row, format_table, load_average, machine, percentile, processed_rate

KIND_NAMES = {
    "checkin-rest": "check-in REST",
    "checkin-envelope": "check-in envelope",
    "checkin-cron": "check-in HTTP (cron)",
    "event": "error event envelope",
    "feedback": "feedback envelope",
}
BARE_TOPIC = "bench-bare-checkins"
PARTITIONS = 4  # as Picket's ingest topics


@dataclass
class Options:
    duration: float
    concurrency: int
    load_procs: int
    kinds: list[str]
    drain: float
    monitors: int
    probe_every: float
    poll: float
    bootstrap: str | None
    keep: bool


def parse_args(argv: Sequence[str] | None) -> Options:
    ap = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=None, help="seconds per load phase (default 20; quick 4)")
    ap.add_argument("--concurrency", type=int, default=64, help="in-flight requests at max load")
    ap.add_argument("--quick", action="store_true", help="short phases and drain waits, for smoke tests")
    ap.add_argument("--bootstrap", default=None, help="an external Kafka broker instead of the embedded one")
    ap.add_argument("--load-procs", type=int, default=1, help="load generator processes")
    ap.add_argument("--kinds", default=",".join(KIND_NAMES), help=f"comma-separated subset of {','.join(KIND_NAMES)}")
    ap.add_argument("--drain", type=float, default=None, help="max seconds to wait for a backlog (default 180; quick 20)")
    ap.add_argument("--monitors", type=int, default=None, help="bulk monitors check-ins spread over (default 40)")
    ap.add_argument("--keep", action="store_true", help="keep the working directory (logs, data)")
    a = ap.parse_args(argv)
    kinds = [k for k in a.kinds.split(",") if k]
    unknown = set(kinds) - set(KIND_NAMES)
    if unknown:
        ap.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    return Options(
        duration=a.duration or (4.0 if a.quick else 20.0),
        concurrency=a.concurrency,
        load_procs=a.load_procs,
        kinds=kinds,
        drain=a.drain or (20.0 if a.quick else 180.0),
        monitors=a.monitors or (8 if a.quick else 40),
        probe_every=0.1,
        poll=0.1,
        bootstrap=a.bootstrap,
        keep=a.keep,
    )


def latency_row(name: str, load: str, result: Result, duration: float) -> Row:
    span = max(result.ended - result.started, duration) if result.ended else duration
    lat = list(result.latency_ms)
    errors = sum(result.statuses.values())
    note = f"errors: {dict(result.statuses)} last: {result.last_error}" if errors else ""
    return Row(name, load, accepted_per_s=len(result.accepted) / span, p50_ms=percentile(lat, 50),
               p99_ms=percentile(lat, 99), errors=errors, note=note)


# --- bare stack -----------------------------------------------------------------------------------


@dataclass
class Bare:
    rows: list[Row]
    accept_per_s: float
    consume_per_s: float | None
    rss_peak: int


async def bare_stack(opts: Options, runner: LoadRunner, work: Path) -> Bare:
    broker = None
    if opts.bootstrap:
        servers, topic = opts.bootstrap, f"{BARE_TOPIC}-{secrets.token_hex(4)}"
    else:
        from picket.bus.kafka_server import KafkaServer, fetch
        fetch()
        # The broker `picket run` embeds (Apache Kafka), without its sign-in: the same engine.
        broker = KafkaServer(work / "bare-broker")
        broker.start()  # main thread: the broker dies with it
        servers, topic = broker.bootstrap, BARE_TOPIC
    broker_pids = [broker.pid] if broker and broker.pid else []
    app = consumer = None
    rows = []
    try:
        await _create_topic(servers, topic)
        sampler = procs.RssSampler(*broker_pids).start()
        produced = 0
        for loop in ("asyncio", "uvloop"):
            port = procs.free_port()
            app = procs.python("-m", "bench.bare", "serve", "--bootstrap", servers, "--topic", topic, "--port",
                               str(port), "--loop", loop,
                               log=work / "bare.log")
            procs.wait_http(f"http://127.0.0.1:{port}/noop", app, 60)
            sampler.roots = (*broker_pids, app.pid)
            cpu = {"app": [app.pid], "broker": broker_pids}
            if loop == "asyncio":
                meter = procs.CpuMeter(cpu).start()
                noop = await runner.run(Workload("noop", "127.0.0.1", port), duration=opts.duration,
                                        concurrency=opts.concurrency)
                gen = latency_row("load generator", f"max (C={opts.concurrency})", noop, opts.duration)
                gen.note = f"on the bare app's /noop (answers at once); {_cpu_note(meter.stop(), noop)}"
                rows.append(gen)
            meter = procs.CpuMeter(cpu).start()
            result = await runner.run(Workload("bare", "127.0.0.1", port, tag=secrets.token_hex(4)),
                                      duration=opts.duration, concurrency=opts.concurrency)
            name = "bare Starlette→Kafka" if loop == "asyncio" else "  same on uvloop (ceiling)"
            gate = latency_row(name, f"max (C={opts.concurrency})", result, opts.duration)
            gate.note = (f"acks=all, check-in envelopes, {loop} loop; " if loop == "asyncio" else "") \
                + _cpu_note(meter.stop(), result)
            rows.append(gate)
            produced += len(result.accepted)
            procs.stop(app)
            app = None
        consumer = procs.python("-m", "bench.bare", "consume", "--bootstrap", servers, "--topic", topic,
                                "--expect", str(produced), "--data-dir", str(work / "bare-chdb"),
                                log=work / "bare.log", stdout=subprocess.PIPE)
        sampler.roots = (*broker_pids, consumer.pid)
        consume_rate = None
        try:
            out, _ = await asyncio.to_thread(consumer.communicate, timeout=max(120.0, 4 * opts.duration))
            figures = json.loads(out.decode().strip().splitlines()[-1])
            consume_rate = figures["rows"] / max(figures["seconds"], 1e-9)
        except (subprocess.TimeoutExpired, ValueError, IndexError, KeyError):
            procs.stop(consumer)
        consumer = None
        sampler.stop()
        rows.append(Row("bare consumer→chdb", f"backlog of {produced:,}", processed_per_s=consume_rate,
                        note="getmany ≤2000, Store.insert in a thread, commit"))
        # The ceiling is the uvloop figure: Picket's gateway runs on uvloop too.
        return Bare(rows, rows[2].accepted_per_s or 0.0, consume_rate, sampler.peak)
    finally:
        for p in (app, consumer):
            if p is not None:
                procs.stop(p)
        if broker is not None:
            broker.stop()


def _cpu_note(cores: dict[str, float], result: Result) -> str:
    span = max(result.ended - result.started, 1e-9)
    parts = [f"{name} {v:.2f}" for name, v in cores.items()] + [f"load gen {result.cpu_s / span:.2f}"]
    return "CPU cores: " + ", ".join(parts)


async def _create_topic(servers: str, topic: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


# --- Picket ---------------------------------------------------------------------------------------


@dataclass
class Measured:
    row: Row
    processed_per_s: float | None
    drained: bool


async def _tail(wl: Workload, count: int) -> list[str]:
    """Probes sent after the load (one per probe monitor for check-ins): when all are visible,
    everything accepted before them has been processed."""
    tail = replace(wl, worker=255)
    conn = Connection(wl.host, wl.port)
    ids = []
    try:
        for seq in range(count):
            status, body = await conn.request(tail.build(seq, True))
            if not 200 <= status < 300:
                raise RuntimeError(f"tail probe refused: {status} {body[:200]!r}")
            ids.append(tail.probe_id(seq, body))
    finally:
        conn.close()
    return ids


async def phase(opts: Options, runner: LoadRunner, api: Api, fx: Fixture, wl: Workload, load: str,
                rate: float | None, bare: Bare, cpu: dict[str, list[int]]) -> Measured:
    """One load phase measured with probes seen through the API: processed/s, lag and drain."""
    name = KIND_NAMES[wl.kind]
    meter = procs.CpuMeter(cpu).start()
    vis = Visibility(api, fx, wl.kind)
    stop = asyncio.Event()
    watcher = asyncio.create_task(vis.watch(stop, opts.poll))
    try:
        result = await runner.run(wl, duration=opts.duration, concurrency=opts.concurrency, rate=rate,
                                  probe_every=opts.probe_every)
    finally:
        stop.set()
        await watcher
    cores = meter.stop()
    cpu_note = _cpu_note(cores, result)
    tail = await _tail(wl, len(fx.probe_monitors) if wl.kind in CHECK_IN_KINDS else 1)
    probes = dict(result.probes)
    drained = await vis.wait_for([*probes, *tail], opts.drain, opts.poll)
    tail_seen = max(vis.seen[t] for t in tail) if all(t in vis.seen for t in tail) else None
    row = latency_row(name, load, result, opts.duration)
    rate_out, exact = processed_rate(sorted(result.accepted), probes, vis.seen, result.started, tail_seen)
    row.processed_per_s, row.processed_exact = rate_out, exact
    row.drain_s = None if tail_seen is None else max(0.0, tail_seen - result.ended)
    lags = [vis.seen[i] - a if i in vis.seen else math.inf for i, a in probes.items()]
    row.lag_p50_s, row.lag_p99_s = percentile(lags, 50), percentile(lags, 99)
    row.unseen = sum(1 for x in lags if math.isinf(x))
    extra = f"{len(probes)} probes" + (f", {row.unseen} unseen after {opts.drain:.0f} s" if row.unseen else "")
    row.note = "; ".join(x for x in (row.note, extra, cpu_note) if x)
    row.cores = dict(cores)
    _ratios(row, bare)
    return Measured(row, rate_out, drained and tail_seen is not None)


async def counted_phase(opts: Options, runner: LoadRunner, counter: RowCounter, wl: Workload, load: str,
                        bare: Bare, cpu: dict[str, list[int]]) -> Measured:
    """One load phase measured with the worker's counters (`bench/counters.py`): processed/s and
    drain, no lag; the API is not polled."""
    name = KIND_NAMES[wl.kind]
    before = await counter.value()
    meter = procs.CpuMeter(cpu).start()
    result = await runner.run(wl, duration=opts.duration, concurrency=opts.concurrency, rate=None,
                              probe_every=None)
    cores = meter.stop()
    reached = await counter.wait_for(before + len(result.accepted), opts.drain)
    row = latency_row(name, load, result, opts.duration)
    if reached is not None:
        row.processed_per_s, row.processed_exact = len(result.accepted) / max(reached - result.started, 1e-9), True
        row.drain_s = max(0.0, reached - result.ended)
    else:  # a lower bound: what was written by the end of the wait
        written = await counter.value() - before
        row.processed_per_s, row.processed_exact = written / max(time.time() - result.started, 1e-9), False
    note = "counted by the worker's rows written" + ("" if reached is not None else
                                                     f", not all written after {opts.drain:.0f} s")
    row.note = "; ".join(x for x in (row.note, note, _cpu_note(cores, result)) if x)
    row.cores = dict(cores)
    _ratios(row, bare)
    return Measured(row, row.processed_per_s, reached is not None)


def _ratios(row: Row, bare: Bare) -> None:
    if row.load.startswith("max"):
        if bare.accept_per_s and row.accepted_per_s is not None:
            row.gateway_ratio = row.accepted_per_s / bare.accept_per_s
        if bare.consume_per_s and row.processed_per_s is not None:
            row.processed_ratio = row.processed_per_s / bare.consume_per_s


async def picket_stack(opts: Options, runner: LoadRunner, work: Path, bare: Bare, report: Report) -> None:
    port = procs.free_port()
    picket = procs.start_picket(work / "picket", port, opts.bootstrap, f"bench{secrets.token_hex(3)}-",
                                work / "picket.log")
    report.ready_s, report.reported_ready_s = picket.ready_s, picket.reported_ready_s
    report.rss_at_ready = picket.rss_at_ready
    print(f"picket run ready in {picket.ready_s:.1f} s (RSS {picket.rss_at_ready / 2**20:.0f} MiB)", flush=True)
    api = Api(picket.url, picket.token)
    cpu = procs.picket_cpu_groups(picket.proc.pid, work / "picket")
    try:
        fx = await prepare(api, picket.org, picket.dsn, opts.monitors)
        for kind in opts.kinds:
            wl = Workload(kind, api.host, api.port, org=fx.org, token=picket.token, project_id=fx.project_id,
                          key=fx.key, monitors=fx.monitors, probe_project_id=fx.probe_project_id,
                          probe_key=fx.probe_key, probe_monitors=fx.probe_monitors, tag=secrets.token_hex(4))
            counter = RowCounter(picket.metrics, TABLES[kind])
            top = await counted_phase(opts, runner, counter, wl, f"max (C={opts.concurrency})", bare, cpu)
            report.rows.append(top.row)
            _progress(top.row)
            if not top.drained:
                report.rows.append(Row(KIND_NAMES[kind], "half", note=f"skipped: max-load backlog not drained "
                                                                      f"in {opts.drain:.0f} s"))
                continue
            half_rate = 0.5 * min(top.row.accepted_per_s or 0.0, top.processed_per_s or 0.0)
            if half_rate < 1:
                continue
            wl = replace(wl, tag=secrets.token_hex(4))
            half = await phase(opts, runner, api, fx, wl, f"half ({half_rate:,.0f}/s)", half_rate, bare, cpu)
            report.rows.append(half.row)
            _progress(half.row)
    finally:
        api.close()
        picket.sampler.stop()
        report.rss_peak = picket.sampler.peak
        procs.stop(picket.proc)


def _progress(row: Row) -> None:
    print(f"  {row.name} {row.load}: accepted {row.accepted_per_s or 0:,.0f}/s, processed "
          f"{row.processed_per_s or 0:,.0f}/s, lag p99 {row.lag_p99_s}", flush=True)


async def run(opts: Options) -> Report:
    work = Path(tempfile.mkdtemp(prefix="picket-ingest-bench-"))
    broker = f"external {opts.bootstrap}" if opts.bootstrap else "embedded Apache Kafka"
    report = Report(machine(), f"concurrency {opts.concurrency}, {opts.duration:.0f} s per phase, "
                               f"{opts.load_procs} load process(es), broker {broker}, probes every "
                               f"{opts.probe_every} s, polls every {opts.poll} s, drain wait ≤ {opts.drain:.0f} s")
    runner = LoadRunner(opts.load_procs)
    runner.start()
    try:
        print(f"work dir {work}\nbare stack...", flush=True)
        bare = await bare_stack(opts, runner, work)
        report.rows.extend(bare.rows)
        report.bare_rss_peak = bare.rss_peak
        report.ceiling_per_s = bare.accept_per_s
        for r in bare.rows:
            _progress(r)
        print("picket run...", flush=True)
        await picket_stack(opts, runner, work, bare, report)
    finally:
        report.load_at_end = load_average()
        runner.close()
        if opts.keep:
            print(f"kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    started = time.monotonic()
    report = asyncio.run(run(opts))
    print(format_table(report), flush=True)
    print(f"(benchmark took {time.monotonic() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
