"""Releases named by events. As Sentry's ingestion does, the first event of a release in a
project creates the release (or adds the project to it): the event consumer sends the releases
context an `UpsertRelease` that changes nothing when the release already has the project, so
sending it again (after a restart, or from another worker) is harmless.

`Sightings` remembers which (project, release) pairs were announced, so that a release's
command goes out once per process, not once per event; what a batch announces counts only
once its records were sent (`commit`)."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import datetime

from picket.ids import new_id
from picket.releases.versions import validate_version
from picket.schemas.commands import CommandMeta
from picket.schemas.releases import UpsertRelease

# Pairs remembered; past it the oldest are forgotten (and announced again if seen again).
KEEP = 100_000


def sighting(org_id: int, project_id: int, release: str | None, at: datetime) -> UpsertRelease | None:
    """The command that makes sure the release exists with the project, or None when the
    event names no release a release may be called (those stay on the event only)."""
    if not release or validate_version(release) is not None:
        return None
    return UpsertRelease(
        meta=CommandMeta(command_id=uuid.uuid4().hex, issued_at=at), org_id=org_id, version=release,
        release_id=new_id(), project_ids=(project_id,),
    )


class Sightings:
    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._known: OrderedDict[tuple[int, str], None] = OrderedDict()
        self._pending: set[tuple[int, str]] = set()

    def first(self, project_id: int, release: str | None) -> bool:
        """Whether the pair is new to this process (and not already announced by this batch)."""
        if not release:
            return False
        pair = (project_id, release)
        if pair in self._known:
            self._known.move_to_end(pair)
            return False
        if pair in self._pending:
            return False
        self._pending.add(pair)
        return True

    def commit(self, sent: bool) -> None:
        """The batch's announcements were sent (remember them) or not (forget them)."""
        if sent:
            for pair in self._pending:
                self._known[pair] = None
            while len(self._known) > self._keep:
                self._known.popitem(last=False)
        self._pending.clear()
