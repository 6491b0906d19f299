"""The webhook deliverer (`picket.hooks.deliverer`) on the real broker, chdb and receivers on
loopback (threads of `http.server`, private addresses allowed by the settings).

Deliveries arrive signed with Sentry's headers and the body as it was; a receiver failing with
500 gets the delivery again until it answers 2xx, each try a row of `hook_attempts`; a receiver
that never answers does not hold up another target, even on the same partition; one target's
deliveries arrive in order, failures and all; a deliverer stopped mid-stream and started again
loses nothing and sends nothing answered 2xx again (and after a hard kill, only what was answered
but not yet recorded); a 404 is final and dead-lettered; a private URL is dead-lettered unsent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from picket import metrics
from picket.agents.wiring import Wiring
from picket.bus.connection import KafkaConnection
from picket.bus.kafka import ensure_topics, partition_for
from picket.bus.kafka import producer as make_producer
from picket.config import Settings, from_env
from picket.hooks.deliverer import Deliverer, deliverer
from picket.schemas import topics as t
from picket.schemas.integrations import Delivery
from picket.store.client import Store
from picket.store.guards import TableGuards
from picket.store.hooks_read import last_attempts
from picket.store.migrate import migrate
from tests.support.kafka import KafkaBroker

WAIT = 45.0


# --- receivers ---

@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 0

    @property
    def delivery(self) -> str:
        return str(json.loads(self.body)["delivery"])


Answer = Callable[[Seen, int], tuple[int, float]]  # (request, how many times its id was seen before) -> (status, sleep)


class Receiver:
    """An HTTP server on loopback that records every POST and answers as `answer` says."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.answer: Answer = answer or (lambda seen, before: (200, 0.0))
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen = Seen(self.path, dict(self.headers.items()), body, time.monotonic())
                with receiver._lock:
                    before = sum(1 for s in receiver.seen if s.body == body)
                    status, sleep = receiver.answer(seen, before)
                    seen.status = status
                    receiver.seen.append(seen)
                if sleep:
                    time.sleep(sleep)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the deliverer gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self.seen)

    def ids(self) -> list[str]:
        return [s.delivery for s in self.requests()]

    def answered(self, status: int = 200) -> list[str]:
        return [s.delivery for s in self.requests() if s.status == status]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(answer: Answer | None = None) -> Receiver:
        made.append(Receiver(answer))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _dead_port() -> int:
    """A loopback port nothing listens on."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- store, settings, deliveries ---

@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(f"chdb:///{tmp_path_factory.mktemp('chdb') / 'ch'}", "hook_deliverer_test")
    migrate(s)
    yield s
    s.close()


def _settings(kafka: KafkaBroker, tmp_path: Path, **changes: Any) -> Settings:
    base = from_env(str(tmp_path)).with_(kafka=KafkaConnection(kafka.bootstrap),
                                         topic_prefix=f"hk{uuid.uuid4().hex[:8]}-", hooks_allow_private=True,
                                         hooks_timeout=1.0, hooks_attempts=8, hooks_retry_base=0.05)
    return base.with_(**changes)


def _target() -> str:
    return uuid.uuid4().hex


def _delivery(target: str, url: str, n: int = 0, *, kind: str = "service_hook", secret: str = "s3cr3t",
              event: str = "event.created", resource: str = "") -> Delivery:
    delivery_id = f"{target}:{n}:{uuid.uuid4().hex[:6]}"
    body = json.dumps({"delivery": delivery_id, "n": n, "action": event, "data": {"x": "é"}},
                      ensure_ascii=False).encode()
    return Delivery(id=delivery_id, kind=kind, target_id=target, org_id=7, url=url, secret=secret, event=event,
                    resource=resource, body=body, created=datetime.now(timezone.utc))


@dataclass
class Run:
    """A deliverer of the test's own topics, and a producer to feed them."""

    settings: Settings
    store: Store
    producer: AIOKafkaProducer
    started: list[Deliverer] = field(default_factory=list)

    @cached_property
    def wiring(self) -> Wiring:
        return Wiring(self.settings, self.settings.kafka, self.store, self.producer,  # type: ignore[arg-type]
                      TableGuards.load(self.store))

    async def start(self) -> Deliverer:
        d = deliverer(self.wiring)
        await d.start()
        self.started.append(d)
        return d

    async def publish(self, deliveries: list[Delivery]) -> None:
        topics = self.wiring.topics
        for delivery in deliveries:
            record = topics.record(t.HOOK_DELIVERIES, delivery)
            await self.producer.send(record.topic, record.value, key=record.key)
        await self.producer.flush()

    async def dead_letters(self, count: int) -> list[tuple[bytes, dict[str, bytes]]]:
        """The first `count` messages of the dead-letter topic (waits for them)."""
        topic = self.wiring.topics.dead_letter_topic(t.HOOK_DELIVERIES)
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=self.settings.kafka.bootstrap,  # type: ignore[union-attr]
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        found: list[tuple[bytes, dict[str, bytes]]] = []
        deadline = time.monotonic() + WAIT
        try:
            while len(found) < count and time.monotonic() < deadline:
                for part in (await consumer.getmany(timeout_ms=500)).values():
                    found += [(m.value, dict(m.headers)) for m in part]
        finally:
            await consumer.stop()
        return found


async def _run(kafka: KafkaBroker, store: Store, tmp_path: Path, scenario: Callable[[Run], Any],
               **changes: Any) -> None:
    settings = _settings(kafka, tmp_path, **changes)
    assert settings.kafka is not None
    await ensure_topics(settings.kafka, settings.topic_prefix, (t.HOOK_DELIVERIES, t.HOOK_DELIVERIES_DLQ))
    producer = make_producer(settings.kafka)
    await producer.start()
    run = Run(settings, store, producer)
    try:
        await scenario(run)
    finally:
        for d in run.started:
            await d.stop()
        await producer.stop()


async def _until(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _signed(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- (a) signed, with Sentry's headers, the body as it is ---

def test_each_kind_arrives_signed_with_its_headers_and_the_exact_body(
        kafka: KafkaBroker, store: Store, tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    receiver = receivers()
    hook, installation = _target(), str(uuid.uuid4())
    to_hook = _delivery(hook, receiver.url, secret="hook-secret")
    to_app = _delivery(installation, receiver.url, kind="sentry_app", secret="app-client-secret",
                       event="issue.created", resource="issue")

    async def scenario(run: Run) -> None:
        await run.start()
        await run.publish([to_hook, to_app])
        await _until(lambda: len(receiver.requests()) == 2, "both deliveries")
        await asyncio.sleep(0.3)
        assert len(receiver.requests()) == 2, "each is sent once"

    asyncio.run(_run(kafka, store, tmp_path, scenario))
    now = time.time()
    by_id = {s.delivery: s for s in receiver.requests()}
    hook_request, app_request = by_id[to_hook.id], by_id[to_app.id]

    assert hook_request.body == to_hook.body and app_request.body == to_app.body
    assert hook_request.path == app_request.path == "/hook"
    h = hook_request.headers
    assert h["Content-Type"] == "application/json" and h["User-Agent"] == "picket-hooks"
    assert h["X-ServiceHook-GUID"] == hook
    assert h["X-ServiceHook-Signature"] == _signed("hook-secret", hook_request.body)
    assert abs(int(h["X-ServiceHook-Timestamp"]) - now) < 120
    assert not any(name.startswith("Sentry-Hook") for name in h)

    a = app_request.headers
    assert a["Content-Type"] == "application/json" and a["User-Agent"] == "picket-hooks"
    assert a["Request-ID"] == to_app.id
    assert a["Sentry-Hook-Resource"] == "issue"
    assert a["Sentry-Hook-Signature"] == _signed("app-client-secret", app_request.body)
    assert abs(int(a["Sentry-Hook-Timestamp"]) - now) < 120
    assert not any(name.startswith("X-ServiceHook") for name in a)

    assert last_attempts(store, [hook, installation, "never-tried"]) == {hook: True, installation: True}


# --- (b) 500 three times, then 200 ---

def test_a_failing_receiver_gets_the_delivery_until_it_answers_2xx(
        kafka: KafkaBroker, store: Store, tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    receiver = receivers(lambda seen, before: (500 if before < 3 else 200, 0.0))
    target = _target()
    delivery = _delivery(target, receiver.url)
    counted = _deliveries()

    async def scenario(run: Run) -> None:
        await run.start()
        await run.publish([delivery])
        await _until(lambda: len(receiver.answered(200)) == 1, "the 2xx answer")
        await asyncio.sleep(1.0)

    asyncio.run(_run(kafka, store, tmp_path, scenario))
    assert [s.status for s in receiver.requests()] == [500, 500, 500, 200], "4 tries, then nothing more"
    assert _deliveries(since=counted) == {"delivered": 1, "retried": 3, "dead_lettered": 0}  # on /metrics
    assert run_rows(store, target) == [
        (delivery.id, 1, 500, 0, 0, "HTTP 500"),
        (delivery.id, 2, 500, 0, 0, "HTTP 500"),
        (delivery.id, 3, 500, 0, 0, "HTTP 500"),
        (delivery.id, 4, 200, 1, 0, ""),
    ]
    assert last_attempts(store, [target]) == {target: True}


def _deliveries(since: dict[str, float] | None = None) -> dict[str, float]:
    """The worker's counts of deliveries by outcome (`picket_hook_deliveries_total`), less `since`."""
    now = {outcome: metrics.REGISTRY.get_sample_value("picket_hook_deliveries_total", {"outcome": outcome}) or 0.0
           for outcome in ("delivered", "retried", "dead_lettered")}
    return {outcome: value - (since or {}).get(outcome, 0.0) for outcome, value in now.items()}


def run_rows(store: Store, target: str) -> list[tuple[Any, ...]]:
    return store.query("SELECT id, attempt, status, ok, gave_up, error FROM {db}.hook_attempts"
                       " WHERE target_id = {t:String} ORDER BY at, attempt", {"t": target})


# --- (c) a dead receiver does not hold up another target on the same partition ---

def _on_partition(partition: int, count: int) -> list[str]:
    out = []
    while len(out) < count:
        target = _target()
        if partition_for(target.encode(), list(range(t.HOOK_DELIVERIES.partitions)), []) == partition:
            out.append(target)
    return out


@pytest.mark.parametrize("dead", ["sleeps past the timeout", "nothing listens"])
def test_a_dead_receiver_does_not_delay_another_target_on_its_partition(
        kafka: KafkaBroker, store: Store, tmp_path: Path, receivers: Callable[..., Receiver], dead: str) -> None:
    slow = receivers(lambda seen, before: (200, 5.0))  # past the 1 s timeout, every time
    healthy = receivers()
    dead_url = slow.url if dead == "sleeps past the timeout" else f"http://127.0.0.1:{_dead_port()}/hook"
    dead_target, *healthy_targets = _on_partition(1, 4)
    to_dead = [_delivery(dead_target, dead_url, n) for n in range(3)]
    to_healthy = [_delivery(target, healthy.url, n) for target in healthy_targets for n in range(5)]
    took: list[float] = []

    async def scenario(run: Run) -> None:
        await run.start()
        await run.publish([_delivery(_target(), healthy.url)])  # the group has joined once this arrives
        await _until(lambda: len(healthy.requests()) == 1, "the warm-up delivery")
        started = time.monotonic()
        await run.publish([to_dead[0], *to_healthy, *to_dead[1:]])  # the dead target's first
        await _until(lambda: len(healthy.requests()) == 1 + len(to_healthy), "the healthy target's deliveries")
        took.append(time.monotonic() - started)

    asyncio.run(_run(kafka, store, tmp_path, scenario, hooks_attempts=3))
    assert took[0] < 1.0, f"healthy deliveries took {took[0]:.2f}s behind a dead receiver (timeout 1 s)"
    got = [s.delivery for s in healthy.requests()[1:]]
    for target in healthy_targets:
        assert [i for i in got if i.startswith(target)] == [d.id for d in to_healthy if d.target_id == target]


# --- (d) one target's deliveries in order ---

def test_a_targets_deliveries_arrive_in_order_failures_and_all(
        kafka: KafkaBroker, store: Store, tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    def answer(seen: Seen, before: int) -> tuple[int, float]:
        n = json.loads(seen.body)["n"]
        failures = {3: 1, 7: 2, 8: 1, 13: 3, 19: 1}.get(n, 0)
        return (503 if n % 2 else 429, 0.0) if before < failures else (200, 0.0)

    receiver = receivers(answer)
    target = _target()
    deliveries = [_delivery(target, receiver.url, n) for n in range(20)]

    async def scenario(run: Run) -> None:
        await run.start()
        await run.publish(deliveries)
        await _until(lambda: len(receiver.answered(200)) == 20, "all 20 delivered")

    asyncio.run(_run(kafka, store, tmp_path, scenario))
    sequence = receiver.ids()
    assert len(sequence) == 20 + 1 + 2 + 1 + 3 + 1
    runs = [i for k, i in enumerate(sequence) if k == 0 or sequence[k - 1] != i]
    assert runs == [d.id for d in deliveries], "each delivery's tries together, in offset order"
    assert receiver.answered(200) == [d.id for d in deliveries]


# --- (e) restart ---

class Flaky:
    """Answers 200 after 30 ms, but 500 to every 7th delivery's first two tries, and 500 to the
    very first delivery (n = 0) for as long as `stuck` is set: its target's queue, and the
    partition's committed offset, stay behind it while the other targets go on."""

    def __init__(self) -> None:
        self.stuck = True

    def __call__(self, seen: Seen, before: int) -> tuple[int, float]:
        n = json.loads(seen.body)["n"]
        if (n == 0 and self.stuck) or (n % 7 == 3 and before < 2):
            return 500, 0.02
        return 200, 0.03


def _targets_and_deliveries(url: str) -> tuple[list[str], list[Delivery]]:
    """50 deliveries to 5 targets, all on one partition."""
    targets = _on_partition(2, 5)
    return targets, [_delivery(targets[n % 5], url, n) for n in range(50)]


def test_a_clean_stop_and_start_loses_nothing_and_repeats_nothing_delivered(
        kafka: KafkaBroker, store: Store, tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    flaky = Flaky()
    receiver = receivers(flaky)
    _, deliveries = _targets_and_deliveries(receiver.url)
    at_stop: list[int] = []

    async def scenario(run: Run) -> None:
        first = await run.start()
        await run.publish(deliveries)
        await _until(lambda: len(receiver.answered(200)) >= 20, "some deliveries")
        await first.stop()
        at_stop.append(len(receiver.answered(200)))
        await asyncio.sleep(0.5)
        assert len(receiver.answered(200)) == at_stop[0], "nothing is sent once stop() returned"
        flaky.stuck = False
        await run.start()
        await _until(lambda: set(receiver.answered(200)) == {d.id for d in deliveries}, "every delivery")
        await asyncio.sleep(0.5)

    asyncio.run(_run(kafka, store, tmp_path, scenario))
    assert 20 <= at_stop[0] < 50, "stopped mid-stream, with deliveries done above the first unfinished one"
    answered = receiver.answered(200)
    assert len(answered) == len(set(answered)) == 50, "each delivery answered 2xx once"


def test_after_a_hard_kill_only_answered_but_unrecorded_deliveries_may_repeat(
        kafka: KafkaBroker, store: Store, tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    flaky = Flaky()
    receiver = receivers(flaky)
    targets, deliveries = _targets_and_deliveries(receiver.url)
    before_kill: dict[str, set[str]] = {}

    async def scenario(run: Run) -> None:
        first = await run.start()
        await run.publish(deliveries)
        await _until(lambda: len(receiver.answered(200)) >= 20, "some deliveries")
        await _kill(first)
        run.started.remove(first)
        await asyncio.sleep(0.3)  # a row whose insert was under way is in now, or never
        before_kill["answered"] = set(receiver.answered(200))
        before_kill["recorded"] = {i for target in targets for (i, _, _, ok, _, _) in run_rows(store, target) if ok}
        flaky.stuck = False
        await run.start()
        await _until(lambda: set(receiver.answered(200)) == {d.id for d in deliveries}, "every delivery")
        await asyncio.sleep(0.5)

    asyncio.run(_run(kafka, store, tmp_path, scenario))
    answered = receiver.answered(200)
    repeated = {i for i in answered if answered.count(i) > 1}
    assert len(before_kill["recorded"]) >= 15
    assert before_kill["recorded"] <= before_kill["answered"]
    assert not repeated & before_kill["recorded"], "a delivery recorded as answered 2xx is not sent again"
    assert repeated <= before_kill["answered"] - before_kill["recorded"]
    assert set(answered) == {d.id for d in deliveries}


async def _kill(d: Deliverer) -> None:
    """As if the process died: no more tries, no rows, no commit."""
    assert d._task is not None
    d._task.cancel()
    tasks = [target.task for part in d._parts.values() for target in part.targets.values() if target.task]
    for task in tasks:
        task.cancel()
    await asyncio.gather(d._task, *tasks, return_exceptions=True)
    d._parts.clear()
    d._task = None
    await d._consumer.stop()
    d._consumer = None
    assert d._client is not None
    await d._client.aclose()
    d._client = None


# --- (f) final answers and refused URLs go to the dead letters ---

def test_a_404_is_not_tried_again_and_is_dead_lettered(
        kafka: KafkaBroker, store: Store, tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    receiver = receivers(lambda seen, before: (404, 0.0))
    target = _target()
    delivery = _delivery(target, receiver.url)
    letters: list[tuple[bytes, dict[str, bytes]]] = []

    async def scenario(run: Run) -> None:
        await run.start()
        await run.publish([delivery])
        letters.extend(await run.dead_letters(1))
        await asyncio.sleep(0.5)

    asyncio.run(_run(kafka, store, tmp_path, scenario))
    assert [s.status for s in receiver.requests()] == [404]
    [(value, headers)] = letters
    assert t.HOOK_DELIVERIES.decode(value) == delivery
    assert headers["reason"] == b"HTTP 404 (not retried)"
    assert headers["consumer"] == b"hooks-deliverer"
    assert run_rows(store, target) == [(delivery.id, 1, 404, 0, 1, "HTTP 404 (not retried)")]
    assert last_attempts(store, [target]) == {target: False}


def test_the_last_failure_is_dead_lettered_with_its_reason(
        kafka: KafkaBroker, store: Store, tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    receiver = receivers(lambda seen, before: (503, 0.0))
    target = _target()
    delivery = _delivery(target, receiver.url)
    letters: list[tuple[bytes, dict[str, bytes]]] = []
    counted = _deliveries()

    async def scenario(run: Run) -> None:
        await run.start()
        await run.publish([delivery])
        letters.extend(await run.dead_letters(1))

    asyncio.run(_run(kafka, store, tmp_path, scenario, hooks_attempts=3))
    assert [s.status for s in receiver.requests()] == [503, 503, 503]
    assert _deliveries(since=counted) == {"delivered": 0, "retried": 2, "dead_lettered": 1}
    [(_, headers)] = letters
    assert headers["reason"] == b"HTTP 503 (gave up after 3 tries)"
    assert [(r[1], r[3], r[4]) for r in run_rows(store, target)] == [(1, 0, 0), (2, 0, 0), (3, 0, 1)]


def test_a_private_url_is_dead_lettered_without_a_request(
        kafka: KafkaBroker, store: Store, tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    receiver = receivers()
    target = _target()
    delivery = _delivery(target, receiver.url)
    letters: list[tuple[bytes, dict[str, bytes]]] = []

    async def scenario(run: Run) -> None:
        await run.start()
        await run.publish([delivery])
        letters.extend(await run.dead_letters(1))
        await asyncio.sleep(0.5)

    asyncio.run(_run(kafka, store, tmp_path, scenario, hooks_allow_private=False))
    assert receiver.requests() == []
    [(value, headers)] = letters
    assert t.HOOK_DELIVERIES.decode(value) == delivery
    assert headers["reason"] == b"URL refused: The host 127.0.0.1 is a loopback address."
    assert [(r[2], r[3], r[4]) for r in run_rows(store, target)] == [(None, 0, 1)]


# --- bounded memory ---

def test_a_partition_with_too_many_unfinished_deliveries_is_not_read_further(
        kafka: KafkaBroker, store: Store, tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    stuck = {"on": True}
    receiver = receivers(lambda seen, before: (503 if stuck["on"] else 200, 0.0))
    held, later = _on_partition(3, 2)
    first = [_delivery(held, receiver.url, n) for n in range(8)]
    second = [_delivery(later, receiver.url, n) for n in range(3)]

    async def scenario(run: Run) -> None:
        w = run.wiring
        d = Deliverer(kafka=w.kafka, topic=w.topics.name(t.HOOK_DELIVERIES),
                      group=w.topics.group(t.HOOK_DELIVERIES, "hooks-deliverer"), topics=w.topics, store=w.store,
                      producer=w.producer, allow_private=True, timeout=1.0, attempts=10_000, retry_base=0.02,
                      retry_cap=0.1, max_pending=5)
        await d.start()
        run.started.append(d)
        await run.publish(first)
        await _until(lambda: len(receiver.requests()) >= 3, "the held target's first tries")
        await asyncio.sleep(0.5)
        await run.publish(second)
        await asyncio.sleep(1.5)
        assert not any(i.startswith(later) for i in receiver.ids()), "8 unfinished > 5: nothing more is fetched"
        stuck["on"] = False
        await _until(lambda: set(receiver.answered(200)) == {x.id for x in first + second}, "all, once resumed")

    asyncio.run(_run(kafka, store, tmp_path, scenario))


# --- partitions moving ---

def test_a_member_joining_loses_nothing_and_repeats_nothing_delivered(
        kafka: KafkaBroker, store: Store, tmp_path: Path, receivers: Callable[..., Receiver],
        caplog: pytest.LogCaptureFixture) -> None:
    flaky = Flaky()
    receiver = receivers(flaky)
    targets = [_target() for _ in range(8)]
    deliveries = [_delivery(targets[n % 8], receiver.url, n) for n in range(80)]

    async def scenario(run: Run) -> None:
        first = await run.start()
        await run.publish(deliveries)
        await _until(lambda: len(receiver.answered(200)) >= 20, "some deliveries")
        second = await run.start()  # the group rebalances: the first gives every partition up
        await _until(lambda: bool(second._consumer.assignment()) and bool(first._consumer.assignment()),
                     "both members assigned")
        flaky.stuck = False
        await _until(lambda: set(receiver.answered(200)) == {d.id for d in deliveries}, "every delivery")
        await asyncio.sleep(0.5)

    with caplog.at_level("WARNING", logger="picket.hooks.deliverer"):
        asyncio.run(_run(kafka, store, tmp_path, scenario))
    answered = receiver.answered(200)
    assert len(answered) == len(set(answered)) == 80, "each delivery answered 2xx once"
    assert not [r for r in caplog.records if "commit failed" in r.getMessage()]
