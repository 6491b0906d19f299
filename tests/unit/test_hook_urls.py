"""Which URLs webhooks may go to (`picket.hooks.urls.check_url`)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from picket.hooks import urls
from picket.hooks.urls import check_url

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def _resolving(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> list[str]:
    """Make getaddrinfo answer from `table`; returns the names asked for."""
    asked: list[str] = []

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        asked.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        out = []
        for address in table[host]:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    monkeypatch.setattr(urls.socket, "getaddrinfo", fake)
    return asked


@pytest.mark.parametrize("url", [
    f"http://{PUBLIC_V4}/hook",
    f"https://{PUBLIC_V4}:8443/hook?x=1",
    f"https://[{PUBLIC_V6}]/hook",
    f"HTTPS://{PUBLIC_V4}/",
])
def test_public_literal_addresses_are_accepted(url: str) -> None:
    assert check_url(url, allow_private=False) is None


@pytest.mark.parametrize(("url", "words"), [
    ("ftp://example.com/x", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("example.com/hook", "scheme"),
    ("http:///path-only", "no host"),
    (f"https://user:pw@{PUBLIC_V4}/", "credentials"),
    (f"https://user@{PUBLIC_V4}/", "credentials"),
    (f"https://{PUBLIC_V4}/" + "a" * 2100, "longer than 2048"),
    (f"https://{PUBLIC_V4}:99999/", "malformed"),
    (f"https://{PUBLIC_V4}/a b", "whitespace"),
])
def test_malformed_urls_are_refused_whatever_the_setting(url: str, words: str) -> None:
    for allow_private in (False, True):
        reason = check_url(url, allow_private=allow_private)
        assert reason is not None and words in reason, (url, reason)
        assert reason.endswith(".")


def test_the_length_limit_is_2048_characters() -> None:
    base = f"https://{PUBLIC_V4}/"
    assert check_url(base + "a" * (2048 - len(base)), allow_private=False) is None
    assert check_url(base + "a" * (2049 - len(base)), allow_private=False) is not None


@pytest.mark.parametrize(("host", "what"), [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("[::1]", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("[fd00::1]", "private"),
    ("169.254.169.254", "link-local"),  # cloud metadata
    ("[fe80::1]", "link-local"),
    ("224.0.0.1", "multicast"),
    ("[ff02::1]", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("[::]", "unspecified"),
    ("240.0.0.1", "reserved"),
    ("100.64.0.1", "not a public address"),  # shared (CGNAT) space
    ("[::ffff:127.0.0.1]", "127.0.0.1"),  # IPv4-mapped
    ("[::ffff:10.0.0.1]", "10.0.0.1"),
    ("[::ffff:169.254.169.254]", "link-local"),
    ("[2002:7f00:1::]", "127.0.0.1"),  # 6to4
    ("[64:ff9b::a00:1]", "10.0.0.1"),  # NAT64
])
def test_private_literal_addresses_are_refused(host: str, what: str) -> None:
    reason = check_url(f"http://{host}:8080/hook", allow_private=False)
    assert reason is not None and what in reason, reason


def test_private_addresses_are_accepted_when_allowed() -> None:
    for host in ("127.0.0.1", "[::1]", "10.1.2.3", "169.254.169.254", "localhost"):
        assert check_url(f"http://{host}:8080/hook", allow_private=True) is None


def test_allowed_private_addresses_need_no_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _resolving(monkeypatch, {})
    assert check_url("http://internal.corp:9000/hook", allow_private=True) is None
    assert asked == []


def test_localhost_is_refused() -> None:
    reason = check_url("http://localhost:8000/hook", allow_private=False)
    assert reason is not None and "localhost" in reason and "loopback" in reason


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _resolving(monkeypatch, {"hooks.example.com": ["10.0.0.7"]})
    reason = check_url("https://hooks.example.com/in", allow_private=False)
    assert asked == ["hooks.example.com"]
    assert reason == "The host hooks.example.com resolves to 10.0.0.7, a private address."


def test_every_address_of_a_name_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    _resolving(monkeypatch, {"mixed.example.com": [PUBLIC_V4, PUBLIC_V6, "::ffff:127.0.0.1"],
                             "public.example.com": [PUBLIC_V4, PUBLIC_V6]})
    reason = check_url("https://mixed.example.com/", allow_private=False)
    assert reason is not None and "127.0.0.1" in reason
    assert check_url("https://public.example.com/", allow_private=False) is None


def test_a_name_that_does_not_resolve_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _resolving(monkeypatch, {})
    reason = check_url("https://nowhere.invalid/", allow_private=False)
    assert reason is not None and "does not resolve" in reason
