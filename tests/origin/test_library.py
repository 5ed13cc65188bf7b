"""The library serves any valid HLS folder, including one dropped in while running."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from origin.errors import LibraryError
from origin.library import Library, load_lesson

from .conftest import CONTENT, MakeClient


@pytest.fixture
def library_dir(tmp_path: Path) -> Path:
    content = tmp_path / "content"
    content.mkdir()
    shutil.copytree(CONTENT / "math-fractions", content / "math-fractions")
    schedule = tmp_path / "schedule.toml"
    schedule.write_text(
        '[channels.only]\nepoch = 2025-09-01T08:00:00Z\nlessons = ["math-fractions"]\n'
    )
    return content


async def test_a_folder_dropped_in_is_served_without_restart(
    make_client: MakeClient, library_dir: Path
) -> None:
    client = await make_client(
        content=library_dir, schedule=library_dir.parent / "schedule.toml", rescan_interval=0.0
    )
    assert (await client.get("/vod/reading-stories/master.m3u8")).status == 404
    shutil.copytree(CONTENT / "reading-stories", library_dir / "reading-stories")
    assert (await client.get("/vod/reading-stories/master.m3u8")).status == 200
    shutil.copytree(CONTENT / "science-water-cycle", library_dir / "science-water-cycle")
    ids = [lesson["id"] for lesson in (await (await client.get("/api/lessons")).json())["lessons"]]
    assert ids == ["math-fractions", "reading-stories", "science-water-cycle"]


def test_broken_and_hidden_folders_are_skipped(library_dir: Path) -> None:
    (library_dir / "broken").mkdir()
    (library_dir / "broken" / "master.m3u8").write_text("not a playlist")
    (library_dir / ".tmp-x").mkdir()
    (library_dir / ".tmp-x" / "master.m3u8").write_text("#EXTM3U\n")
    library = Library(library_dir, lambda: 0.0, 1.0)
    library.scan()
    assert list(library.lessons) == ["math-fractions"]


def test_rescan_is_rate_limited() -> None:
    now = [0.0]
    library = Library(CONTENT, lambda: now[0], 5.0)
    assert library.is_due_for_rescan()
    library.scan()
    assert not library.is_due_for_rescan()
    now[0] = 5.0
    assert library.is_due_for_rescan()


def test_variant_uris_must_stay_inside(tmp_path: Path) -> None:
    lesson = tmp_path / "evil"
    lesson.mkdir()
    (lesson / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n../other/index.m3u8\n"
    )
    with pytest.raises(LibraryError, match="must be relative inside"):
        load_lesson(lesson)


def test_sample_lessons_load_with_titles() -> None:
    lesson = load_lesson(CONTENT / "science-water-cycle")
    assert lesson.title == "Science: The Water Cycle"
    assert lesson.rendition_names == ("360p", "180p")
    assert [s.duration for s in lesson.renditions[0].segments] == [4.0] * 10
