"""A gateway world for each route test, on a fake runtime (tests/support/gateway_world.py)."""

from __future__ import annotations

import pytest

from tests.support.gateway_world import World, make_world


@pytest.fixture
def world() -> World:
    return make_world()
