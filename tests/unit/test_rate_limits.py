"""Per-key rate limits: fixed windows counted in process, against an injected clock."""

from __future__ import annotations

from picket.schemas.entities import RateLimit
from picket.gateway.rate_limits import RateLimiter

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z, a multiple of 60 and of 3600


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


PER_MINUTE = RateLimit(window=60, count=3)


def test_a_key_is_admitted_up_to_its_count_then_told_how_long_to_wait():
    clock = Clock(T0 + 15)
    limiter = RateLimiter(clock)

    assert [limiter.admit(1, PER_MINUTE) for _ in range(3)] == [None, None, None]
    assert limiter.admit(1, PER_MINUTE) == 45.0


def test_refusals_do_not_use_up_the_window():
    clock = Clock(T0)
    limiter = RateLimiter(clock)
    for _ in range(3):
        limiter.admit(1, PER_MINUTE)
    assert limiter.admit(1, PER_MINUTE) == 60.0
    clock.now = T0 + 30
    assert limiter.admit(1, PER_MINUTE) == 30.0
    clock.now = T0 + 60
    assert limiter.admit(1, PER_MINUTE) is None


def test_the_wait_is_at_least_one_second_at_the_very_end_of_a_window():
    clock = Clock(T0 + 59.75)
    limiter = RateLimiter(clock)
    for _ in range(3):
        assert limiter.admit(1, PER_MINUTE) is None
    assert limiter.admit(1, PER_MINUTE) == 1.0


def test_a_new_window_admits_again():
    clock = Clock(T0 + 10)
    limiter = RateLimiter(clock)
    for _ in range(3):
        limiter.admit(1, PER_MINUTE)
    assert limiter.admit(1, PER_MINUTE) is not None

    clock.now = T0 + 61
    assert [limiter.admit(1, PER_MINUTE) for _ in range(3)] == [None, None, None]
    assert limiter.admit(1, PER_MINUTE) == 59.0


def test_windows_are_aligned_to_the_clock_not_to_the_first_request():
    clock = Clock(T0 + 50)
    limiter = RateLimiter(clock)
    for _ in range(3):
        limiter.admit(1, PER_MINUTE)
    # Ten seconds later a new fixed window has begun.
    clock.now = T0 + 60
    assert limiter.admit(1, PER_MINUTE) is None


def test_a_quantity_counts_as_that_many_items():
    clock = Clock(T0)
    limiter = RateLimiter(clock)
    assert limiter.admit(1, PER_MINUTE, quantity=2) is None
    # Two more would exceed three: refused whole, and nothing of it is counted.
    assert limiter.admit(1, PER_MINUTE, quantity=2) == 60.0
    assert limiter.admit(1, PER_MINUTE, quantity=1) is None
    assert limiter.admit(1, PER_MINUTE, quantity=1) == 60.0


def test_a_batch_larger_than_the_limit_is_refused_even_in_a_fresh_window():
    limiter = RateLimiter(Clock(T0))
    assert limiter.admit(1, PER_MINUTE, quantity=4) == 60.0
    assert limiter.admit(1, PER_MINUTE, quantity=3) is None


def test_a_key_without_a_limit_is_always_admitted():
    limiter = RateLimiter(Clock(T0))
    assert all(limiter.admit(1, None) is None for _ in range(1000))
    assert limiter.admit(1, None, quantity=10**9) is None


def test_keys_are_limited_independently():
    clock = Clock(T0)
    limiter = RateLimiter(clock)
    for _ in range(3):
        limiter.admit(1, PER_MINUTE)
    assert limiter.admit(1, PER_MINUTE) is not None

    assert [limiter.admit(2, PER_MINUTE) for _ in range(3)] == [None, None, None]
    assert limiter.admit(2, PER_MINUTE) is not None
    assert limiter.admit(3, RateLimit(window=3600, count=1)) is None


def test_an_hourly_limit_says_how_long_until_the_hour_ends():
    clock = Clock(T0 + 600)
    limiter = RateLimiter(clock)
    hourly = RateLimit(window=3600, count=1)
    assert limiter.admit(7, hourly) is None
    assert limiter.admit(7, hourly) == 3000.0


def test_an_empty_limit_admits_everything():
    limiter = RateLimiter(Clock(T0))
    assert limiter.admit(1, RateLimit(window=0, count=0)) is None


def test_a_limit_with_a_zero_window_is_no_limit_rather_than_a_crash():
    # Sentry clears a key's limit when either part is zero (see routes/keys.py); a stored
    # RateLimit(window=0, ...) from a tenancy command must not break ingestion.
    limiter = RateLimiter(Clock(T0))
    assert limiter.admit(1, RateLimit(window=0, count=5)) is None
