import pytest

from edge.cache.keys import CacheKey, cache_key, classify
from edge.errors import BadRequest, UriTooLong


@pytest.mark.parametrize(
    ("target", "key"),
    [
        ("/vod/a/master.m3u8", "/vod/a/master.m3u8"),
        ("/vod//a///master.m3u8", "/vod/a/master.m3u8"),
        ("/vod/a/master.m3u8?token=abc&expires=99", "/vod/a/master.m3u8"),
        ("/vod/a/master.m3u8?cb=123", "/vod/a/master.m3u8"),
        (
            "/live/g5/360p/index.m3u8?_HLS_part=1&_HLS_msn=40",
            "/live/g5/360p/index.m3u8?_HLS_msn=40&_HLS_part=1",
        ),
        (
            "/live/g5/360p/index.m3u8?_HLS_msn=40&_HLS_part=1&sig=x",
            "/live/g5/360p/index.m3u8?_HLS_msn=40&_HLS_part=1",
        ),
        ("/live/g5/index.m3u8?_HLS_skip=YES", "/live/g5/index.m3u8?_HLS_skip=YES"),
        ("/vod/a%20b/seg.ts", "/vod/a b/seg.ts"),
        ("/vod/%61/seg.ts", "/vod/a/seg.ts"),
        ("/", "/"),
    ],
)
def test_equivalent_urls_share_a_key(target: str, key: str) -> None:
    assert str(cache_key(target)) == key


def test_configured_query_parameters_are_kept_sorted() -> None:
    key = cache_key("/x.ts?b=2&lang=en&a=1", frozenset({"lang", "a"}))
    assert key == CacheKey("/x.ts", "a=1&lang=en")


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("/vod/../etc/passwd", "path traversal"),
        ("/vod/%2e%2e/etc/passwd", "path traversal"),
        ("/vod/%2E%2E/%2E%2E/etc/passwd", "path traversal"),
        ("/vod/./a", "path traversal"),
        ("/vod/a%2f..%2fb", "encoded slash"),
        ("/vod/a%5cb", "encoded slash"),
        ("/vod/a%00.ts", "control character or NUL"),
        ("/vod/a\x00.ts", "control character or NUL"),
        ("/vod/a%0d%0aSet-Cookie:x", "control character or NUL"),
        ("/vod/a\\b", "backslash"),
        ("/live/x.m3u8%3F_HLS_msn=5", r"encoded \? or #"),
        ("/live/x.m3u8%23frag", r"encoded \? or #"),
        ("/vod/%ff%fe", "not valid UTF-8"),
        ("vod/a", "must start with /"),
    ],
)
def test_hostile_paths_are_refused(target: str, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        cache_key(target)


def test_overlong_path_is_414() -> None:
    with pytest.raises(UriTooLong):
        cache_key("/" + "a" * 5000)


def test_upstream_target_re_encodes_the_clean_path() -> None:
    assert (
        cache_key("/vod/a%20b/x.ts?_HLS_msn=3&t=1").upstream_target == "/vod/a%20b/x.ts?_HLS_msn=3"
    )


@pytest.mark.parametrize(
    ("path", "content_type", "kind"),
    [
        ("/live/g5/360p/index.m3u8", "", "playlist"),
        ("/vod/a/master.m3u8", "", "playlist"),
        ("/vod/a/playlist", "application/vnd.apple.mpegurl", "playlist"),
        ("/vod/a/360p/seg_00001.ts", "", "segment"),
        ("/vod/a/360p/seg_1.m4s", "", "segment"),
        ("/vod/a/360p/init.mp4", "", "init"),
        ("/vod/a/audio.aac", "", "segment"),
        ("/vod/a/key.key", "", "key"),
        ("/vod/a/blob", "video/mp2t", "segment"),
        ("/vod/a/poster.jpg", "image/jpeg", "other"),
    ],
)
def test_classify(path: str, content_type: str, kind: str) -> None:
    assert classify(path, content_type) == kind
