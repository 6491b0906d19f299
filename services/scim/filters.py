"""SCIM filters (RFC 7644 §3.4.2.2) as predicates, and PATCH paths (§3.5.2).

`parse(text, allowed)` reads a filter such as `userName eq "jane@example.com"` with the lexer
and LALR parser of `scim2-filter-parser` and turns its syntax tree into a predicate over a flat
mapping of attribute values: `allowed` maps each attribute the caller filters on, by its
lower-cased SCIM path ("username", "emails.value", "displayname", "members.value", "id"), to
its key in that mapping. A value in the mapping may be a list: a multi-valued attribute matches
when one of its values does (RFC 7644: "only one has to match").

Operators: `eq`, `ne`, `co`, `sw`, `ew`, `pr`, `gt`, `ge`, `lt`, `le`, `and`, `or`, `not (…)`,
parentheses, and value paths (`emails[type eq "work" and value co "@x"]`, which over a flat
mapping reads as `emails.type eq "work" and emails.value co "@x"`). Strings compare without case
(RFC 7643 §2.2: `caseExact` is false for `userName`, `emails.value`, `displayName`, …) except the
attributes in `case_exact` (`id`, `externalId`). Anything else is refused with
`ScimError(400, …, "invalidFilter")`: a syntax error, an attribute not in `allowed`, an operator
the grammar does not know (`regex`), a comparison that has no meaning (`co true`, `gt null`), a
filter over `MAX_LENGTH` characters or nested deeper than `MAX_NESTING`.

The parser (0.7.0) needs three repairs, made here around it rather than in it:

- it gives `and` and `or` the same precedence, so `a or b and c` came out as `(a or b) and c`:
  every run of `and`/`or` outside parentheses is read back in order and regrouped, `and` first;
- its lexer reads a number one digit at a time (`12` → `1`, `2`): adjacent digits are joined;
- it reads `true`, `false` and `null` before attribute names (`nullable` → `null`, `able`): such
  a keyword glued to a name is joined back into the name.

Its lexer knows no escapes in strings (`"a\\"b"` is a syntax error, so an injected quote can
never end a string early); a string holding a backslash is read as a JSON string. Parsing is
linear and iterative (sly's LALR driver keeps its own stack); building the predicate recurses
only into parentheses and brackets, which `MAX_NESTING` bounds.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

from picket.scim.errors import GROUP_SCHEMA, USER_SCHEMA, ScimError

Predicate = Callable[[Mapping[str, Any]], bool]

MAX_LENGTH = 1000
MAX_NESTING = 32
# Attributes whose strings compare with case (RFC 7643 §3.1 `id`, `externalId`, `meta.version`).
CASE_EXACT = frozenset({"id", "externalid", "meta.version"})
CORE_SCHEMAS = frozenset({USER_SCHEMA.lower(), GROUP_SCHEMA.lower()})

_STRING_OPERATORS = frozenset({"co", "sw", "ew"})
_ORDER_OPERATORS = frozenset({"gt", "ge", "lt", "le"})
_KEYWORDS = frozenset({"TRUE", "FALSE", "NULL"})
_NAME_TOKENS = frozenset({"ATTRNAME", "EQ", "NE", "CO", "SW", "EW", "PR", "GT", "GE", "LT", "LE", "AND", "OR",
                          "NOT", "TRUE", "FALSE", "NULL"})
_OPENERS = frozenset({"LPAREN", "LBRACKET"})
_CLOSERS = frozenset({"RPAREN", "RBRACKET"})
_ATTR_PATH = re.compile(r"(?:(?P<uri>[A-Za-z][A-Za-z0-9:._-]*):)?(?P<name>[A-Za-z][A-Za-z0-9_$-]*)"
                        r"(?:\.(?P<sub>[A-Za-z][A-Za-z0-9_$-]*))?")


class _Text(str):
    """A string that was quoted in the filter (`"true"`), told apart from the literal `true`."""

    __slots__ = ()


def _invalid(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


# --- Lexing and parsing -------------------------------------------------------------------------

def _token(kind: str, value: Any, first: Any, last: Any) -> Any:
    """A token (sly's) spanning `first` to `last`."""
    token = copy.copy(first)
    token.type, token.value, token.end = kind, value, last.end
    return token


def _tokens(text: str) -> list[Any]:
    """The lexer's tokens, repaired (numbers, keyword-prefixed names), strings decoded, nesting
    checked."""
    try:
        raw = list(SCIMLexer().tokenize(text))
    except Exception as exc:  # the lexer raises ValueError on an illegal character
        found = re.search(r"'(.)'$", str(exc), re.DOTALL)
        what = f"character {found.group(1)!r}" if found else "character"
        raise _invalid(f"Invalid filter: unexpected {what}.") from None
    out: list[Any] = []
    for token in raw:
        previous = out[-1] if out else None
        glued = previous is not None and previous.end == token.index
        if glued and previous.type == "NUMBER" and token.type == "NUMBER":
            out[-1] = _token("NUMBER", previous.value + token.value, previous, token)
        elif glued and previous.type in _KEYWORDS and token.type in _NAME_TOKENS:
            out[-1] = _token("ATTRNAME", previous.value + token.value, previous, token)
        else:
            out.append(token)
    depth = 0
    for token in out:
        if token.type in _OPENERS:
            depth += 1
            if depth > MAX_NESTING:
                raise _invalid(f"Invalid filter: nested more than {MAX_NESTING} levels deep.")
        elif token.type in _CLOSERS:
            depth -= 1
        elif token.type == "COMP_VALUE":
            token.value = _Text(_unescape(token.value))
        elif token.type == "NUMBER":
            token.value = int(token.value)
    return out


def _unescape(raw: str) -> str:
    if "\\" not in raw:
        return raw
    try:
        return msgspec.json.decode(b'"' + raw.encode() + b'"', type=str)
    except (msgspec.DecodeError, UnicodeEncodeError):  # a bad escape, or a lone surrogate
        raise _invalid(f"Invalid filter: bad escape in the string {_shown(raw)}.") from None


def _syntax_tree(text: Any) -> ast.Filter:
    if not isinstance(text, str):
        raise _invalid("Invalid filter: not a string.")
    if len(text) > MAX_LENGTH:
        raise _invalid(f"Invalid filter: longer than {MAX_LENGTH} characters.")
    if not text.strip():
        raise _invalid("Invalid filter: empty.")
    tokens = _tokens(text)
    try:
        tree = SCIMParser().parse(iter(tokens))
    except ScimError:
        raise
    except Exception as exc:  # SCIMParserError, or anything the grammar actions trip on
        where = getattr(exc, "args", [""])[0] if exc.args else ""
        raise _invalid(f"Invalid filter: syntax error{_near(where)}.") from None
    if not isinstance(tree, ast.Filter):
        raise _invalid("Invalid filter: syntax error.")
    return tree


def _near(message: Any) -> str:
    found = re.search(r"value=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+?),", str(message))
    return f" near {found.group(1)[:40]}" if found else " at the end"


# --- From the syntax tree to a predicate --------------------------------------------------------

def _is_chain(node: Any) -> bool:
    """An `and`/`or` expression that is not in parentheses of its own."""
    return (isinstance(node, ast.Filter) and isinstance(node.expr, ast.LogExpr) and not node.negated
            and node.namespace is None)


def _in_order(node: ast.Filter) -> list[Any]:
    """The operands and operators of a run of `and`/`or`, in the order they were written."""
    out: list[Any] = []
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if _is_chain(item):
            stack.extend([item.expr.expr2, str(item.expr.op).lower(), item.expr.expr1])
        else:
            out.append(item)
    return out


@dataclass(frozen=True, slots=True)
class _Scope:
    allowed: Mapping[str, str]
    case_exact: Collection[str]
    namespace: str | None = None  # the attribute of the value path being read (`emails`)
    uri: str | None = None


class _Builder:
    def __init__(self, allowed: Mapping[str, str], case_exact: Collection[str]) -> None:
        self.top = _Scope(allowed, case_exact)

    def build(self, node: Any, scope: _Scope, depth: int = 0) -> Predicate:
        if depth > 4 * MAX_NESTING + 8:  # bounded by the token check; kept as a guard
            raise _invalid("Invalid filter: nested too deeply.")
        if not isinstance(node, ast.Filter):
            raise _invalid("Invalid filter: syntax error.")
        if _is_chain(node):
            return self.chain(node, scope, depth)
        if node.namespace is not None:  # attr[filter]
            if scope.namespace is not None:
                raise _invalid("Invalid filter: a value path inside a value path.")
            inner = self.value_path_scope(node.namespace, scope)
            if node.namespace.sub_attr is not None:  # emails[type eq "work"].value as a path: refused
                raise _invalid("Invalid filter: a sub-attribute after a value filter needs a comparison.")
            return self.build(node.expr, inner, depth + 1)
        if isinstance(node.expr, ast.Filter):  # ( filter ), not ( filter )
            inner_predicate = self.build(node.expr, scope, depth + 1)
            if node.negated:
                return lambda record: not inner_predicate(record)
            return inner_predicate
        if isinstance(node.expr, ast.AttrExpr) and not node.negated:
            return self.comparison(node.expr, scope, depth)
        raise _invalid("Invalid filter: syntax error.")

    def chain(self, node: ast.Filter, scope: _Scope, depth: int) -> Predicate:
        """`a or b and c` as `a or (b and c)`: `and` binds first (RFC 7644 §3.4.2.2)."""
        groups: list[list[Predicate]] = [[]]
        for item in _in_order(node):
            if item == "or":
                groups.append([])
            elif item != "and":
                groups[-1].append(self.build(item, scope, depth + 1))
        alternatives = [tuple(group) for group in groups]
        return lambda record: any(all(p(record) for p in group) for group in alternatives)

    def value_path_scope(self, path: ast.AttrPath, scope: _Scope) -> _Scope:
        if not isinstance(path.attr_name, str):
            raise _invalid("Invalid filter: a value path inside a value path.")
        return _Scope(scope.allowed, scope.case_exact, namespace=path.attr_name, uri=path.uri)

    def comparison(self, expr: ast.AttrExpr, scope: _Scope, depth: int) -> Predicate:
        operator = str(expr.value).lower()
        path = expr.attr_path
        selection: Predicate | None = None
        if isinstance(path.attr_name, ast.Filter):
            # emails[type eq "work"].value eq "x" (Microsoft Entra ID): the parser moved `.value`
            # onto the namespace; it reads as emails[type eq "work" and value eq "x"].
            value_path = path.attr_name
            namespace = value_path.namespace
            if namespace is None or namespace.sub_attr is None or scope.namespace is not None:
                raise _invalid("Invalid filter: unsupported attribute path.")
            if not isinstance(namespace.attr_name, str):
                raise _invalid("Invalid filter: a value path inside a value path.")
            inner = _Scope(scope.allowed, scope.case_exact, namespace=namespace.attr_name, uri=namespace.uri)
            selection = self.build(value_path.expr, inner, depth + 1)
            name, uri = f"{namespace.attr_name}.{namespace.sub_attr.value}", namespace.uri
        elif isinstance(path.attr_name, str):
            name = path.attr_name + (f".{path.sub_attr.value}" if path.sub_attr is not None else "")
            uri = path.uri
            if scope.namespace is not None:
                if uri is not None:
                    raise _invalid("Invalid filter: a schema URN inside a value path.")
                name, uri = f"{scope.namespace}.{name}", scope.uri
        else:
            raise _invalid("Invalid filter: unsupported attribute path.")
        key, lowered = _resolve(name, uri, scope.allowed)
        fold = lowered not in scope.case_exact
        test = _comparison(operator, expr.comp_value.value if expr.comp_value is not None else None,
                           key, fold, name)
        if selection is None:
            return test
        chosen = selection
        return lambda record: chosen(record) and test(record)


def _resolve(name: str, uri: str | None, allowed: Mapping[str, str]) -> tuple[str, str]:
    """The mapping key for an attribute, and its lower-cased path."""
    lowered = name.lower()
    if uri is not None:
        qualified = f"{uri}:{name}".lower()
        if qualified in allowed:
            return allowed[qualified], lowered
        if uri.lower() not in CORE_SCHEMAS:
            raise _invalid(f"Invalid filter: unsupported attribute {_shown(uri + ':' + name, 120)}.")
    if lowered in allowed:
        return allowed[lowered], lowered
    raise _invalid(f"Invalid filter: unsupported attribute {_shown(name)}.")


def _comparison(operator: str, expected: Any, key: str, fold: bool, name: str) -> Predicate:
    if operator == "pr":
        return lambda record: _present(record.get(key))
    if isinstance(expected, _Text):
        expected = str(expected)
    elif expected == "true" or expected == "false":
        expected = expected == "true"
    elif expected == "null":
        expected = None
    if operator in _STRING_OPERATORS and not isinstance(expected, str):
        raise _invalid(f"Invalid filter: {operator} needs a string (attribute {_shown(name)}).")
    if operator in _ORDER_OPERATORS and (expected is None or isinstance(expected, bool)):
        raise _invalid(f"Invalid filter: {operator} cannot compare with {_literal(expected)}.")
    if operator not in _STRING_OPERATORS | _ORDER_OPERATORS | {"eq", "ne"}:
        raise _invalid(f"Invalid filter: the operator {_shown(operator)} is not supported.")
    wanted = expected.casefold() if fold and isinstance(expected, str) else expected

    def one(actual: Any) -> bool:
        if isinstance(actual, str) and isinstance(wanted, str):
            have = actual.casefold() if fold else actual
            if operator == "eq" or operator == "ne":
                return have == wanted
            if operator == "co":
                return wanted in have
            if operator == "sw":
                return have.startswith(wanted)
            if operator == "ew":
                return have.endswith(wanted)
            return _order(operator, have, wanted)
        if operator in _STRING_OPERATORS:
            return False
        if wanted is None:
            return operator in ("eq", "ne") and not _present(actual)
        if isinstance(wanted, bool) or isinstance(actual, bool):
            return isinstance(actual, bool) and isinstance(wanted, bool) and actual == wanted \
                and operator in ("eq", "ne")
        if isinstance(actual, int) and isinstance(wanted, int):
            return actual == wanted if operator in ("eq", "ne") else _order(operator, actual, wanted)
        return False

    def test(record: Mapping[str, Any]) -> bool:
        actual = record.get(key)
        values = actual if isinstance(actual, (list, tuple, set, frozenset)) else (actual,)
        if wanted is None and operator in ("eq", "ne"):
            found = not _present(actual)
        else:
            found = any(one(value) for value in values)
        return not found if operator == "ne" else found

    return test


def _order(operator: str, have: Any, wanted: Any) -> bool:
    if operator == "gt":
        return bool(have > wanted)
    if operator == "ge":
        return bool(have >= wanted)
    if operator == "lt":
        return bool(have < wanted)
    return bool(have <= wanted)


def _present(value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return any(_present(v) for v in value) if not isinstance(value, dict) else bool(value)
    return True


def _literal(value: Any) -> str:
    return "null" if value is None else str(value).lower()


def parse(text: str, allowed: Mapping[str, str], *, case_exact: Collection[str] = CASE_EXACT) -> Predicate:
    """The predicate of the SCIM filter `text` over records whose attributes `allowed` names
    (lower-cased SCIM path → key in the record). `ScimError(400, …, "invalidFilter")` for
    anything that is not such a filter."""
    allowed = {path.lower(): key for path, key in allowed.items()}
    builder = _Builder(allowed, frozenset(p.lower() for p in case_exact))
    return builder.build(_syntax_tree(text), builder.top)


# --- PATCH paths ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PatchPath:
    """A PATCH operation's `path` (RFC 7644 §3.5.2): `attribute` lower-cased without its schema
    URN ("members", "displayname", "active", "name.givenname"); for a value selection such as
    `members[value eq "12"]` (or `…[value eq "12" or value eq "13"]`), `values` are the selected
    `value`s, else None."""

    attribute: str
    values: tuple[str, ...] | None = None


def _invalid_path(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidPath")


def patch_path(text: Any) -> PatchPath:
    """Read a PATCH `path`. A plain attribute path, or an attribute with a `[value eq "…"]`
    selection (joined by `or`); anything else is `ScimError(400, …, "invalidPath")`."""
    if not isinstance(text, str):
        raise _invalid_path("The path must be a string.")
    if len(text) > MAX_LENGTH:
        raise _invalid_path(f"The path is longer than {MAX_LENGTH} characters.")
    stripped = text.strip()
    plain = _ATTR_PATH.fullmatch(stripped)
    if plain is not None:
        return PatchPath(_without_core_uri(plain.group("uri"), plain.group("name"), plain.group("sub"), text))
    if "[" not in stripped:
        raise _invalid_path(f"Invalid path {_shown(text)}.")
    try:
        tree = _syntax_tree(stripped)
    except ScimError:
        raise _invalid_path(f"Invalid path {_shown(text)}.") from None
    # attr[filter] parses as Filter(Filter(filter, namespace=attr)).
    node = tree.expr if isinstance(tree.expr, ast.Filter) and not tree.negated else None
    if node is None or node.namespace is None or node.negated or not isinstance(node.namespace.attr_name, str) \
            or node.namespace.sub_attr is not None:
        raise _invalid_path(f"Unsupported path {_shown(text)}.")
    attribute = _without_core_uri(node.namespace.uri, node.namespace.attr_name, None, text)
    values: list[str] = []
    for item in _in_order(node.expr):
        if item == "or":
            continue
        values.append(_selected_value(item, text))
    return PatchPath(attribute, tuple(values))


def _selected_value(item: Any, text: str) -> str:
    """The string of one `value eq "…"` of a selection; anything else is unsupported."""
    while isinstance(item, ast.Filter) and isinstance(item.expr, ast.Filter) and not item.negated \
            and item.namespace is None and not _is_chain(item):
        item = item.expr  # parentheses
    if isinstance(item, ast.Filter) and isinstance(item.expr, ast.AttrExpr) and not item.negated \
            and item.namespace is None:
        expr = item.expr
        path = expr.attr_path
        if (str(expr.value).lower() == "eq" and isinstance(path.attr_name, str) and path.attr_name.lower() == "value"
                and path.sub_attr is None and path.uri is None and expr.comp_value is not None):
            value = expr.comp_value.value
            return str(value) if isinstance(value, (_Text, int)) and not isinstance(value, bool) else _bad(text)
    return _bad(text)


def _bad(text: str) -> str:
    raise _invalid_path(f"Unsupported path {_shown(text)}: only [value eq \"…\"] selections are.")


def _without_core_uri(uri: str | None, name: str, sub: str | None, text: str) -> str:
    if uri is not None and uri.lower() not in CORE_SCHEMAS:
        raise _invalid_path(f"Unsupported path {_shown(text, 120)}.")
    return (name + (f".{sub}" if sub else "")).lower()
