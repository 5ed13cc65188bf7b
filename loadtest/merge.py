"""`python -m loadtest merge DIR... --report OUT`: one report from several independent runs
(several generator machines without Locust). Histograms are merged bucket by bucket, so the
merged percentiles are those of the union of the runs' samples, never an average of theirs.
Runs are aligned by time since each started; thresholds are those given, else the runs' own."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

from loadtest.config import RunConfig
from loadtest.errors import ConfigError
from loadtest.outcome import report, result_from_raw
from loadtest.runner import RunResult
from loadtest.selfcheck import Limits
from loadtest.thresholds import parse_threshold


def read_summary(directory: Path) -> dict[str, Any]:
    path = directory / "summary.json"
    try:
        summary: dict[str, Any] = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (give the --report directory of a run)") from None
    except orjson.JSONDecodeError as error:
        raise ConfigError(f"{path}: not JSON ({error})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("raw"), dict):
        raise ConfigError(f"{path}: has no histograms to merge (written by an older harness?)")
    return summary


def merge_runs(summaries: list[dict[str, Any]]) -> RunResult:
    merged: RunResult | None = None
    for summary in summaries:
        result = result_from_raw(summary["raw"])
        if merged is None:
            merged = result
        else:
            merged.stats.merge(result.stats)
            merged.workers.extend(result.workers)
    assert merged is not None
    return merged


def merged_config(summaries: list[dict[str, Any]], rules: tuple[str, ...], out: Path) -> RunConfig:
    viewers = sum(int(s["viewers"]) for s in summaries)
    mix: dict[str, float] = {}
    for summary in summaries:  # each run's shares, weighted by its viewers
        for name, share in summary["mix"].items():
            mix[name] = mix.get(name, 0.0) + share * int(summary["viewers"]) / viewers
    targets = sorted({str(s["target"]) for s in summaries})
    raw = summaries[0]["raw"]
    return RunConfig(
        target=targets[0] if len(targets) == 1 else " ".join(targets),
        viewers=viewers,
        duration_s=max(float(s["duration_s"]) for s in summaries),
        ramp_s=max(float(s["ramp_s"]) for s in summaries),
        mix=tuple(mix.items()),
        processes=sum(int(s["processes"]) for s in summaries),
        report_dir=out,
        thresholds=rules,
        sample_interval_s=float(raw["sample_interval_s"]),
        limits=Limits(**raw["limits"]),
    )


def merge_command(args: argparse.Namespace) -> int:
    summaries = [read_summary(Path(directory)) for directory in args.runs]
    intervals = {s["raw"]["sample_interval_s"] for s in summaries}
    if len(intervals) > 1:
        raise ConfigError(
            f"runs sampled at different intervals ({sorted(intervals)}): not mergeable"
        )
    texts = tuple(args.threshold) or tuple(
        dict.fromkeys(v["rule"] for s in summaries for v in s.get("thresholds", []))
    )
    rules = [parse_threshold(text) for text in texts]
    try:
        config = merged_config(summaries, texts, Path(args.report))
        result = merge_runs(summaries)
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(
            f"a summary.json is malformed ({type(error).__name__}: {error})"
        ) from None
    return report(config, result, rules)
