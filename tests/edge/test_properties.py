"""Property tests (hypothesis): what clients send reaches pure code that must answer a value
or a 4xx error, never raise anything else (a 500)."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import example, given, settings
from hypothesis import strategies as st

from classcast.http_rules import RangeError, is_not_modified, parse_range, range_applies
from edge.cache.freshness import delta_seconds
from edge.cache.keys import HLS_DIRECTIVES, MAX_PATH_LENGTH, TOKEN_PARAMS, CacheKey, cache_key
from edge.errors import RequestError

segment = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters="/?#%\\"),
    max_size=12,
)
clean_paths = st.lists(segment.filter(lambda s: s not in ("", ".", "..")), max_size=6).map(
    lambda parts: "/" + "/".join(parts)
)
param_names = st.sampled_from([*HLS_DIRECTIVES, *TOKEN_PARAMS, "cb", "token", "lang"])
params = st.lists(st.tuples(param_names, st.text(max_size=10)), max_size=6)


def encoded(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in pairs)


@settings(max_examples=500)
@given(target=st.text(max_size=300))
@example("/" + "a/" * 2000)
@example("/vod/%ff%fe")
@example("/vod/%2e%2e/x")
@example("/vod/a?%zz=%")
def test_any_target_gives_a_key_or_a_4xx(target: str) -> None:
    try:
        key = cache_key(target)
    except RequestError as exc:
        assert 400 <= exc.status < 500 and exc.reason
        return
    assert isinstance(key, CacheKey)
    assert key.path.startswith("/") and "//" not in key.path
    assert not {"..", "."} & set(key.path.split("/"))
    assert not any(ord(c) < 0x20 or c == "\x7f" for c in key.path)
    assert cache_key(key.upstream_target) == key  # what goes upstream keys the same object


@given(path=clean_paths, pairs=params, keep=st.frozensets(param_names))
def test_token_and_unknown_parameters_never_change_the_key(
    path: str, pairs: list[tuple[str, str]], keep: frozenset[str]
) -> None:
    path = path.rstrip("/") + "/seg.ts"  # an HLS object: keep_query is the HLS override
    key = cache_key(f"{quote(path)}?{encoded(pairs)}", keep)
    kept = [(k, v) for k, v in pairs if k in (keep | HLS_DIRECTIVES) - TOKEN_PARAMS]
    assert cache_key(f"{quote(path)}?{encoded(kept)}", keep) == key
    assert not any(f"{name}=" in key.query for name in TOKEN_PARAMS)
    # order of parameters is not part of the key
    assert cache_key(f"{quote(path)}?{encoded(list(reversed(pairs)))}", keep).path == key.path


@given(pairs=params)
def test_any_other_url_keeps_its_query_but_never_a_token(pairs: list[tuple[str, str]]) -> None:
    key = cache_key(f"/api/lessons?{encoded(pairs)}")
    kept = [(k, v) for k, v in pairs if k not in TOKEN_PARAMS]
    assert key == cache_key(f"/api/lessons?{encoded(kept)}")


@given(path=clean_paths, slashes=st.integers(1, 3), dots=st.booleans())
def test_spellings_of_one_path_share_a_key(path: str, slashes: int, dots: bool) -> None:
    if len(path) * 3 > MAX_PATH_LENGTH:
        return
    plain = cache_key(quote(path) or "/")
    spelled = quote(path).replace("/", "/" * slashes)
    assert cache_key(spelled or "/").path.rstrip("/") == plain.path.rstrip("/")
    if dots:  # every character percent-encoded still names the same object
        every = "".join(c if c == "/" else f"%{b:02X}" for c in path for b in c.encode())
        assert cache_key(every or "/").path == plain.path


@settings(max_examples=500)
@given(header=st.text(max_size=60), size=st.integers(0, 10**12))
@example("bytes=" + "1" * 5000 + "-", 100)
@example("bytes=0-" + "9" * 5000, 100)
@example("bytes=-" + "9" * 5000, 100)
@example("bytes=" + "0" * 5000 + "5-", 100)
@example("bytes=\u0661-\u0662", 100)
def test_any_range_header_gives_a_range_inside_the_body_or_a_4xx(header: str, size: int) -> None:
    try:
        window = parse_range(header, size)
    except RangeError as exc:
        assert exc.status in (400, 416) and "\n" not in exc.reason and exc.size == size
        return
    if window is not None:
        assert 0 <= window.start <= window.end < size
        assert window.length == window.end - window.start + 1


@given(
    first=st.integers(0, 10**30),
    last=st.one_of(st.none(), st.integers(0, 10**30)),
    size=st.integers(1, 10**9),
)
def test_well_formed_ranges_follow_rfc_9110(first: int, last: int | None, size: int) -> None:
    header = f"bytes={first}-{'' if last is None else last}"
    try:
        window = parse_range(header, size)
    except RangeError as exc:
        if exc.status == 416:
            assert first >= size
        else:
            assert last is not None and last < first
        return
    assert window is not None and window.start == first
    assert window.end == (size - 1 if last is None else min(last, size - 1))


dates = st.one_of(
    st.text(max_size=40),
    st.builds(
        "{} {:02d} {} {} {:02d}:{:02d}:{:02d} {}".format,
        st.sampled_from(["Mon,", "Sun,", ""]),
        st.integers(0, 10**20),
        st.sampled_from(["Jan", "Feb", "Foo"]),
        st.integers(-(10**20), 10**20),
        st.integers(0, 10**20),
        st.integers(0, 99),
        st.integers(0, 99),
        st.sampled_from(["GMT", "+0000", "+99999999999999999999", "-9999"]),
    ),
)


@settings(max_examples=300)
@given(
    inm=st.one_of(st.none(), st.text(max_size=30)),
    ims=st.one_of(st.none(), dates),
    if_range=st.one_of(st.none(), dates, st.text(max_size=20)),
)
@example(None, "Mon, 01 Jan 99999999999999 00:00:00 GMT", None)
@example(None, "Mon, 01 Jan 2020 00:00:00 +99999999999999999", None)
def test_preconditions_never_raise(inm: str | None, ims: str | None, if_range: str | None) -> None:
    assert isinstance(is_not_modified(inm, ims, '"abc"', 1_700_000_000.0), bool)
    assert isinstance(range_applies(if_range, '"abc"', "Tue, 14 Nov 2023 22:13:20 GMT"), bool)


@given(value=st.text(max_size=30) | st.integers(0, 6000).map(lambda n: "0" * (n % 7) + "9" * n))
def test_delta_seconds_is_none_or_a_bounded_number(value: str) -> None:
    seconds = delta_seconds(value)
    assert seconds is None or 0 <= seconds <= 2**31
