"""`picket status`, its pure parts: processes read from a /proc and a data directory of files,
the lag of a group, tables for the terminal, what counts as a problem, and the exit code when
nothing runs."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from picket import status
from picket.bus.topics import Topics
from picket.config import from_env
from picket.status import (
    GroupLag, Process, Report, TableSize, group_lag, human_bytes, human_duration, lock_holder, parse_rss,
    parse_stat, problems, processes, registry_groups, render, table,
)

TICKS = os.sysconf("SC_CLK_TCK")


def fake_proc(root: Path, pid: int, cmdline: bytes, state: str = "S", started: int = 100 * TICKS,
              rss_kb: int = 2048) -> None:
    d = root / str(pid)
    d.mkdir(parents=True)
    (d / "cmdline").write_bytes(cmdline)
    fields = [state] + ["0"] * 18 + [str(started)] + ["0"] * 10
    (d / "stat").write_text(f"{pid} (python3 (x)) {' '.join(fields)}\n")
    (d / "status").write_text(f"Name:\tpython3\nVmPeak:\t 9999 kB\nVmRSS:\t    {rss_kb} kB\n")


def test_stat_status_and_locks_are_read_as_the_kernel_writes_them() -> None:
    assert parse_stat("42 (a (weird) name) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 0 0") == ("R", 777)
    assert parse_rss("Name:\tx\nVmRSS:\t  1234 kB\n") == 1234 * 1024
    assert parse_rss("Name:\tkthreadd\n") is None
    dev = os.makedev(0xfd, 0x01)
    locks = ("1: POSIX  ADVISORY  WRITE 111 fd:01:999 0 EOF\n"
             "2: FLOCK  ADVISORY  WRITE 4242 fd:01:123456 0 EOF\n"
             "2: -> FLOCK  ADVISORY  WRITE 5555 fd:01:123456 0 EOF\n")
    assert lock_holder(locks, dev, 123456) == 4242
    assert lock_holder(locks, os.makedev(0x08, 0x01), 123456) is None
    assert lock_holder("garbage\n", dev, 1) is None


def test_processes_are_the_lock_holder_and_the_pid_files_alive_or_not(tmp_path: Path) -> None:
    proc, data = tmp_path / "proc", tmp_path / "data"
    (data / "run").mkdir(parents=True)
    (proc).mkdir()
    (proc / "uptime").write_text("1000.00 50.00\n")
    lock = data / "run.lock"
    lock.write_text("")
    st = lock.stat()
    (proc / "locks").write_text(f"1: FLOCK  ADVISORY  WRITE 10 {os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:"
                                f"{st.st_ino} 0 EOF\n")
    fake_proc(proc, 10, b"/venv/bin/python\0-m\0picket.cli\0run\0")
    fake_proc(proc, 11, b"/venv/bin/python\0-m\0picket.cli\0worker\0", rss_kb=300 * 1024)
    fake_proc(proc, 12, b"/venv/bin/python\0-m\0picket.cli\0gateway\0", state="Z")  # a zombie
    fake_proc(proc, 13, b"/usr/bin/java\0-cp\0/cache/kafka_2.13.jar\0kafka.Kafka\0")
    fake_proc(proc, 14, b"/usr/bin/vim\0")  # the pid of gateway-2's file, since reused
    for name, pid in (("worker", 11), ("gateway", 12), ("broker", 13), ("gateway-2", 14), ("gateway-3", 99)):
        (data / "run" / f"{name}.pid").write_text(f"{pid}\n")
    (data / "run" / "junk.pid").write_text("not a pid")

    found = processes(data, proc)
    assert [(p.name, p.pid, p.alive) for p in found] == [
        ("supervisor", 10, True), ("broker", 13, True), ("worker", 11, True), ("gateway", 12, False),
        ("gateway-2", 14, False), ("gateway-3", 99, False)]
    worker = found[2]
    assert worker.rss == 300 * 1024 * 1024 and worker.uptime == pytest.approx(900.0)


def test_lag_counts_from_the_committed_offset_or_where_nothing_was_committed_from_the_start() -> None:
    assert group_lag("g", "t", {0: 10, 1: 5}, {0: 0, 1: 0}, {0: 10, 1: 5}, members=1) == GroupLag(
        "g", "t", 2, 0, True, 1)
    assert group_lag("g", "t", {0: 10, 1: 5}, {0: 0, 1: 2}, {0: 7}).lag == 3 + 3
    never = group_lag("g", "t", {0: 10, 1: 4}, {0: 2, 1: 4}, {0: -1})
    assert (never.lag, never.committed) == (8, False)
    assert group_lag("g", "t", {0: 10}, {0: 0}, {}).committed is False
    assert group_lag("g", "t", {0: 10}, {0: 0}, {0: 12}).lag == 0  # committed past a marker


def test_the_registry_groups_are_named_under_the_prefix_and_app_id() -> None:
    pairs = registry_groups(Topics("t1-", "t1-picket"))
    assert ("t1-picket-ingest-events", "t1-ingest-events") in pairs
    assert ("t1-picket-ingest-events", "t1-issues-commands") in pairs  # read together, one group
    assert ("t1-picket", "t1-tenancy-commands") in pairs  # the Faust app's own group
    assert ("t1-picket-monitors-clock", "t1-monitors-clock-tick") in pairs
    assert len(pairs) == len(set(pairs))


def test_sizes_and_durations_read_as_people_write_them() -> None:
    assert [human_bytes(n) for n in (None, 0, 1023, 1024, 5 * 1024 ** 2 + 1, 3 * 1024 ** 4)] == [
        "-", "0 B", "1023 B", "1.0 KiB", "5.0 MiB", "3.0 TiB"]
    assert [human_duration(s) for s in (None, 5, 65, 3 * 3600 + 120, 2 * 86400 + 3600)] == [
        "-", "5s", "1m05s", "3h02m", "2d01h"]


def test_a_table_aligns_its_columns() -> None:
    assert table(["name", "rows"], [("error_events", 12), ("sessions", 1500)], right=(1,)).splitlines() == [
        "  name          rows",
        "  error_events    12",
        "  sessions      1500",
    ]


def _report(**changes: object) -> Report:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
    report = Report(
        Path("/srv/picket-data"),
        processes=[Process("supervisor", 10, True, 50 * 1024 ** 2, 3600), Process("worker", 11, True, 300 * 1024 ** 2, 60),
                   Process("gateway", 12, True, 90 * 1024 ** 2, 60)],
        kafka="127.0.0.1:9092",
        groups=[GroupLag("picket-ingest-events", "ingest-events", 4, 0, True, 1),
                GroupLag("picket-ingest-events", "issues-commands", 4, 0, False, 1)],
        dead_letters={"ingest-dlq": 0, "monitors-commands-dlq": 0},
        last_tick=now - timedelta(seconds=30),
        store="http://picket:***@127.0.0.1:9000",
        tables=[TableSize("error_events", 3, 4096), TableSize("sessions", 0, 0)],
        now=now,
    )
    for key, value in changes.items():
        setattr(report, key, value)
    return report


def test_the_report_names_every_part() -> None:
    text = render(_report())
    for expected in ("Processes", "worker", "300.0 MiB", "1h00m", "Consumer groups (Kafka 127.0.0.1:9092)",
                     "picket-ingest-events", "0 (nothing committed)", "Dead letters: none on the 2 dead-letter topics",
                     "Monitors clock: last tick 2026-12-06T11:59:30+00:00 (30s ago)",
                     "Tables (ClickHouse http://picket:***@127.0.0.1:9000", "error_events", "No problems seen."):
        assert expected in text, expected
    [row] = [line.split() for line in text.splitlines() if line.split()[:1] == ["error_events"]]
    assert row[:2] == ["error_events", "3"]
    assert "sessions" not in text and "and 1 empty tables" in text
    letters = render(_report(dead_letters={"ingest-dlq": 2, "monitors-commands-dlq": 0}))
    assert "ingest-dlq" in letters and "none on the 1 other dead-letter topics" in letters


def test_problems_are_dead_processes_lag_dead_letters_a_late_clock_and_unreachable_parts() -> None:
    assert problems(_report()) == []
    report = _report(processes=[Process("worker", 11, False)],
                     groups=[GroupLag("picket-outcomes", "outcomes", 4, 5000, True, 0)],
                     dead_letters={"ingest-dlq": 2},
                     kafka_error=None, store_error="OperationalError: refused")
    report.last_tick = report.now - timedelta(minutes=10)
    assert problems(report) == [
        "worker (pid 11) is not running",
        "picket-outcomes is 5000 messages behind on outcomes",
        "picket-outcomes has no members (no consumer reads outcomes)",
        "2 dead letters on ingest-dlq",
        "ClickHouse: OperationalError: refused",
        "the monitors clock last ticked 10m00s ago",
    ]
    text = render(_report(kafka_error="KafkaConnectionError: refused", store_error="no store server"))
    assert "unavailable: KafkaConnectionError: refused" in text and "unavailable: no store server" in text
    assert "Problems" in text


def test_nothing_running_on_the_data_directory_is_exit_code_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("KAFKA_BOOTSTRAP", "CLICKHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert status.main(from_env(str(tmp_path / "missing"))) == 1
    assert "nothing is running on" in capsys.readouterr().err
    (tmp_path / "stopped" / "run").mkdir(parents=True)
    (tmp_path / "stopped" / "run" / "worker.pid").write_text("999999999\n")  # left by a kill -9
    assert status.main(from_env(str(tmp_path / "stopped"))) == 1


def test_the_store_is_the_one_the_running_instance_serves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    settings = from_env(str(tmp_path))
    assert status.store_url(settings, running=True) is None  # no store.json: nothing serves the engine
    (tmp_path / "store.json").write_text('{"url": "http://picket:pw@127.0.0.1:9000", "password": "pw"}')
    assert status.store_url(settings, running=True) == "http://picket:pw@127.0.0.1:9000"
    assert status.store_url(settings, running=False) is None  # left behind by a stopped run
    monkeypatch.setenv("CLICKHOUSE_URL", "http://clickhouse:8123")
    assert status.store_url(from_env(str(tmp_path)), running=False) == "http://clickhouse:8123"
