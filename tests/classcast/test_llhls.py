"""The shared LL-HLS rules as tables: directives, playlist facts, delta updates."""

from __future__ import annotations

import pytest

from classcast.llhls import (
    DirectiveError,
    Directives,
    attributes,
    delta_update,
    parse_directives,
    read_facts,
)
from tests.support.llplaylists import playlist


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", Directives()),
        ("_HLS_msn=12", Directives(12)),
        ("_HLS_msn=12&_HLS_part=3", Directives(12, 3)),
        ("token=x&_HLS_skip=YES", Directives(skip="YES")),
        ("_HLS_skip=v2&_HLS_msn=0&_HLS_part=0", Directives(0, 0, "v2")),
    ],
)
def test_directives(query: str, expected: Directives) -> None:
    assert parse_directives(query) == expected


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("_HLS_part=2", "_HLS_part needs _HLS_msn"),
        ("_HLS_msn=-1", "_HLS_msn must be a decimal integer"),
        ("_HLS_msn=1&_HLS_part=x", "_HLS_part must be a decimal integer"),
        ("_HLS_msn=1e3", "_HLS_msn must be a decimal integer"),
        ("_HLS_skip=NO", "_HLS_skip must be YES or v2"),
    ],
)
def test_bad_directives(query: str, problem: str) -> None:
    with pytest.raises(DirectiveError, match=problem):
        parse_directives(query)


@pytest.mark.parametrize(
    ("text", "last_msn", "last_part"),
    [
        (playlist(6, parts_last=8), 105, 7),
        (playlist(6, parts_last=8, trailing=3), 106, 2),
        (playlist(1, parts_last=2, trailing=1, first=0), 1, 0),
    ],
)
def test_facts(text: str, last_msn: int, last_part: int) -> None:
    facts = read_facts(text)
    assert (facts.last_msn, facts.last_part) == (last_msn, last_part)
    assert facts.can_block and facts.part_target == 0.5 and facts.target_duration == 4


@pytest.mark.parametrize(
    ("msn", "part", "satisfied"),
    [
        (105, None, True),
        (106, None, False),  # the growing segment is not complete
        (106, 2, True),
        (106, 3, False),
        (104, 9, True),  # an older segment: complete, so every part of it is there
        (107, 0, False),
    ],
)
def test_satisfies(msn: int, part: int | None, satisfied: bool) -> None:
    assert read_facts(playlist(6, parts_last=8, trailing=3)).satisfies(msn, part) is satisfied


@pytest.mark.parametrize(("msn", "ahead"), [(106, False), (108, False), (109, True)])
def test_too_far_ahead(msn: int, ahead: bool) -> None:
    facts = read_facts(playlist(6, parts_last=8, trailing=3))
    assert facts.is_too_far_ahead(msn, 0) is ahead


def test_attributes_keep_commas_in_quotes() -> None:
    assert attributes('URI="a,b.ts",LAST-MSN=4') == {"URI": "a,b.ts", "LAST-MSN": "4"}


@pytest.mark.parametrize(
    ("segments", "skip", "skipped"),
    [
        (6, "YES", 0),  # 24 s: every segment is inside CAN-SKIP-UNTIL
        (8, "YES", 2),  # 32 s: the two oldest end 24 s or more before the end
        (12, "YES", 6),
        (12, "v2", 6),
        (12, "", 0),  # no directive: the full playlist
    ],
)
def test_delta_update(segments: int, skip: str, skipped: int) -> None:
    full = playlist(segments, parts_last=8, trailing=2)
    delta = delta_update(full, skip)  # type: ignore[arg-type]  # the table holds valid values
    if not skipped:
        assert delta == full
        return
    lines = delta.splitlines()
    extra = ',RECENTLY-REMOVED-DATERANGES=""' if skip == "v2" else ""
    assert f"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}{extra}" in lines
    assert f"#EXT-X-VERSION:{10 if skip == 'v2' else 9}" in lines
    assert "s100.ts" not in lines and f"s{100 + skipped}.ts" in lines
    # the skipped segments' tags go with them; the facts still count them
    assert lines.count("#EXT-X-DISCONTINUITY") == (0 if skipped > 2 else 1)
    assert read_facts(delta).last_msn == read_facts(full).last_msn
    assert delta.endswith(full.split(f"s{100 + skipped - 1}.ts\n", 1)[1])


def test_no_skip_without_can_skip_until_or_after_the_end() -> None:
    full = playlist(12, skip=False)
    assert delta_update(full, "YES") == full
    ended = playlist(12) + "#EXT-X-ENDLIST\n"
    assert delta_update(ended, "YES") == ended
