"""Baselines for the edge benchmarks: what plain aiohttp under uvloop costs for the same bytes.

/file   aiohttp FileResponse (under uvloop it reads the file through Python: no loop.sendfile)
/bytes  the same file's bytes from memory, a plain Response
/const  constant bytes the size of a playlist: the framework's ceiling for small objects
/const-edge-headers  the same, with the header set an edge hit carries (CORS, Via, validators,
        Cache-Control, Age, X-Cache): what those headers alone cost in aiohttp
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvloop
from aiohttp import web

EDGE_HEADERS = {
    "Via": "1.1 classcast-edge",
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Age, X-Cache, Content-Length, Content-Range, ETag, "
    "Accept-Ranges, Date",
    "Content-Type": "application/vnd.apple.mpegurl",
    "Cache-Control": "public, max-age=3600",
    "ETag": '"4fc90bcedda5cf0230d5ba01"',
    "Last-Modified": "Mon, 01 Sep 2025 08:00:00 GMT",
    "Accept-Ranges": "bytes",
}


def build(file: Path, const_size: int) -> web.Application:
    data = file.read_bytes()
    const = b"#" * const_size

    async def file_response(request: web.Request) -> web.FileResponse:
        return web.FileResponse(file, headers={"Content-Type": "video/mp2t"})

    async def bytes_response(request: web.Request) -> web.Response:
        return web.Response(body=data, content_type="video/mp2t")

    async def const_response(request: web.Request) -> web.Response:
        return web.Response(body=const, content_type="application/vnd.apple.mpegurl")

    async def const_with_edge_headers(request: web.Request) -> web.Response:
        response = web.Response(body=const, headers=EDGE_HEADERS)
        response.headers["Age"] = "0"
        response.headers["X-Cache"] = "HIT"
        return response

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/file", file_response)
    app.router.add_get("/bytes", bytes_response)
    app.router.add_get("/const", const_response)
    app.router.add_get("/const-edge-headers", const_with_edge_headers)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--const-size", type=int, default=600)
    args = parser.parse_args()
    web.run_app(
        build(args.file, args.const_size),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
