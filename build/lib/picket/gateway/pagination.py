"""Sentry's cursor pagination: `?cursor=<per_page>:<page>:<is_prev>` and a `Link` header.

Each list answer carries both links, `rel="previous"` and `rel="next"`, with `results="true"`
only where that page has items, as sentry-cli and Sentry's SDK helpers expect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

from starlette.requests import Request

from picket.gateway.errors import bad_request

T = TypeVar("T")
MAX_PER_PAGE = 100
MAX_PAGE = 2**31 - 1  # its offset is a bound UInt64 parameter of some queries: no overflow there


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"Invalid {name}: {value!r}") from None


@dataclass(frozen=True)
class Window:
    """The page a request asks for: `per_page` items from `offset`."""

    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return self.page * self.per_page


def window(request: Request, default_per_page: int = 100) -> Window:
    """The requested page (`per_page`, `cursor`); 400 on invalid values."""
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
        if page > MAX_PAGE:
            raise bad_request("Invalid cursor parameter.")
    return Window(page, per_page)


def links(request: Request, w: Window, has_next: bool) -> str:
    """The Link header value of page `w`."""
    return ", ".join([
        link(request, f"{w.per_page}:{w.page - 1}:1", "previous", w.page > 0),
        link(request, f"{w.per_page}:{w.page + 1}:0", "next", has_next),
    ])


def paginate(request: Request, items: Sequence[T], default_per_page: int = 100) -> tuple[list[T], str]:
    """The page of `items` the request asks for, and the Link header value for it."""
    w = window(request, default_per_page)
    chunk = list(items[w.offset : w.offset + w.per_page])
    return chunk, links(request, w, w.offset + w.per_page < len(items))


def page_of(request: Request, w: Window, fetched: Sequence[T]) -> tuple[list[T], str]:
    """Page `w` from `fetched`, the store's rows from `w.offset` with one more than a page (the
    extra row only tells that a next page exists), and the Link header value for it."""
    return list(fetched[: w.per_page]), links(request, w, len(fetched) > w.per_page)


def link(request: Request, cursor: str, rel: str, results: bool) -> str:
    """One entry of a `Link` header: this request's URL with `cursor` replaced."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", cursor))
    url = str(request.url.replace(query=urlencode(params)))
    return f'<{url}>; rel="{rel}"; results="{str(results).lower()}"; cursor="{cursor}"'
