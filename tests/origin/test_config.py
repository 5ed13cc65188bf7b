"""Config: file, environment, flags, and one clear line for a bad value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from origin.config import OriginConfig, load_config
from origin.errors import ConfigError

from .conftest import ROOT


def test_shipped_file_holds_the_defaults() -> None:
    assert load_config(ROOT / "config/origin.toml", {}, {}) == OriginConfig()


def test_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    file = tmp_path / "origin.toml"
    file.write_text('port = 9000\nlive_window = 8\nhost = "0.0.0.0"\n')
    env = {"CLASSCAST_ORIGIN_PORT": "9100", "CLASSCAST_ORIGIN_FAULTS": "true", "HOME": "/x"}
    config = load_config(file, env, {"port": "9200", "host": None})
    assert (config.port, config.live_window, config.host, config.faults) == (
        9200,
        8,
        "0.0.0.0",
        True,
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"port": 70000}, "port: must be 1..65535"),
        ({"port": "http"}, "port: expected an integer, got 'http'"),
        ({"port": 80.5}, "port: expected an integer"),
        ({"live_window": 3}, r"live_window: must be >= 4 segments \(RFC 8216 6.2.2\)"),
        ({"faults": "maybe"}, "faults: expected a boolean"),
        ({"segment_max_age": -1}, "segment_max_age: must be >= 0"),
        ({"log_level": "loud"}, "log_level: must be one of"),
        ({"page_max_age": 61}, r"page_max_age: must be 0..60 seconds \(got 61\)"),
        ({"colour": "blue"}, "colour: unknown key"),
    ],
)
def test_bad_values_name_the_key(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, {}, values)


def test_bad_env_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match="rescan_interval: expected a number"):
        load_config(None, {"CLASSCAST_ORIGIN_RESCAN_INTERVAL": "soon"}, {})


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--port", "nope"], "origin: port: expected an integer, got 'nope'"),
        (["--content", "/nonexistent"], "origin: content directory /nonexistent does not exist"),
        (["--schedule", "/nonexistent.toml"], "origin: schedule /nonexistent.toml: no such file"),
        (["--bogus"], "origin: unrecognized arguments: --bogus (see python -m origin --help)"),
    ],
)
def test_serve_refuses_bad_start_up_with_one_line(args: list[str], line: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "origin", "serve", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode != 0
    assert done.stderr.strip() == line
