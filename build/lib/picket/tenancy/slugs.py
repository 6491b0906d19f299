"""Sentry's slug rules: lowercase letters, digits, `_` and `-`, at most 50, not all digits."""

from __future__ import annotations

import re
import unicodedata

MAX_SLUG = 50
INVALID_SLUG = (
    "Enter a valid slug consisting of lowercase letters, numbers, underscores or hyphens. "
    "It cannot be entirely numeric."
)
_VALID = re.compile(r"^(?![0-9]+$)[a-z0-9_\-]+$")


def slugify(name: str) -> str:
    """The slug Sentry derives from a name ("My Team!" → "my-team")."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text.lower())
    text = re.sub(r"[\s_-]+", "-", text).strip("-")
    return text[:MAX_SLUG].strip("-")


def is_valid_slug(slug: str) -> bool:
    return len(slug) <= MAX_SLUG and bool(_VALID.fullmatch(slug))
