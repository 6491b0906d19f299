"""Release version strings (`picket.releases.versions`): which versions are accepted, their short
form, their semver parts and order, and that hostile strings are answered, never raised on."""

from __future__ import annotations

import pytest

from picket.releases.versions import (
    ReleaseParts,
    parse_release,
    short_version,
    sort_key_semver,
    sorted_versions,
    split_package,
    validate_version,
)

SHA = "a86d127c4b2f23a0a862620280427dcc01c78676"


@pytest.mark.parametrize("version", [
    "1.0", "abc", "pkg@1.2.3+build", "a b", "x" * 200, "my.app@1.0", "@scope@1.0", SHA,
    "2.0rc2", "Latest-build", "lätest", "日本語", "1.0 (1234)",
])
def test_valid_versions_are_accepted(version: str) -> None:
    assert validate_version(version) is None


@pytest.mark.parametrize(("version", "reason"), [
    ("", "empty"),
    ("   ", "empty"),
    ("  1.0", "whitespace"),
    ("1.0 ", "whitespace"),
    ("a/b", "slash"),
    ("a\\b", "backslash"),
    ("a\nb", "newline"),
    ("a\rb", "carriage return"),
    ("a\tb", "tab"),
    ("a\fb", "form feed"),
    (".", "reserved"),
    ("..", "reserved"),
    ("latest", "reserved"),
    ("LATEST", "reserved"),
    ("Latest", "reserved"),
    ("x" * 201, "200 characters"),
    ("\x00", "printable"),
    ("a\x00b", "printable"),
    ("\ud800", "printable"),
    ("1.0\x7f", "printable"),
    ("1.0\u00a0", "printable"),
    ("a\u200bb", "printable"),
])
def test_invalid_versions_are_refused_with_a_reason(version: str, reason: str) -> None:
    detail = validate_version(version)
    assert detail is not None
    assert detail.startswith("Release version is invalid: ")
    assert reason in detail


def test_every_accepted_version_can_be_stored_as_utf8() -> None:
    for version in ("1.0", "日本語@1.0", "emoji 🚀"):
        assert validate_version(version) is None
        assert version.encode("utf-8").decode("utf-8") == version
    assert validate_version("a\udfffb") is not None


@pytest.mark.parametrize(("version", "expected"), [
    ("pkg@1.2.3", ("pkg", "1.2.3")),
    ("my.app@1.0", ("my.app", "1.0")),
    ("@scope@1.0", ("@scope", "1.0")),
    ("a@b@c", ("a", "b@c")),
    ("@foo", (None, "@foo")),
    ("@@1.0", (None, "@@1.0")),
    ("pkg@", (None, "pkg@")),
    ("1.0", (None, "1.0")),
])
def test_the_package_is_what_precedes_the_first_at(version: str, expected: tuple) -> None:
    assert split_package(version) == expected


@pytest.mark.parametrize(("version", "short"), [
    ("pkg@1.2.3+build", "1.2.3+build"),
    ("my.app@1.0", "1.0"),
    ("@foo", "@foo"),
    (SHA, SHA[:12]),
    (SHA.upper(), SHA.upper()[:12]),
    (f"pkg@{SHA}", SHA[:12]),
    ("a" * 64, "a" * 12),
    (f"pkg@1.2.3+{SHA}", f"1.2.3+{SHA[:12]}"),
    (f"1.2.3+{SHA}", f"1.2.3+{SHA}"),  # no package: not semver, kept as written
    ("2.0rc2", "2.0rc2"),
    (SHA[:39], SHA[:39]),  # not a hash length
    ("g" * 40, "g" * 40),  # not hex
])
def test_short_version(version: str, short: str) -> None:
    assert short_version(version) == short
    assert parse_release(version).description == short


def test_semver_parts_of_a_full_version() -> None:
    parts = parse_release("org.example.app@1.2.3.4-rc.1+567")
    assert parts == ReleaseParts(
        package="org.example.app", version_raw="1.2.3.4-rc.1+567", major=1, minor=2, patch=3,
        revision=4, pre="rc.1", build_code="567", build_number=567, is_semver=True,
        description="1.2.3.4-rc.1+567",
    )


@pytest.mark.parametrize(("version", "numbers", "pre", "build_code", "build_number"), [
    ("pkg@1", (1, 0, 0, 0), None, None, None),
    ("pkg@1.2", (1, 2, 0, 0), None, None, None),
    ("pkg@1.2.3", (1, 2, 3, 0), None, None, None),
    ("pkg@1.2.3.04", (1, 2, 3, 4), None, None, None),
    ("pkg@1.0rc1+20200101100", (1, 0, 0, 0), "rc1", "20200101100", 20200101100),
    ("pkg@1-a1", (1, 0, 0, 0), "a1", None, None),
    ("pkg@1.2.3-dev+BUILD-code", (1, 2, 3, 0), "dev", "BUILD-code", None),
    ("pkg@1.2.3+1.2.3", (1, 2, 3, 0), None, "1.2.3", None),
    ("pkg@1.2.3+99999999999999999999", (1, 2, 3, 0), None, "99999999999999999999", None),
])
def test_semver_fields(version: str, numbers: tuple, pre: str | None, build_code: str | None,
                       build_number: int | None) -> None:
    parts = parse_release(version)
    assert parts.is_semver
    assert (parts.major, parts.minor, parts.patch, parts.revision) == numbers
    assert (parts.pre, parts.build_code, parts.build_number) == (pre, build_code, build_number)


def test_is_semver_requires_the_package() -> None:
    bare = parse_release("1.2.3")
    assert (bare.package, bare.version_raw, bare.is_semver, bare.major) == (None, "1.2.3", False, None)
    assert parse_release("pkg@1.2.3").is_semver


@pytest.mark.parametrize("version", [
    "pkg@v1.2.3",  # a leading "v" is not a version
    "pkg@1a1",  # a lone number takes a prerelease only after a dash
    "pkg@1.2.3.4.5",
    "pkg@1.2.3+",
    "pkg@1.2.3-01",  # a numeric prerelease identifier has no leading zero
    "pkg@1.2.3 ",  # invalid version
    "pkg@abc",
    f"pkg@{SHA}",  # a commit, not a version
    "pkg@123456789012",  # twelve digits are a hash length, as in Sentry
    "pkg@١.٢.٣",  # only ASCII digits
    "pkg@1.2.3\n",
])
def test_not_semver(version: str) -> None:
    parts = parse_release(version)
    assert not parts.is_semver
    assert parts.major is None and parts.pre is None and parts.build_code is None


@pytest.mark.parametrize("version", [
    f"pkg@{2**63}.0.0", f"pkg@1.{2**70}", f"pkg@1.2.{10**30}", f"pkg@1.2.3.{2**64}",
])
def test_numbers_beyond_a_signed_64_bit_int_are_not_semver(version: str) -> None:
    assert not parse_release(version).is_semver


def test_the_largest_signed_64_bit_numbers_are_semver() -> None:
    parts = parse_release(f"pkg@{2**63 - 1}.0.0+{2**63 - 1}")
    assert parts.is_semver
    assert (parts.major, parts.build_number) == (2**63 - 1, 2**63 - 1)
    assert parse_release(f"pkg@1.0.0+{2**63}").build_number is None


def test_semver_order() -> None:
    ordered = ["pkg@1.2.3-rc1", "pkg@1.2.3-rc2", "pkg@1.2.3", "pkg@1.2.3+7", "pkg@1.2.3+10",
               "pkg@1.2.3.1", "pkg@1.2.10", "pkg@2.0"]
    shuffled = ordered[::-1][3:] + ordered[::-1][:3]
    by_key = sorted(shuffled, key=lambda v: sort_key_semver(parse_release(v)))
    assert by_key == ordered


def test_prereleases_compare_as_text_and_absent_parts_are_zero() -> None:
    def key(version: str) -> tuple:
        return sort_key_semver(parse_release(version))

    assert key("pkg@1.0.0-rc10") < key("pkg@1.0.0-rc2")
    assert key("pkg@1") == key("pkg@1.0.0.0")
    assert key("not-semver") < key("pkg@0")


def test_the_semver_sort_keeps_semantic_versions_only_highest_first() -> None:
    newest_first = ["web@3", "pkg@1.2.3-rc1", "latest", "pkg@1.10.0", SHA, "pkg@1.2.3", "pkg@2.0.0+5"]
    assert sorted_versions("semver", newest_first) == ["web@3", "pkg@2.0.0+5", "pkg@1.10.0", "pkg@1.2.3",
                                                       "pkg@1.2.3-rc1"]


def test_the_build_sort_keeps_numeric_builds_only_highest_first_ties_in_the_given_order() -> None:
    newest_first = ["app@1.0+9", "app@1.0", "app@2.0+10", "app@1.0+abc", "other@5.0+9", "app@1.1+2"]
    assert sorted_versions("build", newest_first) == ["app@2.0+10", "app@1.0+9", "other@5.0+9", "app@1.1+2"]
    with pytest.raises(ValueError):
        sorted_versions("date", newest_first)


HOSTILE = [
    "", " ", "@", "@@", "@@@", "a@", "+", "-", ".", "..", "pkg@.", "pkg@+", "pkg@-", "pkg@1.",
    "pkg@1..2", "pkg@1.2.3-", "pkg@1.2.3-+", "pkg@1.2.3-.", "\x00", "pkg@\x00", "\ud800",
    "pkg@1.0\ud800", "\udfff@1.0", "\u202e1.0", "\ufeff", "pkg@" + "1" * 10_000,
    "pkg@1-" + "1" * 10_000 + "!", "pkg@1." + "a" * 10_000, "x" * 10_000, "@" * 10_000,
    "pkg@" + "9" * 5_000 + ".0", f"pkg@{2**70}.{2**70}.{2**70}.{2**70}+{2**70}",
    "pkg@" + "-a" * 5_000, "pkg@1" + ".0" * 5_000, "\n" * 100, "pkg@1.0\r\n", "😀" * 300,
    "pkg@1.0+" + SHA * 250,
]


@pytest.mark.parametrize("version", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_versions_are_answered_without_raising(version: str) -> None:
    detail = validate_version(version)
    parts = parse_release(version)
    assert isinstance(short_version(version), str)
    assert isinstance(sort_key_semver(parts), tuple)
    if parts.is_semver:
        assert detail is None
        numbers = (parts.major, parts.minor, parts.patch, parts.revision)
        assert all(n is not None and 0 <= n < 2**63 for n in numbers)
    if detail is not None:
        assert not parts.is_semver
