"""What the load needs in Picket, and when its probes become visible through the API.

Ingest topics are keyed by project id and check-in commands by monitor, so items queue per
partition. Probes therefore go to a probe project that `prepare` picks so that it lands on
the same ingest partition as the bulk project (it creates projects until one does); a probe
queues behind every bulk item accepted before it. Check-in probes go to one probe monitor per
`monitors-commands` partition. The probe project holds only probes, so one small list request
(`/events/`, `/user-feedback/`, each probe monitor's `/checkins/`) shows every visible probe;
`Visibility.poll` records when each id was first listed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec
from aiokafka.partitioner import murmur2

from bench.load import CHECK_IN_KINDS, MONITOR_CONFIG, Connection, http_request
from picket.schemas.monitors import monitor_key
from picket.schemas.topics import INGEST_EVENTS, MONITORS_COMMANDS


def partition(key: str, partitions: int) -> int:
    """The partition aiokafka's default partitioner picks for `key`."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class Api:
    """A few keep-alive connections to Picket's API with a bearer token."""

    def __init__(self, url: str, token: str, connections: int = 8) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._free: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(connections):
            self._free.put_nowait(Connection(self.host, self.port))

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        raw = http_request(method, self.host, path, self._auth, b"" if body is None else msgspec.json.encode(body))
        conn = await self._free.get()
        try:
            status, data = await conn.request(raw)
        finally:
            self._free.put_nowait(conn)
        return status, msgspec.json.decode(data) if data else None

    async def ok(self, method: str, path: str, body: Any = None, allowed: tuple[int, ...] = ()) -> Any:
        status, data = await self.call(method, path, body)
        if not (200 <= status < 300 or status in allowed):
            raise RuntimeError(f"{method} {path}: {status} {data}")
        return data

    def close(self) -> None:
        while not self._free.empty():
            self._free.get_nowait().close()


@dataclass(frozen=True)
class Fixture:
    org: str
    org_id: int
    project_id: int
    project_slug: str
    key: str
    monitors: tuple[str, ...]
    probe_project_id: int
    probe_slug: str
    probe_key: str
    probe_monitors: tuple[str, ...]


async def _create_monitor(api: Api, org: str, project: str, slug: str) -> None:
    await api.ok("POST", f"/api/0/organizations/{org}/monitors/",
                 {"project": project, "name": slug, "slug": slug, "config": MONITOR_CONFIG}, allowed=(409,))


async def prepare(api: Api, org: str, dsn: str, monitors: int, tries: int = 40) -> Fixture:
    """Bulk monitors in the first project; a probe project on the bulk project's ingest partition,
    with one probe monitor per partition of the monitors' command topic."""
    org_id = int((await api.ok("GET", f"/api/0/organizations/{org}/"))["id"])
    key, project_id = urlsplit(dsn).username or "", int(urlsplit(dsn).path.strip("/"))
    project = next(p for p in await api.ok("GET", f"/api/0/organizations/{org}/projects/")
                   if int(p["id"]) == project_id)
    slugs = tuple(f"bench-{i}" for i in range(monitors))
    for start in range(0, len(slugs), 8):
        await asyncio.gather(*(_create_monitor(api, org, project["slug"], s) for s in slugs[start:start + 8]))

    target = partition(str(project_id), INGEST_EVENTS.partitions)
    for i in range(tries):
        created = await api.ok("POST", f"/api/0/teams/{org}/{project['team']['slug']}/projects/",
                               {"name": f"bench probe {time.time_ns() % 10**9}-{i}"})
        if partition(str(created["id"]), INGEST_EVENTS.partitions) == target:
            break
    else:
        raise RuntimeError(f"no probe project on ingest partition {target} in {tries} tries")
    probe_key = (await api.ok("GET", f"/api/0/projects/{org}/{created['slug']}/keys/"))[0]["public"]

    by_partition: dict[int, str] = {}
    j = 0
    while len(by_partition) < MONITORS_COMMANDS.partitions:
        slug = f"probe-{j}"
        by_partition.setdefault(partition(monitor_key(org_id, slug), MONITORS_COMMANDS.partitions), slug)
        j += 1
    probe_monitors = tuple(by_partition[p] for p in sorted(by_partition))
    await asyncio.gather(*(_create_monitor(api, org, created["slug"], s) for s in probe_monitors))
    return Fixture(org, org_id, project_id, project["slug"], key, slugs, int(created["id"]), created["slug"],
                   probe_key, probe_monitors)


class Visibility:
    """When each probe id of one kind was first listed by the API (wall clock)."""

    PAGE = 100

    def __init__(self, api: Api, fx: Fixture, kind: str) -> None:
        self._api = api
        if kind == "event":
            self._paths = [f"/api/0/projects/{fx.org}/{fx.probe_slug}/events/"]
        elif kind == "feedback":
            self._paths = [f"/api/0/projects/{fx.org}/{fx.probe_slug}/user-feedback/"]
        elif kind in CHECK_IN_KINDS:
            self._paths = [f"/api/0/organization/{fx.org}/monitors/{s}/checkins/" for s in fx.probe_monitors]
        else:
            raise ValueError(f"no probes for {kind!r}")
        self.seen: dict[str, float] = {}
        self.polls = 0

    async def poll(self) -> None:
        await asyncio.gather(*(self._poll_list(p) for p in self._paths))
        self.polls += 1

    async def _poll_list(self, path: str) -> None:
        # Lists are newest first and probes become visible in order, so pages past the first
        # are only needed when a whole page is new.
        for page in range(50):
            sent = time.time()
            items = await self._api.ok("GET", f"{path}?per_page={self.PAGE}&cursor={self.PAGE}:{page}:0")
            at = (sent + time.time()) / 2
            new = [i["id"].replace("-", "") for i in items if i["id"].replace("-", "") not in self.seen]
            for item_id in new:
                self.seen[item_id] = at
            if len(new) < len(items) or len(items) < self.PAGE:
                return

    async def watch(self, until: asyncio.Event, interval: float) -> None:
        while not until.is_set():
            started = time.monotonic()
            await self.poll()
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def wait_for(self, ids: list[str], timeout: float, interval: float) -> bool:
        """Poll until every id was seen; False when `timeout` s passed first."""
        deadline = time.monotonic() + timeout
        while True:
            if all(i in self.seen for i in ids):
                return True
            if time.monotonic() > deadline:
                return False
            started = time.monotonic()
            await self.poll()
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
