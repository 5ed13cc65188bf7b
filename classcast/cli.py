"""The command-line side of the one configuration loader (classcast.config): a parser whose
mistakes are one line, and which refuses a single-value flag given twice.

argparse lets a later `--host b` silently replace `--host a`; an operator who meant two
listeners would then serve on one without being told. A flag that takes one value is refused
when repeated; flags meant to repeat say so with `action="append"`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, NoReturn


class StoreOnce(argparse._StoreAction):
    """argparse's plain `store`, refusing a second value for the same destination."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given: set[str] = getattr(parser, "given", set())
        if option_string is not None and self.dest in given:
            parser.error(f"{option_string} given twice (it takes one value)")
        given.add(self.dest)
        setattr(namespace, self.dest, values)


class OneLineParser(argparse.ArgumentParser):
    """Bad flags get one clear line and exit status 2, not a usage dump."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, StoreOnce)
        self.register("action", "store", StoreOnce)
        self.given: set[str] = set()

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self.given = set()
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")
