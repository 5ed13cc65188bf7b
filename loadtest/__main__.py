"""`python -m loadtest run ...`, `python -m loadtest plan ...`, `python -m loadtest merge ...`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from classcast.errors import ClasscastError
from loadtest import drill
from loadtest.city.cli import run_city
from loadtest.cli import build_parser
from loadtest.config import DEFAULT_CONFIG, RunConfig, from_sources, load_file
from loadtest.errors import ConfigError
from loadtest.merge import merge_command
from loadtest.outcome import report
from loadtest.planner import plan_from_args
from loadtest.progress import ProgressView
from loadtest.runner import run
from loadtest.thresholds import Threshold, parse_threshold

EXIT_OK, EXIT_THRESHOLDS, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["drill"]:  # the outage drill has its own flags (loadtest/drill.py)
        return drill.main(argv[1:])
    try:
        args = build_parser().parse_args(argv)
        if args.command == "plan":
            print(plan_from_args(args))
            return EXIT_OK
        if args.command == "city":
            return _city(args)
        if args.command == "merge":
            return merge_command(args)
        config, rules = configure(args)
    except ConfigError as error:
        print(f"loadtest: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return run_and_report(config, rules)
    except (ClasscastError, OSError) as error:
        print(f"loadtest: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("loadtest: interrupted", file=sys.stderr)
        return EXIT_ERROR


def _city(args: argparse.Namespace) -> int:
    try:
        return run_city(args)
    except ConfigError as error:
        print(f"loadtest: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (ClasscastError, OSError) as error:
        print(f"loadtest: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP: torn down on the way out
        print("loadtest: interrupted; the city is torn down", file=sys.stderr)
        return EXIT_ERROR


def configure(args: argparse.Namespace) -> tuple[RunConfig, list[Threshold]]:
    path = Path(args.config) if args.config else _default_file()
    file_values = load_file(path) if path is not None else {}
    if args.thresholds_file:
        extra = load_file(Path(args.thresholds_file)).get("thresholds", {}).get("rules", [])
        args.threshold = [*extra, *args.threshold]
    overrides: dict[str, Any] = {
        "target": args.target,
        "viewers": args.viewers,
        "duration_s": args.duration,
        "ramp_s": args.ramp,
        "mix": "ll=1" if args.ll else args.mix,
        "processes": args.processes,
        "report_dir": args.report,
        "ndjson": args.ndjson,
        "thresholds": args.threshold,
        "stb_rendition": args.rendition,
        "phone_bandwidth": args.phone_bandwidth,
        "ll_bandwidth": args.ll_bandwidth,
        "progress": False if args.no_progress else None,
        "insecure": True if args.insecure else None,
        "homes": args.homes,
    }
    config = from_sources(file_values, overrides, path)
    rules = [parse_threshold(text) for text in config.thresholds]
    return config, rules


def _default_file() -> Path | None:
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def run_and_report(config: RunConfig, rules: list[Threshold]) -> int:
    with ProgressView(config.viewers, config.duration_s, config.progress) as view:
        result = run(config, view.publish)
    return report(config, result, rules)


if __name__ == "__main__":
    sys.exit(main())
