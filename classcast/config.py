"""One way to configure a service (STYLE 3): a TOML file, then `CLASSCAST_<SERVICE>_<KEY>`
variables, then command-line flags, into the service's frozen dataclass.

Each value is coerced by the type of its field through one table (`coerce`), so `on` means
the same to every service, and a bad value raises the one ConfigError shape: the key, the
problem, and the file or variable it came from. Rules between keys stay with each service.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from classcast.errors import ConfigError

T = TypeVar("T")
Parser = Callable[[object], object]  # raises ValueError with the problem, worded for a person
Source = Literal["file", "env", "flag", "value"]

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
SIZE_UNITS = {
    "": 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
    "TIB": 1024**4,
}


def parse_size(value: object) -> int:
    """A positive byte count: 4096, "512MiB" or "10GB"."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(value))
        if not match or match.group(2).upper() not in SIZE_UNITS:
            raise ValueError(f"expected a size such as 512MiB or 10GB, got {value!r}")
        size = int(float(match.group(1)) * SIZE_UNITS[match.group(2).upper()])
    if size <= 0:
        raise ValueError(f"must be positive, got {value!r}")
    return size


Bytes = Annotated[int, parse_size]  # a field of this type takes sizes with units


class Secret:
    """Marks a key or token, `Annotated[str, SECRET]`: a refusal never repeats its value."""


SECRET = Secret()


@dataclass(frozen=True, slots=True)
class Layer:
    """One source of settings; a later layer wins, and None means "not given"."""

    values: Mapping[str, object]
    source: Source = "value"
    where: str = ""  # the file's path, or the variables' prefix

    def origin_of(self, key: str) -> str:
        """Where a key's value came from, as an error names it ("" for flags and values)."""
        if self.source == "file":
            return f"in {self.where}"
        if self.source == "env":
            return f"from {self.where}{key.upper()}"
        return ""


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))  # no newline translation
    except OSError as exc:
        problem = exc.strerror or str(exc)
    except UnicodeDecodeError:
        problem = "not UTF-8 text"
    except tomllib.TOMLDecodeError as exc:
        problem = str(exc)
    raise ConfigError(f"config file {path}: {problem}", source=str(path))


def flatten(table: Mapping[str, Any]) -> dict[str, Any]:
    """For files whose sections only group keys: [cache] ram_bytes is the key ram_bytes."""
    flat: dict[str, Any] = {}
    for name, value in table.items():
        flat.update(flatten(value) if isinstance(value, Mapping) else {name: value})
    return flat


def file_layer(path: Path, values: Mapping[str, object]) -> Layer:
    return Layer(values, "file", str(path))


def env_layer(environ: Mapping[str, str], prefix: str) -> Layer:
    """`<prefix><KEY>` variables, as lower-case keys."""
    return Layer(env_values(environ, prefix), "env", prefix)


def env_values(environ: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {
        name.removeprefix(prefix).lower(): value
        for name, value in environ.items()
        if name.startswith(prefix)
    }


def flag_layer(flags: Mapping[str, object]) -> Layer:
    return Layer(flags, "flag")


def build(kind: type[T], *layers: Layer | Mapping[str, object], section: str = "") -> T:
    """Merge the layers over `kind`'s defaults, each value coerced by its field's type.

    `section` prefixes the key in messages (a loadtest [session] key is `session.<key>`).
    """
    hints = get_type_hints(kind, include_extras=True)
    known = {field.name for field in dataclasses.fields(kind)}  # type: ignore[arg-type]
    values: dict[str, object] = {}
    for layer in layers:
        layer = layer if isinstance(layer, Layer) else Layer(layer)
        for key, raw in layer.values.items():
            if raw is None:
                continue
            name = f"{section}.{key}" if section else key
            if key not in known:
                raise ConfigError.for_key(name, "unknown key", layer.origin_of(key))
            values[key] = coerce(name, hints[key], raw, layer.origin_of(key))
    return kind(**values)


def coerce(key: str, kind: object, raw: object, source: str = "") -> object:
    """`raw` as a value of type `kind`, or the one ConfigError naming `key` and `source`."""
    try:
        return _convert(kind, raw)
    except ConfigError:
        raise
    except (ValueError, OverflowError) as exc:  # a TypeError is a bug here, not a bad value
        raise ConfigError.for_key(key, str(exc), source) from None


def _convert(kind: object, raw: object) -> object:
    origin = get_origin(kind)
    if origin is Annotated:
        marker = kind.__metadata__[0]  # type: ignore[attr-defined]
        if marker is SECRET:
            return _hidden(get_args(kind)[0], raw)
        parser: Parser = marker
        return parser(raw)
    if origin is Literal:
        return _choice(get_args(kind), raw)
    if origin in (Union, types.UnionType):
        return _optional(kind, raw)
    if origin is tuple:
        return _strings(raw)
    if dataclasses.is_dataclass(kind):
        raise ValueError("is a table of its own, not a value")
    convert = _SCALARS.get(kind)
    if convert is None:
        raise TypeError(f"no coercion for {kind!r}")  # a field type this table does not know
    return convert(raw)


def _hidden(kind: object, raw: object) -> object:
    try:
        return _convert(kind, raw)
    except ValueError as exc:  # SECURITY.md: an error names a secret's key, never its value
        raise ValueError(str(exc).replace(repr(raw), "a value not shown")) from None


def _choice(choices: tuple[object, ...], raw: object) -> object:
    if raw in choices:
        return raw
    raise ValueError(f"must be one of {', '.join(map(str, choices))}, got {raw!r}")


def _optional(kind: object, raw: object) -> object:
    """`X | None`: "none" means None, unless X is text (a path may be called none)."""
    inner = next(arg for arg in get_args(kind) if arg is not type(None))
    if isinstance(raw, str) and raw.lower() == "none" and inner not in (str, Path):
        return None
    return _convert(inner, raw)


def _strings(raw: object) -> tuple[str, ...]:
    """A list, or one string of comma-separated items (how a variable or flag gives a list)."""
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise ValueError(f"expected a list of strings, got {raw!r}")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower() if isinstance(raw, str | int) else ""
    if word in TRUE | FALSE:  # 1 and 0 as numbers too, as they are words
        return word in TRUE
    raise ValueError(f"expected a boolean (true/false, yes/no, on/off, 1/0), got {raw!r}")


def _int(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw, 10)
        except ValueError:
            pass
    raise ValueError(f"expected an integer, got {raw!r}")


def _float(raw: object) -> float:
    if isinstance(raw, int | float | str) and not isinstance(raw, bool):
        try:
            number = float(raw)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
            raise ValueError(f"expected a finite number, got {raw!r}")
    raise ValueError(f"expected a number, got {raw!r}")


def _str(raw: object) -> str:
    if isinstance(raw, str):
        return raw
    raise ValueError(f"expected a string, got {raw!r}")


def _path(raw: object) -> Path:
    if isinstance(raw, str | Path):
        return Path(raw)
    raise ValueError(f"expected a path, got {raw!r}")


_SCALARS: dict[object, Callable[[object], object]] = {
    bool: _bool,
    int: _int,
    float: _float,
    str: _str,
    Path: _path,
}
