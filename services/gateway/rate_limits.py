"""Per-key rate limits (the `rateLimit` of a client key): fixed windows, in process.

Each gateway process enforces the limit on its own share of traffic; with N gateways behind a
balancer a key gets up to N× its limit. Time is injected so windows are testable.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from picket.schemas.entities import RateLimit


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[int, tuple[int, int]] = {}  # key id -> (window start, count)

    def admit(self, key_id: int, limit: RateLimit | None, quantity: int = 1) -> float | None:
        """Count `quantity` against the key; None if admitted, else seconds until the window ends."""
        if limit is None or limit.window <= 0:  # no window, no limit (as Sentry clears it)
            return None
        now = self._clock()
        start = int(now // limit.window) * limit.window
        window_start, used = self._windows.get(key_id, (start, 0))
        if window_start != start:
            used = 0
        if used + quantity > limit.count:
            self._windows[key_id] = (start, used)
            return max(1.0, start + limit.window - now)
        self._windows[key_id] = (start, used + quantity)
        return None
