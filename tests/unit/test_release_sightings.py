"""Releases named by events: which events announce a release, and that a release is announced
once per (project, release) per process unless the batch that announced it was not sent."""

from __future__ import annotations

from datetime import datetime, timezone

from picket.releases.sightings import Sightings, sighting
from picket.schemas.releases import UpsertRelease

AT = datetime(2026, 12, 6, tzinfo=timezone.utc)


def test_a_sighting_adds_the_project_and_changes_nothing_else() -> None:
    command = sighting(7, 42, "web@1.0", AT)
    assert isinstance(command, UpsertRelease)
    assert (command.org_id, command.version, command.project_ids) == (7, "web@1.0", (42,))
    assert command.meta.issued_at == AT and command.meta.reply_to is None
    # None means "unchanged" to the release: an existing release keeps its status and commits.
    assert command.status is None and command.commits is None and command.refs is None


def test_names_a_release_may_not_have_announce_nothing() -> None:
    for name in (None, "", "latest", "a/b", "x" * 201, " padded "):
        assert sighting(7, 42, name, AT) is None, name


def test_announced_once_per_pair_after_the_batch_is_sent() -> None:
    seen = Sightings()
    assert seen.first(1, "r1")
    assert not seen.first(1, "r1")  # the same batch announces it once
    assert seen.first(2, "r1") and seen.first(1, "r2")
    assert not seen.first(1, None)
    seen.commit(True)
    assert not seen.first(1, "r1") and not seen.first(2, "r1")


def test_a_batch_not_sent_announces_again() -> None:
    seen = Sightings()
    assert seen.first(1, "r1")
    seen.commit(False)
    assert seen.first(1, "r1")


def test_the_oldest_pairs_are_forgotten_past_the_bound() -> None:
    seen = Sightings(keep=2)
    for release in ("a", "b"):
        seen.first(1, release)
    seen.commit(True)
    assert not seen.first(1, "a")  # a lookup keeps "a" fresh: "b" is now the oldest
    seen.first(1, "c")
    seen.commit(True)
    assert seen.first(1, "b")
    assert not seen.first(1, "a") and not seen.first(1, "c")
