"""Sentry's search syntax, parsed by recursive descent into a tree. Pure.

    query   := or_expr
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= term (["AND"] term)*              (terms side by side are ANDed)
    term    := "(" or_expr ")" | filter | text
    filter  := ["!"] key ":" [op] value | ["!"] key ":" "[" value ("," value)* "]"
    key     := name | name "[" tag "]" | name "(" args ")"      (tags[x], count(), p95(f))
    op      := ">=" | "<=" | ">" | "<" | "="
    value   := '"' quoted '"' | word                         (`*` in a word is a wildcard)
    text    := '"' quoted '"' | word                         (free text)
    word    := characters other than space, '(' and ')'

`has:f` / `!has:f` become `Has`. `AND` and `OR` are keywords in any case; AND binds tighter.
Nothing is guessed: a malformed query raises `SearchError` saying what is wrong, in Sentry's
words where Sentry has them ("Parse error at … (column N)", "Condition is missing on the right
side of 'OR' operator"), which an endpoint answers with 400. Hostile input is bounded: at most
`MAX_LENGTH` characters and `MAX_DEPTH` nested parentheses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LENGTH = 8192
MAX_DEPTH = 16


class SearchError(ValueError):
    """A query that cannot be read: `str()` is the detail to answer with; `position` is where
    (0-based)."""

    def __init__(self, detail: str, position: int) -> None:
        super().__init__(detail)
        self.position = position


def _parse_error(text: str, position: int) -> SearchError:
    return SearchError(f"Parse error at '{text[position:position + 20]}' (column {position + 1}). This is commonly "
                       "caused by unmatched parentheses. Enclose any text in double quotes.", position)


def _missing(side: str, keyword: str, position: int) -> SearchError:
    return SearchError(f"Condition is missing on the {side} side of '{keyword}' operator", position)


def invalid(message: str, position: int) -> SearchError:
    """`Invalid query: <message> (column N)`."""
    return SearchError(f"Invalid query: {message} (column {position + 1})", position)


@dataclass(frozen=True)
class Value:
    text: str
    quoted: bool
    position: int

    @property
    def wildcard(self) -> bool:
        """A bare value with `*` matches like a glob; a quoted one literally."""
        return not self.quoted and "*" in self.text


@dataclass(frozen=True)
class Filter:
    """`key:value` (`op` "=", ">", ">=", "<", "<=", or "in" with a tuple of values); `negated`
    for `!key:…`."""

    key: str
    op: str
    value: Value | tuple[Value, ...]
    negated: bool
    position: int


@dataclass(frozen=True)
class Has:
    key: str
    negated: bool
    position: int


@dataclass(frozen=True)
class Text:
    text: str
    position: int


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Filter | Has | Text | And | Or

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_OPS = (">=", "<=", ">", "<", "=")
_SPACE = " \t\r\n"


def parse(query: str) -> Node | None:
    """The tree of `query`; None when it has no terms."""
    if len(query) > MAX_LENGTH:
        raise SearchError(f"Invalid query: longer than {MAX_LENGTH} characters", MAX_LENGTH)
    parser = _Parser(query)
    node = parser.or_expr(depth=0)
    parser.skip_space()
    if parser.pos < len(query):  # a ')' that closes nothing
        raise _parse_error(query, parser.pos)
    return node


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # --- structure ---

    def or_expr(self, depth: int) -> Node | None:
        first = self.and_expr(depth)
        items = [first] if first is not None else []
        while self.keyword("OR"):
            if not items:
                raise _missing("left", "OR", self.pos - 2)
            at = self.pos
            self.skip_space()
            if self.at_keyword("AND") or self.at_keyword("OR"):
                raise _missing("right", "OR", at)
            following = self.and_expr(depth)
            if following is None:
                raise _missing("right", "OR", at)
            items.append(following)
        if not items:
            return None
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self, depth: int) -> Node | None:
        items: list[Node] = []
        while True:
            self.skip_space()
            if self.at_end() or self.peek(")") or self.at_keyword("OR"):
                break
            if self.keyword("AND"):
                if not items:
                    raise _missing("left", "AND", self.pos - 3)
                self.skip_space()
                if self.at_end() or self.peek(")") or self.at_keyword("OR") or self.at_keyword("AND"):
                    raise _missing("right", "AND", self.pos)
                continue
            items.append(self.term(depth))
        if not items:
            return None
        return items[0] if len(items) == 1 else And(tuple(items))

    def term(self, depth: int) -> Node:
        start = self.pos
        if self.peek("("):
            if depth >= MAX_DEPTH:
                raise invalid(f"parentheses nest deeper than {MAX_DEPTH}", start)
            self.pos += 1
            inner = self.or_expr(depth + 1)
            self.skip_space()
            if not self.peek(")") or inner is None:  # not closed, or closes nothing
                raise _parse_error(self.text, self.pos)
            self.pos += 1
            return inner
        if self.peek('"'):
            return Text(self.quoted(), start)
        negated = self.peek("!")
        key_at = self.pos + negated
        key = self.key(key_at)
        if key is not None and self.text.startswith(":", key_at + len(key)):
            self.pos = key_at + len(key) + 1
            return self.filter(key, negated, start, depth)
        return Text(self.word(depth), start)

    # --- filters ---

    def filter(self, key: str, negated: bool, start: int, depth: int) -> Node:
        at = self.pos
        if self.at_end() or self.text[at] in _SPACE + "()":
            raise invalid(f"'{key}:' needs a value", at)
        if key == "has":
            value = self.value(depth)
            if value.quoted or not (_NAME.fullmatch(value.text) or _key_like(value.text)):
                raise invalid("'has:' needs a field name", at)
            return Has(value.text, negated, start)
        if self.peek("["):
            return Filter(key, "in", self.values(), negated, start)
        op = next((o for o in _OPS if self.text.startswith(o, at)), "=")
        if self.text.startswith(op, at):
            self.pos += len(op)
            if self.at_end() or self.text[self.pos] in _SPACE + "()":
                raise invalid(f"'{key}:{op}' needs a value", self.pos)
        return Filter(key, op, self.value(depth), negated, start)

    def values(self) -> tuple[Value, ...]:
        opened = self.pos
        self.pos += 1
        items: list[Value] = []
        while True:
            self.skip_space()
            if self.at_end():
                raise _parse_error(self.text, opened)
            at = self.pos
            if self.peek('"'):
                items.append(Value(self.quoted(), True, at))
            else:
                end = at
                while end < len(self.text) and self.text[end] not in ",]" + _SPACE:
                    end += 1
                if end == at:
                    raise invalid("a list needs values between its commas", at)
                items.append(Value(self.text[at:end], False, at))
                self.pos = end
            self.skip_space()
            if self.at_end():
                raise _parse_error(self.text, opened)
            if self.peek(","):
                self.pos += 1
                continue
            if self.peek("]"):
                self.pos += 1
                return tuple(items)
            raise invalid("expected ',' or ']' in the list", self.pos)

    def value(self, depth: int) -> Value:
        at = self.pos
        if self.peek('"'):
            return Value(self.quoted(), True, at)
        return Value(self.word(depth), False, at)

    # --- lexemes ---

    def key(self, at: int) -> str | None:
        """A key starting at `at`: a name, then `[tag]` or `(args)` (function keys)."""
        found = _NAME.match(self.text, at)
        if found is None:
            return None
        end = found.end()
        for opening, closing in (("[", "]"), ("(", ")")):
            if self.text.startswith(opening, end):
                close = self.text.find(closing, end + 1)
                if close < 0 or any(c in _SPACE + ":" for c in self.text[end + 1:close].replace(", ", ",")):
                    return None
                end = close + 1
                break
        return self.text[at:end]

    def word(self, depth: int) -> str:
        """Text up to a space or a parenthesis."""
        start = self.pos
        end = start
        while end < len(self.text) and self.text[end] not in _SPACE + "()":
            end += 1
        if end == start:  # a '(' right after a word or value: a group must stand apart
            raise _parse_error(self.text, start)
        self.pos = end
        return self.text[start:end]

    def quoted(self) -> str:
        opened = self.pos
        out: list[str] = []
        i = opened + 1
        while i < len(self.text):
            c = self.text[i]
            if c == "\\" and i + 1 < len(self.text) and self.text[i + 1] in '"\\':
                out.append(self.text[i + 1])
                i += 2
                continue
            if c == '"':
                self.pos = i + 1
                return "".join(out)
            out.append(c)
            i += 1
        raise _parse_error(self.text, opened)

    def keyword(self, word: str) -> bool:
        self.skip_space()
        if self.at_keyword(word):
            self.pos += len(word)
            return True
        return False

    def at_keyword(self, word: str) -> bool:
        end = self.pos + len(word)
        return self.text[self.pos:end].upper() == word and (end == len(self.text) or self.text[end] in _SPACE + "()")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
            self.pos += 1

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)


def _key_like(text: str) -> bool:
    """`tags[x]` or a function (`count()`) as the field of `has:`."""
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*(\[[^\]\s:]+\]|\([^)\s:]*\))", text))
