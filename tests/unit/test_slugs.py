"""Sentry's slug rules: how a slug is derived from a name and which slugs are accepted."""

from __future__ import annotations

import pytest

from picket.tenancy.slugs import MAX_SLUG, is_valid_slug, slugify


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("My Team!", "my-team"),
        ("backend", "backend"),
        ("Front End  Web", "front-end-web"),
        ("snake_case_name", "snake-case-name"),
        ("a - b -- c", "a-b-c"),
        ("Café Déjà Vu", "cafe-deja-vu"),       # accents are folded to ASCII
        ("Straße", "strae"),                    # letters without an ASCII form are dropped
        ("日本語 team", "team"),
        ("--Leading and trailing--", "leading-and-trailing"),
        ("  !!hello!!  ", "hello"),
        ("Team 42", "team-42"),
    ],
)
def test_slugify_derives_sentry_style_slugs(name, slug):
    assert slugify(name) == slug
    assert is_valid_slug(slug)


def test_slugify_truncates_long_names_to_the_maximum():
    slug = slugify("x" * 80)
    assert slug == "x" * MAX_SLUG
    assert MAX_SLUG == 50


def test_slugify_does_not_leave_a_dash_where_it_truncates():
    name = "a" * 49 + " tail"  # the 50th character of the slug would be a dash
    slug = slugify(name)
    assert slug == "a" * 49
    assert not slug.endswith("-")
    assert is_valid_slug(slug)


def test_slugify_of_nothing_usable_is_empty_and_not_a_valid_slug():
    assert slugify("!!!") == ""
    assert not is_valid_slug("")


@pytest.mark.parametrize(
    "slug", ["acme", "my-team", "team_1", "a", "42things", "x" * 50, "-dash-", "web2"],
)
def test_valid_slugs(slug):
    assert is_valid_slug(slug)


@pytest.mark.parametrize(
    "slug",
    [
        "123",          # all digits
        "0",
        "MyTeam",       # uppercase
        "my team",      # space
        " acme",
        "acme\n",       # trailing newline must not sneak past the anchor
        "x" * 51,       # too long
        "café",         # non-ASCII
        "a.b",
        "a/b",
        "",
    ],
)
def test_invalid_slugs_are_rejected(slug):
    assert not is_valid_slug(slug)
