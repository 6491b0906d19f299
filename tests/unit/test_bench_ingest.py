"""The ingestion benchmark's pure parts: percentiles, rates, options, the table, request bodies."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import msgspec
import pytest

from bench import ingest, load, report
from picket.schemas.ingest import IngestItem
from picket.ingest.checkins import process_checkin_item
from picket.ingest.cron import cron_envelope
from picket.ingest.envelope import parse_envelope
from picket.ingest.feedback import process_feedback_item


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert report.percentile(values, 50) == 50
    assert report.percentile(values, 99) == 99
    assert report.percentile([3.0], 99) == 3.0
    assert math.isnan(report.percentile([], 50))
    assert math.isinf(report.percentile([1.0, math.inf], 99))


def test_processed_rate_drained_counts_every_item_until_the_tail() -> None:
    accepted = [100.0 + i / 100 for i in range(1000)]  # 1000 items over 10 s
    rate, exact = report.processed_rate(accepted, {}, {}, started=100.0, tail_seen=120.0)
    assert exact and rate == pytest.approx(50.0)


def test_processed_rate_not_drained_is_a_lower_bound_from_the_last_visible_probe() -> None:
    accepted = [100.0 + i / 100 for i in range(1000)]
    probes = {"a": 102.0, "b": 105.0, "c": 109.0}  # answered at these times
    seen = {"a": 104.0, "b": 110.0}  # c never seen
    rate, exact = report.processed_rate(accepted, probes, seen, started=100.0, tail_seen=None)
    assert not exact
    assert rate == pytest.approx(500 / 10.0)  # 500 items were ahead of b, visible 10 s in
    assert report.processed_rate(accepted, probes, {}, 100.0, None) == (0.0, False)


def test_options_quick_and_kinds() -> None:
    opts = ingest.parse_args(["--quick", "--kinds", "event,feedback", "--concurrency", "8"])
    assert opts.duration == 4.0 and opts.drain == 20.0 and opts.concurrency == 8
    assert opts.kinds == ["event", "feedback"] and opts.bootstrap is None
    full = ingest.parse_args(["--duration", "30", "--bootstrap", "127.0.0.1:9092"])
    assert full.duration == 30.0 and full.bootstrap == "127.0.0.1:9092" and full.kinds == list(ingest.KIND_NAMES) and len(full.kinds) == 5
    with pytest.raises(SystemExit):
        ingest.parse_args(["--kinds", "transactions"])


def test_table_shows_figures_ratios_and_verdicts() -> None:
    rep = report.Report("test machine", "test run", rss_peak=2 * 1024**3, rss_at_ready=1024**3, ready_s=8.0,
                        reported_ready_s=7.5, ceiling_per_s=10_000)
    rep.rows = [
        report.Row("bare Starlette→Kafka", "max (C=64)", accepted_per_s=8000, p50_ms=7.0, p99_ms=20.0),
        report.Row("check-in REST", "max (C=64)", accepted_per_s=1200, p50_ms=60, p99_ms=90,
                   processed_per_s=1100, lag_p50_s=0.2, lag_p99_s=0.4, gateway_ratio=0.12),
        report.Row("check-in REST", "half (550/s)", accepted_per_s=550, p50_ms=20, p99_ms=300,
                   processed_per_s=540, lag_p50_s=0.2, lag_p99_s=0.4),
        report.Row("check-in envelope", "max (C=64)", accepted_per_s=7000, p50_ms=9, p99_ms=30,
                   processed_per_s=6500, lag_p50_s=0.4, lag_p99_s=1.1, gateway_ratio=0.75, processed_ratio=0.5),
        report.Row("check-in envelope", "half (2,600/s)", accepted_per_s=2000, processed_per_s=150,
                   processed_exact=False, lag_p50_s=3.0, lag_p99_s=math.inf, unseen=4,
                   cores={"gateway": 0.2, "worker": 0.4, "broker+run": 0.1}),
        report.Row("error event envelope", "max (C=64)", accepted_per_s=2500, processed_per_s=2000),
    ]
    text = report.format_table(rep)
    assert "0.40" in text and "≥150" in text and ">wait (4)" in text and "0.75×" in text
    assert "check-in envelope: processed ≥ 0.6× the bare ceiling (10,000/s) at max load: 6,500/s = 0.65× → met" in text
    assert "error event envelope: processed ≥ 0.3× the bare ceiling (10,000/s) at max load: 2,000/s = 0.20× → MISSED" in text
    assert "check-in REST: ≥ 1,000/s accepted and processed: 1,200 / 1,100 → met" in text
    assert "check-in REST: p99 ≤ 250 ms at half load: 300 ms → MISSED" in text
    assert "check-in envelope: lag p99 ≤ 1 s at half load: >wait (4) s → MISSED" in text
    assert "check-in REST: lag p99 ≤ 1 s at half load: 0.40 s → met" in text
    # CPU per check-in: cores ÷ accepted/s (0.2 cores at 2,000/s = 0.10 ms)
    assert ("check-in envelope: CPU ms per check-in at half load (gateway ≤ 0.15, worker ≤ 0.15): "
            "gateway 0.10, worker 0.20, broker+run 0.05 → MISSED") in text
    assert "stack RSS ≤ 1 GiB: peak 2.00 GiB → MISSED" in text
    assert "picket run ready ≤ 10 s: 8.0 s → met" in text


def _item(item_type: str, payload: bytes) -> IngestItem:
    return IngestItem(item_type=item_type, received=datetime.now(timezone.utc), event_id=None, payload=payload,
                      org_id=1, project_id=2, key_id=3)


@pytest.mark.parametrize("kind", ["checkin-envelope", "event", "feedback"])
def test_generated_envelopes_are_what_picket_accepts(kind: str) -> None:
    wl = load.Workload(kind, "127.0.0.1", 8000, project_id=2, key="k" * 32, monitors=("m-1", "m-2"),
                       probe_project_id=9, probe_key="p" * 32, probe_monitors=("probe-0",), tag="0a0b0c0d")
    raw = wl.build(7, probe=True)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /api/9/envelope/ HTTP/1.1") and b"sentry_key=" + b"p" * 32 in head
    assert f"Content-Length: {len(body)}".encode() in head
    probe_id = wl.item_id(7, True)
    assert len(probe_id) == 32 and int(probe_id, 16) >= 0 and probe_id != wl.item_id(7, False)
    (item,) = parse_envelope(body).items
    if kind == "checkin-envelope":
        result = process_checkin_item(_item("check_in", item.payload), "t/0/0")
        assert result.command is not None and result.command.check_in_id == probe_id
        assert result.command.slug == "probe-0"
    elif kind == "feedback":
        (row,) = process_feedback_item(_item("feedback", item.payload)).rows
        assert row[2] == probe_id
    else:
        assert msgspec.json.decode(item.payload)["event_id"] == probe_id


def test_rest_checkin_request_uses_the_token_and_a_bulk_monitor() -> None:
    wl = load.Workload("checkin-rest", "h", 1, org="acme", token="t0k", monitors=("m-1", "m-2"),
                       probe_monitors=("probe-0",))
    raw = wl.build(3, probe=False)
    assert raw.startswith(b"POST /api/0/organization/acme/monitors/m-2/checkins/ HTTP/1.1\r\n")
    assert b"Authorization: Bearer t0k" in raw
    assert wl.build(4, probe=True).startswith(b"POST /api/0/organization/acme/monitors/probe-0/checkins/ ")
    # The server names a REST check-in: a probe is known by the id its answer carries.
    assert wl.probe_id(4, b'{"id": "83a7c0f9-1e3c-4b6c-9f8e-5c2a1d0b7e64", "status": "ok"}') == \
        "83a7c0f91e3c4b6c9f8e5c2a1d0b7e64"


def test_a_cron_check_in_request_is_what_the_http_check_in_endpoint_accepts() -> None:
    wl = load.Workload("checkin-cron", "h", 1, project_id=2, key="k" * 32, monitors=("m-1", "m-2"), tag="0a0b0c0d")
    raw = wl.build(1, probe=False)
    head = raw.partition(b"\r\n\r\n")[0].decode()
    request_line = head.splitlines()[0]
    assert request_line.startswith(f"GET /api/2/cron/m-2/{'k' * 32}/?") and request_line.endswith(" HTTP/1.1")
    query = dict(x.split("=") for x in request_line.split("?", 1)[1].split(" ")[0].split("&"))
    (item,) = cron_envelope("m-2", query, b"", None).items
    result = process_checkin_item(_item("check_in", item.payload), "t/0/0")
    assert result.command is not None and result.command.check_in_id == wl.item_id(1, False)
    assert result.command.status == "ok" and result.command.duration == 500


def test_the_burst_verdict_is_the_drain_after_the_max_load_of_each_check_in_kind() -> None:
    rows = [report.Row("check-in envelope", "max (C=64)", drain_s=1.4),
            report.Row("check-in HTTP (cron)", "max (C=64)", drain_s=6.0),
            report.Row("check-in REST", "max (C=64)"),  # its tail never became visible
            report.Row("check-in envelope", "half (900/s)", drain_s=0.2),
            report.Row("feedback envelope", "max (C=64)", drain_s=9.0)]
    burst = [v for v in report.verdicts(report.Report("m", "s", rows=rows)) if "burst" in v]
    assert burst == [
        "check-in envelope: every check-in of the max-load burst queryable ≤ 2 s after it: 1.4 s → met",
        "check-in HTTP (cron): every check-in of the max-load burst queryable ≤ 2 s after it: 6.0 s → MISSED",
        "check-in REST: every check-in of the max-load burst queryable ≤ 2 s after it: — s → n/a",
    ]


def test_rows_written_are_read_from_the_workers_exposition() -> None:
    from bench.counters import rows_written

    text = ('# HELP picket_store_rows_written_total Rows inserted\n'
            'picket_store_rows_written_total{table="monitor_checkins"} 1234.0\n'
            'picket_store_rows_written_total{table="monitor_checkins_old"} 9.0\n'
            'picket_store_rows_written_total{table="error_events"} 7.0\n')
    assert rows_written(text, "monitor_checkins") == 1234.0
    assert rows_written(text, "error_events") == 7.0
    assert rows_written(text, "feedback") == 0.0


def test_the_soak_calls_memory_flat_from_the_second_minute_on() -> None:
    from bench.soak import flat

    mib = 1024**2
    assert flat([800 * mib, 900 * mib]) is None, "too short to say"
    assert flat([700 * mib, 900 * mib, 950 * mib, 960 * mib]) is True, "the first minute warms up"
    assert flat([700 * mib, 900 * mib, 950 * mib, 990 * mib]) is False
