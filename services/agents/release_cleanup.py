"""Consumer of `releases-events` in the group `release-files-cleanup`: a deleted release takes its
files with it, as Sentry's release deletion does. Each `ReleaseDeleted` becomes one
`DeleteReleaseFiles` for the artifacts context, which deletes the files created up to the
deletion (their blobs are then swept) and leaves those of a release made again under the same
version since.

The command's id comes from the event's: an event delivered again sends a command the context
recognises, and one it has forgotten deletes nothing new. Other release events pass by.
"""

from __future__ import annotations

from typing import Any

from picket.agents.wiring import Wiring
from picket.runtime.consumer import BatchConsumer
from picket.runtime.steps import Output
from picket.schemas import topics as t
from picket.schemas.artifacts import DeleteReleaseFiles
from picket.schemas.commands import CommandMeta
from picket.schemas.releases import ReleaseDeleted

GROUP = "release-files-cleanup"


def cleanup(event: Any) -> DeleteReleaseFiles | None:
    """The command that deletes a deleted release's files; None for any other release event."""
    if not isinstance(event, ReleaseDeleted):
        return None
    meta = CommandMeta(command_id=f"{GROUP}:{event.meta.event_id}", issued_at=event.meta.timestamp)
    return DeleteReleaseFiles(meta=meta, org_id=event.release.org_id, release=event.release.version,
                              before=event.meta.timestamp)


def release_cleanup_consumer(w: Wiring) -> BatchConsumer:
    topics = w.topics

    async def process(msg: Any) -> Output:
        command = cleanup(t.RELEASES_EVENTS.decode(msg.value))
        return Output(records=[topics.record(t.ARTIFACTS_COMMANDS, command)] if command else [])

    return w.consumer(GROUP, t.RELEASES_EVENTS, GROUP, w.items(GROUP, t.RELEASES_EVENTS, process, outcomes=False))
