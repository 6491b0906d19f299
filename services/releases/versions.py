"""Release version strings: which are accepted, how they read in short, how they parse as semver.
Pure and total: every function takes any `str` (control characters, lone surrogates, 10,000
characters, numbers of any size) and answers without raising.

- `validate_version(version)`: None when the version may be stored, else the reason (a 400's
  detail). As Sentry: not empty, at most 200 characters, no slash, backslash, newline, carriage
  return, tab or form feed, not ".", ".." or "latest" (in any case). Stricter than Sentry: no
  leading or trailing whitespace and no character `str.isprintable()` refuses other than the
  space (controls, NUL, lone surrogates, which UTF-8 cannot encode, format and separator
  characters), so what is stored is what is shown.
- `parse_release(version)`: the parts as Sentry reads them (`package@version+build`). A release
  is semver only when it is valid, names a package and its version part parses with every
  number fitting a signed 64-bit integer (Sentry stores them as BigInteger); otherwise the
  semver fields are None and `is_semver` is False.
- `split_package(version)`: (package, version part) of `package@version`.
- `short_version(version)`: the version as listed in short: without its package, with a build
  hash cut to 12 characters.
- `sort_key_semver(parts)`: orders releases as Sentry's `sort=semver` does (ascending).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_LENGTH = 200
SHORT_HASH = 12

# Sentry refuses these anywhere in a version: they break URLs, paths and lines.
_FORBIDDEN = frozenset("/\\\r\n\t\f")
_RESERVED = frozenset({".", ".."})
_INT64_MAX = 2**63 - 1
_INT64_DIGITS = len(str(_INT64_MAX))

# Lengths of the hashes Sentry takes for a commit or build id (SHA-1 is 40, SHA-256 64, ...).
_HASH_LENGTHS = frozenset({12, 16, 20, 32, 40, 64})
_HEX = frozenset("0123456789abcdefABCDEF")

# A prerelease identifier: a number without leading zeros, or digits, letters and dashes with
# at least one non-digit.
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
# Up to four dotted numbers (leading zeros allowed), a prerelease opened by a dash or directly by
# a lowercase letter ("1.0rc1"), a build code after "+". Matched whole with `fullmatch`.
_VERSION = re.compile(
    rf"""
    (?P<major>[0-9]+)
    (?:\.(?P<minor>[0-9]+))?
    (?:\.(?P<patch>[0-9]+))?
    (?:\.(?P<revision>[0-9]+))?
    (?P<pre>(?:-|[a-z]){_PRE_ID}?(?:\.{_PRE_ID})*)?
    (?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?
    """,
    re.VERBOSE | re.ASCII,
)


@dataclass(frozen=True, slots=True)
class ReleaseParts:
    """A version read as `package@version_raw`. The semver fields are set only when
    `is_semver`; then absent components are 0 (as Sentry stores them) and `pre` has no dash."""

    package: str | None
    version_raw: str
    major: int | None = None
    minor: int | None = None
    patch: int | None = None
    revision: int | None = None
    pre: str | None = None
    build_code: str | None = None
    build_number: int | None = None
    is_semver: bool = False
    description: str = ""


def validate_version(version: str) -> str | None:
    """None if `version` may name a release, else why not (one sentence)."""
    if not version or version.isspace():
        return "Release version is invalid: it may not be empty."
    if len(version) > MAX_LENGTH:
        return f"Release version is invalid: it may be at most {MAX_LENGTH} characters long."
    if not _FORBIDDEN.isdisjoint(version):
        return ("Release version is invalid: it may not contain a slash, backslash, newline, "
                "carriage return, tab or form feed.")
    if not version.replace(" ", "").isprintable():
        return "Release version is invalid: it may contain only printable characters."
    if version != version.strip():
        return "Release version is invalid: it may not begin or end with whitespace."
    if version in _RESERVED or version.lower() == "latest":
        return f"Release version is invalid: {version!r} is a reserved name."
    return None


def split_package(version: str) -> tuple[str | None, str]:
    """(package, version part) of `package@version`, else (None, version). As Sentry, the
    package runs to the first "@" after an optional leading one (npm's "@scope"), and both
    sides must be non-empty: "@foo" and "pkg@" name no package."""
    start = 1 if version.startswith("@") else 0
    at = version.find("@", start)
    if at <= start or at == len(version) - 1:
        return None, version
    return version[:at], version[at + 1:]


def short_version(version: str) -> str:
    """The version without its package, a build hash cut to its first 12 characters: the whole
    part after the package ("pkg@<40 hex>", or a bare "<40 hex>") or the build code of a semver
    release ("pkg@1.2.3+<40 hex>" is "1.2.3+<12 hex>"). Anything else is kept as written:
    "pkg@1.2.3+build" is "1.2.3+build", "2.0rc2" is "2.0rc2". Sentry shows a build code in
    parentheses ("1.2.3 (build)"); here it keeps its "+", so the short form still reads as the
    version it stands for."""
    return parse_release(version).description


def parse_release(version: str) -> ReleaseParts:
    """`version` in parts; the semver fields only for a valid, package-qualified semver."""
    package, rest = split_package(version)
    if _is_hash(rest):
        # As Sentry: a version part that is a hash is a commit, not a version, even all digits.
        return ReleaseParts(package=package, version_raw=rest, description=rest[:SHORT_HASH])
    plain = ReleaseParts(package=package, version_raw=rest, description=rest)
    # Validating first also bounds the length the pattern below is tried on.
    if package is None or validate_version(version) is not None:
        return plain
    match = _VERSION.fullmatch(rest)
    if match is None:
        return plain
    minor, pre = match["minor"], match["pre"]
    # A lone number takes a prerelease only after a dash: "1-a1" is a version, "1a1" is not.
    if minor is None and pre and not pre.startswith("-"):
        return plain
    numbers = [_int64(match[name] or "0") for name in ("major", "minor", "patch", "revision")]
    if None in numbers:
        return plain
    build = match["build"]
    description = rest
    if build and _is_hash(build):
        description = rest[: len(rest) - len(build)] + build[:SHORT_HASH]
    return ReleaseParts(
        package=package, version_raw=rest, major=numbers[0], minor=numbers[1], patch=numbers[2],
        revision=numbers[3], pre=(pre or "").removeprefix("-") or None, build_code=build,
        build_number=_int64(build) if build else None, is_semver=True, description=description,
    )


SemverKey = tuple[bool, int, int, int, int, bool, str, bool, int, str]


def sort_key_semver(parts: ReleaseParts) -> SemverKey:
    """Ascending key: by major, minor, patch, revision; a prerelease before the release itself,
    prereleases compared as text (as Sentry's database does, so "rc10" < "rc2"); then, only to
    make the order total, no build number before any, build numbers, build codes as text.
    Releases that are not semver are not meant to be ordered by it (the caller leaves them out);
    if given, they sort before every semver release."""
    return (
        parts.is_semver,
        parts.major or 0, parts.minor or 0, parts.patch or 0, parts.revision or 0,
        parts.pre is None, parts.pre or "",
        parts.build_number is not None, parts.build_number or 0, parts.build_code or "",
    )


def sorted_versions(sort: str, versions: Iterable[str]) -> list[str]:
    """Sentry's `semver` or `build` sort of release versions: only those that have one (a semantic
    version, a numeric build), highest first; equal ones keep their order."""
    parsed = [(parse_release(v), v) for v in versions]
    if sort == "semver":
        return [v for _, v in sorted(((p, v) for p, v in parsed if p.is_semver),
                                     key=lambda pv: sort_key_semver(pv[0]), reverse=True)]
    if sort == "build":
        return [v for _, v in sorted(((p, v) for p, v in parsed if p.build_number is not None),
                                     key=lambda pv: pv[0].build_number or 0, reverse=True)]
    raise ValueError(f"not a version sort: {sort!r}")


def _is_hash(text: str) -> bool:
    return len(text) in _HASH_LENGTHS and _HEX.issuperset(text)


def _int64(digits: str) -> int | None:
    """The number written by ASCII `digits` if it fits a signed 64-bit integer, else None."""
    # Bounding the length first keeps `int` off long strings (it refuses over 4,300 digits).
    stripped = digits.lstrip("0") or "0"
    if not (digits.isascii() and digits.isdigit()) or len(stripped) > _INT64_DIGITS:
        return None
    number = int(stripped)
    return number if number <= _INT64_MAX else None
