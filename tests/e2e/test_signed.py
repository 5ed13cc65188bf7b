"""Signed URLs through real origin and edge processes: each bad token's status, one cached
copy for every token, no token upstream, and a signed master that plays to the end in ffmpeg."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from edge.serve.signing import Token, sign
from tests.e2e.conftest import CONTENT
from tests.support.process import ROOT, SAMPLE_ORIGIN, Service, run_service
from tests.support.recording_upstream import Answer, RecordingUpstream, recording_upstream
from tests.support.wait import until_sync

pytestmark = pytest.mark.e2e
NEW_KEY, OLD_KEY = "new-key-0123456789abcdef", "old-key-0123456789abcdef"
LESSON = "/vod/math-fractions/"


@dataclass
class Signed:
    origin: Service
    edge: Service
    recorder: RecordingUpstream
    recorded_edge: Service

    def origin_hits(self, path: str) -> int:
        stats = json.loads(urllib.request.urlopen(self.origin.url + "/_stats").read())
        return int(stats["requests"].get(path, 0))


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def token(scope: str, ttl: int = 300, key: str = NEW_KEY, client: str = "") -> str:
    return sign(Token(scope, scope.endswith("/"), int(time.time()) + ttl, client), key)


def cli_sign(path: str, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "edge", "sign", path, "--key", NEW_KEY, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=30,
    ).stdout.strip()


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    logs = tmp_path_factory.mktemp("signed-logs")
    keys = ["--sign-key", NEW_KEY, "--sign-key", OLD_KEY]
    with (
        run_service("origin", SAMPLE_ORIGIN, logs / "origin.log") as origin,
        run_service("edge", ["--upstream", origin.url, *keys], logs / "edge.log") as edge,
        recording_upstream() as recorder,
        run_service("edge", ["--upstream", recorder.url, *keys], logs / "edge2.log") as second,
    ):
        yield Signed(origin, edge, recorder, second)


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("", 403, "missing token"),
        (
            "cc_exp=9999999999&cc_sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            403,
            "bad token signature",
        ),
        ("cc_exp=soon&cc_sig=x", 403, "bad token expiry"),
    ],
)
def test_missing_and_bad_tokens_are_403_with_a_one_line_reason(
    signed: Signed, query: str, status: int, reason: str
) -> None:
    path = LESSON + "master.m3u8"
    got, headers, body = get(f"{signed.edge.url}{path}?{query}")
    assert (got, body) == (status, reason.encode() + b"\n")
    assert headers["Cache-Control"] == "no-store"


def test_expired_is_410_and_another_client_403(signed: Signed) -> None:
    path = LESSON + "360p/index.m3u8"
    got, _, body = get(f"{signed.edge.url}{path}?{token(path, ttl=-5)}")
    assert (got, body) == (410, b"token expired\n")
    got, _, body = get(f"{signed.edge.url}{path}?{token(path, client='192.0.2.1')}")
    assert (got, body) == (403, b"token bound to another client address\n")
    got, _, _ = get(f"{signed.edge.url}{path}?{token(path, client='127.0.0.1')}")
    assert got == 200


def test_refused_requests_cost_the_origin_nothing(signed: Signed) -> None:
    path = "/vod/reading-stories/360p/seg_00002.ts"
    for query in ("", f"{token(path, ttl=-1)}", token(path, client="192.0.2.9")):
        assert get(f"{signed.edge.url}{path}?{query}")[0] in (403, 410)
    assert signed.origin_hits(path) == 0


def test_two_tokens_share_one_fetch_and_the_old_key_still_verifies(signed: Signed) -> None:
    for path, file in (
        (LESSON + "180p/index.m3u8", "math-fractions/180p/index.m3u8"),
        (LESSON + "180p/seg_00003.ts", "math-fractions/180p/seg_00003.ts"),
    ):
        first = get(f"{signed.edge.url}{path}?{token(path)}")
        assert (first[0], first[1]["X-Cache"]) == (200, "MISS")
        # a segment's fill finishes its disk commit just after its body went out: poll
        body = b""

        def hit_with_the_old_key(path: str = path) -> bool:
            nonlocal body
            status, headers, body = get(
                f"{signed.edge.url}{path}?{token(LESSON, key=OLD_KEY)}&extra=1"
            )
            assert status == 200 and headers["X-Cache"] in ("COALESCED", "HIT")
            return bool(headers["X-Cache"] == "HIT")

        until_sync(hit_with_the_old_key, 5, f"a HIT for {path} with the old key")
        if path.endswith(".ts"):
            assert first[2] == body == (CONTENT / file).read_bytes()
        assert signed.origin_hits(path) == 1


def test_health_and_metrics_need_no_token(signed: Signed) -> None:
    assert get(signed.edge.url + "/healthz")[0] == 200
    assert get(signed.edge.url + "/metrics")[0] == 200
    assert get(signed.edge.url + "/readyz")[0] == 200


def test_the_token_is_never_sent_upstream(signed: Signed) -> None:
    master = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlo/index.m3u8\n"
    signed.recorder.answers["/vod/rec/master.m3u8"] = Answer(master)
    signed.recorder.answers["/vod/rec/lo/s1.ts"] = Answer(b"x" * 1000, "video/mp2t")
    base = signed.recorded_edge.url
    q = token("/vod/rec/")
    for path in ("/vod/rec/master.m3u8", "/vod/rec/lo/s1.ts"):
        for extra in ("", "&_HLS_msn=3"):
            assert get(f"{base}{path}?{q}{extra}")[0] == 200
    assert signed.recorder.targets, "the upstream saw nothing: the test proves nothing"
    assert not any("cc_" in target for target in signed.recorder.targets)
    assert "/vod/rec/master.m3u8?_HLS_msn=3" in signed.recorder.targets


def test_a_signed_playlist_carries_the_token_even_when_asked_for_a_range(signed: Signed) -> None:
    path = LESSON + "master.m3u8"
    query = cli_sign(path, "--prefix", LESSON).partition("?")[2]
    status, headers, body = get(f"{signed.edge.url}{path}?{query}", {"Range": "bytes=0-"})
    assert status == 200  # the rewritten body is answered whole (ffmpeg asks with bytes=0-)
    lines = [line for line in body.decode().splitlines() if line and not line.startswith("#")]
    assert lines == [f"360p/index.m3u8?{query}", f"180p/index.m3u8?{query}"]
    assert "ETag" not in headers and headers["Cache-Control"].startswith("private")
    # unsigned bytes in the cache: the next viewer's token goes on the same stored copy
    other = token(LESSON, client="127.0.0.1")
    body2 = get(f"{signed.edge.url}{path}?{other}")[2].decode()
    assert f"360p/index.m3u8?{other}" in body2 and query not in body2


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is installed by scripts/setup")
def test_a_signed_master_plays_to_the_end_in_ffmpeg(signed: Signed, tmp_path: Path) -> None:
    url = signed.edge.url + cli_sign(LESSON + "master.m3u8", "--prefix", LESSON, "--ttl", "120")
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostats", "-progress", "pipe:1", "-i", url, "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
    playlist = (CONTENT / "math-fractions/360p/index.m3u8").read_text()
    duration = sum(
        float(line.split(":")[1].rstrip(","))
        for line in playlist.splitlines()
        if line.startswith("#EXTINF")
    )
    out_times = [line for line in result.stdout.splitlines() if line.startswith("out_time_us=")]
    played = int(out_times[-1].split("=")[1]) / 1e6
    assert played >= duration - 0.5, (played, duration)
    assert "progress=end" in result.stdout  # and no child refused: stderr would say 403


def test_the_access_log_keeps_no_replayable_signature(signed: Signed) -> None:
    path = LESSON + "360p/seg_00000.ts"
    query = token(path)
    signature = dict(parse_qsl(query))["cc_sig"]
    assert get(f"{signed.edge.url}{path}?{query}")[0] == 200
    until_sync(lambda: f"{path}?cc_exp=" in signed.edge.log(), 5, "the request logged", 0.05)
    log = signed.edge.log()
    assert f"{path}?cc_exp=" in log and "cc_sig=-" in log
    assert signature not in log
