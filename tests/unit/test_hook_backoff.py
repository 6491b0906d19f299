"""When a webhook is tried again and how long it waits (`picket.hooks.backoff`)."""

from __future__ import annotations

import random

import pytest

from picket.hooks.backoff import delay, retryable, succeeded


class _Top:
    """A generator that always draws the top of the range: the ceiling of each wait."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_the_ceiling_doubles_from_the_base_up_to_the_cap() -> None:
    ceilings = [delay(n, base=1.0, cap=300.0, rng=_Top()) for n in range(1, 12)]
    assert ceilings == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_a_huge_attempt_number_stays_at_the_cap() -> None:
    assert delay(10_000, base=0.5, cap=300.0, rng=_Top()) == 300.0
    assert delay(0, base=0.5, cap=300.0, rng=_Top()) == 0.5  # counted as the first


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    rng = random.Random(7)
    for attempt in range(1, 15):
        ceiling = min(300.0, 2.0 * 2 ** (attempt - 1))
        draws = [delay(attempt, base=2.0, cap=300.0, rng=rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8 and min(draws) < ceiling * 0.2  # spread over the range


@pytest.mark.parametrize("status", [None, 500, 502, 503, 504, 599, 408, 429])
def test_no_answer_server_errors_408_and_429_are_tried_again(status: int | None) -> None:
    assert retryable(status)
    assert not succeeded(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 410, 413, 422])
def test_other_client_errors_are_final(status: int) -> None:
    assert not retryable(status)
    assert not succeeded(status)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_delivers(status: int) -> None:
    assert succeeded(status) and not retryable(status)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_not_followed_nor_tried_again(status: int) -> None:
    assert not succeeded(status) and not retryable(status)
