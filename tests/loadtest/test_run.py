"""Whole runs of the harness against the in-test HLS server on loopback."""

from __future__ import annotations

import html.parser
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest.__main__ import main
from tests.loadtest.fake_hls import FakeHls, serve_in_thread


@pytest.fixture
def server() -> Iterator[tuple[FakeHls, str]]:
    fake = FakeHls()
    with serve_in_thread(fake.app()) as url:
        yield fake, url


def run(url: str, tmp_path: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    report = tmp_path / "report"
    code = main(
        [
            "run",
            "--target",
            url,
            "--viewers",
            "12",
            "--duration",
            "4",
            "--ramp",
            "0.5",
            "--report",
            str(report),
            "--no-progress",
            *extra,
        ]
    )
    summary = json.loads((report / "summary.json").read_text()) if report.exists() else {}
    return code, summary


def test_live_run_counts_agree_with_the_server(server: tuple[FakeHls, str], tmp_path: Path) -> None:
    fake, base = server
    log = tmp_path / "requests.ndjson"
    code, summary = run(
        base + "/live/grade-5/master.m3u8",
        tmp_path,
        "--mix",
        "stb=0.5,phone=0.5",
        "--ndjson",
        str(log),
        "--threshold",
        "rebuffer_ratio<0.05",
        "--threshold",
        "p95(startup_time)<2s",
    )
    assert code == 0, summary["thresholds"]
    counted = {kind: values["count"] for kind, values in summary["requests"].items()}
    assert counted == dict(fake.by_kind())
    assert counted["master"] >= 12  # every session fetched its master playlist
    assert len(log.read_text().splitlines()) == sum(counted.values())
    assert set(summary["cohorts"]) == {"stb", "phone"}
    assert summary["cohorts"]["stb"]["start_failures"] == 0
    assert summary["requests"]["segment"]["x_cache"].get("HIT", 0) > 0
    assert summary["timeline"] and not summary["generator"]["bound"]


def test_vod_sessions_restart_when_the_lesson_ends(
    server: tuple[FakeHls, str], tmp_path: Path
) -> None:
    fake, base = server
    fake.vod_segments = 2
    code, summary = run(base + "/vod/lesson-1/master.m3u8", tmp_path, "--mix", "stb=1")
    assert code == 0
    assert summary["cohorts"]["stb"]["sessions"] > 12  # 2 s lessons in a 4 s run
    assert summary["cohorts"]["stb"]["rebuffers"] == 0
    assert {k: v["count"] for k, v in summary["requests"].items()} == dict(fake.by_kind())


def test_a_threshold_breach_gives_a_non_zero_exit(
    server: tuple[FakeHls, str], tmp_path: Path
) -> None:
    _, base = server
    code, summary = run(
        base + "/live/grade-5/master.m3u8", tmp_path, "--threshold", "p50(startup_time)<1ms"
    )
    assert code == 1
    assert summary["passed"] is False
    assert summary["thresholds"][0]["passed"] is False


def test_two_processes_merge_their_counts(server: tuple[FakeHls, str], tmp_path: Path) -> None:
    fake, base = server
    code, summary = run(base + "/live/grade-5/master.m3u8", tmp_path, "--processes", "2")
    assert code == 0
    assert {k: v["count"] for k, v in summary["requests"].items()} == dict(fake.by_kind())
    assert len(summary["generator"]["workers"]) == 2


class ExternalReferences(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.found.append(tag)
        self.found += [f"{tag}[{name}]" for name, _ in attrs if name in ("src", "href", "srcset")]


def test_html_report_needs_no_network(server: tuple[FakeHls, str], tmp_path: Path) -> None:
    _, base = server
    code, _ = run(base + "/live/grade-5/master.m3u8", tmp_path)
    assert code == 0
    page = (tmp_path / "report" / "report.html").read_text()
    parser = ExternalReferences()
    parser.feed(page)
    assert parser.found == []
    assert "url(" not in page and "@import" not in page
    assert page.count("<svg") >= 6  # viewers, throughput, TTFB, rebuffer, bitrate mix, cache hits


def test_unreachable_target_is_start_failures_not_a_crash(tmp_path: Path) -> None:
    config = tmp_path / "loadtest.toml"
    config.write_text("[session]\nstart_timeout_s = 0.5\nretry_delay_s = 0.1\n")
    code = main(
        [
            "run",
            "--target",
            "http://127.0.0.1:9/live/x/master.m3u8",
            "--viewers",
            "2",
            "--duration",
            "1.5",
            "--no-progress",
            "--threshold",
            "start_failure_ratio<0.5",
            "--report",
            str(tmp_path),
            "--config",
            str(config),
        ]
    )
    assert code == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["overall"]["start_failures"] >= 2
    assert summary["requests"]["master"]["statuses"] == {
        "0": summary["requests"]["master"]["count"]
    }
