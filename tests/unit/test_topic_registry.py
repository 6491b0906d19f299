"""The topic registry is whole and its codecs keep their promises: public topics are JSON without
secrets (and still read what an earlier version wrote as MessagePack), every consumed topic has a
dead-letter topic of the registry, every keyed topic derives its key from a value."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import msgspec
import pytest

from picket.bus.topics import Topics
from picket.schemas import events as e
from picket.schemas.codecs import schema_without
from picket.schemas.entities import ProjectKey, Token
from picket.schemas.topics import ALL_TOPICS, BY_NAME, CONSUMED_TOPICS, PUBLIC_TOPICS, SECRET_FIELDS, TENANCY_EVENTS, TENANCY_LOG

T0 = datetime(2026, 12, 4, tzinfo=timezone.utc)
META = e.EventMeta(event_id="c1:0", aggregate="org:7", version=3, timestamp=T0, command_id="c1")
KEY = ProjectKey(id=1, org_id=7, project_id=9, label="Default", public="a" * 32, secret="b" * 32, date_created=T0)
TOKEN = Token(id=2, user_id=3, token_hash="f" * 64, scopes=["org:read"], date_created=T0)


def test_names_are_unique_and_dead_letter_topics_exist() -> None:
    assert len(BY_NAME) == len(ALL_TOPICS)
    for topic in ALL_TOPICS:
        assert topic.dead_letter is None or topic.dead_letter in BY_NAME, topic.name


@pytest.mark.parametrize("topic", CONSUMED_TOPICS, ids=[t.name for t in CONSUMED_TOPICS])
def test_every_consumed_topic_has_a_dead_letter_topic_of_bytes(topic) -> None:  # type: ignore[no-untyped-def]
    assert topic.dead_letter is not None
    assert BY_NAME[topic.dead_letter].value_type is bytes
    assert Topics("p-").dead_letter_topic(topic) == f"p-{topic.dead_letter}"


@pytest.mark.parametrize("topic", PUBLIC_TOPICS, ids=[t.name for t in PUBLIC_TOPICS])
def test_public_topics_are_json_and_keyed_by_their_values(topic) -> None:  # type: ignore[no-untyped-def]
    assert topic.codec.media_type == "application/json"
    assert topic.key_of is not None


def test_group_names_come_from_the_registry() -> None:
    topics = Topics("p-", "p-picket")
    assert topics.group(TENANCY_LOG, "tenancy-projector") == "p-picket-tenancy-projector"
    assert topics.group(BY_NAME["tenancy-commands"], "") == "p-picket"  # the Faust app's own group
    with pytest.raises(ValueError, match="no consumer group"):
        topics.group(TENANCY_LOG, "someone-else")


def test_a_public_event_leaves_secrets_out_wherever_they_are_and_the_log_keeps_them() -> None:
    created = e.KeyCreated(meta=META, key=KEY)
    public = json.loads(TENANCY_EVENTS.encode(created))
    assert public["key"]["public"] == "a" * 32 and "secret" not in public["key"]
    assert "token_hash" not in json.loads(TENANCY_EVENTS.encode(e.TokenCreated(meta=META, token=TOKEN)))["token"]
    assert TENANCY_LOG.decode(TENANCY_LOG.encode(created)).key.secret == "b" * 32
    # A subscriber using Picket's own types reads the public event too, the secret empty.
    assert TENANCY_EVENTS.decode(TENANCY_EVENTS.encode(created)).key == msgspec.structs.replace(KEY, secret="")


def test_a_json_topic_still_reads_what_an_earlier_version_wrote_as_msgpack() -> None:
    created = e.KeyCreated(meta=META, key=KEY)
    assert TENANCY_EVENTS.decode(msgspec.msgpack.encode(created)) == created


def test_the_message_key_derives_from_the_value() -> None:
    assert TENANCY_EVENTS.key_for(e.KeyCreated(meta=META, key=KEY)) == b"org:7"
    assert Topics("p-").record(TENANCY_LOG, e.KeyCreated(meta=META, key=KEY)).key == b"org:7"


def test_the_published_schema_of_a_redacting_topic_has_no_secret_field() -> None:
    schema = schema_without(msgspec.json.schema(TENANCY_EVENTS.value_type), SECRET_FIELDS)
    text = json.dumps(schema)
    assert '"secret"' not in text and '"token_hash"' not in text
    assert '"public"' in text  # the rest of the key is there
