import pytest

from classcast.http_rules import (
    ByteRange,
    RangeError,
    is_not_modified,
    parse_range,
    range_applies,
)

LM = "Thu, 26 Nov 2026 10:00:00 GMT"
LM_TS = 1795687200.0


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("bytes=0-9", 100, ByteRange(0, 9)),
        ("bytes=10-", 100, ByteRange(10, 99)),
        ("bytes=-10", 100, ByteRange(90, 99)),
        ("bytes=-500", 100, ByteRange(0, 99)),
        ("bytes=90-500", 100, ByteRange(90, 99)),
        ("bytes=99-99", 100, ByteRange(99, 99)),
        (" bytes = 5-6 ", 100, ByteRange(5, 6)),
        ("BYTES=0-0", 100, ByteRange(0, 0)),
        ("items=0-9", 100, None),  # other units: ignored, whole body (RFC 9110 14.2)
        ("bytes=0-1,5-6", 100, None),  # several ranges: whole body
    ],
)
def test_range_table(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    "header", ["bytes=abc", "bytes=5-2", "bytes=-", "bytes=1-x", "bytes=--3", "bytes", "bytes=²-"]
)
def test_malformed_range_is_400(header: str) -> None:
    with pytest.raises(RangeError, match="malformed Range") as raised:
        parse_range(header, 100)
    assert raised.value.status == 400


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=500-600", "bytes=-0"])
def test_unsatisfiable_range_is_416(header: str) -> None:
    with pytest.raises(RangeError) as raised:
        parse_range(header, 100)
    assert (raised.value.status, raised.value.size) == (416, 100)  # Content-Range: bytes */100


def test_content_range() -> None:
    assert ByteRange(10, 19).content_range(100) == "bytes 10-19/100"
    assert ByteRange(10, 19).length == 10


@pytest.mark.parametrize(
    ("inm", "ims", "expected"),
    [
        ('"abc"', None, True),
        ('W/"abc"', None, True),
        ('"x", "abc"', None, True),
        ("*", None, True),
        ('"other"', None, False),
        ('"other"', LM, False),  # If-None-Match wins over If-Modified-Since
        (None, LM, True),
        (None, "Thu, 26 Nov 2026 09:59:59 GMT", False),
        (None, "not a date", False),
        (None, None, False),
    ],
)
def test_not_modified(inm: str | None, ims: str | None, expected: bool) -> None:
    assert is_not_modified(inm, ims, '"abc"', LM_TS) is expected


@pytest.mark.parametrize(
    ("if_range", "applies"),
    [
        (None, True),
        ('"abc"', True),
        ('"old"', False),
        ('W/"abc"', False),
        (LM, True),
        ("Mon, 01 Jan 2001 00:00:00 GMT", False),
    ],
)
def test_if_range(if_range: str | None, applies: bool) -> None:
    assert range_applies(if_range, '"abc"', LM) is applies
