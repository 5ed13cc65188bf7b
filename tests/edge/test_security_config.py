"""Signing keys, per-client limits and `edge sign`: flags, environment, file; bad values get
one line naming the key; the config parser never fails any other way (hypothesis)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classcast.errors import ConfigError
from edge.__main__ import flags, main, parse_args
from edge.config import EdgeConfig, build, load, load_file
from edge.serve.signing import verify
from tests.support.process import ROOT

UP = {"upstreams": ["http://127.0.0.1:8080"]}
KEY_A, KEY_B = "a" * 16 + "-new", "b" * 16 + "-old"


def test_shipped_file_loads_with_the_defaults() -> None:
    config = load(ROOT / "config/edge.toml", {}, {})
    defaults = EdgeConfig()
    for key in ("max_conns_per_client", "rate_per_client", "header_timeout", "idle_timeout"):
        assert getattr(config, key) == getattr(defaults, key)
    assert config.sign_keys == ()


def test_sign_keys_from_repeated_flags_and_from_the_environment() -> None:
    args = parse_args(
        ["serve", "--upstream", "http://o:1", "--sign-key", KEY_A, "--sign-key", KEY_B]
    )
    assert load(None, flags(args), {}).sign_keys == (KEY_A, KEY_B)
    env = {"CLASSCAST_EDGE_SIGN_KEYS": f" {KEY_A}, {KEY_B} ,"}
    assert load(None, {**UP}, env).sign_keys == (KEY_A, KEY_B)


def test_limit_flags_reach_the_config() -> None:
    args = parse_args(
        [
            "serve",
            "--upstream",
            "http://o:1",
            "--max-conns-per-client",
            "0",
            "--rate-per-client",
            "5",
            "--rate-burst-per-client",
            "10",
            "--header-timeout",
            "2.5",
            "--idle-timeout",
            "0",
        ]
    )
    config = load(None, flags(args), {})
    assert (config.max_conns_per_client, config.rate_per_client) == (0, 5.0)
    assert (config.rate_burst_per_client, config.header_timeout, config.idle_timeout) == (
        10.0,
        2.5,
        0.0,
    )


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"max_conns_per_client": -1}, "max_conns_per_client"),
        ({"max_conns_per_client": "many"}, "max_conns_per_client"),
        ({"rate_per_client": -0.5}, "rate_per_client"),
        ({"rate_per_client": "nan"}, "rate_per_client"),
        ({"rate_per_client": 10, "rate_burst_per_client": 0.5}, "rate_burst_per_client"),
        ({"header_timeout": "inf"}, "header_timeout"),
        ({"idle_timeout": -3}, "idle_timeout"),
        ({"sign_keys": ["short"]}, "sign_keys"),
        ({"sign_keys": 7}, "sign_keys"),
    ],
)
def test_bad_security_values_name_their_key(settings: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key}:"):
        build({**UP, **settings})


def test_a_short_key_is_refused_without_echoing_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--upstream", "http://o:1", "--sign-key", "hunter2-secret"]) == 2
    err = capsys.readouterr().err
    assert err == "edge: config error: sign_keys: key 1 is shorter than 16 characters\n"
    assert "hunter2" not in err


def test_edge_sign_prints_a_url_the_edge_accepts() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge",
            "sign",
            "/vod/math-fractions/master.m3u8?x=1",
            "--key",
            KEY_A,
            "--ttl",
            "60",
            "--prefix",
            "/vod/math-fractions/",
            "--client-ip",
            "192.0.2.1",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=30,
    )
    url = run.stdout.strip()
    path, _, query = url.partition("?")
    assert path == "/vod/math-fractions/master.m3u8" and query.startswith("x=1&")
    expires = int(dict(parse_qsl(query))["cc_exp"])
    for p in (path, "/vod/math-fractions/360p/seg_00003.ts"):
        assert verify(p, query, "192.0.2.1", expires - 1, [KEY_B, KEY_A]).ok
    assert verify(path, query, "192.0.2.1", expires, [KEY_A]).status == 410


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["/vod/a/../b", "--key", KEY_A], "edge sign: PATH '/vod/a/../b': path traversal\n"),
        (["/vod/a", "--key", KEY_A, "--prefix", "/live/"], "does not cover '/vod/a'\n"),
        (["/vod/a", "--key", KEY_A, "--prefix", "vod/"], "must start with /\n"),
        (["/vod/a", "--key", KEY_A, "--prefix", "/vod/\n5"], "has a control character\n"),
        (["/vod/a", "--key", KEY_A, "--client-ip", "nowhere"], "is not an IP address\n"),
        (["/vod/a", "--key", KEY_A, "--ttl", "0"], "--ttl must be a positive number"),
        (["/vod/a", "--key", "short"], "shorter than 16 characters\n"),
        (["/vod/a"], "a key is needed"),
    ],
)
def test_edge_sign_refuses_with_one_line(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CLASSCAST_EDGE_SIGN_KEYS", raising=False)
    assert main(["sign", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_edge_sign_takes_the_first_key_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLASSCAST_EDGE_SIGN_KEYS", f"{KEY_A},{KEY_B}")
    assert main(["sign", "/vod/a/x.ts", "--ttl", "5"]) == 0
    query = capsys.readouterr().out.strip().partition("?")[2]
    expires = int(dict(parse_qsl(query))["cc_exp"])
    assert verify("/vod/a/x.ts", query, "::1", expires - 1, [KEY_A]).ok
    assert not verify("/vod/a/x.ts", query, "::1", expires - 1, [KEY_B]).ok


# -- property: whatever the layers hold, the parser gives a config or one ConfigError line
FIELDS = [f.name for f in dataclasses.fields(EdgeConfig)]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=30),
    st.lists(st.text(max_size=20), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(layer=st.dictionaries(st.sampled_from([*FIELDS, "bogus"]), scalars, max_size=6))
def test_property_config_layers_give_a_config_or_one_clear_line(layer: dict[str, Any]) -> None:
    try:
        config = build(UP, layer)
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message
        assert message.split(":")[0] in [*FIELDS, "bogus", "upstreams"]
        return
    assert isinstance(config, EdgeConfig)


@settings(max_examples=200)
@given(text=st.text(max_size=200))
def test_property_any_file_text_gives_settings_or_one_clear_line(
    text: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    file = tmp_path_factory.mktemp("cfg") / "edge.toml"
    file.write_text(text, encoding="utf-8")
    try:
        layer = load_file(file)
    except ConfigError as exc:
        assert str(exc).startswith(f"config file {file}:")
        return
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:  # pragma: no cover - the loader must have refused it
        pytest.fail("invalid TOML was accepted")
    try:
        build(UP, layer)
    except ConfigError as exc:
        assert "\n" not in str(exc)


def test_a_binary_file_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "edge.toml"
    file.write_bytes(b"\x00\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_file(file)
