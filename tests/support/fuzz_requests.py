"""Malformed HTTP/1.1 requests for raw-socket fuzzing, from a seeded random source.

Each generator returns the exact bytes to send; `KINDS` names them so a failure says which kind
of bad input it was.
"""

from __future__ import annotations

import random
from collections.abc import Callable

PATHS = (
    "/vod/math-fractions/master.m3u8",
    "/vod/math-fractions/360p/index.m3u8",
    "/vod/math-fractions/360p/seg_00001.ts",
    "/live/grade-8/180p/index.m3u8",
    "/healthz",
    "/metrics",
    "/_admin/purge",
)
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "TRACE", "CONNECT", "PATCH")


def valid(rng: random.Random, path: str | None = None, extra: str = "") -> bytes:
    path = path or rng.choice(PATHS)
    return f"GET {path} HTTP/1.1\r\nHost: edge\r\n{extra}\r\n".encode("latin-1")


def random_bytes(rng: random.Random) -> bytes:
    return rng.randbytes(rng.randint(1, 4096))


def random_bytes_after_a_request_line(rng: random.Random) -> bytes:
    return f"GET {rng.choice(PATHS)} HTTP/1.1\r\n".encode() + rng.randbytes(rng.randint(1, 2048))


def huge_header(rng: random.Random) -> bytes:
    size = rng.choice((8191, 9000, 20_000, 70_000, 200_000))
    name = rng.choice(("X-Big", "Cookie", "Range", "If-None-Match", "Via", "User-Agent"))
    return valid(rng, extra=f"{name}: {'a' * size}\r\n")


def many_headers(rng: random.Random) -> bytes:
    count = rng.choice((100, 500, 5000))
    return valid(rng, extra="".join(f"X-H{i}: {i}\r\n" for i in range(count)))


def duplicated_headers(rng: random.Random) -> bytes:
    name = rng.choice(("Host", "Range", "If-None-Match", "Content-Length", "Via", "Connection"))
    values = ["bytes=0-1", "0", "edge", '"x"', "close", "keep-alive", "1.1 a", "5"]
    lines = "".join(f"{name}: {rng.choice(values)}\r\n" for _ in range(rng.randint(2, 60)))
    return f"GET {rng.choice(PATHS)} HTTP/1.1\r\n{lines}\r\n".encode()


def bad_method(rng: random.Random) -> bytes:
    method = rng.choice(
        (
            "get",
            "G ET",
            "GET\tX",
            "\x00GET",
            "GËT",
            "GET" * 300,
            "",
            "-",
            "(){}",
            "GET\x7f",
            *METHODS,
            "".join(rng.choice("ABCDEFGHIJ!#$%&'*+-.^_`|~") for _ in range(8)),
        )
    )
    return f"{method} {rng.choice(PATHS)} HTTP/1.1\r\nHost: e\r\n\r\n".encode()


def crlf_injection(rng: random.Random) -> bytes:
    inject = rng.choice(
        (
            "\r\nX-Injected: 1",
            "%0d%0aX-Injected:%201",
            "\nSet-Cookie: a=b",
            "\rX: y",
            "%0aHost:%20evil",
            "\r\n\r\nGET /healthz HTTP/1.1",
        )
    )
    where = rng.randint(0, 2)
    path = rng.choice(PATHS)
    if where == 0:
        return f"GET {path}{inject} HTTP/1.1\r\nHost: e\r\n\r\n".encode()
    if where == 1:
        return f"GET {path}?a={inject} HTTP/1.1\r\nHost: e\r\n\r\n".encode()
    return f"GET {path} HTTP/1.1\r\nHost: e\r\nRange: bytes=0-1{inject}\r\n\r\n".encode()


def odd_target(rng: random.Random) -> bytes:
    target = rng.choice(
        (
            "*",
            "http://evil.example/vod/math-fractions/master.m3u8",
            "https://edge/healthz",
            "edge:443",
            "//vod/x",
            "vod/math-fractions/master.m3u8",
            "",
            "http://",
            "?a=b",
            "http://[::1/vod",
            "/\u00e9t\u00e9",
            "/vod/../../etc/passwd",
            "/vod/./a/./b.ts",
        )
    )
    method = rng.choice(("GET", "OPTIONS", "CONNECT", "HEAD"))
    return f"{method} {target} HTTP/1.1\r\nHost: e\r\n\r\n".encode()


def conflicting_framing(rng: random.Random) -> bytes:
    framing = rng.choice(
        (
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "Content-Length: -1\r\n",
            "Content-Length: 99999999999999999999999\r\n",
            "Content-Length: 0x10\r\n",
            "Content-Length: 1 1\r\n",
            "Transfer-Encoding: chunked, identity\r\n",
            "Transfer-Encoding: xchunked\r\n",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: gzip\r\n",
            "Transfer-Encoding:\tchunked\r\n",
            " Transfer-Encoding: chunked\r\n",
            "Content-Length : 3\r\n",
        )
    )
    body = rng.choice((b"", b"0\r\n\r\n", b"hello", b"ffffffffffffffff\r\nx", b"5\r\nab"))
    method = rng.choice(("GET", "POST"))
    head = f"{method} {rng.choice(PATHS)} HTTP/1.1\r\nHost: e\r\n{framing}\r\n"
    return head.encode() + body


def bad_percent(rng: random.Random) -> bytes:
    bad = rng.choice(
        (
            "%",
            "%z",
            "%zz",
            "%ff%fe",
            "%c0%ae%c0%ae/",
            "%2e%2e/%2e%2e/",
            "%00",
            "%2F",
            "%5c",
            "%E2%82",
            "%ed%a0%80",
            "%25%32%65",
            "%%%",
            "%u002e",
        )
    )
    path = rng.choice(PATHS)
    cut = rng.randint(1, len(path))
    target = path[:cut] + bad + path[cut:] if rng.random() < 0.7 else f"{path}?{bad}={bad}"
    return f"GET {target} HTTP/1.1\r\nHost: e\r\n\r\n".encode()


def overlong_path(rng: random.Random) -> bytes:
    size = rng.choice((2049, 4000, 8189, 8191, 9000, 65_536, 300_000))
    unit = rng.choice(("a", "a/", "../", "%41", "é"))
    return f"GET /vod/{unit * (size // len(unit))} HTTP/1.1\r\nHost: e\r\n\r\n".encode()


def bad_version(rng: random.Random) -> bytes:
    version = rng.choice(
        (
            "HTTP/9.9",
            "HTTP/1.1x",
            "HTTP/1",
            "HTTP/01.1",
            "http/1.1",
            "HTTP/2.0",
            "HTTP/1.1 extra",
            "",
            "HTTP/1.\u0661",
            "HTTP/" + "1" * 1000,
        )
    )
    return f"GET {rng.choice(PATHS)} {version}\r\nHost: e\r\n\r\n".encode()


def bad_header_values(rng: random.Random) -> bytes:
    line = rng.choice(
        (
            "Range: bytes=" + "9" * rng.randint(1, 6000) + "-",
            "Range: bytes=-0",
            "Range: bytes=5-1",
            "Range: bytes=0-1,2-3,4-5",
            "Range: lines=1-2",
            "Range: bytes=\u0661-",
            "If-Modified-Since: Mon, 01 Jan 99999999999 00:00:00 GMT",
            "If-None-Match: " + '"a",' * 900,
            'If-Range: W/"x"',
            "Via: " + "1.1 a, " * 200,
            "Accept-Encoding: \x00",
            "No-Colon-Here",
            ": empty-name",
            "X: \x7f\x00",
            "Host:",
            "Expect: 100-continue",
            "Connection: upgrade\r\nUpgrade: websocket",
            "X\x00Y: z",
        )
    )
    return f"GET {rng.choice(PATHS)} HTTP/1.1\r\nHost: e\r\n{line}\r\n\r\n".encode()


def mutated(rng: random.Random) -> bytes:
    data = bytearray(valid(rng, extra='Range: bytes=0-100\r\nIf-None-Match: "x"\r\n'))
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(data))
        choice = rng.random()
        if choice < 0.4:
            data[at] = rng.randrange(256)
        elif choice < 0.7:
            data.insert(at, rng.choice(b"\r\n\x00 :%/?#\t\x7f\xff"))
        elif len(data) > 2:
            del data[at]
    return bytes(data)


def token_garbage(rng: random.Random) -> bytes:
    """Signed-URL parameters gone wrong: for an edge that verifies tokens."""
    values = (
        "",
        "9" * rng.randint(1, 40),
        "-1",
        "%ff",
        "%00",
        "\u0661",
        "a" * 3000,
        "%2Fvod%2F",
        "::ffff:1.2.3.4",
        "999.1.1.1",
        "A" * 43,
        "=" * 5,
        "%zz",
    )
    names = ("cc_exp", "cc_sig", "cc_prefix", "cc_ip")
    pairs = [f"{rng.choice(names)}={rng.choice(values)}" for _ in range(rng.randint(0, 6))]
    target = f"{rng.choice(PATHS)}?{'&'.join(pairs)}"
    return f"GET {target} HTTP/1.1\r\nHost: e\r\n\r\n".encode()


def pipelined_garbage(rng: random.Random) -> bytes:
    return valid(rng, "/healthz") + random_bytes(rng)[:512] + valid(rng)


KINDS: dict[str, Callable[[random.Random], bytes]] = {
    f.__name__: f
    for f in (
        random_bytes,
        random_bytes_after_a_request_line,
        huge_header,
        many_headers,
        duplicated_headers,
        bad_method,
        crlf_injection,
        odd_target,
        conflicting_framing,
        bad_percent,
        overlong_path,
        bad_version,
        bad_header_values,
        mutated,
        pipelined_garbage,
        token_garbage,
    )
}


def requests(seed: int, count: int) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    names = sorted(KINDS)
    return [(name, KINDS[name](rng)) for name in (rng.choice(names) for _ in range(count))]
