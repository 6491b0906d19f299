"""`picket run` on embedded defaults: Apache Kafka from the cached jars, chdb, as a user starts it.

What the API acknowledged is kept across restarts of the whole `picket run`, clean (SIGTERM) or
not (kill -9 of its process group), because the embedded broker is durable and projections
live in ClickHouse. The data directory is its owner's alone, the broker requires the password
kept there, and `picket admin` works beside the running process with what the data directory
holds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from picket.bus.connection import KafkaConnection
from tests.support.api import call
from tests.support.picket import REPO, PicketProcess
from tests.support.waiting import eventually


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _lists_topics(kafka: KafkaConnection) -> bool:
    admin = AIOKafkaAdminClient(**kafka.client_args(), request_timeout_ms=5000)
    try:
        await admin.start()
        return bool(await admin.list_topics())
    except KafkaError:
        return False
    finally:
        await admin.close()


def _admin(p: PicketProcess, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "CLICKHOUSE_"))}
    env["PICKET_TOPIC_PREFIX"] = p.prefix  # as the running picket run was started
    done = subprocess.run([sys.executable, "-m", "picket.cli", "admin", *args, "--data-dir", str(p.data_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_embedded_run_prints_credentials_serves_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    p = PicketProcess(None, tmp_path / "embedded", org="embedded").start()
    try:
        assert p.dsn.startswith("http://") and p.dsn.endswith(tuple("0123456789"))
        with p.client() as http:
            assert [o["slug"] for o in call(http, "GET", "/api/0/organizations/").json()] == ["embedded"]
            call(http, "POST", "/api/0/organizations/embedded/teams/", json={"slug": "survivors"})
            call(http, "POST", "/api/0/teams/embedded/survivors/projects/", json={"name": "Kept"})
        dsn_before = p.dsn
        p.stop()
        p.start()
        assert p.dsn == dsn_before, "the default project and its key are the same after a restart"
        with p.client() as http:
            assert call(http, "GET", "/api/0/teams/embedded/survivors/").status_code == 200
            assert call(http, "GET", "/api/0/projects/embedded/kept/").json()["name"] == "Kept"
            again = http.post("/api/0/organizations/embedded/teams/", json={"slug": "survivors"})
            assert again.status_code == 409, "the agent rebuilt its state: the slug is still taken"
            assert call(http, "POST", "/api/0/organizations/embedded/teams/", json={"slug": "later"}).status_code == 201
        p.stop(kill=True)  # kill -9 of the whole process group, broker included
        p.start()
        with p.client() as http:
            assert call(http, "GET", "/api/0/teams/embedded/later/").status_code == 200
            assert http.post("/api/0/organizations/embedded/teams/", json={"slug": "later"}).status_code == 409
    finally:
        p.stop(kill=True)


def test_embedded_run_keeps_its_data_private_and_admin_works_beside_it(tmp_path: Path) -> None:
    p = PicketProcess(None, tmp_path / "private", org="private").start()
    try:
        assert _mode(p.data_dir) == 0o700
        for name in ("kafka.json", "store.json"):
            assert _mode(p.data_dir / name) == 0o600, name
        for path in [*(p.data_dir / "kafka").rglob("*"), *(p.data_dir / "clickhouse").iterdir()]:
            try:
                mode = _mode(path)
            except FileNotFoundError:
                continue  # a temporary file the broker renamed meanwhile
            assert not mode & 0o077, f"{path} is readable by others"

        saved = KafkaConnection.load(p.data_dir / "kafka.json")
        assert saved.uses_sasl and saved.password
        assert asyncio.run(_lists_topics(saved)), "the saved connection signs in"
        assert not asyncio.run(_lists_topics(KafkaConnection(saved.bootstrap))), "no sign-in, no access"
        wrong = KafkaConnection(saved.bootstrap, "SASL_PLAINTEXT", "PLAIN", "picket", "not-the-password")
        assert not asyncio.run(_lists_topics(wrong))

        assert _admin(p, "create-org", "--slug", "beside", "--owner-email", "ops@example.com").endswith("beside")
        token = _admin(p, "create-token", "--email", "ops@example.com", "--org", "beside")
        with p.client(token) as http:
            assert call(http, "GET", "/api/0/organizations/beside/").json()["slug"] == "beside"
            assert http.get("/api/0/organizations/private/").status_code == 403, "the token is bound to `beside`"
    finally:
        p.stop(kill=True)


def test_a_second_run_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    p = PicketProcess(None, tmp_path / "once", org="once").start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "CLICKHOUSE_"))}
        second = subprocess.run([sys.executable, "-m", "picket.cli", "run", "--data-dir", str(p.data_dir),
                                 "--port", "1"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "another picket run uses" in second.stderr
        with p.client() as http:
            assert call(http, "GET", "/api/0/organizations/once/").status_code == 200, "the first one runs on"
    finally:
        p.stop(kill=True)



def test_a_killed_embedded_broker_is_started_again_and_keeps_what_it_had(tmp_path: Path) -> None:
    p = PicketProcess(None, tmp_path / "broker-kill", org="phoenix").start()
    try:
        with p.client() as http:
            call(http, "POST", "/api/0/organizations/phoenix/teams/", json={"slug": "before"})
        pid_file = p.data_dir / "run" / "broker.pid"
        broker_pid = int(pid_file.read_text())
        os.kill(broker_pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        with p.client() as http:
            while True:  # the supervisor starts it again; the worker and gateway reconnect
                answer = http.post("/api/0/organizations/phoenix/teams/", json={"slug": "after"})
                # 409: an earlier attempt, answered 503/504 while the broker was away, got through
                if answer.status_code in (201, 409):
                    break
                assert time.monotonic() < deadline, f"no broker again after 60 s: {answer.status_code}"
                time.sleep(0.5)
            assert int(pid_file.read_text()) != broker_pid
            # After a 409 the projection may still be catching up with the reconnected broker.
            eventually(lambda: http.get("/api/0/teams/phoenix/after/").status_code, lambda s: s == 200, 60)
            assert call(http, "GET", "/api/0/teams/phoenix/before/").status_code == 200
    finally:
        p.stop(kill=True)
