"""The one same-object rule: when bytes of one copy may continue a body begun from another."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from edge.cache.flight import Head
from edge.cache.freshness import Freshness
from edge.cache.identity import Identity, of_head, of_meta, same_object
from edge.cache.objects import ObjectMeta

BASE = Identity(200, 1000, '"e1"', "Mon, 01 Jan 2024 00:00:00 GMT")
BARE = Identity(200, 1000, None, None)  # an origin that sends no validators


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (BASE, BASE, True),
        (BARE, BARE, True),  # absent on both sides: status and length decide
        (BASE, Identity(200, 1000, '"e2"', BASE.last_modified), False),
        (BASE, Identity(200, 1000, BASE.etag, "Tue, 02 Jan 2024 00:00:00 GMT"), False),
        (BASE, Identity(200, 999, BASE.etag, BASE.last_modified), False),
        (BASE, Identity(200, 1000, None, BASE.last_modified), False),  # absent on one side
        (Identity(200, 1000, None, BASE.last_modified), BASE, False),
        (BASE, Identity(200, 1000, BASE.etag, None), False),
        (BARE, Identity(200, 1000, '"made-up"', "Mon, 01 Jan 2024 00:00:00 GMT"), False),
        (Identity(206, 1000, '"e1"', None), Identity(206, 1000, '"e1"', None), False),
        (Identity(404, 9, None, None), Identity(404, 9, None, None), False),
        (Identity(200, None, '"e1"', None), Identity(200, None, '"e1"', None), False),
    ],
)
def test_same_object(a: Identity, b: Identity, same: bool) -> None:
    assert same_object(a, b) is same
    assert same_object(b, a) is same


def test_a_head_and_a_stored_object_are_compared_by_the_same_rule() -> None:
    headers = CIMultiDictProxy(CIMultiDict({"ETag": '"e1"', "Content-Length": "1000"}))
    meta = ObjectMeta(
        key="/v/a.ts",
        kind="segment",
        status=200,
        content_type="video/mp2t",
        length=1000,
        etag='"e1"',
        last_modified="Mon, 01 Jan 2024 00:00:00 GMT",  # made up by the edge: none came
        last_modified_ts=None,
        stored_at=0.0,
        initial_age=0.0,
        freshness=Freshness(60.0),
    )
    head = Head(200, headers, 1000, meta)
    assert head.identity == of_head(200, headers, 1000) == Identity(200, 1000, '"e1"', None)
    assert not same_object(head.identity, of_meta(meta))
    assert head.same_object(Head(200, headers, 1000, meta))
