"""When a webhook is tried again (pure).

`delay(n)` is how long to wait after the n-th failed try (n from 1): exponential
(`base * 2**(n-1)`), capped at `cap`, with full jitter (uniformly drawn from 0 to that), so that
receivers coming back are not hit by every waiting delivery at once.

`retryable(status)`: what a later try may change. No answer at all (`None`: a timeout, a refused
or reset connection, a TLS failure), a server error (5xx), 408 Request Timeout and 429 Too Many
Requests are tried again; any other 4xx is the receiver's final word. 2xx is delivered; 3xx is
not tried again either (redirects are never followed: a redirect could lead anywhere, a private
address included) — the deliverer counts it a failure, the request having reached no handler.
"""

from __future__ import annotations

from typing import Protocol

RETRIED_4XX = frozenset({408, 429})


class Uniform(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


def delay(attempt: int, *, base: float, cap: float, rng: Uniform) -> float:
    """Seconds to wait after failed try number `attempt` (1 for the first)."""
    exponent = min(max(attempt, 1) - 1, 62)  # 2**62 times any sane base is past any cap
    ceiling = min(cap, base * (2 ** exponent))
    return rng.uniform(0.0, max(ceiling, 0.0))


def succeeded(status: int | None) -> bool:
    """Whether the receiver took the delivery: a 2xx answer."""
    return status is not None and 200 <= status < 300


def retryable(status: int | None) -> bool:
    """Whether a try that ended with `status` (None: no answer) should be made again."""
    if status is None:
        return True
    return status >= 500 or status in RETRIED_4XX
