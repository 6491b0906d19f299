"""Figures of the ingestion benchmark and the one table they are printed as. Pure."""

from __future__ import annotations

import bisect
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field

# The targets (of issue "check-ins and feedback at volume"): processed/s at max load as a share of
# the bare stack's ceiling (uvloop) of the same run, by row name prefix.
TARGET_CEILING_SHARE = {"check-in envelope": 0.6, "check-in HTTP": 0.6, "feedback": 0.6, "error event": 0.3}
TARGET_REST_PER_S = 1000.0
TARGET_REST_P99_MS = 250.0  # at half load
TARGET_LAG_P99_S = 1.0  # at half load
TARGET_CPU_MS = {"gateway": 0.15, "worker": 0.15}  # per check-in at half load
TARGET_RSS_BYTES = 1.0 * 1024**3
TARGET_READY_S = 10.0
TARGET_DRAIN_S = 2.0  # after a burst at max load: until every accepted check-in is queryable


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def processed_rate(accepted: Sequence[float], probes: dict[str, float], seen: dict[str, float],
                   started: float, tail_seen: float | None) -> tuple[float, bool]:
    """Items processed per second end to end; (rate, exact).

    Drained (`tail_seen`: when the probes sent after the load were all visible): every item
    accepted in the phase over the time from its start until the last was queryable. Not
    drained: a probe queues behind the items accepted before it (`accepted`: sorted answer
    times), so the items before the last visible probe over the time to it, a lower bound.
    """
    total = len(accepted)
    if tail_seen is not None:
        return total / max(tail_seen - started, 1e-9), True
    positions = [(bisect.bisect_left(accepted, a), seen[i]) for i, a in probes.items() if i in seen]
    if not positions:
        return 0.0, False
    position, at = max(positions)
    return position / max(at - started, 1e-9), False


@dataclass
class Row:
    """One line of the table: a kind of item at one load, or a part of the bare stack."""

    name: str
    load: str  # "max (C=64)", "half (1,234/s)", ...
    accepted_per_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    processed_per_s: float | None = None
    processed_exact: bool = True
    lag_p50_s: float | None = None
    lag_p99_s: float | None = None
    unseen: int = 0  # probes never seen before the drain timeout
    drain_s: float | None = None  # from the end of the load until the tail probes were visible
    gateway_ratio: float | None = None  # accepted/s ÷ bare Starlette→Kafka accepted/s
    processed_ratio: float | None = None  # processed/s ÷ bare consumer rows/s
    note: str = ""
    cores: dict[str, float] = field(default_factory=dict)  # CPU in cores by process group

    def cpu_ms_per_item(self) -> dict[str, float]:
        """CPU per accepted item, in milliseconds, by process group."""
        if not self.accepted_per_s:
            return {}
        return {name: cores / self.accepted_per_s * 1000 for name, cores in self.cores.items()}


@dataclass
class Report:
    machine: str
    settings: str
    rows: list[Row] = field(default_factory=list)
    rss_peak: int | None = None
    ceiling_per_s: float | None = None  # the bare stack's accepted/s on uvloop
    rss_at_ready: int | None = None
    ready_s: float | None = None
    reported_ready_s: float | None = None
    bare_rss_peak: int | None = None
    notes: list[str] = field(default_factory=list)
    load_at_end: str = ""


def _n(v: float | None, fmt: str = ",.0f") -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _lag(v: float | None, row: Row) -> str:
    if v is not None and math.isinf(v):
        return f">wait ({row.unseen})"
    return _n(v, ".2f")


def _ratio(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}×"


def format_table(report: Report) -> str:
    head = (f"{'what':22} {'load':18} {'accepted/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
            f"{'processed/s':>11} {'lag p50 s':>10} {'lag p99 s':>10} {'gw÷bare':>8} {'proc÷bare':>9}")
    lines = [f"machine: {report.machine}", f"run: {report.settings}", head, "-" * len(head)]
    for r in report.rows:
        processed = _n(r.processed_per_s)
        if r.processed_per_s is not None and not r.processed_exact:
            processed = "≥" + processed
        lines.append(
            f"{r.name:22} {r.load:18} {_n(r.accepted_per_s):>10} {_n(r.p50_ms, '.1f'):>8} {_n(r.p99_ms, '.1f'):>8} "
            f"{r.errors:>6} {processed:>11} {_lag(r.lag_p50_s, r):>10} {_lag(r.lag_p99_s, r):>10} "
            f"{_ratio(r.gateway_ratio):>8} {_ratio(r.processed_ratio):>9}" + (f"  {r.note}" if r.note else ""))
    lines.append("-" * len(head))
    gib = 1024**3
    if report.rss_peak is not None:
        lines.append(f"picket run RSS (process + embedded broker): peak {report.rss_peak / gib:.2f} GiB, "
                     f"at ready {(report.rss_at_ready or 0) / gib:.2f} GiB"
                     + (f"; bare stack peak {report.bare_rss_peak / gib:.2f} GiB" if report.bare_rss_peak else ""))
    if report.ready_s is not None:
        lines.append(f"picket run ready: {report.ready_s:.1f} s from exec to credentials printed and HTTP "
                     f"answering (Picket's own 'ready in' figure: {_n(report.reported_ready_s, '.1f')} s)")
    if report.load_at_end:
        lines.append(f"load average at end {report.load_at_end} (other work on the machine shows here "
                     "and in the CPU notes)")
    lines.append("targets:")
    lines.extend(f"  {t}" for t in verdicts(report))
    lines.extend(report.notes)
    return "\n".join(lines)


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def verdicts(report: Report) -> list[str]:
    out = []
    ceiling = report.ceiling_per_s
    for r in report.rows:
        share = next((v for k, v in TARGET_CEILING_SHARE.items() if r.name.startswith(k)), None)
        if share is not None and r.load.startswith("max"):
            got = None if not ceiling or r.processed_per_s is None else r.processed_per_s / ceiling
            out.append(f"{r.name}: processed ≥ {share}× the bare ceiling ({_n(ceiling)}/s) at max load: "
                       f"{_n(r.processed_per_s)}/s = {_ratio(got)} → {_met(None if got is None else got >= share)}")
        if r.name.startswith("check-in REST"):
            if r.load.startswith("max"):
                ok = None if r.processed_per_s is None or r.accepted_per_s is None else \
                    min(r.accepted_per_s, r.processed_per_s) >= TARGET_REST_PER_S
                out.append(f"{r.name}: ≥ {TARGET_REST_PER_S:,.0f}/s accepted and processed: "
                           f"{_n(r.accepted_per_s)} / {_n(r.processed_per_s)} → {_met(ok)}")
            elif r.load.startswith("half"):
                ok = None if r.p99_ms is None or math.isnan(r.p99_ms) else r.p99_ms <= TARGET_REST_P99_MS
                out.append(f"{r.name}: p99 ≤ {TARGET_REST_P99_MS:.0f} ms at half load: {_n(r.p99_ms)} ms → {_met(ok)}")
    for r in report.rows:
        if r.name.startswith("check-in") and r.load.startswith("max"):
            ok = None if r.drain_s is None else r.drain_s <= TARGET_DRAIN_S
            out.append(f"{r.name}: every check-in of the max-load burst queryable ≤ {TARGET_DRAIN_S:.0f} s after it: "
                       f"{_n(r.drain_s, '.1f')} s → {_met(ok)}")
    for r in report.rows:
        if r.load.startswith("half") and r.lag_p99_s is not None:
            ok = None if math.isnan(r.lag_p99_s) else r.lag_p99_s <= TARGET_LAG_P99_S
            out.append(f"{r.name}: lag p99 ≤ {TARGET_LAG_P99_S:.0f} s at half load: {_lag(r.lag_p99_s, r)} s → {_met(ok)}")
    for r in report.rows:
        if r.name.startswith("check-in") and r.load.startswith("half") and r.cores:
            per_item = r.cpu_ms_per_item()
            shown = ", ".join(f"{name} {ms:.2f}" for name, ms in per_item.items())
            ok = all(per_item.get(name, math.inf) <= limit for name, limit in TARGET_CPU_MS.items())
            limits = ", ".join(f"{name} ≤ {limit}" for name, limit in TARGET_CPU_MS.items())
            out.append(f"{r.name}: CPU ms per check-in at half load ({limits}): {shown} → {_met(ok)}")
    if report.rss_peak is not None:
        out.append(f"stack RSS ≤ {TARGET_RSS_BYTES / 1024**3:.0f} GiB: peak {report.rss_peak / 1024**3:.2f} GiB → "
                   f"{_met(report.rss_peak <= TARGET_RSS_BYTES)}")
    if report.ready_s is not None:
        out.append(f"picket run ready ≤ {TARGET_READY_S:.0f} s: {report.ready_s:.1f} s → "
                   f"{_met(report.ready_s <= TARGET_READY_S)}")
    return out


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
        with open("/proc/meminfo") as f:
            kb = int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1])
        ram = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        ram = "unknown RAM"
    return (f"{os.cpu_count()} cores ({model}), {ram}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; load average at start {load_average()}")


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())
