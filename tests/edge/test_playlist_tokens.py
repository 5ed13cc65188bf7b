"""A signed request's token goes onto every child URI of the playlist it is served."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import m3u8
import pytest

from edge.serve.playlist_tokens import add_token, with_token
from tests.support.process import ROOT

TOKEN = "cc_exp=1800000000&cc_prefix=%2Fvod%2Fmath-fractions%2F&cc_sig=abc_-"
T = TOKEN.encode()

LL_HLS = b"""#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:4
#EXT-X-PART-INF:PART-TARGET=1.0
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3.0
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-KEY:METHOD=AES-128,URI="keys/k1.key",IV=0x1
#EXT-X-MAP:URI="init.mp4",BYTERANGE="720@0"
#EXTINF:4.0,
seg10.m4s
#EXT-X-PART:DURATION=1.0,URI="seg11.part0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.0,URI="/vod/x/seg11.part1.m4s?v=2"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg11.part2.m4s"
#EXT-X-RENDITION-REPORT:URI="../720p/index.m3u8",LAST-MSN=11,LAST-PART=1
"""

MASTER_WITH_MEDIA = b"""#EXTM3U\r
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,URI="audio/en.m3u8"\r
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="sub",NAME="en",URI="https://cdn.example/subs.m3u8"\r
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="cc1",INSTREAM-ID="CC1"\r
#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO="aud"\r
360p/index.m3u8\r
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="360p/iframes.m3u8"\r
#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://key-id",KEYFORMAT="com.apple.streamingkeydelivery"\r
"""


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (b"seg_00001.ts", b"seg_00001.ts?" + T),
        (b"/vod/a/seg.ts", b"/vod/a/seg.ts?" + T),
        (b"../720p/index.m3u8", b"../720p/index.m3u8?" + T),
        (b"seg.ts?v=2", b"seg.ts?v=2&" + T),
        (b"seg.ts?", b"seg.ts?" + T),
        (b"seg.ts#t=1", b"seg.ts?" + T + b"#t=1"),
        (b"https://other.example/seg.ts", b"https://other.example/seg.ts"),
        (b"//cdn.example/seg.ts", b"//cdn.example/seg.ts"),
        (b"data:text/plain,hi", b"data:text/plain,hi"),
        (b"skd://key-id", b"skd://key-id"),
        (b"seg.ts?cc_sig=own&cc_exp=1", b"seg.ts?cc_sig=own&cc_exp=1"),
        (b"", b""),
    ],
)
def test_one_uri(uri: bytes, expected: bytes) -> None:
    assert with_token(uri, T) == expected


@pytest.mark.parametrize(
    "playlist",
    [
        "math-fractions/master.m3u8",
        "math-fractions/360p/index.m3u8",
        "reading-stories/180p/index.m3u8",
    ],
)
def test_real_content_playlists_carry_the_token_on_every_child_and_nowhere_else(
    playlist: str,
) -> None:
    body = (ROOT / "content" / playlist).read_bytes()
    out = add_token(body, TOKEN)
    before, after = m3u8.loads(body.decode()), m3u8.loads(out.decode())
    children = [p.uri for p in after.playlists] + [s.uri for s in after.segments]
    assert children and all(c.endswith("?" + TOKEN) for c in children)
    originals = [p.uri for p in before.playlists] + [s.uri for s in before.segments]
    assert [c.removesuffix("?" + TOKEN) for c in children] == originals
    # tags and comments are untouched: only URI lines changed, one for one
    changed = [(a, b) for a, b in zip(body.splitlines(), out.splitlines(), strict=True) if a != b]
    assert len(changed) == len(children)
    assert all(not a.startswith(b"#") for a, _ in changed)


def test_an_ll_hls_playlist_gets_the_token_on_every_uri_attribute() -> None:
    out = add_token(LL_HLS, TOKEN).decode()
    for uri in (
        "keys/k1.key",
        "init.mp4",
        "seg11.part0.m4s",
        "seg11.part2.m4s",
        "../720p/index.m3u8",
    ):
        assert f'URI="{uri}?{TOKEN}"' in out
    assert f'URI="/vod/x/seg11.part1.m4s?v=2&{TOKEN}"' in out
    assert f"\nseg10.m4s?{TOKEN}\n" in out
    assert 'BYTERANGE="720@0"' in out and "IV=0x1" in out
    assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3.0\n" in out


def test_a_master_keeps_crlf_and_foreign_uris() -> None:
    out = add_token(MASTER_WITH_MEDIA, TOKEN)
    assert out.count(b"\r\n") == MASTER_WITH_MEDIA.count(b"\r\n")
    assert b'URI="audio/en.m3u8?' + T + b'"' in out
    assert b'URI="360p/iframes.m3u8?' + T + b'"' in out
    assert b"\r\n360p/index.m3u8?" + T + b"\r\n" in out
    assert b'URI="https://cdn.example/subs.m3u8"' in out
    assert b'URI="skd://key-id"' in out
    assert b'INSTREAM-ID="CC1"\r\n' in out


def test_a_live_playlist_with_absolute_paths() -> None:
    live = (
        b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n"
        b"#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00Z\n#EXTINF:4.0,\n"
        b"/vod/math-fractions/180p/seg_00001.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:4.0,\n"
        b"/vod/reading-stories/180p/seg_00000.ts\n"
    )
    segments = m3u8.loads(add_token(live, TOKEN).decode()).segments
    for segment in segments:
        split = urlsplit(segment.uri)
        assert split.path.startswith("/vod/") and dict(parse_qsl(split.query))["cc_sig"] == "abc_-"


def test_no_token_no_change() -> None:
    assert add_token(LL_HLS, "") is LL_HLS
