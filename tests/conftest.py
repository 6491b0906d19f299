"""Shared fixtures: the real Kafka broker (session-wide) and real Picket processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kafka import KafkaBroker
from tests.support.picket import PicketProcess


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaBroker]:
    """One Apache Kafka broker for the session (or `KAFKA_BOOTSTRAP` when set)."""
    with KafkaBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def picket(kafka: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:
    """A running Picket shared by tests that only add their own resources."""
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("picket")).start()
    yield proc
    proc.stop()


@pytest.fixture
def fresh_picket(kafka: KafkaBroker, tmp_path: Path) -> Iterator[PicketProcess]:
    """A Picket of the test's own (own topics and data), for restart and isolation scenarios."""
    proc = PicketProcess(kafka.bootstrap, tmp_path / "picket", org="solo")
    yield proc
    proc.stop(kill=True)
