"""Locust stays optional: the asyncio runner never imports it, and the locustfile runs the same
models when it is installed (in a subprocess: gevent's monkey-patching stays out of pytest)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.loadtest.fake_hls import FakeHls, serve_in_thread
from tests.support.process import ROOT


def test_the_asyncio_runner_never_imports_locust() -> None:
    code = "import sys, loadtest.__main__, loadtest.runner; print('locust' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="locust extra not installed")
def test_locust_users_play_against_a_server(tmp_path: Path) -> None:
    fake = FakeHls()
    with serve_in_thread(fake.app()) as base:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "CLASSCAST_TARGET": "/live/grade-5/master.m3u8",
        }
        command = [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest" / "locustfile.py"),
                   "--headless", "-u", "4", "-r", "4", "-t", "4s", "--host", base,
                   "--csv", str(tmp_path / "run"), "--only-summary"]  # fmt: skip
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=60, cwd=ROOT
        )
    stats = (tmp_path / "run_stats.csv").read_text()
    assert ",segment," in stats and ",playlist," in stats, done.stderr[-2000:]
    assert fake.by_kind()["segment"] > 0
