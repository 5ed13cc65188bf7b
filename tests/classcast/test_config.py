"""The one config loader: its coercion table (each kind of value, each kind of bad input and
the message it gets), the layers' order, and where a bad value is said to come from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import pytest

from classcast.config import (
    SECRET,
    Bytes,
    build,
    coerce,
    env_layer,
    file_layer,
    flag_layer,
    flatten,
    read_toml,
)
from classcast.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    name: str = "a"
    count: int = 1
    ratio: float = 0.5
    enabled: bool = False
    folder: Path = Path("x")
    budget: Bytes = 1024
    tags: tuple[str, ...] = ()
    level: Literal["debug", "info"] = "info"
    seed: int | None = None
    report: Path | None = None


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        ("name", "b", "b"),
        ("count", 7, 7),
        ("count", "42", 42),
        ("count", " 42 ", 42),
        ("ratio", 2, 2.0),
        ("ratio", "0.25", 0.25),
        ("enabled", True, True),
        ("enabled", "on", True),
        ("enabled", "YES", True),
        ("enabled", "1", True),
        ("enabled", "off", False),
        ("enabled", "false", False),
        ("enabled", "0", False),
        ("enabled", 1, True),
        ("enabled", 0, False),
        ("folder", "var/cache", Path("var/cache")),
        ("budget", 4096, 4096),
        ("budget", "64MiB", 64 * 1024**2),
        ("budget", "1.5GiB", int(1.5 * 1024**3)),
        ("budget", "10GB", 10**10),
        ("tags", ["a", " b "], ("a", "b")),
        ("tags", "a, b,", ("a", "b")),
        ("tags", "", ()),
        ("level", "debug", "debug"),
        ("seed", "none", None),
        ("seed", "7", 7),
        ("report", "none", Path("none")),  # a path may be called none
    ],
)
def test_coercion_table(key: str, raw: object, value: object) -> None:
    assert getattr(build(Settings, {key: raw}), key) == value


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("name", 5, "name: expected a string, got 5"),
        ("count", "many", "count: expected an integer, got 'many'"),
        ("count", 80.5, "count: expected an integer, got 80.5"),
        ("count", True, "count: expected an integer, got True"),
        ("count", "9" * 5000, "count: expected an integer, got '99999"),
        ("ratio", "soon", "ratio: expected a number, got 'soon'"),
        ("ratio", "nan", "ratio: expected a finite number, got 'nan'"),
        ("ratio", "inf", "ratio: expected a finite number, got 'inf'"),
        ("ratio", False, "ratio: expected a number, got False"),
        ("enabled", "maybe", "enabled: expected a boolean (true/false, yes/no, on/off, 1/0)"),
        ("enabled", 2, "enabled: expected a boolean"),
        ("enabled", 1.0, "enabled: expected a boolean"),
        ("folder", 3, "folder: expected a path, got 3"),
        ("budget", "lots", "budget: expected a size such as 512MiB or 10GB, got 'lots'"),
        ("budget", 0, "budget: must be positive, got 0"),
        ("budget", "5XB", "budget: expected a size such as 512MiB or 10GB"),
        ("tags", 7, "tags: expected a list of strings, got 7"),
        ("level", "loud", "level: must be one of debug, info, got 'loud'"),
        ("seed", "soon", "seed: expected an integer, got 'soon'"),
        ("colour", "blue", "colour: unknown key"),
    ],
)
def test_bad_values_get_one_line_naming_the_key(key: str, raw: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build(Settings, {key: raw})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert caught.value.key == key


def test_layers_merge_later_wins_and_none_is_not_given(tmp_path: Path) -> None:
    file = tmp_path / "s.toml"
    file.write_text('name = "file"\ncount = 2\nratio = 0.1\n')
    env = {"CLASSCAST_TEST_COUNT": "3", "CLASSCAST_TEST_RATIO": "0.2", "HOME": "/x"}
    settings = build(
        Settings,
        file_layer(file, read_toml(file)),
        env_layer(env, "CLASSCAST_TEST_"),
        flag_layer({"ratio": "0.3", "name": None}),
    )
    assert (settings.name, settings.count, settings.ratio) == ("file", 3, 0.3)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("file", "count: expected an integer, got 'x' (in {file})"),
        ("env", "count: expected an integer, got 'x' (from CLASSCAST_TEST_COUNT)"),
        ("flag", "count: expected an integer, got 'x'"),
    ],
)
def test_a_bad_value_says_where_it_came_from(tmp_path: Path, source: str, message: str) -> None:
    file = tmp_path / "s.toml"
    file.write_text('count = "x"\n')
    layer = {
        "file": file_layer(file, read_toml(file)),
        "env": env_layer({"CLASSCAST_TEST_COUNT": "x"}, "CLASSCAST_TEST_"),
        "flag": flag_layer({"count": "x"}),
    }[source]
    with pytest.raises(ConfigError) as caught:
        build(Settings, layer)
    assert str(caught.value) == message.format(file=file)


def test_unknown_variables_are_named() -> None:
    with pytest.raises(ConfigError, match=r"^colour: unknown key \(from CLASSCAST_TEST_COLOUR\)$"):
        build(Settings, env_layer({"CLASSCAST_TEST_COLOUR": "blue"}, "CLASSCAST_TEST_"))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\xff\xfe not utf-8", "not UTF-8 text"),
        (b"count = = 1", "Invalid value"),
        (None, "No such file or directory"),
    ],
)
def test_a_bad_file_is_one_line(tmp_path: Path, content: bytes | None, problem: str) -> None:
    file = tmp_path / "s.toml"
    if content is not None:
        file.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        read_toml(file)
    assert str(caught.value).startswith(f"config file {file}: {problem}")
    assert "\n" not in str(caught.value)


def test_sections_that_only_group_keys_flatten() -> None:
    assert flatten({"a": 1, "server": {"port": 2, "deep": {"b": 3}}}) == {
        "a": 1,
        "port": 2,
        "b": 3,
    }


def test_coerce_names_the_key_it_is_given() -> None:
    with pytest.raises(ConfigError, match=r"^session\.count: expected an integer"):
        coerce("session.count", int, "x")


@dataclass(frozen=True)
class Keys:
    token: Annotated[str, SECRET] = ""
    keys: Annotated[tuple[str, ...], SECRET] = ()


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("token", 12345678901234567, "token: expected a string, got a value not shown"),
        ("keys", 12345678901234567, "keys: expected a list of strings, got a value not shown"),
    ],
)
def test_a_secret_is_never_repeated(key: str, raw: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build(Keys, {key: raw})
    assert str(caught.value) == message
    assert build(Keys, {"token": "t" * 16, "keys": "a,b"}) == Keys("t" * 16, ("a", "b"))
