"""Viewers through a real edge on loopback: CMCD never in the key nor upstream, never refused;
/metrics and the support lookup show the viewer; `nor` fetches ahead; one setting turns it off."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

from edge.__main__ import main
from tests.edge.conftest import EdgeFactory
from tests.edge.fakes import EdgeClient, ScriptedUpstream, settle

TOKEN = "s3cret-token"
TS = {"Content-Type": "video/mp2t"}
M3U8 = {"Content-Type": "application/vnd.apple.mpegurl", "Cache-Control": "max-age=60"}
MEDIA = "/live/grade-5/360p/index.m3u8"
PLAYLIST = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n/vod/l/360p/s1.ts\n"


def cmcd(payload: str) -> str:
    return "CMCD=" + quote(payload, safe="")


@pytest.fixture
async def watched(make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str]) -> EdgeClient:
    fake = upstream[0]
    fake.put(MEDIA, PLAYLIST, headers=M3U8)
    for n in (1, 2, 3):
        fake.put(f"/vod/l/360p/s{n}.ts", b"x" * 3000, headers=TS)
    return await make_edge(admin_token=TOKEN)


async def metrics(edge: EdgeClient) -> str:
    text: str = await (await edge.get("/metrics")).text()
    return text


async def test_cmcd_is_neither_in_the_key_nor_sent_upstream(
    watched: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake = upstream[0]
    query = cmcd('br=600,bl=3000,mtp=9000,sid="phone-1",su')
    first = await watched.get(f"{MEDIA}?{query}", headers={"CMCD-Session": 'sid="phone-1"'})
    assert first.status == 200 and first.headers["X-Cache"] == "MISS"
    second = await watched.get(f"{MEDIA}?{cmcd('br=800')}")
    assert second.headers["X-Cache"] == "HIT"
    assert fake.hits[MEDIA] == 1 and sum(fake.hits.values()) == 1
    assert not any(n.lower().startswith("cmcd") for h in fake.seen_headers for n in h)


@pytest.mark.parametrize(
    "bad",
    [
        "?CMCD=%FF%FE",
        "?CMCD=br%3Dabc%2Csid%3Dunquoted%2Cot%3Dzz",
        "?CMCD=" + "a" * 3000,
        "?CMCD=%22%22%22%2C%2C%3D%3D",
    ],
)
async def test_malformed_cmcd_is_never_refused(watched: EdgeClient, bad: str) -> None:
    response = await watched.get(MEDIA + bad, headers={"CMCD-Request": 'bl=x,nor="'})
    assert response.status == 200
    assert "classcast_edge_cmcd_malformed_total" in await metrics(watched)


async def test_metrics_show_viewers_stalls_and_histograms(watched: EdgeClient) -> None:
    await (await watched.get(MEDIA, headers={"User-Agent": "stb"})).read()
    await (await watched.get("/vod/l/360p/s1.ts", headers={"User-Agent": "stb"})).read()
    phone = cmcd('br=600,bl=1500,mtp=9000,bs,sid="phone-1"')
    await (await watched.get(f"/vod/l/360p/s1.ts?{phone}")).read()
    text = await metrics(watched)
    # the box watches the channel (its segment under /vod/ counts for it); the phone the lesson
    assert 'classcast_edge_viewers{content="live/grade-5"} 1.0' in text
    assert 'classcast_edge_viewers{content="vod/l"} 1.0' in text
    assert (
        'classcast_edge_viewers_by_rendition{content="live/grade-5",rendition="360p"} 1.0' in text
    )
    assert 'classcast_edge_stalls_total{content="vod/l"} 1.0' in text
    assert 'classcast_edge_stalled_viewers{content="vod/l"} 1.0' in text
    assert 'classcast_edge_viewer_bitrate_kbps_bucket{content="vod/l",le="800.0"} 1.0' in text
    assert 'classcast_edge_viewer_buffer_seconds_sum{content="vod/l"} 1.5' in text
    assert "classcast_edge_viewer_throughput_kbps_count 1.0" in text
    assert 'classcast_edge_request_duration_seconds_count{cache="MISS",kind="playlist"} 1.0' in text
    assert "classcast_edge_upstream_duration_seconds_count 2.0" in text


async def test_the_support_lookup(watched: EdgeClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    phone = cmcd('br=600,bl=2500,bs,sid="phone-1"')
    await (await watched.get(f"{MEDIA}?{phone}")).read()
    await (await watched.get("/vod/l/360p/missing.ts", headers={"User-Agent": "stb"})).read()
    assert (await watched.get("/_admin/viewers?sid=phone-1")).status == 401
    bad = await watched.get("/_admin/viewers?client=nohost", headers=auth)
    assert bad.status == 400 and "not an IP address" in (await bad.json())["error"]
    assert (await watched.get("/_admin/viewers", headers=auth)).status == 400
    found = await (await watched.get("/_admin/viewers?sid=phone-1", headers=auth)).json()
    [session] = found["sessions"]
    assert session["content"] == "live/grade-5" and session["rendition"] == "360p"
    assert session["cmcd"]["bitrate_kbps"] == 600 and session["cmcd"]["stalls"] == 1
    assert session["requests"][0]["cache"] == "MISS"
    by_client = await (await watched.get("/_admin/viewers?client=127.0.0.1", headers=auth)).json()
    errors = [s["errors"] for s in by_client["sessions"] if s["user_agent"] == "stb"]
    assert errors[0]["count"] == 1 and errors[0]["last"]["status"] == 404


async def test_nor_fetches_the_next_object_of_the_same_content(
    watched: EdgeClient, upstream: tuple[ScriptedUpstream, str]
) -> None:
    fake = upstream[0]
    hint = cmcd('nor="s2.ts",sid="p"')
    await (await watched.get(f"/vod/l/360p/s1.ts?{hint}")).read()
    await fake.arrived("/vod/l/360p/s2.ts")
    await settle(watched)
    assert (await watched.get("/vod/l/360p/s2.ts")).headers["X-Cache"] == "HIT"
    elsewhere = cmcd('nor="../../other/360p/s3.ts",sid="p"')
    await (await watched.get(f"/vod/l/360p/s1.ts?{elsewhere}")).read()
    await settle(watched)
    assert fake.hits["/vod/other/360p/s3.ts"] == 0
    assert "classcast_edge_cmcd_hints_total 1.0" in await metrics(watched)


async def test_one_setting_turns_viewers_off(make_edge: EdgeFactory) -> None:
    edge = await make_edge(viewers=False, admin_token=TOKEN)
    await (await edge.get(f"{MEDIA}?{cmcd('br=5')}")).read()
    text = await metrics(edge)
    assert "classcast_edge_viewers" not in text and "duration_seconds" not in text
    off = await edge.get("/_admin/viewers?sid=x", headers={"Authorization": f"Bearer {TOKEN}"})
    assert off.status == 404


async def test_the_support_command_prints_the_lookup(
    watched: EdgeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    phone = cmcd('br=600,bl=2500,mtp=4000,bs,sid="phone-1"')
    await (await watched.get(f"{MEDIA}?{phone}", headers={"User-Agent": "hls.js"})).read()
    base = str(watched.make_url("")).rstrip("/")
    args = ["viewers", "--admin", base, "--sid", "phone-1", "--token", TOKEN]
    assert await asyncio.to_thread(main, args) == 0
    printed = capsys.readouterr().out
    assert "WATCHING: live/grade-5 at 360p" in printed
    assert "bitrate 600 kbit/s, buffer 2.5 s, throughput 4000 kbit/s, 1 stalls" in printed
    assert "MISS" in printed and "/live/grade-5/360p/index.m3u8" in printed
    wrong = ["viewers", "--admin", base, "--client", "127.0.0.1", "--token", "nope"]
    assert await asyncio.to_thread(main, wrong) == 1
    assert "401" in capsys.readouterr().err
