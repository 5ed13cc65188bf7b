"""The portal's pages and assets over HTTP, against the real app in process."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from origin.assets import STATIC
from tests.origin.conftest import Client

from .conftest import CONTENT, EPOCH, HLS_JS, FakeClock, MakeClient

LESSONS = sorted(path.name for path in CONTENT.iterdir() if (path / "master.m3u8").is_file())
CHANNELS = ["grade-5", "grade-8", "grade-10"]  # config/schedule.toml
HLS_JS_BYTES = HLS_JS.read_bytes() if HLS_JS.is_file() else b"(not installed)"
OWN_ASSETS_BUDGET = 50_000  # the issue: the page's own script and style under 50 KB


class Links(HTMLParser):
    """Every href/src on a page, and the data-* ids of channel cards and lessons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.channels: list[str] = []
        self.lessons: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [value for key, value in attrs if key in ("href", "src") and value]
        if tag == "a" and values.get("data-channel"):
            self.channels.append(values["data-channel"] or "")
        if tag == "a" and values.get("data-lesson"):
            self.lessons.append(values["data-lesson"] or "")


def parse(html: str) -> Links:
    links = Links()
    links.feed(html)
    return links


async def page(client: Client, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return await response.text()


async def test_home_lists_every_channel_and_every_lesson_with_relative_links(
    client: Client,
) -> None:
    links = parse(await page(client, "/"))
    assert links.channels == CHANNELS
    assert sorted(links.lessons) == LESSONS
    assert "watch/live/grade-5" in links.urls and "watch/vod/math-fractions" in links.urls
    # relative URLs only: the page works behind any edge, and nothing is fetched elsewhere
    assert not [url for url in links.urls if url.startswith(("/", "//")) or "://" in url]


async def test_home_shows_now_and_next_from_the_timetable(client: Client, clock: FakeClock) -> None:
    clock.now = EPOCH + 50  # grade-5: math 0-40 s, science 40-80 s, reading 80-120 s
    html = await page(client, "/")
    card = html[html.index('data-channel="grade-5"') : html.index('data-channel="grade-8"')]
    assert re.search(r"Now</span> <span data-now>Science: The Water Cycle</span>", card)
    assert '<time datetime="2025-09-01T08:00:40Z">08:00:40 UTC</time>' in card
    assert re.search(
        r"<span data-next>Reading: Stories</span> at <span data-next-time>"
        r'<time datetime="2025-09-01T08:01:20Z">',
        card,
    )


async def test_library_is_grouped_by_grade_then_subject(client: Client) -> None:
    html = await page(client, "/")
    headings = re.findall(r"<h([34])>([^<]+)</h\1>", html)
    assert headings == [
        ("3", "Grade 5"),
        ("4", "Math"),
        ("4", "Reading"),
        ("3", "Grade 8"),
        ("4", "Science"),
    ]


async def test_before_a_channel_starts_it_shows_its_first_lesson_next(
    client: Client, clock: FakeClock
) -> None:
    clock.now = EPOCH - 3600
    html = await page(client, "/watch/live/grade-10")
    assert "Now: <span data-now>Not started</span>" in html
    assert "<span data-next>Reading: Stories</span>" in html


@pytest.mark.parametrize(
    ("path", "title", "master", "qualities"),
    [
        (
            "/watch/live/grade-5",
            "Science: The Water Cycle",  # on air at the fixture's clock
            "../../live/grade-5/master.m3u8",
            ["../../live/grade-5/360p/index.m3u8", "../../live/grade-5/180p/index.m3u8"],
        ),
        (
            "/watch/vod/science-water-cycle",
            "Science: The Water Cycle",
            "../../vod/science-water-cycle/master.m3u8",
            [
                "../../vod/science-water-cycle/360p/index.m3u8",
                "../../vod/science-water-cycle/180p/index.m3u8",
            ],
        ),
    ],
)
async def test_player_pages(
    client: Client, path: str, title: str, master: str, qualities: list[str]
) -> None:
    html = await page(client, path)
    assert f'<h1 id="title" data-title>{title}</h1>' in html
    assert f'data-src="{master}"' in html
    sources = re.findall(r'data-quality="([^"]+)" data-src="([^"]+)"', html)
    assert sources == [("auto", master), ("360p", qualities[0]), ("180p", qualities[1])]
    assert re.search(r'data-hls="\.\./\.\./assets/hls\.[0-9a-f]{12}\.min\.js"', html)
    assert re.search(r'<video id="video"[^>]*\baria-label="[^"]+"', html)
    assert '<h2 id="next-title">Next lesson</h2>' in html


async def test_a_recorded_lesson_names_the_next_on_its_shelf(client: Client) -> None:
    html = await page(client, "/watch/vod/math-fractions")
    assert '<a href="../../watch/vod/reading-stories">Reading: Stories</a>' in html


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/watch/live/grade-99", "There is no live channel called &#x27;grade-99&#x27;."),
        ("/watch/vod/no-such-lesson", "There is no lesson called &#x27;no-such-lesson&#x27;"),
        ("/watch/vod/%3Cb%3E", "There is no lesson called &#x27;&lt;b&gt;&#x27;"),
        ("/watch/tv/grade-5", "There is no such page."),
        ("/watch/live/grade-5/extra", "There is no such page."),
    ],
)
async def test_unknown_channels_and_lessons_get_a_404_page(
    client: Client, path: str, message: str
) -> None:
    html = await page(client, path, status=404)
    assert message in html
    assert "data-back>Back to all classes</a>" in html
    response = await client.get(path)
    assert response.headers["Cache-Control"] == "public, max-age=1"  # not remembered for long


async def test_pages_carry_validators_and_short_lifetimes(client: Client) -> None:
    for path in ("/", "/watch/live/grade-5", "/watch/vod/math-fractions"):
        response = await client.get(path)
        assert response.headers["Cache-Control"] == "public, max-age=30"  # timetable <= 1 min
        assert response.headers["Last-Modified"]
        again = await client.get(path, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status == 304
    head = await client.head("/")
    assert head.status == 200 and int(head.headers["Content-Length"]) > 1000


async def test_the_page_changes_with_the_timetable(client: Client, clock: FakeClock) -> None:
    first = await client.get("/")
    clock.now += 40  # the next lesson on every channel
    second = await client.get("/", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status == 200
    assert second.headers["ETag"] != first.headers["ETag"]


async def test_assets_by_fingerprint_are_immutable(client: Client) -> None:
    html = await page(client, "/")
    for name in re.findall(r'(?:href|src)="assets/([^"]+)"', html):
        response = await client.get(f"/assets/{name}")
        assert response.status == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["ETag"] and response.headers["Last-Modified"]
        plain = re.sub(r"\.[0-9a-f]{12}\.", ".", name)
        alias = await client.get(f"/assets/{plain}")
        assert alias.headers["Cache-Control"] == "public, max-age=3600"
        assert await alias.read() == await response.read()
    script = await client.get("/assets/portal.js")
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"


async def test_hls_js_is_served_from_the_npm_install(client: Client) -> None:
    response = await client.get("/assets/hls.min.js")
    assert response.status == 200, "run scripts/setup: it installs hls.js with npm"
    body = await response.read()
    assert body == HLS_JS_BYTES


async def test_unknown_assets_are_404(client: Client) -> None:
    for name in ("nope.js", "portal.000000000000.js", "..%2Fconfig.py"):
        response = await client.get(f"/assets/{name}")
        assert response.status in (400, 404), name


async def test_without_hls_js_the_origin_still_serves_the_portal(make_client: MakeClient) -> None:
    client = await make_client(hls_js=Path("/nonexistent/hls.min.js"))
    assert (await client.get("/")).status == 200
    assert (await client.get("/assets/hls.min.js")).status == 404


def test_own_script_and_style_stay_under_50_kb() -> None:
    own = sum(path.stat().st_size for path in STATIC.iterdir() if path.suffix in (".js", ".css"))
    assert own < OWN_ASSETS_BUDGET


async def test_titles_are_escaped(make_client: MakeClient, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "science-water-cycle/lesson.toml").write_text(
        'title = "<script>alert(1)</script>"\ngrade = "Grade 5 & 6"\nsubject = "Science"\n'
    )
    client = await make_client(content=content)  # grade-5 plays that lesson at the fixture's time
    for path in ("/", "/watch/vod/science-water-cycle", "/watch/live/grade-5"):
        html = await page(client, path)
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<h3>Grade 5 &amp; 6</h3>" in await page(client, "/")


async def test_catalog_has_next_and_page_links(client: Client, clock: FakeClock) -> None:
    clock.now = EPOCH + 50
    channels = (await (await client.get("/api/channels")).json())["channels"]
    grade5 = next(c for c in channels if c["id"] == "grade-5")
    assert grade5["page"] == "/watch/live/grade-5"
    assert grade5["now_playing"]["start"] == "2025-09-01T08:00:40Z"
    assert grade5["next"] == {
        "lesson": "reading-stories",
        "title": "Reading: Stories",
        "url": "/vod/reading-stories/master.m3u8",
        "start": "2025-09-01T08:01:20Z",
        "end": "2025-09-01T08:02:00Z",
    }
    lessons = (await (await client.get("/api/lessons")).json())["lessons"]
    math = next(item for item in lessons if item["id"] == "math-fractions")
    assert (math["grade"], math["subject"], math["page"]) == (
        "Grade 5",
        "Math",
        "/watch/vod/math-fractions",
    )
