"""Which segments prefetch fetches: the newest on this host, keyed as viewers will ask."""

from __future__ import annotations

from edge.cache.keys import CacheKey, cache_key
from edge.cache.prefetch import newest_segments

PLAYLIST = (
    b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n"
    b"#EXTINF:4.0,\nseg_7.ts\n#EXTINF:4.0,\n../360p/seg_8.ts?token=abc\n"
    b"#EXTINF:4.0,\nhttp://other.example/seg_9.ts\n#EXTINF:4.0,\n/vod/a/seg_10.ts\n"
)
KEY = cache_key("/live/grade-5/360p/index.m3u8")


def test_the_newest_local_segments_with_tokens_dropped() -> None:
    keys = newest_segments(KEY, PLAYLIST, 3, frozenset())
    # another host's segment is skipped, not replaced by an older one
    assert keys == [CacheKey("/live/grade-5/360p/seg_8.ts"), CacheKey("/vod/a/seg_10.ts")]


def test_none_when_off_or_the_playlist_is_garbage() -> None:
    assert newest_segments(KEY, PLAYLIST, 0, frozenset()) == []
    assert newest_segments(KEY, b"\xff\xfe not a playlist", 2, frozenset()) == []
