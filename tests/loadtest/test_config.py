"""The harness reads its settings with the shared loader: `on` means on, and a bad value is
named with its table and where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from classcast.errors import ConfigError
from loadtest.config import DEFAULT_CONFIG, from_sources, load_file

RUN = {"target": "http://edge.test/live/master.m3u8", "viewers": 1, "duration_s": 1.0}


@pytest.mark.parametrize(("word", "progress"), [("on", True), ("yes", True), ("off", False)])
def test_boolean_words_mean_what_they_say(word: str, progress: bool) -> None:
    env = {"CLASSCAST_LOADTEST_PROGRESS": word}
    assert from_sources({}, RUN, environ=env).progress is progress


def test_the_shipped_file_loads() -> None:
    config = from_sources(load_file(DEFAULT_CONFIG), RUN, DEFAULT_CONFIG, environ={})
    assert config.mix == (("stb", 0.8), ("phone", 0.2))
    assert config.session.segment_attempts == 3


def test_file_rules_come_before_flag_rules() -> None:
    values = {"thresholds": {"rules": ["rebuffer_ratio<0.01"]}}
    config = from_sources(values, {**RUN, "thresholds": ["p95(startup_time)<2s"]}, environ={})
    assert config.thresholds == ("rebuffer_ratio<0.01", "p95(startup_time)<2s")


@pytest.mark.parametrize(
    ("values", "env", "message"),
    [
        ({"session": {"segment_attempts": "x"}}, {}, "session.segment_attempts: expected an"),
        ({}, {"CLASSCAST_LOADTEST_VIEWERS": "many"}, "run.viewers: expected an integer"),
        ({"run": {"colour": 1}}, {}, "run.colour: unknown key (in "),
        ({"run": {"mix": "stb=2"}}, {}, "mix: share of 'stb' must be within 0..1"),
    ],
)
def test_a_bad_value_is_one_line_naming_it(
    values: dict[str, dict[str, object]], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        from_sources(values, RUN, Path("run.toml"), environ=env)
    assert str(caught.value).startswith(message)


def test_homes_is_a_network_of_set_top_box_addresses() -> None:
    config = from_sources({}, {**RUN, "homes": "198.18.64.0/20"}, environ={})
    assert config.homes == "198.18.64.0/20"
    with pytest.raises(ConfigError, match="homes"):
        from_sources({}, {**RUN, "homes": "198.18.64.1/20"}, environ={})
