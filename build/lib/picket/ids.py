"""Fresh identifiers, made at the edge (gateway, CLI) and carried in commands.

Numeric ids are time-ordered and fit in 53 bits, so JavaScript clients read them exactly:
41 bits of milliseconds since 2024-01-01 and 12 random bits.
"""

from __future__ import annotations

import secrets
import time

_EPOCH_MS = 1_704_067_200_000


def new_id() -> int:
    ms = int(time.time() * 1000) - _EPOCH_MS
    return (ms << 12) | secrets.randbits(12)


def new_key_pair() -> tuple[str, str]:
    """Public and secret parts of a client key (32 hex characters each, as Sentry's)."""
    return secrets.token_hex(16), secrets.token_hex(16)


def new_token() -> str:
    return secrets.token_hex(32)
