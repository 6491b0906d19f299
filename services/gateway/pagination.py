"""Sentry's cursor pagination: `?cursor=<per_page>:<page>:<is_prev>` and a `Link` header.

Each list answer carries both links, `rel="previous"` and `rel="next"`, with `results="true"`
only where that page has items, as sentry-cli and Sentry's SDK helpers expect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar
from urllib.parse import urlencode

from starlette.requests import Request

from services.gateway.errors import bad_request

T = TypeVar("T")
MAX_PER_PAGE = 100


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"Invalid {name}: {value!r}") from None


def paginate(request: Request, items: Sequence[T], default_per_page: int = 100) -> tuple[list[T], str]:
    """The page of `items` the request asks for, and the Link header value for it."""
    per_page = _int(request.query_params.get("per_page", str(default_per_page)), "per_page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise bad_request(f"Invalid per_page: must be between 1 and {MAX_PER_PAGE}")
    page = 0
    cursor = request.query_params.get("cursor")
    if cursor:
        parts = cursor.split(":")
        if len(parts) != 3:
            raise bad_request("Invalid cursor parameter.")
        page = max(0, _int(parts[1], "cursor"))
    start = page * per_page
    chunk = list(items[start : start + per_page])
    has_next = start + per_page < len(items)
    has_prev = page > 0
    links = [
        link(request, f"{per_page}:{page - 1}:1", "previous", has_prev),
        link(request, f"{per_page}:{page + 1}:0", "next", has_next),
    ]
    return chunk, ", ".join(links)


def link(request: Request, cursor: str, rel: str, results: bool) -> str:
    """One entry of a `Link` header: this request's URL with `cursor` replaced."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", cursor))
    url = str(request.url.replace(query=urlencode(params)))
    return f'<{url}>; rel="{rel}"; results="{str(results).lower()}"; cursor="{cursor}"'
