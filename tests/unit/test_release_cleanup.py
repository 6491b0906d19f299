"""What the release-files cleanup sends for a release event: for a deletion, one command to the
deleted release's files aggregate, timed at the deletion, with an id stable across deliveries;
for anything else, nothing."""

from __future__ import annotations

from datetime import datetime, timezone

from picket.agents.release_cleanup import cleanup
from picket.schemas import artifacts as a
from picket.schemas import releases as r
from picket.schemas import topics as t

AT = datetime(2026, 12, 6, 9, 30, tzinfo=timezone.utc)
RELEASE = r.Release(id=4, org_id=7, version="app@1.0", date_created=AT, project_ids=(3,))


def _event(kind: type, event_id: str = "cmd-1:0") -> r.ReleaseEvent:
    meta = r.ReleaseEventMeta(event_id=event_id, aggregate="release:7:app@1.0", version=3, timestamp=AT,
                              command_id="cmd-1")
    return kind(meta=meta, release=RELEASE)


def test_a_deleted_release_becomes_one_command_for_its_files() -> None:
    command = cleanup(_event(r.ReleaseDeleted))
    assert isinstance(command, a.DeleteReleaseFiles)
    assert (command.org_id, command.release, command.before) == (7, "app@1.0", AT)
    assert a.command_key(command) == a.release_files_key(7, "app@1.0")
    assert command.meta.issued_at == AT and command.meta.reply_to is None
    assert t.ARTIFACTS_COMMANDS.decode(t.ARTIFACTS_COMMANDS.encode(command)) == command


def test_the_same_event_delivered_again_sends_the_same_command_id_another_event_another() -> None:
    first, again = cleanup(_event(r.ReleaseDeleted)), cleanup(_event(r.ReleaseDeleted))
    other = cleanup(_event(r.ReleaseDeleted, event_id="cmd-2:0"))
    assert first is not None and again is not None and other is not None
    assert first.meta.command_id == again.meta.command_id != other.meta.command_id


def test_other_release_events_send_nothing() -> None:
    for kind in (r.ReleaseCreated, r.ReleaseUpdated, r.ReleaseFinalized, r.ReleaseArchived, r.ReleaseRestored):
        assert cleanup(_event(kind)) is None
