"""How an SDK request names its client key: X-Sentry-Auth, Authorization, ?sentry_key=, envelope DSN."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers, QueryParams

from picket.ingest.dsn_auth import dsn_project_id, dsn_public_key, parse_sentry_auth, public_key_from_request

KEY = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
DSN = f"https://{KEY}@o1.ingest.example.com/42"


# --------------------------------------------------------------------------------------------
# parse_sentry_auth


def test_a_python_sdk_x_sentry_auth_header_parses():
    value = f"Sentry sentry_key={KEY}, sentry_version=7, sentry_client=sentry.python/2.20.0"
    assert parse_sentry_auth(value) == {
        "sentry_key": KEY,
        "sentry_version": "7",
        "sentry_client": "sentry.python/2.20.0",
    }


def test_the_sentry_prefix_is_optional_and_case_insensitive():
    expected = {"sentry_key": KEY, "sentry_version": "7"}
    assert parse_sentry_auth(f"sentry_key={KEY}, sentry_version=7") == expected
    assert parse_sentry_auth(f"SENTRY sentry_key={KEY},sentry_version=7") == expected
    assert parse_sentry_auth(f"  Sentry   sentry_key = {KEY} ,  sentry_version = 7  ") == expected


def test_legacy_fields_with_a_secret_and_timestamp_parse():
    value = f"Sentry sentry_version=5, sentry_timestamp=1329096377, sentry_key={KEY}, sentry_secret={OTHER}, " \
            "sentry_client=raven-python/1.0"
    parsed = parse_sentry_auth(value)
    assert parsed["sentry_key"] == KEY
    assert parsed["sentry_secret"] == OTHER
    assert parsed["sentry_timestamp"] == "1329096377"
    assert parsed["sentry_client"] == "raven-python/1.0"


def test_quoted_values_and_unprefixed_keys_are_normalized():
    assert parse_sentry_auth(f'Sentry key="{KEY}", Version="7"') == {"sentry_key": KEY, "sentry_version": "7"}


def test_parts_without_a_value_are_ignored_and_the_first_key_wins():
    parsed = parse_sentry_auth(f"Sentry garbage, sentry_key={KEY}, =x, sentry_key={OTHER}, sentry_client=a=b")
    assert parsed == {"sentry_key": KEY, "sentry_client": "a=b"}


@pytest.mark.parametrize("value", ["", "   ", "Sentry", "Sentry ", "Bearer"])
def test_empty_or_keyless_values_parse_to_nothing(value):
    assert parse_sentry_auth(value) == {}


# --------------------------------------------------------------------------------------------
# public_key_from_request


def test_x_sentry_auth_wins_over_every_other_source():
    headers = {"X-Sentry-Auth": f"Sentry sentry_key={KEY}", "Authorization": f"Sentry sentry_key={OTHER}"}
    assert public_key_from_request(headers, {"sentry_key": OTHER}, f"https://{OTHER}@h/1") == KEY


def test_authorization_with_the_sentry_scheme_is_used_next():
    headers = {"Authorization": f"Sentry sentry_key={KEY}, sentry_version=7"}
    assert public_key_from_request(headers, {"sentry_key": OTHER}, f"https://{OTHER}@h/1") == KEY


def test_authorization_with_a_dsn_scheme_carries_the_key_in_the_dsn():
    assert public_key_from_request({"Authorization": f"DSN {DSN}"}, {}, None) == KEY


def test_other_authorization_schemes_are_not_sentry_keys():
    headers = {"Authorization": f"Bearer sentry_key={OTHER}"}
    assert public_key_from_request(headers, {"sentry_key": KEY}, None) == KEY
    assert public_key_from_request(headers, {}, None) is None


def test_the_sentry_key_query_parameter_is_used_by_browsers():
    query = {"sentry_key": KEY, "sentry_version": "7", "sentry_client": "sentry.javascript.browser/8.0.0"}
    assert public_key_from_request({}, query, f"https://{OTHER}@h/1") == KEY


def test_the_envelope_dsn_is_the_last_resort():
    assert public_key_from_request({}, {}, DSN) == KEY
    assert public_key_from_request({}, {}, f"https://{KEY}:{OTHER}@sentry.example.com/sub/path/7") == KEY


def test_a_source_without_a_key_falls_through_to_the_next():
    headers = {"X-Sentry-Auth": "Sentry sentry_version=7, sentry_client=x", "Authorization": "Sentry sentry_key= "}
    assert public_key_from_request(headers, {"sentry_key": ""}, DSN) == KEY


def test_no_source_means_no_key():
    assert public_key_from_request({}, {}, None) is None
    assert public_key_from_request({}, {}, "https://o1.ingest.example.com/42") is None
    assert public_key_from_request({}, {}, "not a dsn") is None


def test_header_names_are_case_insensitive_in_plain_dicts():
    assert public_key_from_request({"x-sentry-auth": f"Sentry sentry_key={KEY}"}, {}, None) == KEY
    assert public_key_from_request({"AUTHORIZATION": f"Sentry sentry_key={KEY}"}, {}, None) == KEY


def test_starlette_headers_and_query_params_work_as_mappings():
    headers = Headers(raw=[(b"x-sentry-auth", f"Sentry sentry_key={KEY}, sentry_version=7".encode())])
    assert public_key_from_request(headers, QueryParams(""), None) == KEY
    assert public_key_from_request(Headers({}), QueryParams(f"sentry_key={KEY}&sentry_version=7"), None) == KEY


# --------------------------------------------------------------------------------------------
# DSN parts


@pytest.mark.parametrize(
    ("dsn", "project_id"),
    [
        (DSN, 42),
        (f"http://{KEY}@localhost:9000/1", 1),
        (f"https://{KEY}:{OTHER}@sentry.example.com/prefix/path/123", 123),
        (f"https://{KEY}@sentry.example.com/42/", 42),
        (f"https://{KEY}@sentry.example.com", None),
        (f"https://{KEY}@sentry.example.com/", None),
        (f"https://{KEY}@sentry.example.com/project", None),
        (f"https://{KEY}@sentry.example.com/0", None),
        (f"https://{KEY}@sentry.example.com/-3", None),
        (f"https://{KEY}@sentry.example.com:notaport/3", 3),
        ("not a dsn", None),
        ("", None),
        ("/42", None),
    ],
)
def test_dsn_project_id(dsn, project_id):
    assert dsn_project_id(dsn) == project_id


@pytest.mark.parametrize(
    ("dsn", "key"),
    [
        (DSN, KEY),
        (f"https://{KEY}:{OTHER}@sentry.example.com/1", KEY),
        ("https://sentry.example.com/1", None),
        ("https://@sentry.example.com/1", None),
        (f"{KEY}@sentry.example.com/1", None),  # no scheme: not a URL
        ("http://[::1/1", None),  # malformed host
    ],
)
def test_dsn_public_key(dsn, key):
    assert dsn_public_key(dsn) == key
