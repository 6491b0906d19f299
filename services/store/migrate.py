"""Numbered ClickHouse migrations, applied in order at start-up.

Each `migrations/NNNN_name.sql` holds a `-- migrate:up` and a `-- migrate:down` section of
`;`-separated statements, with `{db}` for the database. Applied migrations are recorded in
`{db}.migrations`, so applying is idempotent and every process may call `migrate()` at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from picket.store.client import Store


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    up: list[str]
    down: list[str]


def _statements(block: str) -> list[str]:
    lines = [ln for ln in block.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def load_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("picket.store.migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, name = entry.name[:-4].partition("_")
        text = entry.read_text()
        up, _, down = text.partition("-- migrate:down")
        up = up.split("-- migrate:up", 1)[-1]
        found.append(Migration(int(number), name, _statements(up), _statements(down)))
    found.sort(key=lambda m: m.number)
    numbers = [m.number for m in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, got {numbers}")
    return found


def applied(store: Store) -> set[int]:
    rows = store.query("SELECT number FROM {db}.migrations FINAL WHERE applied = 1")
    return {r[0] for r in rows}


def migrate(store: Store) -> list[int]:
    """Apply every pending migration; returns the numbers applied now."""
    store.command("CREATE DATABASE IF NOT EXISTS {db}")
    store.command(
        "CREATE TABLE IF NOT EXISTS {db}.migrations (number UInt32, name String, applied UInt8,"
        " at DateTime DEFAULT now()) ENGINE = ReplacingMergeTree(at) ORDER BY number"
    )
    done = applied(store)
    now = []
    for m in load_migrations():
        if m.number in done:
            continue
        for sql in m.up:
            store.command(sql)
        store.insert("migrations", [[m.number, m.name, 1]], ["number", "name", "applied"])
        now.append(m.number)
    return now


def rollback(store: Store, to: int) -> list[int]:
    """Undo applied migrations above number `to`, newest first."""
    done = applied(store)
    undone = []
    for m in reversed(load_migrations()):
        if m.number > to and m.number in done:
            for sql in m.down:
                store.command(sql)
            store.insert("migrations", [[m.number, m.name, 0]], ["number", "name", "applied"])
            undone.append(m.number)
    return undone
