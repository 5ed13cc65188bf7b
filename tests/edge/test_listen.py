"""Listeners (issue 18): ADDRESS:PORT parsing, the shorthand, refusals, pasteable URLs."""

from __future__ import annotations

import re
import socket

import pytest

from classcast.config import env_layer
from classcast.errors import ConfigError
from edge import config as edge_config
from edge.http.listen import Listener, bind, bound, parse_listener

UP = {"upstreams": ("http://127.0.0.1:8080",)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8081", Listener("127.0.0.1", 8081)),
        ("[::]:8443", Listener("::", 8443)),
        ("[::1]:0", Listener("::1", 0)),
        (":80", Listener("0.0.0.0", 80)),
        ("localhost:8081", Listener("localhost", 8081)),
    ],
)
def test_an_address_and_port_parse(text: str, expected: Listener) -> None:
    assert parse_listener(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("127.0.0.1", "is not ADDRESS:PORT"),
        ("::1:80", "an IPv6 address goes in brackets, as [::1]:80"),
        ("[nope]:80", "is not an IPv6 address"),
        ("127.0.0.1:70000", "70000 is not a TCP port"),
        ("127.0.0.1:http", "is not ADDRESS:PORT"),
    ],
)
def test_a_bad_listener_is_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_listener(text)


@pytest.mark.parametrize(
    ("listener", "url"),
    [
        (Listener("::1", 8081), "http://[::1]:8081/"),
        (Listener("::", 8443, tls=True), "https://[::1]:8443/"),
        (Listener("0.0.0.0", 80), "http://127.0.0.1:80/"),
        (Listener("edge.example", 443, tls=True), "https://edge.example:443/"),
    ],
)
def test_the_url_can_be_pasted(listener: Listener, url: str) -> None:
    assert listener.url == url


def test_the_shorthand_is_one_listener_and_tls_port_adds_https() -> None:
    config = edge_config.build({**UP, "host": "::1", "port": 8081})
    assert edge_config.listeners(config) == [Listener("::1", 8081)]
    lists = edge_config.build(
        env_layer({"CLASSCAST_EDGE_LISTEN": "127.0.0.1:80,[::]:80"}, edge_config.ENV_PREFIX),
        UP,
    )
    assert edge_config.listeners(lists) == [Listener("127.0.0.1", 80), Listener("::", 80)]


def test_a_listener_listed_twice_or_https_without_a_certificate_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"\[::1\]:80 listed twice"):
        edge_config.build({**UP, "listen": ("[::1]:80", "[::1]:80")})
    with pytest.raises(ConfigError, match="needs --tls-cert"):
        edge_config.build({**UP, "tls_port": 8443})
    with pytest.raises(ConfigError, match="listen_tls"):
        edge_config.build({**UP, "listen_tls": ("8443",)})


def test_ipv4_and_ipv6_wildcards_bind_side_by_side() -> None:
    v6 = bind(Listener("::", 0))
    try:
        port = bound(Listener("::", 0), v6).port
        assert v6.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
        with bind(Listener("0.0.0.0", port)) as v4:  # the same port, the other family
            assert v4.getsockname()[1] == port
    finally:
        v6.close()


def test_a_busy_address_names_itself() -> None:
    with bind(Listener("127.0.0.1", 0)) as first:
        port = first.getsockname()[1]
        with pytest.raises(OSError, match=f"127.0.0.1:{port}: Address already in use"):
            bind(Listener("127.0.0.1", port))
