"""An upstream that answers a playlist with something that is not M3U8 (an HTML error page
sent with 200): the edge never caches it, never serves it as a HIT, and counts it."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.support.process import Service, run_service
from tests.support.recording_upstream import Answer, RecordingUpstream, recording_upstream
from tests.support.wait import until_sync

pytestmark = pytest.mark.e2e
HTML = b"<html><body><h1>Service temporarily unavailable</h1></body></html>\n"
VOD = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\ns0.ts\n#EXT-X-ENDLIST\n"


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def upstream_errors(edge: Service) -> float:
    metrics = get(edge.url + "/metrics")[2].decode()
    return float(re.search(r"^classcast_edge_upstream_errors_total (\S+)$", metrics, re.M)[1])  # type: ignore[index]


@pytest.fixture(scope="module")
def garbage(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RecordingUpstream, Service]]:
    logs = tmp_path_factory.mktemp("garbage-logs")
    with (
        recording_upstream() as upstream,
        run_service("edge", ["--upstream", upstream.url], logs / "edge.log") as edge,
    ):
        yield upstream, edge


@pytest.mark.parametrize(
    "answer",
    [Answer(HTML, "text/html"), Answer(HTML), Answer(b""), Answer(b"\xff\xfe\x00garbage")],
    ids=["html", "html-as-mpegurl", "empty", "binary"],
)
def test_a_non_m3u8_playlist_is_never_cached_nor_passed_on(
    garbage: tuple[RecordingUpstream, Service], answer: Answer
) -> None:
    upstream, edge = garbage
    path = f"/vod/garbage-{len(upstream.targets)}/index.m3u8"
    upstream.answers[path] = answer
    errors_before = upstream_errors(edge)
    for attempt in range(1, 4):
        status, headers, body = get(edge.url + path)
        assert (status, body) == (502, b"upstream playlist is not M3U8\n")
        assert headers["Cache-Control"] == "no-store" and "X-Cache" not in headers
        assert upstream.hits(path) == attempt  # asked again each time: nothing was cached
    assert upstream_errors(edge) == errors_before + 3


def test_garbage_in_place_of_a_cached_playlist_keeps_the_good_copy(
    garbage: tuple[RecordingUpstream, Service],
) -> None:
    upstream, edge = garbage
    path = "/vod/turns-bad/index.m3u8"
    upstream.answers[path] = Answer(VOD, cache_control="max-age=1")
    assert get(edge.url + path)[:3:2] == (200, VOD)
    upstream.answers[path] = Answer(HTML, "text/html", cache_control="max-age=60")

    def served_the_good_copy() -> bool:
        status, headers, body = get(edge.url + path)
        assert (status, body) == (200, VOD)  # fresh, then stale: never the HTML
        assert headers["X-Cache"] in ("HIT", "STALE")
        return upstream.hits(path) >= 3

    until_sync(served_the_good_copy, 10, "the edge back upstream 3 times", every=0.2)
    assert upstream.hits(path) >= 3  # the edge did go back upstream and was refused garbage
