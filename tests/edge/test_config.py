"""Configuration: every bad value stops the edge with one line naming its key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from classcast.config import parse_size
from classcast.errors import ConfigError
from edge.__main__ import main
from edge.config import build, load, usable_cpus
from tests.support.process import ROOT

UP = {"upstreams": ["http://127.0.0.1:8080"]}


def test_layers_merge_and_coerce(tmp_path: Path) -> None:
    file = tmp_path / "edge.toml"
    file.write_text('[cache]\nram_bytes = "64MiB"\n[server]\nport = 9000\n')
    config = load(
        file, {"port": 9100, "upstreams": ("http://o:1",)}, {"CLASSCAST_EDGE_RETRIES": "5"}
    )
    assert (config.ram_bytes, config.port, config.retries) == (64 * 1024**2, 9100, 5)
    assert config.node_id.startswith("classcast-edge-")  # unique per node by default


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"upstreams": []}, "upstreams"),
        ({"upstreams": ["ftp://x"]}, "upstreams"),
        ({"upstreams": ["http://[::1"]}, "upstreams"),
        ({"upstreams": ["http://h:99999"]}, "upstreams"),
        ({**UP, "port": 70000}, "port"),
        ({**UP, "port": "eighty"}, "port"),
        ({**UP, "ram_bytes": "lots"}, "ram_bytes"),
        ({**UP, "ram_bytes": 0}, "ram_bytes"),
        ({**UP, "connect_timeout": "nan"}, "connect_timeout"),
        ({**UP, "read_timeout": "inf"}, "read_timeout"),
        ({**UP, "max_open_files": 0}, "max_open_files"),
        ({**UP, "log_level": "loud"}, "log_level"),
        ({**UP, "node_id": "a b"}, "node_id"),
        ({**UP, "access_log": "maybe"}, "access_log"),
        ({**UP, "colour": "blue"}, "colour"),
        ({**UP, "workers": 0}, "workers"),
        ({**UP, "workers": "-2"}, "workers"),
        ({**UP, "workers": "many"}, "workers"),
        ({**UP, "workers": True}, "workers"),
    ],
)
def test_bad_values_name_their_key(settings: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key}:"):
        build(settings)


def test_workers_are_a_count_or_auto_one_per_usable_cpu() -> None:
    assert build({**UP}).workers == 1  # no supervisor unless asked
    assert build({**UP, "workers": "3"}).workers == 3
    assert build({**UP, "workers": "auto"}).workers == usable_cpus()
    assert 1 <= usable_cpus() <= len(os.sched_getaffinity(0))
    assert load(ROOT / "config/edge.toml", {}, {}).workers == usable_cpus()
    assert load(ROOT / "config/edge.toml", {}, {"CLASSCAST_EDGE_WORKERS": "2"}).workers == 2


def test_sizes() -> None:
    assert parse_size("1.5GiB") == int(1.5 * 1024**3)
    assert parse_size(4096) == 4096
    assert parse_size("10GB") == 10**10


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\xff\xfe not utf-8", "not UTF-8"), (b"port = = 1", "config file"), (None, "No such file")],
)
def test_a_bad_config_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    file = tmp_path / "edge.toml"
    if content is not None:
        file.write_bytes(content)
    assert main(["serve", "--config", str(file), "--upstream", "http://o:1"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
