"""Who is listening: the service hooks and installations, and the projects they concern, read
from the store and kept `TTL` seconds (a hook made now hears of what happens from a few seconds
later). Synchronous: consumers call it in a thread."""

from __future__ import annotations

import threading
import time
from typing import Any

from picket.integrations.triggers import Target
from picket.store import entities, integrations_read, monitors_read
from picket.store.client import Store

TTL = 5.0


class Directory:
    def __init__(self, store: Store, ttl: float = TTL) -> None:
        self._store = store
        self._ttl = ttl
        self._lock = threading.Lock()
        self._loaded = -1e9
        self._targets: list[Target] = []
        self._projects: dict[int, dict[str, Any]] = {}
        self._monitors: dict[tuple[int, str], int | None] = {}

    @property
    def stale(self) -> bool:
        """Whether the next read goes to the store (callers on an event loop then use a thread)."""
        return time.monotonic() - self._loaded >= self._ttl

    def _refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._loaded < self._ttl:
                return
            targets = [Target("service_hook", h.id, h.org_id, h.project_id, h.url, h.secret, frozenset(h.events))
                       for h in integrations_read.all_hooks(self._store)]
            targets += [Target("sentry_app", i.uuid, i.org_id, None, a.webhook_url, a.client_secret,
                               frozenset(a.events)) for i, a in integrations_read.all_installations(self._store)]
            projects: dict[int, dict[str, Any]] = {}
            for org_id in {t.org_id for t in targets}:
                for p in entities.select_many(self._store, ["project"], org_id)["project"]:
                    projects[p.id] = {"id": str(p.id), "slug": p.slug, "name": p.name, "org_id": org_id}
            self._targets, self._projects, self._monitors = targets, projects, {}
            self._loaded = time.monotonic()

    def targets(self, org_id: int | None = None, project_id: int | None = None) -> list[Target]:
        """The targets of a project (of its organization when only that is known)."""
        self._refresh()
        if project_id is not None and org_id is None:
            org_id = self._projects.get(project_id, {}).get("org_id")
        return [t for t in self._targets if t.org_id == org_id and (t.project_id is None or project_id is None
                                                                      or t.project_id == project_id)]

    def project(self, project_id: int) -> dict[str, Any] | None:
        """{id, slug, name, org_id} of a project some target listens to."""
        self._refresh()
        return self._projects.get(project_id)

    def monitor_project(self, org_id: int, slug: str) -> int | None:
        """The project of a monitor (for monitor events, which name only the monitor)."""
        key = (org_id, slug)
        if key not in self._monitors:
            found = monitors_read.monitor(self._store, org_id, slug)
            self._monitors[key] = found.project_id if found is not None else None
        return self._monitors[key]
