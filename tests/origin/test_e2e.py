"""The origin as a real process: ready, serving a live playlist, clean exit on SIGTERM."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import m3u8
import pytest

from tests.support.process import run_service, stop

pytestmark = pytest.mark.e2e


def test_serve_live_and_stop(tmp_path: Path) -> None:
    log_path = tmp_path / "origin.log"
    args = ["--content", "content", "--schedule", "config/schedule.toml", "--faults"]
    with run_service("origin", args, log_path) as service:
        with urllib.request.urlopen(service.url + "/live/grade-10/360p/index.m3u8") as answer:
            playlist = m3u8.loads(answer.read().decode())
            assert answer.headers["Cache-Control"] == "public, max-age=2"
        assert len(playlist.segments) == 6
        assert playlist.segments[0].uri.startswith("/vod/")
        with urllib.request.urlopen(service.url + "/_faults") as answer:
            assert answer.status == 200
        assert stop(service.process) == 0
    assert '"msg":"stopped"' in service.log()
