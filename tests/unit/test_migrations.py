"""The ClickHouse migrations shipped with the store: numbered 1..n, each reversible."""

from __future__ import annotations

import re

from picket.schemas.rows import TransactionRow
from picket.store.migrate import Migration, load_migrations
from picket.tenancy.project import ENTITY_COLUMNS


def test_migrations_are_numbered_from_one_without_gaps():
    migrations = load_migrations()
    assert migrations, "at least one migration is shipped"
    assert all(isinstance(m, Migration) for m in migrations)
    assert [m.number for m in migrations] == list(range(1, len(migrations) + 1))


def test_the_transactions_migration_is_eleven_and_keys_a_redelivery_to_one_row():
    (m,) = [m for m in load_migrations() if m.name == "transactions"]
    assert m.number == 11
    (create,) = m.up
    declared = re.findall(r"^\s+([a-z_]+)\s+\S", create.split("(", 1)[1], flags=re.M)
    assert tuple(declared) == TransactionRow._fields, "the row the consumer writes is the table's layout"
    assert "ReplacingMergeTree(received)" in create and create.rstrip().endswith("event_id)")
    assert m.down == ["DROP TABLE IF EXISTS {db}.transactions"]


def test_every_migration_has_a_name_and_up_and_down_statements():
    for m in load_migrations():
        assert m.name, m
        assert m.up, f"migration {m.number} has no up statements"
        assert m.down, f"migration {m.number} has no down statements"
        for sql in [*m.up, *m.down]:
            assert sql == sql.strip() and sql
            assert ";" not in sql  # statements are split on `;`
            assert not sql.lstrip().startswith("--")  # comment lines are dropped
            assert "{db}." in sql  # every statement names the database through the placeholder


def _named(statements: list[str], *verbs: str) -> set[str]:
    return {s.split("{db}.", 1)[1].split()[0] for s in statements if s.upper().startswith(verbs)}


_ADD_COLUMN = re.compile(r"ALTER TABLE \{db\}\.(\w+) ADD COLUMN (?:IF NOT EXISTS )?(\w+)", re.I)
_DROP_COLUMN = re.compile(r"ALTER TABLE \{db\}\.(\w+) DROP COLUMN (?:IF EXISTS )?(\w+)", re.I)


def _columns(statements: list[str], pattern: re.Pattern[str]) -> set[tuple[str, str]]:
    return {found.groups() for s in statements if (found := pattern.match(s))}


def test_down_undoes_what_up_leaves():
    """Down drops every table and view up leaves behind, and recreates every one up removed (a
    table up creates only to move its rows is removed: it existed before); down drops every column
    up adds."""
    creates, drops = ("CREATE TABLE", "CREATE MATERIALIZED VIEW"), ("DROP TABLE",)
    for m in load_migrations():
        up_left = _named(m.up, *creates) - _named(m.up, *drops)
        up_removed = _named(m.up, *drops) - up_left
        added = _columns(m.up, _ADD_COLUMN)
        assert up_left or added, f"migration {m.number} creates nothing"
        assert _columns(m.down, _DROP_COLUMN) == added, m.number
        assert _named(m.down, *drops) - _named(m.down, *creates) == up_left, m.number
        assert _named(m.down, *creates) - _named(m.down, *drops) == up_removed, m.number


def test_the_first_migration_creates_the_entities_table_the_projector_writes():
    first = load_migrations()[0]
    assert first.number == 1
    assert first.name == "entities"
    (create,) = first.up
    declared = re.findall(r"^\s+([a-z_]+)\s+\S", create.split("(", 1)[1], flags=re.M)
    assert tuple(declared) == ENTITY_COLUMNS
    assert "ReplacingMergeTree(version)" in create
