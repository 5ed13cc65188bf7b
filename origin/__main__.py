"""Command line: `python -m origin serve | package | make-sample`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from classcast.cli import OneLineParser as SharedParser
from classcast.errors import ClasscastError
from origin.ladder import DEFAULT_LADDER, parse_ladder
from origin.logs import configure_logging


class OneLineParser(SharedParser):
    """Usage mistakes print one line naming the problem, like every other start-up error."""

    def error(self, message: str) -> NoReturn:
        print(f"origin: {message} (see python -m origin --help)", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m origin", description="classcast HLS origin")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    serve = commands.add_parser("serve", help="serve the lesson library and live channels")
    serve.add_argument("--host")
    serve.add_argument("--port")
    serve.add_argument("--content")
    serve.add_argument("--schedule")
    serve.add_argument("--config", help="TOML file (default config/origin.toml if present)")
    serve.add_argument(
        "--faults",
        action="store_true",
        default=None,
        help="enable the /_faults fault-injection endpoints",
    )
    pack = commands.add_parser("package", help="package a video as a lesson")
    pack.add_argument("video", type=Path)
    pack.add_argument("--lesson", required=True)
    pack.add_argument("--content", type=Path, default=Path("content"))
    pack.add_argument("--title")
    pack.add_argument("--grade", default="", help='groups the lesson in the portal, e.g. "Grade 5"')
    pack.add_argument("--subject", default="", help='e.g. "Math"')
    pack.add_argument("--ladder", help="HEIGHT:VIDEO_KBPS:AUDIO_KBPS,... (default 1080p..240p)")
    pack.add_argument("--force", action="store_true", help="replace an existing lesson")
    sample = commands.add_parser("make-sample", help="(re)make the sample library")
    sample.add_argument("--content", type=Path, default=Path("content"))
    return parser


def run(args: argparse.Namespace) -> None:
    if args.command == "serve":
        from origin.serve import serve_from_args

        serve_from_args(args)
    elif args.command == "package":
        from origin.packager import package

        ladder = parse_ladder(args.ladder) if args.ladder else DEFAULT_LADDER
        folder = package(
            args.video,
            args.lesson,
            args.content,
            args.title,
            ladder,
            args.force,
            grade=args.grade,
            subject=args.subject,
        )
        print(folder)
    else:
        from origin.sample import make_sample

        for folder in make_sample(args.content):
            print(folder)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        run(args)
    except ClasscastError as error:  # a bad setting too
        print(f"origin: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
