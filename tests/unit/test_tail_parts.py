"""`picket tail` (services/tail.py), its pure parts: which topics and event types it takes, how it
reads a value, which organization a message is about on every public topic, how it filters and
prints, and where it finds Kafka. Following a running Picket is tests/e2e/test_tail.py."""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from picket import tail
from picket.bus.connection import KafkaConnection
from picket.config import from_env
from picket.schemas import events as e
from picket.schemas.artifacts import ArtifactEventMeta, FileRef, ReleaseFile, ReleaseFileCreated
from picket.schemas.entities import Organization, Project, ProjectKey, Token, User
from picket.schemas.ingest import Outcome
from picket.schemas.issues import IssueCreated, IssueEventMeta
from picket.schemas.monitors import CheckIn, CheckInRecorded, MonitorEnvironmentStatusChanged, MonitorEventMeta
from picket.schemas.releases import Release, ReleaseCreated, ReleaseEventMeta
from picket.schemas.topics import (
    ARTIFACTS_EVENTS, ISSUES_EVENTS, MONITORS_EVENTS, OUTCOMES, PUBLIC_TOPICS, RELEASES_EVENTS, TENANCY_EVENTS,
    TENANCY_LOG, Topic,
)

T0 = datetime(2026, 12, 4, tzinfo=timezone.utc)
ORG = 7
PROJECT = 90


def _meta(aggregate: str) -> e.EventMeta:
    return e.EventMeta(event_id="c1:0", aggregate=aggregate, version=1, timestamp=T0, command_id="c1")


def _published(topic: Topic, value: Any) -> Any:
    """A value as a subscriber reads it off the topic."""
    return json.loads(topic.encode(value))


ORGANIZATION = Organization(id=ORG, slug="acme", name="Acme", date_created=T0)
PROJECT_RECORD = Project(id=PROJECT, org_id=ORG, slug="api", name="API", date_created=T0)
KEY = ProjectKey(id=3, org_id=ORG, project_id=PROJECT, label="Default", public="a" * 32, secret="b" * 32,
                 date_created=T0)
MONITOR_META = MonitorEventMeta(event_id="m1:0", aggregate=f"monitor:{ORG}:nightly", version=2, timestamp=T0,
                                command_id="m1")
CHECK_IN = CheckIn(id="c" * 32, monitor_id=5, environment="production", status="ok", date_created=T0,
                   date_updated=T0)

EVENTS_OF_ORG: list[tuple[Topic, Any]] = [
    (TENANCY_EVENTS, e.OrganizationCreated(meta=_meta(f"org:{ORG}"), organization=ORGANIZATION)),
    (TENANCY_EVENTS, e.OrganizationSlugClaimed(meta=_meta("orgslug:acme"), slug="acme", org_id=ORG)),
    (TENANCY_EVENTS, e.ProjectCreated(meta=_meta(f"org:{ORG}"), project=PROJECT_RECORD)),
    (TENANCY_EVENTS, e.KeyCreated(meta=_meta(f"org:{ORG}"), key=KEY)),
    (TENANCY_EVENTS, e.TokenCreated(meta=_meta("user:a@acme.test"),
                                    token=Token(id=4, user_id=1, scopes=["org:read"], date_created=T0, org_id=ORG))),
    (MONITORS_EVENTS, CheckInRecorded(meta=MONITOR_META, check_in=CHECK_IN)),
    (MONITORS_EVENTS, MonitorEnvironmentStatusChanged(meta=MONITOR_META, monitor_id=5, environment="production",
                                                      old_status="ok", new_status="error",
                                                      reason="failure_threshold")),
    (RELEASES_EVENTS, ReleaseCreated(
        meta=ReleaseEventMeta(event_id="r1:0", aggregate=f"release:{ORG}:1.0", version=1, timestamp=T0,
                              command_id="r1"),
        release=Release(id=6, org_id=ORG, version="1.0", date_created=T0, project_ids=(PROJECT,)))),
    (ARTIFACTS_EVENTS, ReleaseFileCreated(
        meta=ArtifactEventMeta(event_id="a1:0", aggregate=f"release-files:{ORG}:1.0", version=1, timestamp=T0,
                               command_id="a1"),
        release_file=ReleaseFile(id=8, org_id=ORG, release="1.0", name="~/app.js", date_created=T0,
                                 file=FileRef(sha1="d" * 40, size=3, chunks=("d" * 40,))))),
    (ISSUES_EVENTS, IssueCreated(
        meta=IssueEventMeta(event_id="i1:0", project_id=PROJECT, at=T0), group_id=11, short_number=1, title="boom",
        culprit="app.py", level="error", event_type="error", first_event_id="e" * 32)),
    (OUTCOMES, Outcome(timestamp=T0, org_id=ORG, project_id=PROJECT, key_id=3, outcome=0, reason=None, category=1,
                       quantity=1)),
]


# --- topics and event types ---

def test_a_public_topic_is_found_by_its_name() -> None:
    assert tail.public_topic("monitors-events") is MONITORS_EVENTS


def test_an_unknown_or_internal_topic_is_a_usage_error_listing_the_public_topics() -> None:
    for name in ("monitor-events", "tenancy-log"):
        with pytest.raises(tail.TailError) as raised:
            tail.public_topic(name)
        assert raised.value.code == 2
        assert all(topic.name in str(raised.value) for topic in PUBLIC_TOPICS)


def test_event_types_are_checked_against_the_topic_s() -> None:
    assert tail.checked_types(MONITORS_EVENTS, ["check_in_recorded,monitor_created", "monitor_deleted"]) == {
        "check_in_recorded", "monitor_created", "monitor_deleted"}
    assert tail.checked_types(MONITORS_EVENTS, []) == frozenset()
    with pytest.raises(tail.TailError, match="no event type 'check_in'.*check_in_recorded") as raised:
        tail.checked_types(MONITORS_EVENTS, ["check_in"])
    assert raised.value.code == 2
    with pytest.raises(tail.TailError, match="outcomes values have no event type"):
        tail.checked_types(OUTCOMES, ["accepted"])


def test_every_public_topic_but_outcomes_has_event_types() -> None:
    assert tail.event_types(OUTCOMES) == []
    for topic in PUBLIC_TOPICS:
        if topic is not OUTCOMES:
            assert tail.event_types(topic), topic.name


# --- reading values ---

def test_a_value_is_read_as_the_json_published() -> None:
    value = CheckInRecorded(meta=MONITOR_META, check_in=CHECK_IN)
    assert tail.as_json(MONITORS_EVENTS, MONITORS_EVENTS.encode(value)) == _published(MONITORS_EVENTS, value)


def test_a_value_an_earlier_version_wrote_as_messagepack_is_printed_as_json_without_secrets() -> None:
    raw = TENANCY_LOG.encode(e.KeyCreated(meta=_meta(f"org:{ORG}"), key=KEY))  # MessagePack, secret included
    value = tail.as_json(TENANCY_EVENTS, raw)
    assert value["key"]["public"] == "a" * 32 and "secret" not in value["key"]


# --- organizations ---

@pytest.mark.parametrize(("topic", "event"), EVENTS_OF_ORG, ids=[type(v).__name__ for _, v in EVENTS_OF_ORG])
def test_the_organization_of_a_message_on_every_public_topic(topic: Topic, event: Any) -> None:
    assert tail.org_of(_published(topic, event), {PROJECT: ORG}) == ORG


def test_messages_of_no_organization_or_of_a_project_not_known_have_none() -> None:
    user = e.UserCreated(meta=_meta("user:a@acme.test"), user=User(id=1, email="a@acme.test", name="A",
                                                                    date_joined=T0))
    unbound = e.TokenCreated(meta=_meta("user:a@acme.test"),
                             token=Token(id=4, user_id=1, scopes=["org:read"], date_created=T0))
    assert tail.org_of(_published(TENANCY_EVENTS, user), {}) is None
    assert tail.org_of(_published(TENANCY_EVENTS, unbound), {}) is None
    issue = dict(EVENTS_OF_ORG)[ISSUES_EVENTS]
    assert tail.org_of(_published(ISSUES_EVENTS, issue), {}) is None
    assert tail.needs_project(_published(ISSUES_EVENTS, issue), {}) == PROJECT
    assert tail.needs_project(_published(ISSUES_EVENTS, issue), {PROJECT: ORG}) is None
    assert tail.org_of("not an object", {}) is None


def test_the_directory_learns_slugs_and_projects_from_tenancy_events() -> None:
    directory = tail.Directory()
    renamed = Organization(id=ORG, slug="acme-corp", name="Acme", date_created=T0)
    for event in (e.OrganizationCreated(meta=_meta(f"org:{ORG}"), organization=ORGANIZATION),
                  e.ProjectCreated(meta=_meta(f"org:{ORG}"), project=PROJECT_RECORD),
                  e.OrganizationUpdated(meta=_meta(f"org:{ORG}"), organization=renamed),
                  e.KeyCreated(meta=_meta(f"org:{ORG}"), key=KEY)):
        directory.learn(_published(TENANCY_EVENTS, event))
    assert directory.orgs == {"acme": ORG, "acme-corp": ORG}
    assert directory.projects == {PROJECT: ORG}


# --- filtering ---

def test_messages_are_kept_by_organization_and_by_event_type() -> None:
    check_in = _published(MONITORS_EVENTS, CheckInRecorded(meta=MONITOR_META, check_in=CHECK_IN))
    assert tail.wanted(check_in, None, frozenset(), {})
    assert tail.wanted(check_in, ORG, frozenset(), {})
    assert not tail.wanted(check_in, ORG + 1, frozenset(), {})
    assert tail.wanted(check_in, ORG, frozenset({"check_in_recorded", "monitor_created"}), {})
    assert not tail.wanted(check_in, None, frozenset({"monitor_created"}), {})
    outcome = _published(OUTCOMES, dict(EVENTS_OF_ORG)[OUTCOMES])
    assert tail.wanted(outcome, ORG, frozenset(), {}) and not tail.wanted(outcome, 1, frozenset(), {})


# --- printing ---

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SAMPLE = {"type": "check_in_recorded", "n": 1, "x": 1.5, "ok": True, "none": None, "list": [1, "a", {}],
          "empty": [], "nested": {"é": "ü"}}


def test_not_on_a_terminal_a_message_is_one_line_of_compact_json() -> None:
    line = tail.render(SAMPLE, pretty=False, color=False, where="partition 0 offset 1 key k")
    assert "\n" not in line and json.loads(line) == SAMPLE
    assert line.startswith('{"type":"check_in_recorded","n":1')


def test_on_a_terminal_it_is_indented_under_where_it_was_and_colored_unless_told_not_to() -> None:
    plain = tail.render(SAMPLE, pretty=True, color=False, where="partition 0 offset 1 key k")
    assert plain == "# partition 0 offset 1 key k\n" + json.dumps(SAMPLE, indent=2, ensure_ascii=False)
    colored = tail.render(SAMPLE, pretty=True, color=True, where="partition 0 offset 1 key k")
    assert colored != plain and "\x1b[32m" in colored
    assert ANSI.sub("", colored) == plain


def test_a_message_s_place_is_named() -> None:
    class Msg:
        partition, offset, key = 2, 17, b"monitor:7:nightly"

    assert tail.describe(Msg()) == "partition 2 offset 17 key monitor:7:nightly"


# --- where Kafka is ---

def test_kafka_is_the_bootstrap_given_then_kafka_bootstrap_then_the_data_dir_s_embedded_broker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("KAFKA_SASL_USERNAME", raising=False)
    with pytest.raises(tail.TailError, match="no broker") as raised:
        tail.connection(from_env(str(tmp_path)), None)
    assert raised.value.code == 1
    saved = KafkaConnection("127.0.0.1:4242", "SASL_PLAINTEXT", "PLAIN", "picket", "pw")
    saved.save(tmp_path / "kafka.json")
    assert tail.connection(from_env(str(tmp_path)), None) == saved
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "broker:9092")
    assert tail.connection(from_env(str(tmp_path)), None).bootstrap == "broker:9092"
    assert tail.connection(from_env(str(tmp_path)), "other:9093").bootstrap == "other:9093"


def _args(**given: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    tail.add_arguments(parser)
    return parser.parse_args([given.pop("topic"), *given.pop("extra", [])])


def test_main_answers_an_unknown_topic_with_exit_code_2_and_the_list(capsys: pytest.CaptureFixture[str],
                                                                     tmp_path: Path) -> None:
    assert tail.main(from_env(str(tmp_path)), _args(topic="nope")) == 2
    err = capsys.readouterr().err
    assert "'nope' is not a public topic" in err and "monitors-events" in err and "tenancy-log" not in err


def test_main_answers_an_unknown_event_type_with_exit_code_2(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    assert tail.main(from_env(str(tmp_path)), _args(topic="releases-events", extra=["--type", "released"])) == 2
    assert "release_created" in capsys.readouterr().err
