"""Signed URLs: each kind of bad token gets its own verdict, and only a good one passes."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.cache.keys import TOKEN_PARAMS, cache_key
from edge.serve.signing import (
    CLIENT,
    EXPIRES,
    PREFIX,
    SIGNATURE,
    Token,
    carried_query,
    needs_token,
    redact,
    sign,
    verify,
)

KEY = "k1-0123456789abcdef"
OLD_KEY = "k0-fedcba9876543210"
NOW = 1_800_000_000.0
SEG = "/vod/math-fractions/360p/seg_00001.ts"
LESSON = "/vod/math-fractions/"


def query(token: Token, key: str = KEY) -> str:
    return sign(token, key)


def test_the_parameter_names_are_the_ones_keys_drop() -> None:
    assert {EXPIRES, PREFIX, CLIENT, SIGNATURE} == TOKEN_PARAMS


def test_a_path_token_verifies_for_its_path_only() -> None:
    q = query(Token(SEG, False, int(NOW) + 60))
    assert verify(SEG, q, "10.0.0.1", NOW, [KEY]).kind == "ok"
    other = verify("/vod/math-fractions/360p/seg_00002.ts", q, "10.0.0.1", NOW, [KEY])
    assert (other.kind, other.status, other.reason) == ("bad", 403, "bad token signature")


def test_a_prefix_token_covers_everything_under_it_and_nothing_else() -> None:
    q = query(Token(LESSON, True, int(NOW) + 60))
    assert verify(SEG, q, "::1", NOW, [KEY]).ok
    assert verify("/vod/math-fractions/master.m3u8", q, "::1", NOW, [KEY]).ok
    outside = verify("/vod/reading-stories/master.m3u8", q, "::1", NOW, [KEY])
    assert (outside.status, outside.reason) == (403, "token does not cover this path")


@pytest.mark.parametrize(
    ("raw", "kind", "status", "reason"),
    [
        ("", "bad", 403, "missing token"),
        ("a=1", "bad", 403, "missing token"),
        (f"{EXPIRES}=1900000000", "bad", 403, "missing token"),
        (f"{EXPIRES}=19e8&{SIGNATURE}=x", "bad", 403, "bad token expiry"),
        (f"{EXPIRES}=-5&{SIGNATURE}=x", "bad", 403, "bad token expiry"),
        (f"{EXPIRES}=\u0661\u0662&{SIGNATURE}=x", "bad", 403, "bad token expiry"),
        (f"{EXPIRES}=1900000000&{SIGNATURE}=AAAA", "bad", 403, "bad token signature"),
        (f"{EXPIRES}=1900000000&{SIGNATURE}=%FF%FE", "bad", 403, "bad token signature"),
        (f"{EXPIRES}=1&{EXPIRES}=2&{SIGNATURE}=x", "bad", 403, "token parameter given twice"),
    ],
)
def test_malformed_tokens_are_403_with_a_reason(
    raw: str, kind: str, status: int, reason: str
) -> None:
    verdict = verify(SEG, raw, "10.0.0.1", NOW, [KEY])
    assert (verdict.kind, verdict.status, verdict.reason) == (kind, status, reason)


def test_expired_is_410_but_only_once_the_signature_holds() -> None:
    q = query(Token(SEG, False, int(NOW) - 1))
    verdict = verify(SEG, q, "10.0.0.1", NOW, [KEY])
    assert (verdict.kind, verdict.status, verdict.reason) == ("expired", 410, "token expired")
    assert verify(SEG, q, "10.0.0.1", NOW - 2, [KEY]).ok
    # a forged later expiry is not believed: the signature no longer holds
    forged = q.replace(f"{EXPIRES}={int(NOW) - 1}", f"{EXPIRES}={int(NOW) + 999}")
    assert verify(SEG, forged, "10.0.0.1", NOW, [KEY]).reason == "bad token signature"


def test_a_client_bound_token_is_403_elsewhere_and_accepts_a_mapped_address() -> None:
    q = query(Token(LESSON, True, int(NOW) + 60, client="192.0.2.7"))
    assert verify(SEG, q, "192.0.2.7", NOW, [KEY]).ok
    assert verify(SEG, q, "::ffff:192.0.2.7", NOW, [KEY]).ok
    wrong = verify(SEG, q, "192.0.2.8", NOW, [KEY])
    assert (wrong.kind, wrong.status) == ("wrong_client", 403)
    assert wrong.reason == "token bound to another client address"
    assert verify(SEG, q, "", NOW, [KEY]).kind == "wrong_client"  # no peer address known
    moved = q.replace("192.0.2.7", "192.0.2.8")
    assert verify(SEG, moved, "192.0.2.8", NOW, [KEY]).reason == "bad token signature"


def test_every_key_verifies_so_keys_rotate() -> None:
    old = query(Token(SEG, False, int(NOW) + 60), OLD_KEY)
    assert verify(SEG, old, "::1", NOW, [KEY, OLD_KEY]).ok
    assert not verify(SEG, old, "::1", NOW, [KEY]).ok
    assert not verify(SEG, old, "::1", NOW, []).ok


def test_tokens_never_reach_the_cache_key_even_if_kept() -> None:
    q1 = query(Token(SEG, False, int(NOW) + 60))
    q2 = query(Token(LESSON, True, int(NOW) + 99, client="::1"))
    keep = frozenset({EXPIRES, SIGNATURE, "lang"})
    k1 = cache_key(f"{SEG}?{q1}&lang=en", keep)
    k2 = cache_key(f"{SEG}?lang=en&{q2}", keep)
    assert k1 == k2
    assert k1.upstream_target == f"{SEG}?lang=en"


def test_carried_query_keeps_only_the_token() -> None:
    q = query(Token(LESSON, True, int(NOW) + 60, client="::1"))
    carried = carried_query(f"_HLS_msn=4&{q}&x=1")
    assert dict(parse_qsl(carried)) == dict(parse_qsl(q))
    assert verify(SEG, carried, "::1", NOW, [KEY]).ok


def test_only_content_paths_need_a_token() -> None:
    assert needs_token("/vod/a/master.m3u8") and needs_token("/live/grade-8/180p/index.m3u8")
    assert not any(needs_token(p) for p in ("/healthz", "/metrics", "/_admin/purge", "/vodka"))


paths = st.from_regex(r"/(vod|live)/[a-z0-9_/.-]{0,40}", fullmatch=True)


@given(path=paths, ttl=st.integers(1, 10**6), client=st.sampled_from(["", "10.1.2.3", "::1"]))
def test_property_a_signed_url_verifies_until_it_expires(path: str, ttl: int, client: str) -> None:
    q = query(Token(path, False, int(NOW) + ttl, client))
    assert verify(path, q, client or "10.9.9.9", NOW, [OLD_KEY, KEY]).ok
    assert verify(path, q, client or "10.9.9.9", NOW + ttl, [KEY]).kind == "expired"


@given(
    path=paths,
    params=st.lists(
        st.tuples(st.sampled_from([*TOKEN_PARAMS, "x", "_HLS_msn"]), st.text(max_size=60)),
        max_size=6,
    ),
    client=st.text(max_size=40),
    now=st.floats(allow_nan=False, allow_infinity=False),
)
def test_property_random_queries_never_raise_and_never_pass(
    path: str, params: list[tuple[str, str]], client: str, now: float
) -> None:
    verdict = verify(path, urlencode(params), client, now, [KEY])
    assert not verdict.ok
    assert verdict.status in (403, 410) and verdict.reason and "\n" not in verdict.reason


@given(raw=st.text(max_size=200), client=st.text(max_size=40))
def test_property_raw_garbage_queries_never_raise(raw: str, client: str) -> None:
    assert verify(SEG, raw, client, NOW, [KEY]).status in (403, 410)


@given(path=paths, flip=st.integers(0, 42))
def test_property_one_changed_signature_character_is_refused(path: str, flip: int) -> None:
    q = dict(parse_qsl(query(Token(path, False, int(NOW) + 60))))
    sig = q[SIGNATURE]
    q[SIGNATURE] = sig[:flip] + ("A" if sig[flip] != "A" else "B") + sig[flip + 1 :]
    assert verify(path, urlencode(q), "::1", NOW, [KEY]).reason == "bad token signature"


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/vod/a/x.ts", "/vod/a/x.ts"),
        ("/vod/a/x.ts?cc_exp=9&cc_sig=SECRET_-x", "/vod/a/x.ts?cc_exp=9&cc_sig=-"),
        ("/vod/a/x.ts?cc_sig=SECRET&b=1", "/vod/a/x.ts?cc_sig=-&b=1"),
        ("/vod/a/x.ts?xcc_sig=keep", "/vod/a/x.ts?xcc_sig=keep"),
    ],
)
def test_logs_see_no_replayable_signature(target: str, logged: str) -> None:
    assert redact(target) == logged
