"""Which hours a sealing pass writes and which rows mark an hour dirty (pure rules)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from picket.store.rollup import GRACE, HOUR, hours_to_seal, late_hours

NOW = datetime(2026, 5, 4, 12, 20, tzinfo=timezone.utc)


def h(hour: int, day: int = 4) -> datetime:
    return datetime(2026, 5, day, hour, tzinfo=timezone.utc)


def test_first_pass_seals_from_the_first_data_to_the_last_hour_past_its_grace() -> None:
    assert hours_to_seal(now=NOW, last_sealed=None, first_data=h(8) + timedelta(minutes=42), dirty=[]) == [
        h(8), h(9), h(10), h(11)]


def test_an_hour_is_sealed_only_once_it_ended_more_than_the_grace_ago() -> None:
    just_before = h(12) + GRACE - timedelta(seconds=1)
    assert hours_to_seal(now=just_before, last_sealed=h(9), first_data=h(1), dirty=[]) == [h(10)]
    assert hours_to_seal(now=h(12) + GRACE, last_sealed=h(9), first_data=h(1), dirty=[]) == [h(10), h(11)]


def test_nothing_to_seal_without_data_or_before_the_next_hour_is_due() -> None:
    assert hours_to_seal(now=NOW, last_sealed=None, first_data=None, dirty=[]) == []
    assert hours_to_seal(now=NOW, last_sealed=h(11), first_data=h(1), dirty=[]) == []


def test_dirty_hours_up_to_the_horizon_are_resealed_with_the_new_ones() -> None:
    dirty = [h(3), h(10, day=1), h(12)]  # h(12) is beyond the new horizon: still read as recent rows
    assert hours_to_seal(now=NOW, last_sealed=h(9), first_data=h(1), dirty=dirty) == [
        h(10, day=1), h(3), h(10), h(11)]


def test_rows_are_late_once_their_hour_ended_half_the_grace_ago() -> None:
    on_time = h(11) + timedelta(minutes=59)
    assert late_hours([on_time], now=h(12) + GRACE / 2 - timedelta(seconds=1)) == []
    assert late_hours([on_time, h(3) + timedelta(minutes=5), h(3)], now=h(12) + GRACE / 2) == [h(3), h(11)]
    # naive timestamps (as stored rows carry them) are UTC
    assert late_hours([datetime(2026, 5, 4, 3, 30)], now=NOW) == [h(3)]


def test_the_newest_sealed_hour_and_the_late_rule_leave_no_gap() -> None:
    """A row a seal could have missed (inserted after the seal of its hour) is always late."""
    for minutes in range(0, 180, 7):
        now = h(9) + timedelta(minutes=minutes)
        sealed = hours_to_seal(now=now, last_sealed=None, first_data=h(6), dirty=[])
        for hour in sealed:
            assert late_hours([hour + HOUR - timedelta(seconds=1)], now=now) == [hour]


def test_a_live_rollup_rewrites_every_open_hour_up_to_the_current_one_on_each_pass() -> None:
    # NOW = 12:20: 11:00 ended 20 minutes ago (past the grace), 12:00 is running
    assert hours_to_seal(now=NOW, last_sealed=None, first_data=h(10), dirty=[], live=True) == [
        h(10), h(11), h(12)]
    # sealed up to the current hour already: the open hours again (11:00 is the newest past its
    # grace: rewritten once more), nothing older
    assert hours_to_seal(now=NOW, last_sealed=h(12), first_data=h(1), dirty=[h(3)], live=True) == [
        h(3), h(11), h(12)]
    assert hours_to_seal(now=NOW, last_sealed=None, first_data=None, dirty=[], live=True) == []


def test_a_live_hour_is_rewritten_until_rows_for_it_count_as_late() -> None:
    """No row slips between an open hour's last rewrite and the late rule."""
    for minutes in range(0, 200, 3):
        now = h(9) + timedelta(minutes=minutes)
        rewritten = hours_to_seal(now=now, last_sealed=h(9), first_data=h(6), dirty=[], live=True)
        if h(9) not in rewritten:  # past its last rewrite: a row for it now is late
            assert late_hours([h(9)], now=now) == [h(9)]
