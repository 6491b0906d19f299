"""RecentIds, the bounded memory of a monitor's finished check-ins and decided commands."""

from __future__ import annotations

import pytest

from picket.monitors.state import GENERATION, RecentIds


@pytest.mark.parametrize("keep", [1, 99, 100, 256, 1000])
def test_the_last_keep_ids_are_always_remembered_and_at_most_two_generations_more(keep: int) -> None:
    ids = RecentIds()
    for n in range(3 * keep + 2 * GENERATION + 7):
        ids = ids.add(f"id-{n}", keep)
        assert all(f"id-{m}" in ids for m in range(max(0, n - keep + 1), n + 1))
        assert len(ids) <= keep + 2 * GENERATION
    assert "id-0" not in ids


def test_adding_leaves_the_earlier_value_as_it_was() -> None:
    before = RecentIds().add("a", 10)
    after = before.add("b", 10)
    assert "b" in after and "b" not in before
    assert before == RecentIds(("a",))


def test_an_id_already_remembered_is_not_added_twice() -> None:
    ids = RecentIds().add("a", 10).add("b", 10)
    assert ids.add("a", 10) is ids
    assert len(ids) == 2
