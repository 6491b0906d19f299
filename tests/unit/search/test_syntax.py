"""Sentry's search syntax parsed into a tree: every construct, and every malformed or hostile
query refused with what is wrong and where (never a crash, never silently ignored)."""

from __future__ import annotations

import pytest

from picket.search.syntax import MAX_DEPTH, MAX_LENGTH, And, Filter, Has, Or, SearchError, Text, Value, parse


def f(key: str, text: str, op: str = "=", negated: bool = False, quoted: bool = False) -> tuple:
    """A filter without positions, to compare shapes."""
    return ("filter", key, op, text, negated, quoted)


def shape(node: object) -> object:
    match node:
        case Filter(key, op, Value(text, quoted, _), negated, _):
            return f(key, text, op, negated, quoted)
        case Filter(key, "in", values, negated, _):
            return ("in", key, tuple(v.text for v in values), negated)
        case Has(key, negated, _):
            return ("has", key, negated)
        case Text(text, _):
            return ("text", text)
        case And(items):
            return ("and", *map(shape, items))
        case Or(items):
            return ("or", *map(shape, items))
    return node


@pytest.mark.parametrize("query, expected", [
    ("", None),
    ("   ", None),
    ("is:unresolved", f("is", "unresolved")),
    ("!environment:prod", f("environment", "prod", negated=True)),
    ("release:1.0 level:error", ("and", f("release", "1.0"), f("level", "error"))),
    ("release:1.0 AND level:error", ("and", f("release", "1.0"), f("level", "error"))),
    ("a:1 OR b:2 c:3", ("or", f("a", "1"), ("and", f("b", "2"), f("c", "3")))),
    ("(a:1 OR b:2) c:3", ("and", ("or", f("a", "1"), f("b", "2")), f("c", "3"))),
    ("((a:1))", f("a", "1")),
    ('title:"Connection reset: peer"', f("title", "Connection reset: peer", quoted=True)),
    (r'message:"say \"hi\""', f("message", 'say "hi"', quoted=True)),
    ("message:*timeout*", f("message", "*timeout*")),
    ("count():>10", f("count()", "10", ">")),
    ("count_unique(user):>=3", f("count_unique(user)", "3", ">=")),
    ("p95(transaction.duration):<500ms", f("p95(transaction.duration)", "500ms", "<")),
    ("percentile(transaction.duration, 0.5):<=1s", f("percentile(transaction.duration, 0.5)", "1s", "<=")),
    ("timestamp:>-24h", f("timestamp", "-24h", ">")),
    ("timestamp:<2026-01-31T12:00:00Z", f("timestamp", "2026-01-31T12:00:00Z", "<")),
    ("tags[browser.name]:Chrome", f("tags[browser.name]", "Chrome")),
    ("browser.name:Chrome", f("browser.name", "Chrome")),
    ("user.email:a@b.c", f("user.email", "a@b.c")),
    ("level:[error, warning]", ("in", "level", ("error", "warning"), False)),
    ('!release:["1.0 rc", 2.0]', ("in", "release", ("1.0 rc", "2.0"), True)),
    ("has:user.email", ("has", "user.email", False)),
    ("!has:tags[foo]", ("has", "tags[foo]", True)),
    ("database timeout", ("and", ("text", "database"), ("text", "timeout"))),
    ('"database timeout"', ("text", "database timeout")),
    ("http://example.com/a", f("http", "//example.com/a")),
    ("and or", ("and", ("text", "and"), ("text", "or"))),
    ("url:https://x.io/?a=1&b=2", f("url", "https://x.io/?a=1&b=2")),
    ("!foo", ("text", "!foo")),
    ("Ünïcode:välue ✓", ("and", ("text", "Ünïcode:välue"), ("text", "✓"))),
    ("key:=exact", f("key", "exact")),
    ("func:f(x)", f("func", "f(x)")),  # outside parentheses a ')' is part of a value
])
def test_every_construct_parses_to_its_tree(query: str, expected: object) -> None:
    assert shape(parse(query)) == expected


def test_positions_point_into_the_query() -> None:
    node = parse("level:error  !release:2.0")
    assert isinstance(node, And)
    first, second = node.items
    assert isinstance(first, Filter) and first.position == 0 and first.value.position == 6  # type: ignore[union-attr]
    assert isinstance(second, Filter) and second.position == 13 and second.value.position == 22  # type: ignore[union-attr]


def test_a_bare_wildcard_matches_and_a_quoted_one_is_literal() -> None:
    bare, quoted = parse("a:x*"), parse('a:"x*"')
    assert isinstance(bare, Filter) and isinstance(bare.value, Value) and bare.value.wildcard
    assert isinstance(quoted, Filter) and isinstance(quoted.value, Value) and not quoted.value.wildcard


@pytest.mark.parametrize("query, message, position", [
    ("level:", "'level:' needs a value", 6),
    ("level: error", "'level:' needs a value", 6),
    ("count():>", "'count():>' needs a value", 9),
    ('title:"unclosed', "'\"' is not closed", 6),
    ('"unclosed', "'\"' is not closed", 0),
    ("level:[error, warning", "'[' is not closed", 6),
    ("level:[error,,warning]", "a list needs values between its commas", 13),
    ("level:[error warning]", "expected ',' or ']' in the list", 13),
    ("(level:error", "'(' is not closed", 0),
    ("level:error )", "unexpected ')' with no '(' before it", 12),
    ("()", "'()' holds no condition", 0),
    ("OR level:error", "'OR' needs a condition before it", 0),
    ("level:error OR", "'OR' needs a condition after it", 14),
    ("AND level:error", "'AND' needs a condition before it", 0),
    ("level:error AND", "'AND' needs a condition after it", 15),
    ("a:1 AND OR b:2", "'AND' needs a condition after it", 8),
    ("has:", "'has:' needs a value", 4),
    ('has:"user.email"', "'has:' needs a field name", 4),
    ("has:@@", "'has:' needs a field name", 4),
])
def test_malformed_queries_say_what_is_wrong_and_where(query: str, message: str, position: int) -> None:
    with pytest.raises(SearchError) as caught:
        parse(query)
    assert str(caught.value) == f"{message} (at position {position})"
    assert caught.value.position == position


def test_hostile_queries_are_refused_within_bounds() -> None:
    with pytest.raises(SearchError, match="nest deeper"):
        parse("(" * 4000 + "a:b" + ")" * 4000)
    assert shape(parse("(" * MAX_DEPTH + "a:b" + ")" * MAX_DEPTH)) == f("a", "b")
    with pytest.raises(SearchError, match="longer than"):
        parse("a" * (MAX_LENGTH + 1))
    assert parse("x:" + "9" * 5000) is not None  # long values are values; their readers bound them
    assert shape(parse("a:\x00b")) == f("a", "\x00b")
    assert shape(parse("a:b\udcff")) == f("a", "b\udcff")  # a lone surrogate (undecodable bytes)
