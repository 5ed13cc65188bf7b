"""`origin make-sample`: the small sample library shipped in content/, made from test patterns."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from origin.errors import PackagerError
from origin.ladder import Rung
from origin.packager import package

DURATION_S = 40
# Sample renditions: same names in every lesson so a channel can mix them.
SAMPLE_LADDER = (Rung(360, 500, 64), Rung(180, 180, 48))
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


@dataclass(frozen=True)
class SampleLesson:
    id: str
    title: str
    pattern: str  # an ffmpeg lavfi video source
    tone_hz: int
    grade: str
    subject: str


SAMPLE_LESSONS = (
    SampleLesson("math-fractions", "Math: Fractions", "testsrc2", 440, "Grade 5", "Math"),
    SampleLesson(
        "science-water-cycle", "Science: The Water Cycle", "smptebars", 550, "Grade 8", "Science"
    ),
    SampleLesson("reading-stories", "Reading: Stories", "testsrc", 660, "Grade 5", "Reading"),
)


def make_sample(content: Path, force: bool = True) -> list[Path]:
    with tempfile.TemporaryDirectory(prefix="classcast-sample-") as scratch:
        return [_make_lesson(lesson, Path(scratch), content, force) for lesson in SAMPLE_LESSONS]


def _make_lesson(lesson: SampleLesson, scratch: Path, content: Path, force: bool) -> Path:
    source = scratch / f"{lesson.id}.mp4"
    title_file = scratch / f"{lesson.id}.txt"
    title_file.write_text(lesson.title)
    done = subprocess.run(source_command(lesson, title_file, source), capture_output=True)
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise PackagerError(f"cannot render sample {lesson.id}: {' '.join(reason)}")
    return package(
        source,
        lesson.id,
        content,
        lesson.title,
        SAMPLE_LADDER,
        force=force,
        grade=lesson.grade,
        subject=lesson.subject,
    )


def source_command(lesson: SampleLesson, title_file: Path, out: Path) -> list[str]:
    font = f"fontfile={FONT}:" if FONT.exists() else ""
    text = (
        f"drawtext={font}textfile={title_file}:fontsize=36:fontcolor=white:box=1:"
        "boxcolor=black@0.6:boxborderw=8:x=(w-tw)/2:y=h-th-40,"
        f"drawtext={font}text='%{{pts\\:hms}}':fontsize=24:fontcolor=white:box=1:"
        "boxcolor=black@0.6:x=20:y=20"
    )
    return [
        "ffmpeg",
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"{lesson.pattern}=size=640x360:rate=25:duration={DURATION_S}",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={lesson.tone_hz}:r=48000:d={DURATION_S}",
        "-vf",
        text,
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "18",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-t",
        str(DURATION_S),
        str(out),
    ]
