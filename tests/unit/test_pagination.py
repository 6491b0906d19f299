"""Sentry's cursor pagination as the gateway answers it: the page of items and the Link header.

sentry-cli and Sentry's SDK helpers follow `rel="next"` while it says `results="true"`, so both
links must always be present and `results` must be exact.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.requests import Request

from picket.gateway.errors import ApiError
from picket.gateway.pagination import MAX_PER_PAGE, paginate

PATH = "/api/0/organizations/acme/projects/"
ITEMS = list(range(250))
_LINK = re.compile(r'<(?P<url>[^>]*)>; rel="(?P<rel>[^"]+)"; results="(?P<results>[^"]+)"; cursor="(?P<cursor>[^"]+)"')


def request(query: str = "", path: str = PATH) -> Request:
    return Request({
        "type": "http",
        "method": "GET",
        "path": path,
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"picket.test:8000")],
        "server": ("picket.test", 8000),
        "scheme": "http",
    })


def links(header: str) -> dict[str, dict[str, str]]:
    """The Link header as {rel: {url, results, cursor}}."""
    parts = [m.groupdict() for m in _LINK.finditer(header)]
    assert len(parts) == 2, header
    return {p["rel"]: p for p in parts}


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_the_first_page_has_a_next_link_with_results_and_a_previous_link_without():
    page, header = paginate(request("per_page=100"), ITEMS)

    assert page == list(range(100))
    rel = links(header)
    assert list(rel) == ["previous", "next"]
    assert rel["next"]["results"] == "true"
    assert rel["next"]["cursor"] == "100:1:0"
    assert rel["previous"]["results"] == "false"
    assert rel["previous"]["cursor"].endswith(":1")  # is_prev


def test_following_next_links_walks_every_item_exactly_once():
    seen: list[int] = []
    query = "per_page=100"
    for _ in range(10):
        page, header = paginate(request(query), ITEMS)
        seen.extend(page)
        nxt = links(header)["next"]
        if nxt["results"] == "false":
            break
        query = urlsplit(nxt["url"]).query
    assert seen == ITEMS


def test_a_middle_page_has_results_both_ways_and_links_point_at_its_neighbours():
    page, header = paginate(request("per_page=100&cursor=100:1:0"), ITEMS)

    assert page == list(range(100, 200))
    rel = links(header)
    assert rel["previous"]["results"] == "true"
    assert rel["previous"]["cursor"] == "100:0:1"
    assert rel["next"]["results"] == "true"
    assert rel["next"]["cursor"] == "100:2:0"

    previous, _ = paginate(request(urlsplit(rel["previous"]["url"]).query), ITEMS)
    assert previous == list(range(100))


def test_the_last_page_says_there_is_nothing_next():
    page, header = paginate(request("per_page=100&cursor=100:2:0"), ITEMS)
    assert page == list(range(200, 250))
    rel = links(header)
    assert rel["next"]["results"] == "false"
    assert rel["previous"]["results"] == "true"


def test_a_page_that_exactly_fills_the_list_has_no_next():
    page, header = paginate(request("per_page=50"), list(range(50)))
    assert len(page) == 50
    assert links(header)["next"]["results"] == "false"


def test_an_empty_list_gives_an_empty_page_and_no_results_either_way():
    page, header = paginate(request(), [])
    assert page == []
    rel = links(header)
    assert rel["next"]["results"] == "false"
    assert rel["previous"]["results"] == "false"


def test_the_default_per_page_applies_when_none_is_asked():
    page, header = paginate(request(), ITEMS, default_per_page=25)
    assert page == list(range(25))
    assert links(header)["next"]["cursor"] == "25:1:0"


def test_links_are_absolute_urls_of_the_same_endpoint():
    _, header = paginate(request("per_page=10"), ITEMS)
    for link in links(header).values():
        url = urlsplit(link["url"])
        assert (url.scheme, url.netloc, url.path) == ("http", "picket.test:8000", PATH)
        assert query_of(link["url"])["cursor"] == [link["cursor"]]


def test_other_query_parameters_are_kept_in_the_links_and_the_old_cursor_is_replaced():
    _, header = paginate(
        request("query=is%3Aunresolved&per_page=10&environment=prod&environment=dev&cursor=10:1:0"),
        ITEMS,
    )
    for rel, link in links(header).items():
        params = query_of(link["url"])
        assert params["query"] == ["is:unresolved"], rel
        assert params["per_page"] == ["10"], rel
        assert params["environment"] == ["prod", "dev"], rel
        assert params["cursor"] == [link["cursor"]], rel
    assert links(header)["next"]["cursor"] == "10:2:0"


@pytest.mark.parametrize("per_page", [1, MAX_PER_PAGE])
def test_per_page_bounds_are_accepted(per_page):
    page, _ = paginate(request(f"per_page={per_page}"), ITEMS)
    assert len(page) == per_page


@pytest.mark.parametrize("per_page", ["0", "101", "-5", "ten", ""])
def test_per_page_out_of_bounds_or_not_a_number_is_a_400(per_page):
    with pytest.raises(ApiError) as raised:
        paginate(request(f"per_page={per_page}"), ITEMS)
    assert raised.value.status == 400
    assert "per_page" in raised.value.detail


@pytest.mark.parametrize("cursor", ["garbage", "100:1", "100:1:0:0", "100:x:0", "a:b:c", "100:2147483648:0",
                                    "100:18446744073709551616:0", "100:" + "9" * 5000 + ":0"])
def test_a_malformed_cursor_is_a_400(cursor):
    with pytest.raises(ApiError) as raised:
        paginate(request(f"cursor={cursor}"), ITEMS)
    assert raised.value.status == 400
    assert "cursor" in raised.value.detail


def test_a_cursor_past_the_end_gives_an_empty_page_not_an_error():
    page, header = paginate(request("per_page=100&cursor=100:9:0"), ITEMS)
    assert page == []
    assert links(header)["next"]["results"] == "false"
