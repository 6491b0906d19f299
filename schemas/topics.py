"""The one registry of Kafka topics: name, partitions, codec, key, retention, dead letters, groups.

Producers and consumers take everything about a topic from here: its codec (public topics are
JSON exactly as `schemas/jsonschema/` publishes them, internal ones MessagePack), how a
message's key derives from its value, where messages that cannot be processed go, and which
consumer groups read it. A deployment-wide prefix (`PICKET_TOPIC_PREFIX`, default empty)
namespaces every topic and group, so several installations or test runs can share one broker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import msgspec

from picket.schemas.codecs import Codec, Json, MsgPack, Raw
from picket.schemas.commands import TenancyCommand, aggregate_key
from picket.schemas.ingest import IngestItem, Outcome
from picket.schemas.monitors import MonitorCommand, MonitorEvent, monitor_key
from picket.schemas.events import TenancyEvent
from picket.schemas.issues import IssueCommand, IssueEvent, issues_key
from picket.schemas.releases import ReleaseCommand, ReleaseEvent, release_key
from picket.schemas.artifacts import ArtifactCommand, ArtifactEvent, AssemblyJob, assembly_key
from picket.schemas.artifacts import command_key as artifact_command_key
from picket.schemas.integrations import SECRET_FIELDS as INTEGRATION_SECRETS
from picket.schemas.integrations import Delivery, IntegrationCommand, IntegrationEvent
from picket.schemas.integrations import command_key as integration_command_key
from picket.schemas.replies import Reply

DAY_MS = 24 * 3600 * 1000
# What no subscriber of a public topic may see: a key's secret half, a token's hash.
SECRET_FIELDS = frozenset({"secret", "token_hash"})


def _aggregate(value: Any) -> str:
    return value.meta.aggregate  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Topic:
    """One Kafka topic and its contract.

    `key` says what the message key is (all messages of one aggregate share it, so they land on
    one partition and are decided by one writer) and `key_of` derives it from a value (None:
    unkeyed, or the key travels with the message, as on dead-letter topics); `value_type` is the
    msgspec type of the value; `groups` are the consumer groups that read it, named without the
    deployment's prefix (`Settings.group`); `replaces` pairs a group with the group it took over
    from (it starts where that one left off, not at the beginning of the topic); `redact` names
    fields a public topic leaves out.
    """

    name: str
    partitions: int
    key: str
    value_type: Any
    retention_ms: int
    public: bool = False
    dead_letter: str | None = None
    key_of: Callable[[Any], str] | None = None
    groups: tuple[str, ...] = ()
    replaces: tuple[tuple[str, str], ...] = ()
    redact: frozenset[str] = frozenset()
    doc: str = ""

    def full_name(self, prefix: str) -> str:
        return prefix + self.name

    def configs(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms)}

    @cached_property
    def codec(self) -> Codec:
        if self.value_type is bytes:
            return Raw()
        if self.public:
            return Json(self.value_type, self.redact)
        return MsgPack(self.value_type)

    def encode(self, value: Any) -> bytes:
        return self.codec.encode(value)

    def decode(self, raw: bytes) -> Any:
        return self.codec.decode(raw)

    def key_for(self, value: Any) -> bytes | None:
        """The message key of `value`, as the registry derives it."""
        return None if self.key_of is None else self.key_of(value).encode()


def _dead_letters(name: str, doc: str) -> Topic:
    """A dead-letter topic: failed messages as they were, under their original key; headers carry
    the reason, where they came from and which consumer gave up on them."""
    return Topic(name, partitions=1, key="original key", value_type=bytes, retention_ms=30 * DAY_MS, doc=doc)


TENANCY_COMMANDS = Topic(
    "tenancy-commands",
    partitions=4,
    key="aggregate key: org:<id>, orgslug:<slug> or user:<email>",
    value_type=TenancyCommand,
    retention_ms=7 * DAY_MS,
    dead_letter="tenancy-commands-dlq",
    key_of=aggregate_key,
    groups=("",),  # the Faust app's own group: its deciding agent
    doc="Administrative commands for organizations, teams, projects, keys, members, users, tokens.",
)

TENANCY_LOG = Topic(
    "tenancy-log",
    partitions=4,
    key="aggregate key, as on tenancy-commands",
    value_type=TenancyEvent,
    # The log is the source of truth for projections: keep it.
    retention_ms=-1,
    dead_letter="tenancy-events-dlq",
    key_of=_aggregate,
    groups=("tenancy-projector",),
    doc="The tenancy context's event log, whole (key secrets and token hashes included): "
        "internal; subscribers read tenancy-events.",
)

TENANCY_EVENTS = Topic(
    "tenancy-events",
    partitions=4,
    key="aggregate key, as on tenancy-commands",
    value_type=TenancyEvent,
    retention_ms=-1,
    public=True,
    key_of=_aggregate,
    redact=SECRET_FIELDS,
    doc="Domain events of the tenancy context; each carries the whole new record, but secrets "
        "(a key's secret half, a token's hash).",
)

COMMAND_REPLIES = Topic(
    "command-replies",
    partitions=1,
    key="gateway instance id",
    value_type=Reply,
    retention_ms=3600 * 1000,
    key_of=lambda reply: reply.reply_to,
    doc="Verdicts on administrative commands for the gateway instance that waits for them.",
)

TENANCY_COMMANDS_DLQ = _dead_letters(
    "tenancy-commands-dlq",
    "Commands that could not be decoded or decided; headers carry the reason.",
)

TENANCY_EVENTS_DLQ = _dead_letters(
    "tenancy-events-dlq",
    "Events of the tenancy log the projector could not decode or store; headers carry the reason.",
)


def _monitor(command: Any) -> str:
    return monitor_key(command.org_id, command.slug)


MONITORS_COMMANDS = Topic(
    "monitors-commands",
    partitions=4,
    key="monitor:<org id>:<slug>",
    value_type=MonitorCommand,
    retention_ms=7 * DAY_MS,
    dead_letter="monitors-commands-dlq",
    key_of=_monitor,
    groups=("monitors-decider",),
    doc="Monitor changes, check-ins (REST and envelopes) and clock ticks, one monitor per key.",
)

MONITORS_EVENTS = Topic(
    "monitors-events",
    partitions=4,
    key="monitor:<org id>:<slug>",
    value_type=MonitorEvent,
    retention_ms=-1,
    public=True,
    dead_letter="monitors-events-dlq",
    key_of=_aggregate,
    groups=("monitors-projector", "hooks-fanout"),
    doc="Domain events of cron monitors: monitor changes, check-ins, environment status changes.",
)

MONITORS_CLOCK_TICK = Topic(
    "monitors-clock-tick",
    partitions=1,
    key="none",
    value_type=MonitorCommand,
    retention_ms=DAY_MS,
    dead_letter="monitors-commands-dlq",
    groups=("monitors-clock",),
    doc="One tick per minute of monitor time; the dispatcher turns a tick into clock tasks "
        "(ClockTick commands) for the monitors due by then.",
)

MONITORS_COMMANDS_DLQ = _dead_letters(
    "monitors-commands-dlq",
    "Monitor commands and clock ticks that could not be decoded or decided; headers carry the reason.",
)

MONITORS_EVENTS_DLQ = _dead_letters(
    "monitors-events-dlq",
    "Monitor events the projector could not decode or store; headers carry the reason.",
)


def _project(item: IngestItem) -> str:
    return str(item.project_id)


class _NamesMonitor(msgspec.Struct):
    monitor_slug: str


def check_in_key(item: IngestItem) -> str:
    """The key of a check-in item: its monitor's (`monitor_key`), as on `monitors-commands`, so
    that the monitor's decider owns it; the project's if the payload names no monitor (the
    decider refuses it)."""
    try:
        named = msgspec.json.decode(item.payload, type=_NamesMonitor)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return _project(item)
    return monitor_key(item.org_id, named.monitor_slug)


def _ingest(name: str, what: str, groups: tuple[str, ...] | None = None, **options: Any) -> Topic:
    return Topic(
        name,
        partitions=4,
        key=options.pop("key", "project id (decimal), so one consumer owns a project's items"),
        value_type=IngestItem,
        retention_ms=DAY_MS,
        dead_letter="ingest-dlq",
        key_of=options.pop("key_of", _project),
        groups=groups or (name,),
        doc=f"{what} accepted by the gateway, as received (raw item payload).",
        **options,
    )


INGEST_EVENTS = _ingest("ingest-events", "Error and default events")
INGEST_TRANSACTIONS = _ingest("ingest-transactions", "Transaction events")
INGEST_ATTACHMENTS = _ingest("ingest-attachments", "Event attachments")
INGEST_SESSIONS = _ingest("ingest-sessions", "Release-health session updates and session aggregates")
# Keyed like monitors-commands, with as many partitions: the monitors decider reads both and
# decides a check-in where it arrives (it took over from the forwarder to monitors-commands,
# group "ingest-monitors"). The raw rows' writer reads it in a group of its own.
INGEST_MONITORS = _ingest("ingest-monitors", "Cron monitor check-ins", ("monitors-decider", "ingest-monitors-raw"),
                          key="monitor:<org id>:<slug> (the project id if the item names no monitor)",
                          key_of=check_in_key, replaces=(("monitors-decider", "ingest-monitors"),))
INGEST_FEEDBACK = _ingest("ingest-feedback-events", "User feedback (feedback and user_report items)")

# Keyed and partitioned as ingest-events: the consumer that groups a project's events into
# issues reads both, co-partitioned, and decides the project's commands where its events are.
ISSUES_COMMANDS = Topic(
    "issues-commands",
    partitions=INGEST_EVENTS.partitions,
    key="project id (decimal), as on ingest-events",
    value_type=IssueCommand,
    retention_ms=7 * DAY_MS,
    dead_letter="issues-commands-dlq",
    key_of=issues_key,
    groups=("ingest-events",),
    doc="The issue workflow's commands (status, assignment, flags, sharing, merge, delete), one "
        "project per key.",
)

ISSUES_EVENTS = Topic(
    "issues-events",
    partitions=INGEST_EVENTS.partitions,
    key="project id (decimal)",
    value_type=IssueEvent,
    retention_ms=-1,
    public=True,
    key_of=issues_key,
    dead_letter="issues-events-dlq",
    groups=("hooks-fanout",),  # webhook deliveries (services/agents/hooks_fanout.py)
    doc="Domain events of issues: created, status changed, regressed, assigned, a user's flags, "
        "shared, merged, deleted.",
)

ISSUES_COMMANDS_DLQ = _dead_letters(
    "issues-commands-dlq",
    "Issue commands that could not be decoded or decided; headers carry the reason.",
)

def _release(command: Any) -> str:
    return release_key(command.org_id, command.version)


RELEASES_COMMANDS = Topic(
    "releases-commands",
    partitions=4,
    key="release:<org id>:<version>",
    value_type=ReleaseCommand,
    retention_ms=7 * DAY_MS,
    dead_letter="releases-commands-dlq",
    key_of=_release,
    groups=("",),  # the Faust app's own group: its deciding agent
    doc="Release changes: create or add projects, update, finalize, archive, commits, deploys, delete.",
)

RELEASES_EVENTS = Topic(
    "releases-events",
    partitions=4,
    key="release:<org id>:<version>",
    value_type=ReleaseEvent,
    retention_ms=-1,
    public=True,
    dead_letter="releases-events-dlq",
    key_of=_aggregate,
    groups=("releases-projector", "hooks-fanout", "release-files-cleanup"),
    doc="Domain events of releases: created, updated, finalized, archived, restored, commits set, "
        "deployed, deleted; each carries the whole release as it is after the event.",
)

RELEASES_COMMANDS_DLQ = _dead_letters(
    "releases-commands-dlq",
    "Release commands that could not be decoded or decided; headers carry the reason.",
)

RELEASES_EVENTS_DLQ = _dead_letters(
    "releases-events-dlq",
    "Release events the projector could not decode or store; headers carry the reason.",
)


OUTCOMES = Topic(
    "outcomes",
    partitions=4,
    key="organization id (decimal)",
    value_type=Outcome,
    retention_ms=7 * DAY_MS,
    public=True,
    dead_letter="ingest-dlq",
    key_of=lambda outcome: str(outcome.org_id),
    groups=("outcomes",),
    doc="What happened to every item: accepted, filtered, rate limited, invalid, client discard.",
)

INGEST_DLQ = _dead_letters(
    "ingest-dlq",
    "Ingest and outcome messages that could not be processed; headers carry the reason.",
)

INGEST_TOPICS = (
    INGEST_EVENTS,
    INGEST_TRANSACTIONS,
    INGEST_ATTACHMENTS,
    INGEST_SESSIONS,
    INGEST_MONITORS,
    INGEST_FEEDBACK,
)

def _command_key(command: Any) -> str:
    return artifact_command_key(command)


def _assembly_key(job: Any) -> str:
    return assembly_key(job)


ARTIFACTS_ASSEMBLY = Topic(
    "artifacts-assembly",
    partitions=4,
    key="<org id>:<scope>:<checksum> (scope: bundle or dif:<project id>)",
    value_type=AssemblyJob,
    retention_ms=DAY_MS,
    dead_letter="artifacts-assembly-dlq",
    key_of=_assembly_key,
    groups=("artifacts-assembler",),
    doc="Uploads whose chunks are all there, to assemble: check the checksum, open the bundle or "
        "debug file, keep its files as blobs, register the result (bytes never travel here).",
)

ARTIFACTS_COMMANDS = Topic(
    "artifacts-commands",
    partitions=4,
    key="release-files:<org id>:<version>, bundle:<org id>:<checksum> or debug-files:<org id>:<project id>",
    value_type=ArtifactCommand,
    retention_ms=7 * DAY_MS,
    dead_letter="artifacts-commands-dlq",
    key_of=_command_key,
    groups=("",),  # the Faust app's own group: its deciding agent
    doc="Release files (create, rename, delete), assembled bundles and debug files to register, "
        "debug files to delete.",
)

ARTIFACTS_EVENTS = Topic(
    "artifacts-events",
    partitions=4,
    key="the aggregate, as on artifacts-commands",
    value_type=ArtifactEvent,
    retention_ms=-1,
    public=True,
    dead_letter="artifacts-events-dlq",
    key_of=_aggregate,
    groups=("artifacts-projector",),
    doc="Domain events of artifacts: release files created, updated, deleted; bundles registered; "
        "debug files created, deleted. Each carries the record (checksums and chunk names, no bytes).",
)

ARTIFACTS_ASSEMBLY_DLQ = _dead_letters(
    "artifacts-assembly-dlq",
    "Assembly jobs that could not be decoded or processed; headers carry the reason.",
)

ARTIFACTS_COMMANDS_DLQ = _dead_letters(
    "artifacts-commands-dlq",
    "Artifact commands that could not be decoded or decided; headers carry the reason.",
)

ARTIFACTS_EVENTS_DLQ = _dead_letters(
    "artifacts-events-dlq",
    "Artifact events the projector could not apply; headers carry the reason.",
)


def _integration_key(command: Any) -> str:
    return integration_command_key(command)


def _delivery_target(delivery: Any) -> str:
    return delivery.target_id  # type: ignore[no-any-return]


INTEGRATIONS_COMMANDS = Topic(
    "integrations-commands",
    partitions=4,
    key="hooks:<org id>:<project id> or apps:<org id>",
    value_type=IntegrationCommand,
    retention_ms=7 * DAY_MS,
    dead_letter="integrations-commands-dlq",
    key_of=_integration_key,
    groups=("",),  # the Faust app's own group: its deciding agent
    doc="Service hooks (create, update, delete), Sentry apps to install, external issues to link or unlink.",
)

INTEGRATIONS_LOG = Topic(
    "integrations-log",
    partitions=4,
    key="the aggregate, as on integrations-commands",
    value_type=IntegrationEvent,
    retention_ms=-1,
    dead_letter="integrations-log-dlq",
    key_of=_aggregate,
    groups=("integrations-projector",),
    doc="The integrations context's event log, whole (hook secrets and app client secrets "
        "included): internal; subscribers read integrations-events.",
)

INTEGRATIONS_EVENTS = Topic(
    "integrations-events",
    partitions=4,
    key="the aggregate, as on integrations-commands",
    value_type=IntegrationEvent,
    retention_ms=-1,
    public=True,
    key_of=_aggregate,
    redact=INTEGRATION_SECRETS,
    doc="Domain events of integrations: service hooks created, updated, deleted; Sentry apps "
        "installed; external issues linked, unlinked. Secrets are left out.",
)

HOOK_DELIVERIES = Topic(
    "hook-deliveries",
    partitions=4,
    key="the hook's id or the installation's uuid (a target's deliveries keep their order)",
    value_type=Delivery,
    retention_ms=7 * DAY_MS,
    dead_letter="hook-deliveries-dlq",
    key_of=_delivery_target,
    groups=("hooks-deliverer",),
    doc="Webhook requests to make (service hooks and Sentry app webhooks), signed when sent.",
)

ISSUES_EVENTS_DLQ = _dead_letters(
    "issues-events-dlq",
    "Issue events the webhook fan-out could not process; headers carry the reason.",
)

INTEGRATIONS_COMMANDS_DLQ = _dead_letters(
    "integrations-commands-dlq",
    "Integration commands that could not be decoded or decided; headers carry the reason.",
)

INTEGRATIONS_LOG_DLQ = _dead_letters(
    "integrations-log-dlq",
    "Integration events the projector could not apply; headers carry the reason.",
)

HOOK_DELIVERIES_DLQ = _dead_letters(
    "hook-deliveries-dlq",
    "Webhook deliveries given up on (the receiver failed every try, or refused for good); "
    "headers carry the last reason.",
)


ALL_TOPICS: tuple[Topic, ...] = (
    TENANCY_COMMANDS,
    TENANCY_LOG,
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
    MONITORS_EVENTS_DLQ,
    ISSUES_COMMANDS,
    ISSUES_EVENTS,
    ISSUES_COMMANDS_DLQ,
    RELEASES_COMMANDS,
    RELEASES_EVENTS,
    RELEASES_COMMANDS_DLQ,
    RELEASES_EVENTS_DLQ,
    ARTIFACTS_ASSEMBLY,
    ARTIFACTS_COMMANDS,
    ARTIFACTS_EVENTS,
    ARTIFACTS_ASSEMBLY_DLQ,
    ARTIFACTS_COMMANDS_DLQ,
    ARTIFACTS_EVENTS_DLQ,
    INTEGRATIONS_COMMANDS,
    INTEGRATIONS_LOG,
    INTEGRATIONS_EVENTS,
    HOOK_DELIVERIES,
    INTEGRATIONS_COMMANDS_DLQ,
    INTEGRATIONS_LOG_DLQ,
    HOOK_DELIVERIES_DLQ,
    ISSUES_EVENTS_DLQ,
)
BY_NAME = {topic.name: topic for topic in ALL_TOPICS}
PUBLIC_TOPICS = tuple(topic for topic in ALL_TOPICS if topic.public)
# Topics some consumer group reads: each has a dead-letter topic of the registry.
CONSUMED_TOPICS = tuple(topic for topic in ALL_TOPICS if topic.groups)
