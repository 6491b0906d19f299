"""The gateway's metrics (services/gateway/metrics.py) on the real routes over a fake runtime:
requests labelled by their route's template (never the raw path; `unmatched` when no route took
them), items counted as the gateway decided them (client reports not), command verdicts, store
reads timed by route; what both processes register; `/metrics` behind `PICKET_METRICS_TOKEN`;
and several processes counting together in prometheus_client's multiprocess mode."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from starlette.routing import Route

from picket import metrics as worker_metrics
from picket.bus.commands import BusUnavailable, CommandRejected, VerdictTimeout
from picket.gateway import metrics as m
from picket.gateway.commands import CommandBus
from picket.gateway.errors import ApiError
from picket.gateway.fast_path import FastRoute
from picket.gateway.runtime import Runtime
from picket.schemas.replies import Reply
from tests.support.gateway_world import World, make_world

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def world() -> World:
    return make_world()


def value(name: str, registry: CollectorRegistry = m.REGISTRY, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def requests(route: str, method: str, status: int) -> float:
    return value("picket_http_requests_total", route=route, method=method, status=str(status))


def items(category: str, outcome: str, reason: str = "") -> float:
    return value("picket_ingest_items_total", category=category, outcome=outcome, reason=reason)


def envelope(*items: tuple[dict[str, Any], bytes]) -> bytes:
    lines = [json.dumps({"event_id": "e" * 32}).encode()]
    for header, payload in items:
        lines += [json.dumps({**header, "length": len(payload)}).encode(), payload]
    return b"\n".join(lines) + b"\n"


def test_route_labels_are_templates() -> None:
    async def nothing(_: Any) -> Any: ...

    assert m.route_label({"route": Route("/api/0/organizations/{organization_slug}/", nothing)}) == \
        "/api/0/organizations/{organization_slug}/"
    assert m.route_label({"route": FastRoute("/api/{project_id}/envelope/", nothing, ("POST",))}) == \
        "/api/{project_id}/envelope/"
    assert m.route_label({}) == m.UNMATCHED
    assert m.method_label("GET") == "GET" and m.method_label("BREW") == "other"


def test_requests_are_counted_by_route_template_method_and_status(world: World) -> None:
    org = "/api/0/organizations/{organization_slug}/"
    before = (requests(org, "GET", 200), requests(org, "GET", 404), requests(m.UNMATCHED, "GET", 404),
              value("picket_http_request_duration_seconds_count", route=org, method="GET"))
    assert world.get("/api/0/organizations/acme/").status_code == 200
    assert world.get("/api/0/organizations/acme/").status_code == 200
    assert world.get("/api/0/organizations/nobody/").status_code == 404
    assert world.get("/no/such/path/12345").status_code == 404
    after = (requests(org, "GET", 200), requests(org, "GET", 404), requests(m.UNMATCHED, "GET", 404),
             value("picket_http_request_duration_seconds_count", route=org, method="GET"))
    assert [a - b for a, b in zip(after, before)] == [2, 1, 1, 3]
    exposition = m.exposition().decode()
    assert "/api/0/organizations/acme/" not in exposition and "12345" not in exposition  # no raw paths


def test_the_fast_path_is_counted_under_its_template(world: World) -> None:
    route = "/api/{project_id}/envelope/"
    before = requests(route, "POST", 200), requests(route, "POST", 401)
    body = envelope(({"type": "event"}, b'{"message": "boom"}'))
    sent = world.http.post(f"/api/{world.project.id}/envelope/?sentry_key={world.key.public}", content=body)
    assert sent.status_code == 200
    assert world.http.post(f"/api/{world.project.id}/envelope/?sentry_key=unknown", content=body).status_code == 401
    assert (requests(route, "POST", 200) - before[0], requests(route, "POST", 401) - before[1]) == (1, 1)


def test_items_are_counted_as_the_gateway_decided_them_not_as_clients_report(world: World) -> None:
    report = json.dumps({"timestamp": 1700000000, "discarded_events": [
        {"reason": "queue_overflow", "category": "error", "quantity": 5}]}).encode()
    body = envelope(({"type": "event"}, b'{"message": "boom"}'), ({"type": "check_in"}, b'{"status": "ok"}'),
                    ({"type": "client_report"}, report), ({"type": "replay_video"}, b"..."))
    before = (items("error", "accepted"), items("monitor", "accepted"), items("default", "invalid", "unsupported_item"),
              items("error", "client_discard", "queue_overflow"))
    sent = world.http.post(f"/api/{world.project.id}/envelope/?sentry_key={world.key.public}", content=body)
    assert sent.status_code == 200
    after = (items("error", "accepted"), items("monitor", "accepted"), items("default", "invalid", "unsupported_item"),
             items("error", "client_discard", "queue_overflow"))
    assert [a - b for a, b in zip(after, before)] == [1, 1, 1, 0]


def test_nothing_is_counted_when_the_broker_does_not_take_the_request(world: World) -> None:
    world.rt.publisher.fail = True
    before = items("error", "accepted")
    sent = world.http.post(f"/api/{world.project.id}/envelope/?sentry_key={world.key.public}",
                           content=envelope(({"type": "event"}, b'{"message": "boom"}')))
    assert sent.status_code == 503
    assert items("error", "accepted") == before


def test_command_verdicts_are_counted_by_command_type_and_outcome() -> None:
    class Ping:  # a command type of its own, so the counts start at 0
        pass

    class Client:
        def __init__(self, *answers: Any) -> None:
            self.answers = list(answers)

        async def execute(self, command: Any) -> Reply:
            answer = self.answers.pop(0)
            if isinstance(answer, BaseException):
                raise answer
            return answer

    reply = Reply(command_id="c", outcome="accepted")
    bus = CommandBus(Client(reply, CommandRejected(Reply(command_id="c", outcome="conflict")),
                            VerdictTimeout("late"), BusUnavailable("down")))  # type: ignore[arg-type]

    async def run() -> None:
        assert await bus.execute(Ping()) is reply
        for _ in range(3):
            with pytest.raises(ApiError):
                await bus.execute(Ping())

    asyncio.run(run())
    counts = {o: value("picket_command_verdicts_total", command="Ping", outcome=o)
              for o in ("accepted", "conflict", "timeout", "unavailable")}
    assert counts == {"accepted": 1, "conflict": 1, "timeout": 1, "unavailable": 1}


def test_store_reads_are_timed_by_the_route_that_made_them() -> None:
    rt = Runtime(settings=None, store=object(), auth=None, bus=None, producer=None, publisher=None,  # type: ignore[arg-type]
                 keys=None, rate_limiter=None, horizons=None, body_budget=None)  # type: ignore[arg-type]

    async def nothing(_: Any) -> Any: ...

    def read(store: Any, n: int) -> int:
        return n + 1

    route = "/api/0/projects/{organization_slug}/{project_slug}/"

    async def run() -> None:
        token = m.CURRENT.set({"route": Route(route, nothing)})
        try:
            assert await rt.read(read, 1) == 2
        finally:
            m.CURRENT.reset(token)
        assert await rt.read(read, 2) == 3  # outside a request

    before = (value("picket_store_query_duration_seconds_count", route=route),
              value("picket_store_query_duration_seconds_count", route=m.NO_ROUTE))
    asyncio.run(run())
    assert value("picket_store_query_duration_seconds_count", route=route) == before[0] + 1
    assert value("picket_store_query_duration_seconds_count", route=m.NO_ROUTE) == before[1] + 1


def _families(registry: CollectorRegistry) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {name: (kind, labels) for name, kind, labels in (
        (c._name, c._type, tuple(c._labelnames)) for c in registry._collector_to_names)}  # type: ignore[attr-defined]


def test_what_the_gateway_and_the_worker_register() -> None:
    assert _families(m.REGISTRY) == {
        "picket_http_requests": ("counter", ("route", "method", "status")),
        "picket_http_request_duration_seconds": ("histogram", ("route", "method")),
        "picket_ingest_items": ("counter", ("category", "outcome", "reason")),
        "picket_command_verdicts": ("counter", ("command", "outcome")),
        "picket_store_query_duration_seconds": ("histogram", ("route",)),
    }
    worker = _families(worker_metrics.REGISTRY)
    assert worker["picket_consumer_lag_messages"] == ("gauge", ("consumer", "group"))
    assert worker["picket_consumer_last_commit_timestamp_seconds"] == ("gauge", ("consumer", "group"))
    assert worker["picket_hook_deliveries"] == ("counter", ("outcome",))
    assert {"picket_consumer_retries", "picket_dead_letters", "picket_consumer_messages"} <= worker.keys()
    exposed = m.exposition().decode() + worker_metrics.generate_latest(worker_metrics.REGISTRY).decode()
    for line in exposed.splitlines():
        if line.startswith("# TYPE "):  # Prometheus' conventions: counters end in _total, times in _seconds
            _, _, name, kind = line.split()
            if name.endswith("_created"):
                continue  # prometheus_client's creation times of labelled series
            assert name.startswith("picket_")
            assert kind != "counter" or name.endswith("_total"), name
            assert "duration" not in name or name.endswith("_seconds"), name


def test_metrics_ask_for_the_token_when_one_is_set(world: World) -> None:
    assert world.http.get("/metrics").status_code == 200  # open by default
    world.rt.settings = world.rt.settings.with_(metrics_token="s3cret")
    assert world.http.get("/metrics").status_code == 401
    assert world.http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = world.http.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert "picket_http_requests_total" in answer.text


COUNT = """
import sys
from picket.gateway import metrics as m
m.observe_request("/api/{project_id}/envelope/", "POST", 200, 0.01)
m.ITEMS.labels("error", "accepted", "").inc(int(sys.argv[1]))
"""


def test_gateway_processes_count_together_in_multiprocess_mode(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for n in (3, 4):  # two processes, each its own files
        subprocess.run([sys.executable, "-c", COUNT, str(n)], env=env, cwd=REPO, check=True)
    scraped = subprocess.run([sys.executable, "-c", "from picket.gateway import metrics as m; "
                              "print(m.exposition().decode())"], env=env, cwd=REPO, check=True,
                             capture_output=True, text=True).stdout
    assert 'picket_ingest_items_total{category="error",outcome="accepted",reason=""} 7.0' in scraped
    assert ('picket_http_requests_total{method="POST",route="/api/{project_id}/envelope/",status="200"} 2.0'
            in scraped)
