"""CMCD parsing (CTA-5004 v1): both forms, every key's type, malformed values ignored and
counted."""

from __future__ import annotations

import pytest

from edge.serve.cmcd import KEYS, Value, carries_cmcd, pairs, request_cmcd

HLSJS = (
    "/vod/a/360p/seg_1.ts?CMCD=bl%3D21300%2Cbr%3D3200%2Cbs%2Ccid%3D%22live%2Fgrade-5%22%2C"
    "d%3D4004%2Cdl%3D18500%2Cmtp%3D48100%2Cnor%3D%22seg_2.ts%22%2Cnrr%3D%2212323-48763%22%2C"
    "ot%3Dv%2Cpr%3D1.08%2Crtp%3D12000%2Csf%3Dh%2Csid%3D%226e2fb550-c457-11e9-bb97%22%2Cst%3Dl"
    "%2Csu%2Ctb%3D6000%2Cv%3D1"
)
EVERY_KEY: dict[str, Value] = {
    "bl": 21300,
    "br": 3200,
    "bs": True,
    "cid": "live/grade-5",
    "d": 4004,
    "dl": 18500,
    "mtp": 48100,
    "nor": "seg_2.ts",
    "nrr": "12323-48763",
    "ot": "v",
    "pr": 1.08,
    "rtp": 12000,
    "sf": "h",
    "sid": "6e2fb550-c457-11e9-bb97",
    "st": "l",
    "su": True,
    "tb": 6000,
    "v": 1,
}


def test_the_query_form_carries_every_v1_key() -> None:
    assert set(EVERY_KEY) == set(KEYS)
    assert request_cmcd(HLSJS, {}) == (EVERY_KEY, 0)


def test_the_header_form_splits_the_keys_over_four_headers() -> None:
    headers = {
        "cmcd-object": "br=3200,d=4004,ot=v,tb=6000",
        "cmcd-request": 'bl=21300,dl=18500,mtp=48100,nor="seg_2.ts",nrr="12323-48763",su',
        "cmcd-session": 'cid="live/grade-5",pr=1.08,sf=h,sid="6e2fb550-c457-11e9-bb97",st=l,v=1',
        "cmcd-status": "bs,rtp=12000",
    }
    assert carries_cmcd("/vod/a/360p/seg_1.ts", headers)
    assert request_cmcd("/vod/a/360p/seg_1.ts", headers) == (EVERY_KEY, 0)


@pytest.mark.parametrize(
    ("payload", "values", "malformed"),
    [
        ("br=abc", {}, 1),  # an Integer that is not one
        ("br=-5", {}, 1),
        ("br=3.5", {}, 1),
        ("bl=²", {}, 1),  # a Unicode digit is no Integer
        ("br", {}, 1),  # an Integer with no value
        ("sid=abc", {}, 1),  # a String must be quoted
        ('sid=""', {}, 1),
        ('sid="' + "x" * 65 + '"', {}, 1),  # at most 64 characters
        ('sid="a"b"', {}, 1),
        ("ot=x", {}, 1),  # not one of the object-type tokens
        ("st=live", {}, 1),
        ("pr=fast", {}, 1),
        ("bs=maybe", {}, 1),
        ("bs=false", {"bs": False}, 0),
        ("su=true", {"su": True}, 0),
        ('sid="a\\"b,c"', {"sid": 'a"b,c'}, 0),  # an escaped quote and a comma inside
        ("com.example-custom=1,br=800", {"br": 800}, 0),  # custom keys are ignored
        ("xyz=1", {}, 0),  # later versions' keys too
        ("=1,,", {}, 1),
        ("br=800,,bl=100", {"br": 800, "bl": 100}, 0),
    ],
)
def test_malformed_values_are_ignored_and_counted(
    payload: str, values: dict[str, Value], malformed: int
) -> None:
    assert request_cmcd("/x", {"cmcd-request": payload}) == (values, malformed)


def test_the_query_wins_over_headers_and_bad_encoding_is_counted() -> None:
    target = "/a/b/c.ts?x=1&CMCD=br%3D800&CMCD=%FF"
    assert request_cmcd(target, {"cmcd-object": "br=400"}) == ({"br": 800}, 1)


def test_requests_without_cmcd_pay_only_the_cheap_test() -> None:
    assert not carries_cmcd("/live/grade-5/360p/index.m3u8", {"user-agent": "stb"})
    assert not carries_cmcd("/live/x/360p/index.m3u8?_HLS_msn=4", {})
    assert carries_cmcd("/x.ts?CMCD=bs", {})


def test_commas_inside_quotes_do_not_split_pairs() -> None:
    assert pairs('nor="a,b",br=1') == [("nor", '"a,b"'), ("br", "1")]
