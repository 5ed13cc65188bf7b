"""`--scenarios llhls`: many viewers holding blocking reloads (rfc8216bis `_HLS_msn`/`_HLS_part`)
for the next part of one rendition through one server, our edge and nginx proxy_cache (lock on)
alike. Per part: upstream requests for the playlist, and how long after the first waiter was
answered (the moment the origin's answer reached the server) the p99 and the last one were.

The client is raw non-blocking sockets on one epoll: each poll's return is stamped once and that
stamp is every newly readable socket's receive time; a stamped socket leaves the poll set and
its answer is read only once every socket is stamped. So the client's own reading and parsing
never delays a stamp: the spread it reports is the server's (plus one epoll wake-up)."""

from __future__ import annotations

import json
import select
import socket
import statistics
import time
import urllib.request
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

LL_PLAYLIST = "/live/grade-5/180p/index.m3u8"  # an LL channel of config/schedule.toml
ROUND_TIMEOUT_S = 30.0


def next_part(origin: str) -> tuple[int, int]:
    """The part the origin's preload hint names: the next to exist."""
    text = urllib.request.urlopen(origin + LL_PLAYLIST, timeout=5).read().decode()
    hint = next(line for line in text.splitlines() if line.startswith("#EXT-X-PRELOAD-HINT"))
    msn, part = hint.split("parts/")[1].split(".ts")[0].split(".")
    return int(msn), int(part)


def origin_playlist_requests(origin: str) -> int:
    with urllib.request.urlopen(origin + "/_stats", timeout=5) as answer:
        return int(json.loads(answer.read())["requests"].get(LL_PLAYLIST, 0))


@dataclass(frozen=True)
class Round:
    part: str
    ok: int
    upstream_requests: int
    last_waiter_ms: float
    p99_waiter_ms: float


def connect(server: str, viewers: int) -> list[socket.socket]:
    where = urlsplit(server)
    address = (where.hostname or "127.0.0.1", where.port or 80)
    socks = []
    for _ in range(viewers):
        sock = socket.create_connection(address, timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(sock)
    return socks


def read_answer(sock: socket.socket) -> int:
    """Read one whole answer (Content-Length framed) off a keep-alive socket; its status."""
    sock.setblocking(True)
    sock.settimeout(ROUND_TIMEOUT_S)
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            raise ConnectionError("server closed before the answer's head")
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        more = sock.recv(65536)
        if not more:
            raise ConnectionError("server closed inside the body")
        body += more
    return int(lines[0].split()[1])


def held_round(socks: list[socket.socket], host: str, target: str) -> tuple[list[int], list[float]]:
    """Every socket asks for `target`; the receive stamp of each answer's first bytes, and the
    statuses once all are read."""
    request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: edgebench-ll\r\n\r\n"
    poll = select.epoll()
    by_fd: dict[int, socket.socket] = {}
    for sock in socks:
        sock.setblocking(True)
        sock.sendall(request.encode())
        sock.setblocking(False)
        by_fd[sock.fileno()] = sock
        poll.register(sock.fileno(), select.EPOLLIN)
    stamps: dict[int, float] = {}
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    try:
        while len(stamps) < len(socks) and time.monotonic() < deadline:
            events = poll.poll(1.0, len(socks))
            now = time.monotonic()
            for fd, _ in events:
                stamps[fd] = now
                poll.unregister(fd)
    finally:
        poll.close()
    statuses = [read_answer(sock) if sock.fileno() in stamps else 0 for sock in socks]
    return statuses, sorted(stamps.values())


def held_reloads(server: str, origin: str, viewers: int, parts: int) -> dict[str, object]:
    rounds = []
    socks = connect(server, viewers)
    host = urlsplit(server).netloc
    try:
        for _ in range(parts):
            msn, part = next_part(origin)
            before = origin_playlist_requests(origin)
            target = f"{LL_PLAYLIST}?_HLS_msn={msn}&_HLS_part={part}"
            statuses, times = held_round(socks, host, target)
            upstream = origin_playlist_requests(origin) - before
            spread = [at - times[0] for at in times] or [0.0]
            rounds.append(
                Round(
                    f"{msn}.{part}",
                    sum(status == 200 for status in statuses),
                    upstream,
                    1000 * spread[-1],
                    1000 * spread[max(0, int(0.99 * len(spread)) - 1)],
                )
            )
    finally:
        for sock in socks:
            sock.close()
    return {
        "viewers": viewers,
        "rounds": [asdict(r) for r in rounds],
        "upstream_requests_per_part": statistics.mean(r.upstream_requests for r in rounds),
        "p99_waiter_ms": statistics.median(r.p99_waiter_ms for r in rounds),
        "last_waiter_ms": statistics.median(r.last_waiter_ms for r in rounds),
        "ok_ratio": sum(r.ok for r in rounds) / (viewers * len(rounds)),
    }
