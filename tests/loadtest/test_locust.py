"""Locust stays optional: the asyncio runner never imports it. With the extra installed, the
locustfile runs the harness's viewers, locally or as a master with two workers on loopback
(real processes), and the master writes the same report and exit status as `loadtest run`."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.loadtest.fake_hls import FakeHls, serve_in_thread
from tests.support.process import ROOT, free_port

LOCUSTFILE = str(ROOT / "loadtest" / "locustfile.py")
needs_locust = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None, reason="locust extra not installed"
)


def test_the_asyncio_runner_never_imports_locust() -> None:
    code = "import sys, loadtest.__main__, loadtest.runner; print('locust' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "False"


def locust_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "CLASSCAST_TARGET": "/live/grade-5/master.m3u8"}


def distributed_run(base: str, report: Path, seconds: int, *rules: str) -> tuple[int, str]:
    """A master and two workers, all on loopback; returns the master's status and output."""
    port = free_port()
    thresholds = [arg for rule in rules for arg in ("--threshold", rule)]
    master = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            LOCUSTFILE,
            "--master",
            "--headless",
            "--expect-workers",
            "2",
            "-u",
            "6",
            "-r",
            "6",
            "-t",
            f"{seconds}s",
            "--host",
            base,
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--report",
            str(report),
            "--csv",
            str(report.parent / f"{report.name}-locust"),
            *thresholds,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=locust_env(),
        cwd=ROOT,
    )
    logs = [(report.parent / f"{report.name}-worker{n}.log").open("w") for n in range(2)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                LOCUSTFILE,
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=locust_env(),
            cwd=ROOT,
        )
        for log in logs
    ]
    try:
        out, _ = master.communicate(timeout=seconds + 60)
    finally:
        processes: list[subprocess.Popen[Any]] = [master, *workers]
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        for log in logs:
            log.close()
    return master.returncode, out


def read(report: Path) -> dict[str, Any]:
    return dict(json.loads((report / "summary.json").read_text()))


@needs_locust
def test_a_master_and_two_workers_report_like_loadtest_run(tmp_path: Path) -> None:
    fake = FakeHls()
    with serve_in_thread(fake.app()) as base:
        code, out = distributed_run(
            base, tmp_path / "ok", 6, "start_failure_ratio==0", "requests.segment>0"
        )
        served = dict(fake.by_kind())
        failing, _ = distributed_run(base, tmp_path / "no", 3, "requests.segment>1000000")
    assert code == 0, out[-3000:]
    summary = read(tmp_path / "ok")
    assert (tmp_path / "ok" / "report.html").exists()
    assert len(summary["generator"]["workers"]) == 2  # both workers' statistics, merged
    assert summary["viewers"] == 6 and set(summary["cohorts"]) <= {"stb", "phone"}
    counted = {kind: values["count"] for kind, values in summary["requests"].items()}
    for kind, count in served.items():  # a request cut at the stop is served, not counted
        assert served[kind] - 12 <= counted[kind] <= count, (counted, served)
    assert counted["master"] >= 6 and counted["segment"] > 0
    table = locust_rows(tmp_path / "ok-locust_stats.csv")  # the workers' rows, on the master
    assert 0 < table["segment"][0] <= counted["segment"], (table, counted)
    assert 6 <= table["master"][0] <= counted["master"]
    assert summary["cohorts"]["stb"]["sessions"] >= 1
    assert [v["passed"] for v in summary["thresholds"]] == [True, True]
    assert failing == 1  # a failed threshold is the exit status, as with loadtest run
    assert read(tmp_path / "no")["thresholds"][0]["passed"] is False


@needs_locust
def test_a_local_locust_run_writes_the_report(tmp_path: Path) -> None:
    fake = FakeHls()
    with serve_in_thread(fake.app()) as base:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                LOCUSTFILE,
                "--headless",
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "4s",
                "--host",
                base,
                "--report",
                str(tmp_path / "r"),
                "--only-summary",
                "--csv",
                str(tmp_path / "locust"),
            ],
            capture_output=True,
            text=True,
            env=locust_env(),
            timeout=60,
            cwd=ROOT,
        )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = read(tmp_path / "r")
    assert summary["requests"]["segment"]["count"] > 0
    assert summary["requests"]["segment"]["count"] <= fake.by_kind()["segment"]
    # Locust's own statistics show the same requests, one row per kind: the final table
    # (--only-summary) all of them, the CSV (written each second) those of its last write
    counted = {kind: values["count"] for kind, values in summary["requests"].items()}
    printed = summary_rows(done.stdout + done.stderr)
    assert printed == counted, (done.stdout + done.stderr)[-3000:]
    table = locust_rows(tmp_path / "locust_stats.csv")
    assert 0 < table["segment"][0] <= counted["segment"] and table["segment"][1] > 0
    assert 0 < table["Aggregated"][0] <= sum(counted.values())


def summary_rows(out: str) -> dict[str, int]:
    """Locust's printed request table: name -> requests (`GET  segment  24  0(0.00%) | ...`)."""
    rows = re.findall(r"^GET\s+(\S+)\s+(\d+)\s", out, re.MULTILINE)
    found: dict[str, int] = {}
    for name, count in rows:  # the request table comes first, then the percentiles
        found.setdefault(name, int(count))
    return found


def locust_rows(path: Path) -> dict[str, tuple[int, float]]:
    """Locust's --csv stats: name -> (request count, average content size)."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return {
        row["Name"]: (int(row["Request Count"]), float(row["Average Content Size"])) for row in rows
    }


@needs_locust
def test_a_bad_threshold_stops_locust_with_one_line_and_status_2() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            LOCUSTFILE,
            "--headless",
            "-u",
            "1",
            "-t",
            "1s",
            "--host",
            "http://127.0.0.1:9",
            "--threshold",
            "p95(bogus)<1",
        ],
        capture_output=True,
        text=True,
        env=locust_env(),
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "classcast" in line]
    assert errors == ["classcast: error: threshold 'p95(bogus)<1': unknown metric 'bogus'"]
    assert "Traceback" not in done.stderr
