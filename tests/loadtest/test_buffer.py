import pytest

from loadtest.buffer import PlaybackBuffer


def test_startup_is_the_time_until_enough_is_buffered() -> None:
    buffer = PlaybackBuffer(opened_at=10.0, startup_s=1.0, resume_s=1.0)
    buffer.append(10.4, 0.5, 300)
    assert buffer.state == "starting"
    buffer.append(10.9, 4.0, 300)
    assert buffer.state == "playing"
    assert buffer.startup_time == pytest.approx(0.9)


# Scripted arrivals of 4 s segments: (arrival time, expected stalls so far, expected stall time)
SCRIPT = [
    (0.5, 0, 0.0),  # starts at 0.5, plays until 4.5
    (4.0, 0, 0.0),  # in time: buffer now runs to 8.5
    (10.0, 1, 1.5),  # late: dry at 8.5, stalled 1.5 s
    (13.0, 1, 1.5),  # in time again (buffer to 18.0)
    (25.0, 2, 8.5),  # dry at 18.0, stalled 7 s
]


def test_stalls_follow_scripted_download_times() -> None:
    buffer = PlaybackBuffer(opened_at=0.0, startup_s=1.0, resume_s=1.0)
    for arrival, stalls, stalled in SCRIPT:
        buffer.append(arrival, 4.0, 300)
        assert (buffer.rebuffer_count, buffer.rebuffer_s) == (stalls, pytest.approx(stalled))
    assert buffer.startup_time == pytest.approx(0.5)
    assert buffer.played_s == pytest.approx(25.0 - 0.5 - 8.5)


def test_stall_in_progress_counts_until_now() -> None:
    buffer = PlaybackBuffer(opened_at=0.0, startup_s=1.0, resume_s=1.0)
    buffer.append(0.0, 2.0, 300)
    assert buffer.state == "playing"
    assert buffer.stalled_for(5.0) == pytest.approx(3.0)
    assert buffer.state == "stalled"
    assert buffer.rebuffer_count == 1


def test_resume_waits_for_the_resume_threshold() -> None:
    buffer = PlaybackBuffer(opened_at=0.0, startup_s=1.0, resume_s=3.0)
    buffer.append(0.0, 1.0, 300)
    buffer.advance(2.0)  # dry at 1.0
    buffer.append(2.0, 2.0, 300)
    assert buffer.state == "stalled"
    buffer.append(3.0, 2.0, 300)
    assert buffer.state == "playing"
    assert buffer.rebuffer_s == pytest.approx(2.0)


def test_draining_at_the_end_of_a_recording_is_not_a_stall() -> None:
    buffer = PlaybackBuffer(opened_at=0.0, startup_s=1.0, resume_s=1.0)
    buffer.append(0.0, 4.0, 300)
    buffer.complete(1.0)
    buffer.advance(10.0)
    assert buffer.state == "ended"
    assert buffer.rebuffer_count == 0
    assert buffer.played_s == pytest.approx(4.0)


def test_played_time_is_split_by_bitrate() -> None:
    buffer = PlaybackBuffer(opened_at=0.0, startup_s=1.0, resume_s=1.0)
    buffer.append(0.0, 4.0, 300)
    buffer.append(0.0, 4.0, 900)
    buffer.advance(6.0)
    assert buffer.played_by_bitrate == {300: pytest.approx(4.0), 900: pytest.approx(2.0)}


def test_a_chunk_told_late_ends_a_stall_no_earlier_than_it_began() -> None:
    buffer = PlaybackBuffer(opened_at=0.0, startup_s=1.0, resume_s=1.0)
    buffer.append(0.0, 1.0, 300)
    buffer.advance(3.0)  # ran dry at 1.0, still stalled when looked at at 3.0
    assert buffer.state == "stalled"
    buffer.append(0.5, 2.0, 300)  # its arrival stamped before the stall began
    assert buffer.state == "playing"
    assert buffer.rebuffer_s == pytest.approx(2.0)  # 1.0 to 3.0, never negative
    assert buffer.stalled_for(3.0) == pytest.approx(2.0)
