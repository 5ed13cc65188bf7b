"""Viewer sessions with a fake clock: attribution order, the window, the cap, a node's merge,
and the histograms' buckets."""

from __future__ import annotations

from classcast.clock import FakeClock
from edge.cache.stats import Histogram
from edge.http.messages import Request, SteadyHits
from edge.serve.audience import Audience, merged
from edge.serve.viewers import NOT_CONTENT, REQUEST_BUCKETS, STEADY_KEEP_S, Viewers, where

MEDIA = "/live/grade-5/360p/index.m3u8"
SEGMENT = "/vod/math-fractions/360p/seg_00001.ts"


def viewers(cap: int = 1000, clock: FakeClock | None = None) -> tuple[Viewers, FakeClock]:
    clock = clock or FakeClock()
    seen = Viewers(Audience(cap), clock, monotonic=clock, endpoints=frozenset({"/metrics"}))
    return seen, clock


def get(
    seen: Viewers,
    target: str,
    peer: str = "127.0.0.2",
    status: int = 200,
    cache: str = "HIT",
    **headers: str,
) -> None:
    request = Request(
        "GET", target, {k.replace("_", "-"): v for k, v in headers.items()}, peer=peer
    )
    seen.answered(request, status, cache, 1000, 0.0004)


def counts(seen: Viewers) -> tuple[dict[str, int], dict[tuple[str, str], int], dict[str, int]]:
    got = merged([seen.tally()])
    return got.by_content, got.by_rendition, got.stalled


def test_where_a_path_is_watched() -> None:
    assert where(MEDIA) == ("playlist", "live/grade-5", "360p", True)
    assert where("/live/grade-5/master.m3u8") == ("playlist", "live/grade-5", "", False)
    assert where(SEGMENT) == ("segment", "vod/math-fractions", "360p", True)
    assert where("/vod/l/360p/init.mp4") == ("segment", "vod/l", "360p", False)
    assert where("/favicon.ico") == ("other", "", "", False)
    assert where("/vod/l/index.m3u8") == ("playlist", "vod/l", "", True)


def test_attribution_sid_then_playback_session_id_then_address_and_agent() -> None:
    seen, _ = viewers()
    cmcd = f"{MEDIA}?CMCD=sid%3D%22phone-1%22"
    get(seen, cmcd, peer="127.0.0.2", user_agent="hls.js")
    get(seen, cmcd, peer="127.0.0.3", user_agent="hls.js", x_playback_session_id="P")  # moved
    get(seen, MEDIA, peer="127.0.0.2", user_agent="AVPlayer", x_playback_session_id="P")
    get(seen, MEDIA, peer="127.0.0.2", user_agent="AVPlayer", x_playback_session_id="P")
    get(seen, MEDIA, peer="127.0.0.4", user_agent="stb")
    get(seen, MEDIA, peer="127.0.0.4", user_agent="stb")
    get(seen, MEDIA, peer="127.0.0.4", user_agent="another stb")  # two boxes in one home
    keys = sorted(seen.audience.sessions)
    assert keys == ["127.0.0.4 another stb", "127.0.0.4 stb", "psid:P", "sid:phone-1"]
    assert counts(seen)[0] == {"live/grade-5": 4}
    assert seen.audience.sessions["sid:phone-1"].peer == "127.0.0.3"


def test_a_viewer_watches_for_the_window_then_counts_zero() -> None:
    seen, clock = viewers()
    seen.audience.set_target("live/grade-5", 2.0)  # window: 3 x 2 s
    get(seen, MEDIA)
    get(seen, SEGMENT)  # a live channel's segment lives under its lesson
    clock.advance(6.0)
    assert counts(seen)[:2] == ({"live/grade-5": 1}, {("live/grade-5", "360p"): 1})
    clock.advance(0.1)
    assert counts(seen)[0] == {"live/grade-5": 0}  # known, nobody watching: a gauge of 0


def test_a_master_playlist_or_an_error_is_not_watching() -> None:
    seen, _ = viewers()
    get(seen, "/live/grade-5/master.m3u8")
    get(seen, MEDIA, status=404, cache="-")
    assert counts(seen)[0] == {}
    session = seen.audience.sessions["127.0.0.2 "]
    assert session.errors == 1 and session.last_error is not None
    assert seen.lookup(client="127.0.0.2")[0]["errors"]["last"]["status"] == 404


def test_the_cap_drops_the_oldest_and_counts_it() -> None:
    seen, clock = viewers(cap=3)
    for n in range(5):
        get(seen, MEDIA, peer=f"127.0.1.{n}")
        clock.advance(0.1)
    assert len(seen.audience) == 3
    assert seen.audience.dropped == 2
    assert [s.peer for s in seen.audience.sessions.values()] == [
        "127.0.1.2",
        "127.0.1.3",
        "127.0.1.4",
    ]
    assert seen.series()["viewer_sessions_dropped_total"] == [2.0]


def test_renditions_switches_and_stalls() -> None:
    seen, clock = viewers()
    base = "/live/grade-5/{}/index.m3u8?CMCD="
    get(seen, base.format("360p") + "br%3D600%2Cbl%3D4000%2Csid%3D%22s%22%2Csu")
    clock.advance(1)
    get(seen, base.format("180p") + "br%3D250%2Cbl%3D0%2Cbs%2Csid%3D%22s%22")
    _, by_rendition, stalled = counts(seen)
    assert by_rendition == {("live/grade-5", "180p"): 1}
    assert stalled == {"live/grade-5": 1}
    found = seen.lookup(sid="s")[0]
    assert [h["rendition"] for h in found["history"]] == ["360p", "180p"]
    assert found["cmcd"] == {
        "bitrate_kbps": 250,
        "buffer_s": 0.0,
        "throughput_kbps": None,
        "stalls": 1,
        "stalled_now": True,
    }
    assert len(found["requests"]) == 2
    series = seen.series()
    assert series["stalls_total\x1flive/grade-5"] == [1.0]
    assert series["startups_total\x1flive/grade-5"] == [1.0]
    clock.advance(18.1)  # the default window: 3 x 6 s
    assert counts(seen)[2] == {"live/grade-5": 0}


def test_a_node_counts_a_viewer_on_two_workers_once() -> None:
    clock = FakeClock()
    one, _ = viewers(clock=clock)
    two, _ = viewers(clock=clock)
    get(one, MEDIA, peer="127.0.0.9", user_agent="stb")
    get(two, MEDIA, peer="127.0.0.9", user_agent="stb")
    get(two, MEDIA, peer="127.0.0.8", user_agent="stb")
    assert merged([one.tally(), two.tally()]).by_content == {"live/grade-5": 2}


def test_endpoints_and_durations() -> None:
    seen, _ = viewers()
    get(seen, "/metrics")
    get(seen, MEDIA)
    get(seen, SEGMENT, cache="MISS")
    assert seen._paths["/metrics"] is NOT_CONTENT
    assert set(seen.durations.series) == {("playlist", "HIT"), ("segment", "MISS")}
    assert len(seen.audience) == 1


def test_histogram_buckets_are_le_and_keep_the_sum() -> None:
    histogram = Histogram((0.001, 0.01))
    for value in (0.0005, 0.001, 0.002, 5.0):
        histogram.observe(value, ("x",))
    assert histogram.series[("x",)] == [2.0, 1.0, 1.0, 5.0035]


class Keeps:
    """A connection as the observer sees it: its `viewer` memo, which counts the steady
    reloads itself (edge/http/protocol.py `_done`); the rest go to the observer."""

    viewer: SteadyHits | None = None

    def answered(self, seen: Viewers, request: Request, status: int, cache: str, s: float) -> None:
        steady = self.viewer
        if steady is None or not steady.counted(request.target, status, cache, s, seen.monotonic()):
            seen.answered(request, status, cache, 1000, s, self)


def requests(seen: Viewers, cache: str) -> float:
    return sum(seen.durations.series[("playlist", cache)][:-1])  # the buckets, not the sum


def test_a_keep_alive_viewer_is_counted_on_its_connection() -> None:
    seen, clock = viewers(cap=2)
    seen.audience.set_target("live/grade-5", 2.0)
    box = Keeps()
    head = Request("GET", MEDIA, {"user-agent": "stb"}, peer="127.0.0.2")

    def reload(request: Request = head, cache: str = "HIT", status: int = 200) -> None:
        box.answered(seen, request, status, cache, 0.0004)
        clock.advance(1.0)

    reload()  # first: the session is made and starts watching
    reload()  # steady: the connection is given a memo
    assert box.viewer is not None
    for _ in range(3):
        reload()  # counted on the connection: the session learns of them when folded
    session = seen.audience.sessions["127.0.0.2 stb"]
    assert session.quiet == 1 and box.viewer.hits == 3
    assert requests(seen, "HIT") == 5  # every request counted once, in the histogram at once
    assert counts(seen)[0] == {"live/grade-5": 1}  # a read folds them in first
    assert session.quiet == 4 and box.viewer.hits == 0
    assert session.seen == clock() - 1.0  # when the last reload was made, not when folded

    reload(cache="MISS")  # not the steady path: counted in its own series, memo kept
    assert requests(seen, "MISS") == 1
    assert session.quiet == 4

    # the session is dropped by the cap: its next steady reload makes it again when folded
    for n in range(2):
        get(seen, MEDIA, peer=f"127.0.1.{n}")
    assert "127.0.0.2 stb" not in seen.audience.sessions
    reload()
    seen.fold()
    again = seen.audience.sessions["127.0.0.2 stb"]
    assert again is not session and again.content == "live/grade-5" and again.quiet == 1
    assert requests(seen, "HIT") == 8  # 5 + two others + this one
    reload()
    seen.fold()
    assert again.quiet == 2 and box.viewer.owner[0] is again  # type: ignore[index]
    assert counts(seen)[0] == {"live/grade-5": 2}

    # another head on the same connection (a different target object) is looked up again
    other = Request("GET", MEDIA.replace("360p", "720p"), {"user-agent": "stb"}, peer="127.0.0.2")
    reload(other)
    assert again.rendition == "720p"


def test_a_steady_viewer_who_stops_leaves_when_its_last_reload_was_made() -> None:
    seen, clock = viewers()
    seen.audience.set_target("live/grade-5", 2.0)  # a 6 s window
    box = Keeps()
    head = Request("GET", MEDIA, {"user-agent": "stb"}, peer="127.0.0.2")
    for _ in range(4):
        box.answered(seen, head, 200, "HIT", 0.0004)
        clock.advance(1.0)
    assert box.viewer is not None and box.viewer.hits == 2
    clock.advance(5.5)  # 6.5 s after the last reload, nothing folded since: gone already
    assert counts(seen)[0] == {"live/grade-5": 0}
    # a memo unused for STEADY_KEEP_S is let go: the next reload goes to the observer again
    clock.advance(STEADY_KEEP_S)
    seen.fold()
    assert not box.viewer.counted(head.target, 200, "HIT", 0.0004, seen.monotonic())
    box.answered(seen, head, 200, "HIT", 0.0004)
    assert counts(seen)[0] == {"live/grade-5": 1}


def test_the_memo_counts_only_its_own_steady_answers() -> None:
    counts = [0.0] * (len(REQUEST_BUCKETS) + 2)
    head = Request("GET", MEDIA, {})
    steady = SteadyHits(head.target, REQUEST_BUCKETS, counts, 0.05, None)
    same_text = Request("GET", "".join(MEDIA), {})  # equal, not the same object
    assert same_text.target is not head.target
    refused = [
        (same_text.target, 200, "HIT", 0.001),  # another head: looked up again
        (head.target, 200, "MISS", 0.001),
        (head.target, 404, "HIT", 0.001),
        (head.target, 200, "HIT", 0.05),  # slow: listed in the recent requests
    ]
    for target, status, cache, took in refused:
        assert not steady.counted(target, status, cache, took, 1.0)
    assert steady.counted(head.target, 200, "HIT", 0.0004, 7.0)
    assert (steady.hits, steady.last, sum(counts[:-1]), counts[-1]) == (1, 7.0, 1.0, 0.0004)


def test_blocking_reloads_with_new_targets_share_one_memo() -> None:
    seen, clock = viewers()
    box = Keeps()
    for msn in range(50):  # an LL player: every reload names the next part
        request = Request("GET", f"{MEDIA}?_HLS_msn={msn}", {"user-agent": "ll"}, peer="127.0.0.3")
        box.answered(seen, request, 200, "HIT", 0.0004)
        clock.advance(0.5)
    assert len(seen._steady) == 1 and box.viewer is seen._steady[0]
    assert counts(seen)[0] == {"live/grade-5": 1}
