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
    ("a:1 and b:2 or c:3", ("or", ("and", f("a", "1"), f("b", "2")), f("c", "3"))),  # keywords in any case
    ("android orange", ("and", ("text", "android"), ("text", "orange"))),
    ("url:https://x.io/?a=1&b=2", f("url", "https://x.io/?a=1&b=2")),
    ("!foo", ("text", "!foo")),
    ("Ünïcode:välue ✓", ("and", ("text", "Ünïcode:välue"), ("text", "✓"))),
    ("key:=exact", f("key", "exact")),
    ("release:foo-bar@1.2.3 (123)", ("and", f("release", "foo-bar@1.2.3"), ("text", "123"))),
    ("f(x)", ("and", ("text", "f"), ("text", "x"))),  # a word ends at a parenthesis
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


PARSE_ERROR = "This is commonly caused by unmatched parentheses. Enclose any text in double quotes."


@pytest.mark.parametrize("query, detail, position", [
    ("level:", "Invalid query: 'level:' needs a value (column 7)", 6),
    ("level: error", "Invalid query: 'level:' needs a value (column 7)", 6),
    ("count():>", "Invalid query: 'count():>' needs a value (column 10)", 9),
    ("level:[error,,warning]", "Invalid query: a list needs values between its commas (column 14)", 13),
    ("level:[error warning]", "Invalid query: expected ',' or ']' in the list (column 14)", 13),
    ("has:", "Invalid query: 'has:' needs a value (column 5)", 4),
    ('has:"user.email"', "Invalid query: 'has:' needs a field name (column 5)", 4),
    ("has:@@", "Invalid query: 'has:' needs a field name (column 5)", 4),
    ('title:"unclosed', f"Parse error at '\"unclosed' (column 7). {PARSE_ERROR}", 6),
    ('"unclosed', f"Parse error at '\"unclosed' (column 1). {PARSE_ERROR}", 0),
    ("level:[error, warning", f"Parse error at '[error, warning' (column 7). {PARSE_ERROR}", 6),
    ("(level:error", f"Parse error at '' (column 13). {PARSE_ERROR}", 12),
    ("level:error)", f"Parse error at ')' (column 12). {PARSE_ERROR}", 11),
    ("level:error )", f"Parse error at ')' (column 13). {PARSE_ERROR}", 12),
    ("()", f"Parse error at ')' (column 2). {PARSE_ERROR}", 1),
    ("OR level:error", "Condition is missing on the left side of 'OR' operator", 0),
    ("level:error OR", "Condition is missing on the right side of 'OR' operator", 14),
    ("level:error or ", "Condition is missing on the right side of 'OR' operator", 14),
    ("AND level:error", "Condition is missing on the left side of 'AND' operator", 0),
    ("level:error AND", "Condition is missing on the right side of 'AND' operator", 15),
    ("a:1 AND OR b:2", "Condition is missing on the right side of 'AND' operator", 8),
    ("a:1 OR AND b:2", "Condition is missing on the right side of 'OR' operator", 6),
])
def test_malformed_queries_say_what_is_wrong_and_where(query: str, detail: str, position: int) -> None:
    with pytest.raises(SearchError) as caught:
        parse(query)
    assert str(caught.value) == detail
    assert caught.value.position == position


def test_hostile_queries_are_refused_within_bounds() -> None:
    with pytest.raises(SearchError, match="nest deeper than"):
        parse("(" * 4000 + "a:b" + ")" * 4000)
    assert shape(parse("(" * MAX_DEPTH + "a:b" + ")" * MAX_DEPTH)) == f("a", "b")
    with pytest.raises(SearchError, match="^Invalid query: longer than"):
        parse("a" * (MAX_LENGTH + 1))
    assert parse("x:" + "9" * 5000) is not None  # long values are values; their readers bound them
    assert shape(parse("a:\x00b")) == f("a", "\x00b")
    assert shape(parse("a:b\udcff")) == f("a", "b\udcff")  # a lone surrogate (undecodable bytes)
