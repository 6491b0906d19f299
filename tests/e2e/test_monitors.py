"""Cron monitors end to end: REST monitors and check-ins, the SDK and sentry-cli as clients,
and the clock (driven by ticks the test publishes, not by sleeping) marking missed and
timed-out check-ins and moving environments between ok and error."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from aiokafka import AIOKafkaProducer

from picket.schemas.topics import MONITORS_CLOCK_TICK
from picket.agents.monitors import tick
from tests.support.waiting import eventually
from tests.support.api import call
from tests.support.picket import PicketProcess

ORG = "crons"


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("crons"), org=ORG,
                         env={"PICKET_CLOCK": "manual"}).start()
    yield proc
    proc.stop()


def publish_tick(p: PicketProcess, at: datetime) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=p.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(p.prefix + MONITORS_CLOCK_TICK.name, MONITORS_CLOCK_TICK.encode(tick(at)))
        finally:
            await producer.stop()

    asyncio.run(send())


def _create(p: PicketProcess, slug: str, config: dict[str, Any]) -> dict[str, Any]:
    with p.client() as http:
        created = call(http, "POST", f"/api/0/organizations/{ORG}/monitors/",
                       json={"project": "default", "name": slug, "slug": slug, "type": "cron_job", "config": config})
    assert created.status_code == 201, created.text
    return created.json()


def _check_ins(p: PicketProcess, slug: str) -> list[dict[str, Any]]:
    with p.client() as http:
        return call(http, "GET", f"/api/0/organization/{ORG}/monitors/{slug}/checkins/").json()


def _environment(p: PicketProcess, slug: str) -> dict[str, Any]:
    with p.client() as http:
        monitor = call(http, "GET", f"/api/0/organizations/{ORG}/monitors/{slug}/").json()
    return {e["name"]: e for e in monitor["environments"]}.get("production", {})


def test_monitor_crud_and_validation(p: PicketProcess) -> None:
    created = _create(p, "nightly-report", {"schedule_type": "crontab", "schedule": "*/5 * * * *",
                                           "timezone": "Europe/Vienna", "checkin_margin": 5, "max_runtime": 30})
    assert created["slug"] == "nightly-report" and created["config"]["schedule"] == "*/5 * * * *"
    assert created["config"]["timezone"] == "Europe/Vienna"
    with p.client() as http:
        listed = call(http, "GET", f"/api/0/organizations/{ORG}/monitors/").json()
        assert "nightly-report" in {x["slug"] for x in listed}
        updated = call(http, "PUT", f"/api/0/organizations/{ORG}/monitors/nightly-report/",
                       json={"project": "default", "name": "Nightly", "type": "cron_job",
                             "config": {"schedule_type": "interval", "schedule": [2, "hour"]}})
        assert updated.json()["name"] == "Nightly" and updated.json()["config"]["schedule"] == [2, "hour"]
        for bad in (
            {"schedule_type": "crontab", "schedule": "61 * * * *"},
            {"schedule_type": "crontab", "schedule": "* * * *"},
            {"schedule_type": "crontab", "schedule": "0 * * * *", "timezone": "Mars/Olympus"},
            {"schedule_type": "interval", "schedule": [1, "fortnight"]},
        ):
            response = http.post(f"/api/0/organizations/{ORG}/monitors/",
                                 json={"project": "default", "name": "bad", "type": "cron_job", "config": bad})
            assert response.status_code == 400 and response.json()["detail"], bad
        duplicate = http.post(f"/api/0/organizations/{ORG}/monitors/",
                              json={"project": "default", "name": "x", "slug": "nightly-report", "type": "cron_job",
                                    "config": {"schedule": "0 * * * *"}})
        assert duplicate.status_code == 409
        assert call(http, "DELETE", f"/api/0/organizations/{ORG}/monitors/nightly-report/").status_code == 202
        assert http.get(f"/api/0/organizations/{ORG}/monitors/nightly-report/").status_code == 404


def test_check_in_lifecycle_over_rest(p: PicketProcess) -> None:
    _create(p, "backup", {"schedule_type": "crontab", "schedule": "0 * * * *", "max_runtime": 10})
    base = f"/api/0/organization/{ORG}/monitors/backup/checkins/"
    with p.client() as http:
        started = call(http, "POST", base, json={})
        assert started.status_code == 201 and started.json()["status"] == "in_progress"
        check_in_id = started.json()["id"]
        heartbeat = call(http, "PUT", f"{base}{check_in_id}/", json={})
        assert heartbeat.json()["status"] == "in_progress"
        done = call(http, "PUT", f"{base}latest/", json={"status": "ok", "duration": 1234})
        assert done.json()["id"] == check_in_id and done.json()["status"] == "ok" and done.json()["duration"] == 1234
        again = http.put(f"{base}{check_in_id}/", json={"status": "error"})
        assert again.status_code == 400 and again.json()["detail"]
        assert http.post(base, json={"status": "running"}).status_code == 400
        assert http.post(f"/api/0/organization/{ORG}/monitors/nope/checkins/", json={}).status_code == 404
    # Check-ins are answered once decided; lists show them once projected.
    assert eventually(lambda: [c["status"] for c in _check_ins(p, "backup")], lambda v: v == ["ok"]) == ["ok"]
    assert eventually(lambda: _environment(p, "backup").get("status"), lambda v: v == "ok") == "ok"


def test_missed_check_ins_and_thresholds_follow_the_clock(p: PicketProcess) -> None:
    _create(p, "every-minute", {"schedule_type": "interval", "schedule": [1, "minute"], "checkin_margin": 1,
                                "failure_issue_threshold": 2, "recovery_threshold": 2})
    base = f"/api/0/organization/{ORG}/monitors/every-minute/checkins/"
    with p.client() as http:
        call(http, "POST", base, json={"status": "ok"})
    env = eventually(lambda: _environment(p, "every-minute"), lambda e: e.get("nextCheckInLatest") is not None)
    latest = datetime.fromisoformat(env["nextCheckInLatest"].replace("Z", "+00:00"))
    publish_tick(p, latest - timedelta(minutes=1))  # before the deadline: nothing happens
    publish_tick(p, latest)  # the expected check-in's margin has passed: one missed
    missed = eventually(lambda: _check_ins(p, "every-minute"),
                        lambda v: sum(c["status"] == "missed" for c in v) >= 1)
    assert sum(c["status"] == "missed" for c in missed) == 1
    assert missed[0]["expectedTime"] is not None
    assert _environment(p, "every-minute")["status"] == "ok", "one miss is below the threshold of 2"
    publish_tick(p, latest + timedelta(minutes=1))
    eventually(lambda: _environment(p, "every-minute"), lambda env: env.get("status") == "error")
    oks = sum(c["status"] == "ok" for c in _check_ins(p, "every-minute"))
    with p.client() as http:
        call(http, "POST", base, json={"status": "ok"})
    eventually(lambda: _check_ins(p, "every-minute"), lambda v: sum(c["status"] == "ok" for c in v) == oks + 1)
    assert _environment(p, "every-minute")["status"] == "error", "one success is below recovery"
    with p.client() as http:
        call(http, "POST", base, json={"status": "ok"})
    assert eventually(lambda: _environment(p, "every-minute")["status"], lambda v: v == "ok") == "ok"


def test_an_overrun_times_out_and_a_late_ok_does_not_reopen_it(p: PicketProcess) -> None:
    _create(p, "long-job", {"schedule_type": "crontab", "schedule": "0 0 * * *", "max_runtime": 1})
    base = f"/api/0/organization/{ORG}/monitors/long-job/checkins/"
    with p.client() as http:
        check_in_id = call(http, "POST", base, json={"status": "in_progress"}).json()["id"]
        publish_tick(p, datetime.now(timezone.utc) + timedelta(minutes=5))
        eventually(lambda: _check_ins(p, "long-job"), lambda v: v and v[0]["status"] == "timeout")
        late = http.put(f"{base}{check_in_id}/", json={"status": "ok"})
        assert late.status_code == 400
    assert [c["status"] for c in _check_ins(p, "long-job")] == ["timeout"]


def test_sdk_check_ins_create_and_feed_monitors(p: PicketProcess) -> None:
    from sentry_sdk.crons import capture_checkin, monitor

    sentry_sdk.init(dsn=p.dsn, default_integrations=False)
    try:
        config = {"schedule": {"type": "crontab", "value": "*/5 * * * *"}, "timezone": "Europe/Vienna",
                  "checkin_margin": 2, "max_runtime": 10}
        check_in_id = capture_checkin(monitor_slug="sdk-job", status="in_progress", monitor_config=config)
        capture_checkin(monitor_slug="sdk-job", check_in_id=check_in_id, status="ok", duration=2.5,
                        monitor_config=config)

        @monitor(monitor_slug="decorated-job", monitor_config=config)
        def job() -> None:
            pass

        job()
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()
    statuses = eventually(lambda: [c["status"] for c in _check_ins(p, "sdk-job")] if _exists(p, "sdk-job") else [],
                          lambda v: v == ["ok"])
    assert statuses == ["ok"]
    assert _check_ins(p, "sdk-job")[0]["duration"] == 2500
    eventually(lambda: _exists(p, "decorated-job") and _check_ins(p, "decorated-job"),
               lambda v: bool(v) and v[0]["status"] == "ok")
    with p.client() as http:
        made = call(http, "GET", f"/api/0/organizations/{ORG}/monitors/sdk-job/").json()
    assert made["config"]["timezone"] == "Europe/Vienna" and made["config"]["schedule"] == "*/5 * * * *"


def _exists(p: PicketProcess, slug: str) -> bool:
    with p.client() as http:
        return http.get(f"/api/0/organizations/{ORG}/monitors/{slug}/").status_code == 200


def _curl(*args: str) -> tuple[int, str]:
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", *args],
                         capture_output=True, text=True, timeout=30)
    return int(out.stdout or 0), out.stderr


def test_a_shell_cron_job_reports_with_curl_through_the_http_check_in_endpoint(p: PicketProcess) -> None:
    """As Sentry documents for shell jobs: a POST with `monitor_config` creates the monitor and
    starts a run without an id; a GET with `status=ok` finishes that run; a run with its own id
    is started and failed; a bad status is a 400 and changes nothing."""
    public, project_id = p.dsn.split("//")[1].split("@")[0], p.dsn.rsplit("/", 1)[1]
    base = f"{p.url}/api/{project_id}/cron/curl-job/{public}/"
    config = '{"monitor_config": {"schedule": {"type": "crontab", "value": "0 * * * *"}, "max_runtime": 30}}'
    assert _curl("-X", "POST", base + "?status=in_progress", "-H", "Content-Type: application/json",
                 "-d", config) == (202, "")
    eventually(lambda: _exists(p, "curl-job") and _check_ins(p, "curl-job"),
               lambda v: bool(v) and v[0]["status"] == "in_progress")
    assert _curl(base + "?status=ok&duration=4") == (202, "")
    assert eventually(lambda: [c["status"] for c in _check_ins(p, "curl-job")], lambda v: v == ["ok"]) == ["ok"]
    assert _check_ins(p, "curl-job")[0]["duration"] == 4000

    run = "5d2e1b4a-0c3f-4e6a-9b7d-8f1e2a3c4b5d"
    assert _curl(base + f"?status=in_progress&check_in_id={run}") == (202, "")
    assert _curl(base.rstrip("/") + f"?status=error&check_in_id={run}") == (202, "")
    found = eventually(lambda: {c["id"]: c["status"] for c in _check_ins(p, "curl-job")},
                       lambda v: v.get(run.replace("-", "")) == "error")
    assert sorted(found.values()) == ["error", "ok"]

    assert _curl(base + "?status=finished")[0] == 400
    assert _curl(f"{p.url}/api/{project_id}/cron/curl-job/{'0' * 32}/?status=ok")[0] == 401
    assert len(_check_ins(p, "curl-job")) == 2


def test_sentry_cli_monitors_run(p: PicketProcess) -> None:
    cli = Path(sys.executable).with_name("sentry-cli")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(p.data_dir), "SENTRY_DSN": p.dsn,
           "SENTRY_LOG_LEVEL": "warn"}
    out = subprocess.run([str(cli), "monitors", "run", "--schedule", "0 * * * *", "cli-job", "--", "true"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    # Its in_progress and then ok check-in: lists may show the first before the second.
    statuses = eventually(lambda: [c["status"] for c in _check_ins(p, "cli-job")] if _exists(p, "cli-job") else [],
                          lambda v: v == ["ok"])
    assert statuses == ["ok"]


def test_environments_filters_environment_delete_and_dsn_check_ins(p: PicketProcess) -> None:
    import httpx

    _create(p, "multi-env", {"schedule_type": "crontab", "schedule": "0 * * * *"})
    base = f"/api/0/organization/{ORG}/monitors/multi-env/checkins/"
    with p.client() as http:
        ok = call(http, "POST", base, json={"status": "ok", "environment": "production"}).json()["id"]
        error = call(http, "POST", base, json={"status": "error", "environment": "staging"}).json()["id"]
        eventually(lambda: call(http, "GET", base).json(), lambda v: len(v) == 2)  # both projected
        assert [c["id"] for c in call(http, "GET", base, params={"environment": "staging"}).json()] == [error]
        first = call(http, "GET", base, params={"per_page": 1})
        second = call(http, "GET", base, params={"per_page": 1, "cursor": "1:1:0"})
        assert [c["id"] for c in first.json() + second.json()] == [error, ok], "newest first, one per page"
        assert 'rel="next"; results="true"' in first.headers["Link"]
        assert 'rel="next"; results="false"' in second.headers["Link"]
        detail = call(http, "GET", f"/api/0/organizations/{ORG}/monitors/multi-env/").json()
        assert {e["name"]: e["status"] for e in detail["environments"]} == {"production": "ok", "staging": "error"}
        only = call(http, "GET", f"/api/0/organizations/{ORG}/monitors/multi-env/",
                    params={"environment": "staging"}).json()
        assert [e["name"] for e in only["environments"]] == ["staging"]
        project_id = detail["project"]["id"]
        by_project = call(http, "GET", f"/api/0/organizations/{ORG}/monitors/", params={"project": project_id}).json()
        assert "multi-env" in {x["slug"] for x in by_project}
        assert call(http, "GET", f"/api/0/organizations/{ORG}/monitors/", params={"project": "999"}).json() == []
        gone = call(http, "DELETE", f"/api/0/organizations/{ORG}/monitors/multi-env/", params={"environment": "staging"})
        assert gone.status_code == 202
        after = call(http, "GET", f"/api/0/organizations/{ORG}/monitors/multi-env/").json()
        assert [e["name"] for e in after["environments"]] == ["production"], "only that environment went"
    # A DSN may check in and gets only the id back.
    by_dsn = httpx.post(f"{p.url}{base}", json={"status": "ok"}, headers={"Authorization": f"DSN {p.dsn}"})
    assert by_dsn.status_code == 201 and set(by_dsn.json()) == {"id"}
    bad_dsn = httpx.post(f"{p.url}{base}", json={"status": "ok"}, headers={"Authorization": "DSN http://00@x/1"})
    assert bad_dsn.status_code == 401


def test_monitor_state_survives_a_restart(kafka, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The monitor agent rebuilds a monitor from its log: an open check-in can be finished,
    and a finished one still cannot change, after a SIGKILL and a restart."""
    proc = PicketProcess(kafka.bootstrap, tmp_path / "restart", org=ORG, env={"PICKET_CLOCK": "manual"}).start()
    try:
        _create(proc, "survivor", {"schedule_type": "crontab", "schedule": "0 * * * *"})
        base = f"/api/0/organization/{ORG}/monitors/survivor/checkins/"
        with proc.client() as http:
            open_id = call(http, "POST", base, json={}).json()["id"]
            done_id = call(http, "POST", base, json={"status": "ok"}).json()["id"]
        proc.stop(kill=True)
        proc.start()
        with proc.client() as http:
            assert call(http, "PUT", f"{base}{open_id}/", json={"status": "ok"}).json()["status"] == "ok"
            assert http.put(f"{base}{done_id}/", json={"status": "error"}).status_code == 400
    finally:
        proc.stop(kill=True)
