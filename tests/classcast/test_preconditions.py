"""RFC 9110 13.2.2 preconditions as the origin decides them (the edge answers GET and HEAD
with the If-None-Match / If-Modified-Since part of the same rules), and If-Range (13.1.5)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from classcast.http_rules import Precondition, precondition, range_applies

ETAG = '"abc"'
LM = "Thu, 26 Nov 2026 10:00:00 GMT"
LM_TS = 1795687200.0
EARLIER = "Thu, 26 Nov 2026 09:59:59 GMT"
NOT_MODIFIED = Precondition(304)
NO_MATCH = Precondition(412, "If-Match does not match the current ETag")
CHANGED = Precondition(412, "modified since If-Unmodified-Since")


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("GET", {}, None),
        ("GET", {"If-Match": ETAG}, None),
        ("GET", {"If-Match": "*"}, None),
        ("GET", {"If-Match": '"other"'}, NO_MATCH),
        ("GET", {"If-Match": f"W/{ETAG}"}, NO_MATCH),  # 13.1.1: strong comparison
        ("GET", {"If-Match": ETAG, "If-Unmodified-Since": EARLIER}, None),  # If-Match wins
        ("GET", {"If-Unmodified-Since": LM}, None),
        ("GET", {"If-Unmodified-Since": EARLIER}, CHANGED),
        ("GET", {"If-Unmodified-Since": "not a date"}, None),  # 13.1.4: ignored
        ("GET", {"If-None-Match": ETAG}, NOT_MODIFIED),
        ("HEAD", {"If-None-Match": f"W/{ETAG}"}, NOT_MODIFIED),  # 13.1.2: weak comparison
        ("GET", {"If-None-Match": '"other"', "If-Modified-Since": LM}, None),  # INM wins
        ("GET", {"If-Modified-Since": LM}, NOT_MODIFIED),
        ("GET", {"If-Modified-Since": EARLIER}, None),
        ("POST", {"If-None-Match": ETAG}, Precondition(412, "ETag match")),
        ("POST", {"If-None-Match": '"other"'}, None),
        ("POST", {"If-Modified-Since": LM}, None),  # 13.1.3: GET and HEAD only
        ("GET", {"If-Match": '"other"', "If-None-Match": ETAG}, NO_MATCH),  # step 1 first
    ],
)
def test_precondition(method: str, headers: dict[str, str], expected: Precondition | None) -> None:
    assert precondition(method, CIMultiDict(headers), ETAG, LM_TS) == expected
    lower = {name.lower(): value for name, value in headers.items()}  # as the edge holds them
    assert precondition(method, lower, ETAG, LM_TS) == expected


def test_without_last_modified_only_entity_tags_decide() -> None:
    assert precondition("GET", {"if-modified-since": LM}, ETAG, None) is None
    assert precondition("GET", {"if-unmodified-since": EARLIER}, ETAG, None) is None


@pytest.mark.parametrize(
    ("if_range", "last_modified", "applies"),
    [
        (None, LM, True),
        (ETAG, LM, True),
        ('"old"', LM, False),
        (f"W/{ETAG}", LM, False),  # 13.1.5: a weak tag never matches
        (f"{ETAG}, {ETAG}", LM, False),  # one validator, not a list
        (LM, LM, True),
        (EARLIER, LM, False),
        ("", None, False),  # no Last-Modified: a date never matches
        (LM, None, False),
    ],
)
def test_if_range(if_range: str | None, last_modified: str | None, applies: bool) -> None:
    assert range_applies(if_range, ETAG, last_modified) is applies
