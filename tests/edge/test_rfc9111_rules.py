"""RFC 9111's freshness and reuse rules as the edge applies them: pure functions, as tables."""

from __future__ import annotations

import pytest

from classcast.http_rules import parse_http_date_strict
from edge.cache.describe import end_to_end, expires_lifetime, is_valid_targeted, vary_fields
from edge.cache.freshness import (
    DAY,
    NO_STORE,
    Freshness,
    FreshnessDefaults,
    freshness,
    may_serve_on_error,
    may_store,
    parse_cache_control,
)
from edge.cache.keys import cache_key
from edge.cache.variants import normalised, variant_key
from edge.config import build, rate_burst
from edge.http.ratelimit import ClientRates

DATE = 1_800_000_000.0


@pytest.mark.parametrize(
    ("header", "max_age", "s_maxage"),
    [
        ("max-age=60", 60.0, None),
        ('max-age="60"', 60.0, None),  # the quoted-string form
        ("max-age=1800, max-age=1", 1800.0, None),  # the first occurrence (RFC 9111 4.2.1)
        ('extension="max-age=3600", max-age=1', 1.0, None),  # a comma inside quotes
        ("MAX-AGE=5", 5.0, None),  # directive names are case-insensitive
        ("max-age=-1", 0.0, None),  # invalid: stale
        ("max-age='3600'", 0.0, None),
        ("max-age=3600.5", 0.0, None),
        ("max-age=a3600", 0.0, None),
        ("max-age= 3600", 0.0, None),
        ("max-age=003600", 3600.0, None),
        ("max-age=3600, s-maxage=-1", 3600.0, 0.0),
        ("", None, None),
    ],
)
def test_cache_control_values(header: str, max_age: float | None, s_maxage: float | None) -> None:
    cc = parse_cache_control(header)
    assert (cc.max_age, cc.s_maxage) == (max_age, s_maxage)


@pytest.mark.parametrize(
    ("header", "forbids"),
    [
        ("max-age=60", False),
        ("max-age=60, must-revalidate", True),
        ("max-age=60, proxy-revalidate", True),
        ("no-cache", True),
        ("s-maxage=60", True),
        ('no-cache="Set-Cookie"', False),  # a field-scoped no-cache is not the bare one
    ],
)
def test_what_forbids_serving_stale(header: str, forbids: bool) -> None:
    cc = parse_cache_control(header)
    assert cc.forbids_stale is forbids
    fresh = freshness("other", 200, cc)
    assert may_serve_on_error(fresh.ttl + 1, fresh) is (not forbids)


@pytest.mark.parametrize(
    ("header", "authorized", "storable"),
    [
        ("max-age=60", False, True),
        ("max-age=60", True, False),  # RFC 9111 3.5
        ("public, max-age=60", True, True),
        ("s-maxage=60", True, True),
        ("must-revalidate, max-age=60", True, True),
        ("private, max-age=60", False, False),
        ("no-store, max-age=60", False, False),
    ],
)
def test_what_a_shared_cache_may_store(header: str, authorized: bool, storable: bool) -> None:
    assert may_store(parse_cache_control(header), authorized=authorized) is storable


@pytest.mark.parametrize(
    ("status", "cc", "expires", "since_modified", "expected"),
    [
        (200, "", 100.0, None, Freshness(100.0, 0.0, DAY)),  # Expires - Date
        (200, "max-age=5", 100.0, None, Freshness(5.0, 0.0, DAY)),  # max-age wins over Expires
        (200, "", 0.0, None, Freshness(0.0, 0.0, DAY)),  # an invalid Expires: stale
        (200, "", None, None, Freshness(0.0, 0.0, DAY)),  # nothing: stored, never fresh
        (200, "", None, 86400.0, Freshness(8640.0, 0.0, DAY)),  # heuristic: 10 %
        (200, "", None, 10 * 365 * DAY, Freshness(DAY, 0.0, DAY)),  # capped
        (404, "", None, 86400.0, Freshness(8640.0, 0.0, DAY)),  # heuristically cacheable
        (302, "", None, 86400.0, NO_STORE),  # not heuristically cacheable (RFC 9110 15.4.3)
        (302, "max-age=60", None, None, Freshness(60.0, 0.0, DAY)),  # explicit: stored
        (500, "max-age=60", None, None, Freshness(60.0, 0.0, DAY)),
        (206, "max-age=60", None, None, NO_STORE),  # ranges come from whole objects
    ],
)
def test_rfc_freshness_for_any_other_object(
    status: int, cc: str, expires: float | None, since_modified: float | None, expected: Freshness
) -> None:
    got = freshness(
        "other", status, parse_cache_control(cc), expires=expires, since_modified=since_modified
    )
    assert got == expected


def test_heuristics_can_be_turned_off() -> None:
    off = FreshnessDefaults(heuristic_fraction=0.0)
    assert (
        freshness("other", 200, parse_cache_control(""), since_modified=DAY, defaults=off).ttl == 0
    )


def test_the_hls_overrides_yield_to_an_origin_that_says_more() -> None:
    cc = parse_cache_control("no-store")
    assert freshness("segment", 200, cc) == NO_STORE  # the origin wins over immutability
    segment = freshness("segment", 200, parse_cache_control("max-age=60, must-revalidate"))
    assert segment == Freshness(60.0)  # no stale-if-error where the origin forbids it


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", True),
        ("Sunday, 06-Nov-94 08:49:37 GMT", True),
        ("Sun Nov  6 08:49:37 1994", True),
        ("Sun, 06 Nov 1994 08:49:37 UTC", False),
        ("Sun, 06 Nov 94 08:49:37 GMT", False),
        ("Sun 06 Nov 1994 08:49:37 GMT", False),
        ("Sun, 06-Nov-1994 08:49:37 GMT", False),
        ("Sun, 06 Nov 1994 8:49:37 GMT", False),
        ("sun, 06 nov 1994 08:49:37 gmt", True),  # names in any case, as nginx and Varnish
        ("THU, 18 AUG 2050 02:01:18 GMT", True),
        ("Sun, 06 Nov 1994 08:49:37 GMT+1", False),
        ("0", False),
    ],
)
def test_only_the_three_http_date_forms_are_dates(value: str, valid: bool) -> None:
    assert (parse_http_date_strict(value) is not None) is valid


def test_expires_is_relative_to_date_and_invalid_means_expired() -> None:
    expires = "Sun, 06 Nov 1994 08:49:37 GMT"
    date = parse_http_date_strict(expires)
    assert date is not None
    assert expires_lifetime(expires, date - 100) == 100.0
    assert expires_lifetime("0", DATE) == 0.0
    assert expires_lifetime(None, DATE) is None


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ({"accept-language": "en"}, {"accept-language": "en"}, True),
        ({"accept-language": "en,fr"}, {"accept-language": "en, fr"}, True),  # whitespace
        ({"accept-language": "en"}, {"accept-language": "fr"}, False),
        ({"accept-language": "en"}, {}, False),
        ({"accept-language": ""}, {}, False),  # empty is not absent
        ({"accept-language": "en", "x-other": "1"}, {"accept-language": "en"}, True),
    ],
)
def test_variants(a: dict[str, str], b: dict[str, str], same: bool) -> None:
    key = cache_key("/page")
    fields = vary_fields("Accept-Language")
    assert (variant_key(key, fields, a) == variant_key(key, fields, b)) is same
    assert str(variant_key(key, fields, a)).startswith("/page#")


def test_vary_fields_and_normalising() -> None:
    assert vary_fields("Accept-Language, accept-encoding,,") == (
        "accept-encoding",
        "accept-language",
    )
    assert vary_fields("*") == ("*",)
    assert normalised(" a ,  b") == "a,b"


def test_end_to_end_fields_leave_hop_by_hop_ones_out() -> None:
    headers = {"Connection": "close, X-Hop", "X-Hop": "1", "Keep-Alive": "5", "X-Mine": "2"}
    assert end_to_end(headers) == {"X-Mine": "2"}


def test_targeted_cache_control_must_be_a_valid_structured_field() -> None:
    assert is_valid_targeted("max-age=60, stale-if-error=5")
    assert not is_valid_targeted('max-age="60"')
    assert not is_valid_targeted("max-age=60, &&&")


def test_the_burst_defaults_to_two_seconds_of_the_rate() -> None:
    config = build({"upstreams": ["http://127.0.0.1:1"], "rate_per_client": 50})
    assert rate_burst(config) == 100
    rates = ClientRates(config.rate_per_client, rate_burst(config), clock=lambda: 0.0)
    answered = sum(rates.take("10.0.0.1") == 0.0 for _ in range(300))
    assert answered == 100  # 300 at once: the burst passes, the rest are told to wait (429)
    set_burst = build({"upstreams": ["http://127.0.0.1:1"], "rate_burst_per_client": 7})
    assert rate_burst(set_burst) == 7
