"""Fixtures for end-to-end tests: a Picket with an organization set up for fuzzing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx

import pytest

from tests.support.picket import PicketProcess


@pytest.fixture(scope="session")
def fuzz_target(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(url, token) of a Picket whose organization `fuzz` has team `fuzz-team` and project
    `fuzz-project`, kept apart from other tests since fuzzing renames and deletes things."""
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("fuzz"), org="fuzz").start()
    with proc.client() as http:
        assert http.post("/api/0/organizations/fuzz/teams/", json={"slug": "fuzz-team"}).status_code == 201
        created = http.post("/api/0/teams/fuzz/fuzz-team/projects/", json={"name": "fuzz-project"})
        assert created.status_code == 201
        # One event with a user, an exception and tags, and one feedback, so that list answers
        # have items whose shapes are checked too.
        key = http.get("/api/0/projects/fuzz/fuzz-project/keys/").json()[0]
        event = {
            "message": "fuzz seed", "user": {"id": "7", "email": "seed@example.com"}, "tags": {"seed": "yes"},
            "exception": {"values": [{"type": "SeedError", "value": "seeded", "stacktrace": {"frames": [
                {"function": "seed", "module": "fuzz.seed", "filename": "fuzz/seed.py", "lineno": 3,
                 "in_app": True}]}}]},
        }
        url = f"{proc.url}/api/{key['projectId']}/store/?sentry_key={key['public']}"
        assert httpx.post(url, json=event).status_code == 200
        feedback = {"event_id": uuid.uuid4().hex, "name": "Seed", "email": "seed@example.com", "comments": "seeded"}
        assert http.post("/api/0/projects/fuzz/fuzz-project/user-feedback/", json=feedback).status_code == 200
        monitor = {"project": "fuzz-project", "name": "fuzz-monitor", "slug": "fuzz-monitor", "type": "cron_job",
                   "config": {"schedule_type": "crontab", "schedule": "0 * * * *"}}
        assert http.post("/api/0/organizations/fuzz/monitors/", json=monitor).status_code == 201
        checkin = http.post("/api/0/organization/fuzz/monitors/fuzz-monitor/checkins/", json={"status": "ok"})
        assert checkin.status_code == 201
        deadline = time.monotonic() + 30
        while not http.get("/api/0/projects/fuzz/fuzz-project/issues/").json():
            assert time.monotonic() < deadline, "the seed event did not become an issue"
            time.sleep(0.3)
    yield proc.url, proc.token
    proc.stop()
