"""SCIM filters (RFC 7644 §3.4.2.2) as predicates over flat records, and PATCH paths: every
operator, precedence (`and` before `or`, which the parser alone gets wrong), case rules, value
paths; and hostile filters refused as `invalidFilter`, never another exception, never slowly."""

from __future__ import annotations

import random
import time

import pytest

from picket.scim import filters
from picket.scim.errors import ScimError
from picket.scim.filters import PatchPath, parse, patch_path

ALLOWED = {
    "username": "userName", "emails.value": "email", "emails.type": "emailType", "id": "id",
    "active": "active", "displayname": "displayName", "members.value": "members", "value": "value",
    "sentryorgrole": "role", "externalid": "externalId", "nullable": "nullable", "count": "count",
}
JANE = {
    "userName": "Jane.Doe@Example.com", "email": ["Jane.Doe@Example.com", "jd@other.org"], "emailType": ["work"],
    "id": "12", "active": True, "displayName": "Platform Team", "members": ["1", "2"], "value": "12",
    "role": "member", "externalId": "AbC", "nullable": None, "count": 7,
}


def matches(text: str, record: dict | None = None) -> bool:  # type: ignore[type-arg]
    return parse(text, ALLOWED)(JANE if record is None else record)


def refused(text: object, allowed: dict[str, str] | None = None) -> ScimError:
    with pytest.raises(ScimError) as caught:
        parse(text, ALLOWED if allowed is None else allowed)  # type: ignore[arg-type]
    assert caught.value.status == 400 and caught.value.scim_type == "invalidFilter", caught.value
    assert caught.value.body()["scimType"] == "invalidFilter"
    return caught.value


@pytest.mark.parametrize(("text", "expected"), [
    ('userName eq "Jane.Doe@Example.com"', True),
    ('userName eq "jane.doe@example.com"', True),  # userName: caseExact false
    ('USERNAME Eq "JANE.DOE@EXAMPLE.COM"', True),  # attribute names and operators: any case
    ('userName eq "jane"', False),
    ('userName ne "jane"', True),
    ('userName ne "JANE.DOE@example.com"', False),
    ('userName co "doe@"', True),
    ('userName co "DOE@EX"', True),
    ('userName co "nobody"', False),
    ('userName sw "jane."', True),
    ('userName sw "doe"', False),
    ('userName ew "EXAMPLE.COM"', True),
    ('userName ew "example"', False),
    ('userName pr', True),
    ('nullable pr', False),
    ('userName gt "a"', True),
    ('userName lt "a"', False),
    ('userName ge "jane.doe@example.com"', True),
    ('userName le "jane.doe@example.com"', True),
    ('count gt 6', True),
    ('count ge 7', True),
    ('count lt 7', False),
    ('count eq 7', True),
    ('count eq 12', False),  # several digits: one number, not two tokens
    ('active eq true', True),
    ('active eq false', False),
    ('active ne false', True),
    ('active eq "true"', False),  # a string is not the boolean
    ('nullable eq null', True),
    ('userName eq null', False),
    ('id eq "12"', True),
    ('id eq 12', False),  # id is a string
    ('externalId eq "AbC"', True),
    ('externalId eq "abc"', False),  # externalId: caseExact
    ('id eq "12" and active eq true', True),
    ('id eq "12" and active eq false', False),
    ('id eq "13" or active eq true', True),
    ('not (id eq "13")', True),
    ('not(id eq "12")', False),
    ('not (id eq "12") or userName pr', True),
    ('(id eq "13" or id eq "12") and userName pr', True),
    ('emails.value eq "JD@other.org"', True),  # multi-valued: one value is enough
    ('emails.value ne "jd@other.org"', False),
    ('emails.value ew ".org"', True),
    ('emails[type eq "work" and value co "@other"]', True),
    ('emails[type eq "home"]', False),
    ('emails[type eq "work"].value eq "jd@other.org"', True),  # Entra ID's form
    ('emails[type eq "home"].value eq "jd@other.org"', False),
    ('members.value eq "2"', True),
    ('members[value eq "3"]', False),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "JANE"', True),
    ('urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "platform team"', True),
    ('displayName eq "platform TEAM"', True),
    ('userName eq "a\\u0041"', False),  # JSON escapes in strings
])
def test_operators(text: str, expected: bool) -> None:
    assert matches(text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    # RFC 7644: "and" takes precedence over "or", whatever the order written.
    ('id eq "12" or id eq "13" and active eq false', True),
    ('id eq "13" or id eq "12" and active eq true', True),
    ('id eq "13" or id eq "12" and active eq false', False),
    ('id eq "12" and active eq false or id eq "12"', True),
    ('id eq "13" and active eq true or id eq "13"', False),
    ('(id eq "12" or id eq "13") and active eq false', False),
    ('id eq "1" or id eq "2" or id eq "12" and active eq true and userName pr', True),
    ('id eq "1" or id eq "2" or id eq "12" and active eq false and userName pr', False),
    ('not (id eq "12" or id eq "13") or id eq "12" and active eq true', True),
])
def test_and_binds_before_or(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_a_keyword_at_the_start_of_a_name_is_part_of_the_name() -> None:
    assert matches("nullable pr", {"nullable": "x"})
    assert matches('nullable eq "x"', {"nullable": "x"})


def test_case_exact_attributes_can_be_chosen() -> None:
    strict = parse('userName eq "jane.doe@example.com"', ALLOWED, case_exact={"username"})
    assert not strict(JANE)
    assert strict({"userName": "jane.doe@example.com"})


def test_missing_attributes_are_absent() -> None:
    assert not matches("userName pr", {})
    assert matches("userName eq null", {})
    assert not matches('userName eq "x"', {})
    assert matches('userName ne "x"', {})


def test_a_qualified_path_of_the_allowed_mapping_wins() -> None:
    allowed = {"urn:example:ext:1.0:User:level": "level"}
    assert parse('urn:example:ext:1.0:User:level eq "x"', allowed)({"level": "x"})


@pytest.mark.parametrize("text", [
    "",
    "   ",
    "userName",
    "userName eq",
    'eq "x"',
    'userName eq "x" and',
    'userName eq "x" or or id pr',
    '(userName eq "x"',
    'userName eq "x")',
    'userName regex "x"',  # an operator the grammar does not know
    'userName eq "x" xor id pr',
    'not userName eq "x"',  # not needs parentheses
    'unknown eq "x"',  # not an allowed attribute
    'name.givenName eq "x"',
    'emails.type eq "work" and password eq "x"',
    'urn:example:other:2.0:User:userName eq "x"',  # not a core schema
    'userName co true',  # co/sw/ew need strings
    'userName sw 1',
    'active gt true',  # booleans and null cannot be ordered
    'userName lt null',
    'emails[value[type eq "x"]]',
    'members[value eq "1"] eq ""',
    'emails[type eq "work"].value pr and emails[x eq "y"]',
    'userName eq "unterminated',
    'userName eq "x" \n or id pr',
    "userName eq 'x'",
    'userName eq "a\\q"',  # not a JSON escape
    'userName eq 1.5',
    'userName eq -1',
])
def test_invalid_filters_are_refused(text: str) -> None:
    refused(text)


def test_a_filter_that_is_not_a_string_is_refused() -> None:
    refused(None)
    refused(b'userName eq "x"')


@pytest.mark.parametrize("text", [
    'userName eq "a\\" or 1 eq 1"',
    'userName eq "x" or "1"="1"',
    "userName eq \"x\"; DROP TABLE members; --",
    "'; DROP TABLE members; --",
    'userName eq "x\' OR \'1\'=\'1"',  # quotes of another language inside a string: a literal
    'userName eq "x" ) or ( id pr',
    'userName eq "${jndi:ldap://x/a}"',
    'userName eq "\\u0000"',
    "userName eq \"\x00\"",
    'userName[$where eq "1"]',
    "__proto__ eq \"x\"",
])
def test_injection_attempts_are_literals_or_refused(text: str) -> None:
    """Either a predicate that compares a literal (and does not match Jane) or invalidFilter."""
    try:
        predicate = parse(text, ALLOWED)
    except ScimError as exc:
        assert exc.status == 400 and exc.scim_type == "invalidFilter"
    else:
        assert predicate(JANE) is False


def test_an_escaped_quote_never_ends_a_string() -> None:
    """The lexer knows no escapes: `\\"` ends nothing, it makes the filter invalid."""
    refused('userName eq "a\\" or userName pr or userName eq "b"')


@pytest.mark.parametrize("text", [
    "(" * 10_000 + 'userName pr' + ")" * 10_000,
    "(" * 10_000,
    ")" * 10_000,
    'userName eq "' + "a" * 10_000 + '"',
    " and ".join(["userName pr"] * 5_000),
    "not (" * 3_000 + "userName pr" + ")" * 3_000,
    "[" * 10_000,
    '"' * 10_000,
])
def test_overlong_or_deep_filters_are_refused_quickly(text: str) -> None:
    started = time.monotonic()
    error = refused(text)
    assert time.monotonic() - started < 1
    assert len(error.detail) < 200


def test_nesting_is_bounded_but_reasonable_nesting_is_fine() -> None:
    assert matches("(" * filters.MAX_NESTING + "userName pr" + ")" * filters.MAX_NESTING)
    refused("(" * (filters.MAX_NESTING + 1) + "userName pr" + ")" * (filters.MAX_NESTING + 1))
    assert matches("not (" * 10 + "userName pr" + ")" * 10)


def test_the_longest_filter_accepted_is_evaluated_without_recursion_trouble() -> None:
    """About 110 terms of `and`/`or` within the length limit: flat, evaluated fine."""
    text = " or ".join(['id eq "x"'] * 40) + " or " + " and ".join(["userName pr"] * 40)
    text = text[: filters.MAX_LENGTH]
    text = text[: text.rfind(" and ")]
    assert len(text) <= filters.MAX_LENGTH
    assert matches(text)


def test_lone_surrogates_are_literals_or_refused() -> None:
    for text in ['userName eq "\ud800"', 'userName eq "\ud800\\n"', '\ud800 eq "x"', 'userName eq "\\ud800"']:
        try:
            predicate = parse(text, ALLOWED)
        except ScimError as exc:
            assert exc.scim_type == "invalidFilter"
        else:
            assert predicate(JANE) is False


def _random_filter(rng: random.Random, depth: int = 0) -> str:
    """A filter of the grammar, over allowed and unknown attributes."""
    kind = rng.random()
    if depth < 3 and kind < 0.25:
        return f"{_random_filter(rng, depth + 1)} {rng.choice(['and', 'or', 'AND'])} {_random_filter(rng, depth + 1)}"
    if depth < 3 and kind < 0.35:
        return f"{rng.choice(['', 'not '])}({_random_filter(rng, depth + 1)})"
    if depth < 3 and kind < 0.42:
        return f"emails[{_random_filter(rng, 3).replace('userName', 'value')}]"
    attribute = rng.choice(["userName", "emails.value", "id", "active", "count", "unknown", "nullable",
                            "urn:ietf:params:scim:schemas:core:2.0:User:userName"])
    operator = rng.choice(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "regex"])
    if operator == "pr":
        return f"{attribute} pr"
    value = rng.choice(['"jane"', '"Jane.Doe@Example.com"', '"12"', "12", "7", "true", "false", "null", '"a\\"b"',
                        '"\\u0041"', '""'])
    return f"{attribute} {operator} {value}"


def test_random_filters_never_raise_anything_but_invalid_filter() -> None:
    """Filters of the grammar, and the same cut, spliced and sprinkled with hostile characters: a
    predicate that runs, or invalidFilter."""
    noise = ['(', ')', '[', ']', '"', "'", '\\', ' ', ':', '.', 'and', 'not', '$', '\x00', '\n', 'é', '\ud800', ';']
    rng = random.Random(7)
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(5_000):
        text = _random_filter(rng)
        if rng.random() < 0.5:
            at, length = rng.randint(0, len(text)), rng.randint(0, 4)
            text = text[:at] + rng.choice(noise) + text[at + length:]
        try:
            predicate = parse(text, ALLOWED)
        except ScimError as exc:
            assert (exc.status, exc.scim_type) == (400, "invalidFilter"), text
            outcomes["refused"] += 1
        else:
            assert predicate(JANE) in (True, False), text
            assert predicate({}) in (True, False), text
            outcomes["parsed"] += 1
    assert outcomes["parsed"] > 500 and outcomes["refused"] > 500, outcomes


def test_details_do_not_echo_long_input() -> None:
    error = refused('unknown' + "x" * 500 + ' eq "y"')
    assert len(error.detail) < 120


# --- PATCH paths ---

@pytest.mark.parametrize(("text", "expected"), [
    ("members", PatchPath("members")),
    ("displayName", PatchPath("displayname")),
    ("active", PatchPath("active")),
    ("name.givenName", PatchPath("name.givenname")),
    ("urn:ietf:params:scim:schemas:core:2.0:Group:displayName", PatchPath("displayname")),
    ("urn:ietf:params:scim:schemas:core:2.0:User:active", PatchPath("active")),
    ('members[value eq "12"]', PatchPath("members", ("12",))),
    ('members[value eq 12]', PatchPath("members", ("12",))),
    ('members[value eq "12" or value eq "13"]', PatchPath("members", ("12", "13"))),
    ('members[(value eq "12")]', PatchPath("members", ("12",))),
    (' members[ value  eq  "12" ] ', PatchPath("members", ("12",))),
])
def test_patch_paths(text: str, expected: PatchPath) -> None:
    assert patch_path(text) == expected


@pytest.mark.parametrize("text", [
    "", "  ", "members.", ".members", "members x", "members[", "members]", 'members[value eq "1"',
    'members[display eq "x"]', 'members[value ne "12"]', 'members[value eq "1" and value eq "2"]',
    'members[not (value eq "1")]', 'members[value pr]', 'members[value eq true]', 'members[value eq null]',
    'members[value eq "1"].display', 'members[value eq "1"] eq "x"',
    "urn:example:ext:2.0:User:level", "'; DROP TABLE", 'members[value eq "1\\" or value pr"]',
    "(" * 10_000, "members[" * 10_000, "a" * 2_000, None, 12,
])
def test_invalid_patch_paths_are_refused(text: object) -> None:
    with pytest.raises(ScimError) as caught:
        patch_path(text)
    assert caught.value.status == 400 and caught.value.scim_type == "invalidPath"
