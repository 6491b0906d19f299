"""The one registry of Kafka topics: name, partitions, key, value type, retention, dead letters.

Producers and consumers import topics from here and nowhere else. A deployment-wide
prefix (`PICKET_TOPIC_PREFIX`, default empty) namespaces every topic, so several installations or
test runs can share one broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from picket.schemas.commands import TenancyCommand
from picket.schemas.ingest import IngestItem, Outcome
from picket.schemas.monitors import MonitorCommand, MonitorEvent
from picket.schemas.events import TenancyEvent
from picket.schemas.replies import Reply

DAY_MS = 24 * 3600 * 1000

@dataclass(frozen=True)
class Topic:
    """One Kafka topic and its contract.

    `key` says what the message key is (all messages of one aggregate share it, so they land on
    one partition and are decided by one writer); `value_type` is the msgspec type of the value.
    """

    name: str
    partitions: int
    key: str
    value_type: Any
    retention_ms: int
    public: bool = False
    dead_letter: str | None = None
    doc: str = ""

    def full_name(self, prefix: str) -> str:
        return prefix + self.name

    def configs(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms)}

TENANCY_COMMANDS = Topic(
    "tenancy-commands",
    partitions=4,
    key="aggregate key: org:<id>, orgslug:<slug> or user:<email>",
    value_type=TenancyCommand,
    retention_ms=7 * DAY_MS,
    dead_letter="tenancy-commands-dlq",
    doc="Administrative commands for organizations, teams, projects, keys, members, users, tokens.",
)

TENANCY_EVENTS = Topic(
    "tenancy-events",
    partitions=4,
    key="aggregate key, as on tenancy-commands",
    value_type=TenancyEvent,
    # The log is the source of truth for projections: keep it.
    retention_ms=-1,
    public=True,
    dead_letter="tenancy-events-dlq",
    doc="Domain events of the tenancy context; each carries the whole new record.",
)

COMMAND_REPLIES = Topic(
    "command-replies",
    partitions=1,
    key="gateway instance id",
    value_type=Reply,
    retention_ms=3600 * 1000,
    doc="Verdicts on administrative commands for the gateway instance that waits for them.",
)

TENANCY_COMMANDS_DLQ = Topic(
    "tenancy-commands-dlq",
    partitions=1,
    key="original key",
    value_type=bytes,
    retention_ms=30 * DAY_MS,
    doc="Commands that could not be decoded or decided; headers carry the reason.",
)

TENANCY_EVENTS_DLQ = Topic(
    "tenancy-events-dlq",
    partitions=1,
    key="original key",
    value_type=bytes,
    retention_ms=30 * DAY_MS,
    doc="Domain events the projector could not decode; headers carry the reason.",
)

MONITORS_COMMANDS = Topic(
    "monitors-commands",
    partitions=4,
    key="monitor:<org id>:<slug>",
    value_type=MonitorCommand,
    retention_ms=7 * DAY_MS,
    dead_letter="monitors-commands-dlq",
    doc="Monitor changes, check-ins (REST and envelopes) and clock ticks, one monitor per key.",
)

MONITORS_EVENTS = Topic(
    "monitors-events",
    partitions=4,
    key="monitor:<org id>:<slug>",
    value_type=MonitorEvent,
    retention_ms=-1,
    public=True,
    dead_letter="monitors-commands-dlq",
    doc="Domain events of cron monitors: monitor changes, check-ins, environment status changes.",
)

MONITORS_CLOCK_TICK = Topic(
    "monitors-clock-tick",
    partitions=1,
    key="none",
    value_type=MonitorCommand,
    retention_ms=DAY_MS,
    doc="One tick per minute of monitor time; the dispatcher turns a tick into clock tasks "
        "(ClockTick commands) for the monitors due by then.",
)

MONITORS_COMMANDS_DLQ = Topic(
    "monitors-commands-dlq",
    partitions=1,
    key="original key",
    value_type=bytes,
    retention_ms=30 * DAY_MS,
    doc="Monitor commands and events that could not be decoded or decided; headers carry the reason.",
)


def _ingest(name: str, what: str) -> Topic:
    return Topic(
        name,
        partitions=4,
        key="project id (decimal), so one consumer owns a project's items",
        value_type=IngestItem,
        retention_ms=DAY_MS,
        dead_letter="ingest-dlq",
        doc=f"{what} accepted by the gateway, as received (raw item payload).",
    )


INGEST_EVENTS = _ingest("ingest-events", "Error and default events")
INGEST_TRANSACTIONS = _ingest("ingest-transactions", "Transaction events")
INGEST_ATTACHMENTS = _ingest("ingest-attachments", "Event attachments")
INGEST_SESSIONS = _ingest("ingest-sessions", "Release-health session updates and session aggregates")
INGEST_MONITORS = _ingest("ingest-monitors", "Cron monitor check-ins")
INGEST_FEEDBACK = _ingest("ingest-feedback-events", "User feedback (feedback and user_report items)")

OUTCOMES = Topic(
    "outcomes",
    partitions=4,
    key="organization id (decimal)",
    value_type=Outcome,
    retention_ms=7 * DAY_MS,
    public=True,
    dead_letter="ingest-dlq",
    doc="What happened to every item: accepted, filtered, rate limited, invalid, client discard.",
)

INGEST_DLQ = Topic(
    "ingest-dlq",
    partitions=1,
    key="original key",
    value_type=bytes,
    retention_ms=30 * DAY_MS,
    doc="Ingest and outcome messages that could not be processed; headers carry the reason.",
)

INGEST_TOPICS = (
    INGEST_EVENTS,
    INGEST_TRANSACTIONS,
    INGEST_ATTACHMENTS,
    INGEST_SESSIONS,
    INGEST_MONITORS,
    INGEST_FEEDBACK,
)

ALL_TOPICS: tuple[Topic, ...] = (
    TENANCY_COMMANDS,
    TENANCY_EVENTS,
    COMMAND_REPLIES,
    TENANCY_COMMANDS_DLQ,
    TENANCY_EVENTS_DLQ,
    *INGEST_TOPICS,
    OUTCOMES,
    INGEST_DLQ,
    MONITORS_COMMANDS,
    MONITORS_EVENTS,
    MONITORS_CLOCK_TICK,
    MONITORS_COMMANDS_DLQ,
)
